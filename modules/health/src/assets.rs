//! The asset tree's rules: which fields a node may have, where it may hang (a site at the
//! top, an area under a site or area, an asset anywhere below a site), no cycles, and the
//! merge patch of `PATCH /assets/{id}`. Pure: the actor holds the tree.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use plantd_contracts::health::{Asset, AssetInput, AssetKind, Iso20816Class};
use plantd_contracts::json::merge_patch;
use plantd_contracts::DomainError;
use serde_json::Value;

const MAX_TEXT: usize = 200;
const MAX_METADATA_BYTES: usize = 8 * 1024;

fn invalid(field: &str, message: impl Into<String>) -> DomainError {
    DomainError::invalid(field, message)
}

fn text(field: &str, v: &Option<String>) -> Result<Option<String>, DomainError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.len() > MAX_TEXT => Err(invalid(field, "at most 200 characters")),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// Parses a body as an asset input, naming the field of the first problem.
pub fn parse_input(body: &Value) -> Result<AssetInput, DomainError> {
    serde_json::from_value(body.clone()).map_err(|e| {
        let message = e.to_string();
        invalid(&crate::rules::serde_field(&message), message)
    })
}

fn check_iso(c: &Iso20816Class) -> Result<(), DomainError> {
    if !(1..=2).contains(&c.group) {
        return Err(invalid(
            "iso20816.group",
            "1 (machines above 300 kW) or 2 (15 to 300 kW)",
        ));
    }
    if let Some(z) = c.zones {
        let ordered = z.iter().all(|v| v.is_finite() && *v > 0.0) && z[0] < z[1] && z[1] < z[2];
        if !ordered {
            return Err(invalid(
                "iso20816.zones",
                "three increasing positive boundaries A/B, B/C, C/D in mm/s",
            ));
        }
    }
    Ok(())
}

/// Builds the asset `id` from an input, checking its place in `tree`.
pub fn build(
    id: &str,
    input: AssetInput,
    tree: &BTreeMap<String, Asset>,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    in_maintenance: bool,
) -> Result<Asset, DomainError> {
    let name = input.name.trim();
    if name.is_empty() || name.len() > MAX_TEXT {
        return Err(invalid("name", "1 to 200 characters"));
    }
    let kind = input.kind.unwrap_or(AssetKind::Asset);
    let parent_id = input.parent_id.filter(|p| !p.is_empty());
    match (&parent_id, kind) {
        (Some(_), AssetKind::Site) => return Err(invalid("parent_id", "a site has no parent")),
        (None, AssetKind::Area | AssetKind::Asset) => {
            return Err(invalid("parent_id", "an area or asset needs a parent"))
        }
        _ => {}
    }
    if let Some(p) = &parent_id {
        let Some(parent) = tree.get(p) else {
            return Err(invalid("parent_id", "no such asset"));
        };
        if kind == AssetKind::Area && parent.kind == AssetKind::Asset {
            return Err(invalid(
                "parent_id",
                "an area hangs under a site or an area",
            ));
        }
        // No cycles: walking up from the parent never meets this node.
        let mut at = Some(p.clone());
        let mut steps = 0;
        while let Some(node) = at {
            if node == id || steps > tree.len() {
                return Err(invalid("parent_id", "would make the tree a cycle"));
            }
            at = tree.get(&node).and_then(|a| a.parent_id.clone());
            steps += 1;
        }
    }
    if let Some(c) = &input.iso20816 {
        check_iso(c)?;
    }
    let metadata = input.metadata.unwrap_or_default();
    if serde_json::to_string(&metadata).map_or(0, |s| s.len()) > MAX_METADATA_BYTES {
        return Err(invalid("metadata", "at most 8 KiB"));
    }
    Ok(Asset {
        id: id.to_owned(),
        name: name.to_owned(),
        kind,
        parent_id,
        criticality: input.criticality,
        location: text("location", &input.location)?,
        manufacturer: text("manufacturer", &input.manufacturer)?,
        model: text("model", &input.model)?,
        serial: text("serial", &input.serial)?,
        metadata,
        iso20816: input.iso20816,
        in_maintenance,
        created_at,
        updated_at: now,
    })
}

/// The input an asset was made from (for a merge patch).
pub fn input_of(a: &Asset) -> AssetInput {
    AssetInput {
        name: a.name.clone(),
        kind: Some(a.kind),
        parent_id: a.parent_id.clone(),
        criticality: a.criticality,
        location: a.location.clone(),
        manufacturer: a.manufacturer.clone(),
        model: a.model.clone(),
        serial: a.serial.clone(),
        metadata: Some(a.metadata.clone()),
        iso20816: a.iso20816,
    }
}

/// Applies a JSON merge patch to an asset's input.
pub fn patched(a: &Asset, patch: &Value) -> Result<AssetInput, DomainError> {
    if !patch.is_object() {
        return Err(invalid("body", "a JSON merge patch object"));
    }
    let mut doc =
        serde_json::to_value(input_of(a)).map_err(|e| DomainError::Unavailable(e.to_string()))?;
    merge_patch(&mut doc, patch);
    parse_input(&doc)
}

/// The path of names from the site down, for sorting and display.
pub fn path(tree: &BTreeMap<String, Asset>, id: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut at = Some(id.to_owned());
    while let Some(node) = at {
        let Some(a) = tree.get(&node) else { break };
        names.push(a.name.clone());
        at = a.parent_id.clone();
        if names.len() > tree.len() {
            break;
        }
    }
    names.reverse();
    names
}
