//! Asset pages: the tree (sites → areas → assets, indented, with criticality and open
//! alarms), the create form, and one asset's page (fields, children, attached devices
//! with their latest values, rules, open alarms, maintenance, edit, delete, its QR code
//! and the "report a problem" form). Viewers read and report; write scope changes.
//! Talks to health and telemetry by messages only.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::health::{
    Asset, CountOpenAlarmsByAsset, CreateAsset, DeleteAsset, GetAsset, ListAlarms, ListAssets,
    ListRules, SetAssetMaintenance, UpdateAsset,
};
use plantd_contracts::identity::SessionView;
use plantd_contracts::telemetry::LatestValues;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::alarms::AlarmRow;
use super::health_common::{answer, filled, plain, reader, when, with_status, Head, TokenForm};
use super::numbers::format_value;
use super::session::{changer, redirect};
use crate::edge::{render, Problem};
use crate::state::AppState;

const VIEWERS_READ: &str = "viewers cannot change assets";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets", web::get().to(tree))
        .route("/assets", web::post().to(create))
        .route("/assets/{id}", web::get().to(show))
        .route("/assets/{id}/edit", web::post().to(edit))
        .route("/assets/{id}/maintenance", web::post().to(maintenance))
        .route("/assets/{id}/delete", web::post().to(delete));
}

/// One line of the tree.
pub struct Node {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub depth: usize,
    pub criticality: String,
    pub open_alarms: usize,
    pub in_maintenance: bool,
}

fn kind_str(a: &Asset) -> &'static str {
    match a.kind {
        plantd_contracts::health::AssetKind::Site => "site",
        plantd_contracts::health::AssetKind::Area => "area",
        plantd_contracts::health::AssetKind::Asset => "asset",
    }
}

fn criticality(a: &Asset) -> String {
    a.criticality.map(|c| format!("{c:?}")).unwrap_or_default()
}

/// The tree in depth-first order: each node after its parent, siblings by name.
fn tree_of(assets: &[Asset], open: &HashMap<String, usize>) -> Vec<Node> {
    let mut children: HashMap<Option<&str>, Vec<&Asset>> = HashMap::new();
    let ids: std::collections::HashSet<&str> = assets.iter().map(|a| a.id.as_str()).collect();
    for a in assets {
        let parent = a.parent_id.as_deref().filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(a);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    }
    let mut out = Vec::new();
    let mut stack: Vec<(&Asset, usize)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|a| (*a, 0)).collect())
        .unwrap_or_default();
    while let Some((a, depth)) = stack.pop() {
        if out.len() > assets.len() {
            break;
        }
        out.push(Node {
            id: a.id.clone(),
            name: a.name.clone(),
            kind: kind_str(a),
            depth,
            criticality: criticality(a),
            open_alarms: open.get(&a.id).copied().unwrap_or(0),
            in_maintenance: a.in_maintenance,
        });
        if let Some(kids) = children.get(&Some(a.id.as_str())) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    out
}

#[derive(Template)]
#[template(path = "assets.html")]
struct TreePage {
    head: Head,
    error: Option<String>,
    nodes: Vec<Node>,
}

/// Open alarms per asset, from health's memory (an empty map if it does not answer: the
/// tree is still shown, without badges).
async fn open_counts(state: &AppState) -> HashMap<String, usize> {
    state
        .health
        .send(CountOpenAlarmsByAsset)
        .await
        .unwrap_or_default()
}

async fn render_tree(
    state: &AppState,
    session: &SessionView,
    error: Option<Problem>,
) -> HttpResponse {
    let assets = match answer(state.health.send(ListAssets).await) {
        Ok(assets) => assets,
        Err(p) => return plain(p),
    };
    let open = open_counts(state).await;
    let status = error.as_ref().map(|p| p.status);
    with_status(
        render(&TreePage {
            head: Head::of(session),
            error: error.map(|p| p.detail),
            nodes: tree_of(&assets, &open),
        }),
        status,
    )
}

pub async fn tree(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match reader(&req, &state).await {
        Ok(current) => render_tree(&state, &current, None).await,
        Err(refusal) => refusal,
    }
}

/// The create and edit forms' fields.
#[derive(Deserialize)]
pub struct AssetForm {
    /// Absent is refused like a wrong one (403).
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    criticality: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    manufacturer: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    serial: String,
    #[serde(default)]
    iso_group: String,
    #[serde(default)]
    foundation: String,
}

impl AssetForm {
    /// The JSON fields; an empty field is `null` (absent on create, cleared on edit).
    fn fields(&self) -> Result<Map<String, Value>, Problem> {
        let text = |s: &str| filled(s).map(Value::String).unwrap_or(Value::Null);
        let mut body = Map::new();
        body.insert("name".into(), Value::String(self.name.trim().to_owned()));
        body.insert("parent_id".into(), text(&self.parent_id));
        body.insert("criticality".into(), text(&self.criticality));
        body.insert("location".into(), text(&self.location));
        body.insert("manufacturer".into(), text(&self.manufacturer));
        body.insert("model".into(), text(&self.model));
        body.insert("serial".into(), text(&self.serial));
        let iso = match filled(&self.iso_group) {
            None => Value::Null,
            Some(g) => {
                let group: u8 = g.parse().map_err(|_| {
                    Problem::from(plantd_contracts::DomainError::invalid(
                        "iso20816.group",
                        "1 or 2",
                    ))
                })?;
                let foundation = filled(&self.foundation).unwrap_or_else(|| "rigid".to_owned());
                json!({"group": group, "foundation": foundation})
            }
        };
        body.insert("iso20816".into(), iso);
        Ok(body)
    }
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<AssetForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let body = match form.fields() {
        Ok(mut body) => {
            body.retain(|_, v| !v.is_null());
            if let Some(kind) = filled(&form.kind) {
                body.insert("kind".into(), Value::String(kind));
            }
            Value::Object(body)
        }
        Err(p) => return render_tree(&state, &current, Some(p)).await,
    };
    match answer(state.health.send(CreateAsset(body)).await) {
        Ok(asset) => {
            tracing::info!(by = %current.username, asset = %asset.id, "asset created from the UI");
            redirect(&format!("/assets/{}", asset.id))
        }
        Err(p) => render_tree(&state, &current, Some(p)).await,
    }
}

/// An attached device with its latest values.
pub struct DeviceLine {
    pub id: String,
    pub values: Vec<(String, String, String)>,
}

pub struct RuleLine {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub metric: String,
    pub enabled: bool,
}

pub struct NameLink {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "asset.html")]
struct AssetPage {
    head: Head,
    error: Option<String>,
    asset: Asset,
    kind: &'static str,
    criticality: String,
    parent: Option<NameLink>,
    iso_group: String,
    foundation: String,
    created_at: String,
    updated_at: String,
    children: Vec<NameLink>,
    devices: Vec<DeviceLine>,
    rules: Vec<RuleLine>,
    alarms: Vec<AlarmRow>,
    /// Where the alarm forms come back to.
    back: String,
    /// The asset page's URL and its QR code (inline SVG).
    page_url: String,
    qr_svg: String,
    /// A work request just filed from this page (its id).
    filed: Option<String>,
}

async fn render_asset(
    req: &HttpRequest,
    state: &AppState,
    session: &SessionView,
    id: String,
    error: Option<Problem>,
    filed: Option<String>,
) -> HttpResponse {
    let detail = match answer(state.health.send(GetAsset(id.clone())).await) {
        Ok(detail) => detail,
        Err(p) => return plain(p),
    };
    let names = super::health_common::asset_names(state).await;
    let link = |id: &String| NameLink {
        id: id.clone(),
        name: names.get(id).cloned().unwrap_or_else(|| id.clone()),
    };
    let latest = if detail.devices.is_empty() {
        Default::default()
    } else {
        match answer(
            state
                .telemetry
                .send(LatestValues {
                    devices: Some(detail.devices.clone()),
                })
                .await,
        ) {
            Ok(latest) => latest,
            Err(p) => return plain(p),
        }
    };
    let devices = detail
        .devices
        .iter()
        .map(|d| DeviceLine {
            id: d.to_string(),
            values: latest
                .get(d)
                .map(|vs| {
                    vs.iter()
                        .map(|v| (v.metric.clone(), format_value(v.value), when(v.ts)))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let rules = match answer(
        state
            .health
            .send(ListRules {
                asset_id: Some(id.clone()),
                device_id: None,
            })
            .await,
    ) {
        Ok(rules) => rules
            .into_iter()
            .map(|r| RuleLine {
                kind: r.input.spec.kind(),
                metric: r.input.metric.clone().unwrap_or_default(),
                enabled: r.input.enabled,
                id: r.id,
                name: r.input.name,
            })
            .collect(),
        Err(p) => return plain(p),
    };
    let alarms = match answer(
        state
            .health
            .send(ListAlarms {
                open: true,
                asset_id: Some(id.clone()),
                limit: 200,
                ..ListAlarms::default()
            })
            .await,
    ) {
        Ok(page) => page.items.iter().map(AlarmRow::of).collect(),
        Err(p) => return plain(p),
    };
    let asset = detail.asset;
    let status = error.as_ref().map(|p| p.status);
    let page_url = super::qr::asset_url(req, &asset.id);
    let qr_svg =
        super::qr::svg_of(&page_url, &format!("QR code of {}", asset.name)).unwrap_or_default();
    with_status(
        render(&AssetPage {
            page_url,
            qr_svg,
            filed,
            head: Head::of(session),
            error: error.map(|p| p.detail),
            kind: kind_str(&asset),
            criticality: criticality(&asset),
            parent: asset.parent_id.as_ref().map(link),
            iso_group: asset
                .iso20816
                .map(|c| c.group.to_string())
                .unwrap_or_default(),
            foundation: asset
                .iso20816
                .map(|c| format!("{:?}", c.foundation).to_lowercase())
                .unwrap_or_default(),
            created_at: when(asset.created_at),
            updated_at: when(asset.updated_at),
            children: detail.children.iter().map(link).collect(),
            devices,
            rules,
            alarms,
            back: format!("/assets/{}", asset.id),
            asset,
        }),
        status,
    )
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    #[serde(default)]
    filed: Option<String>,
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> HttpResponse {
    match reader(&req, &state).await {
        Ok(current) => {
            let filed = query.into_inner().filed;
            render_asset(&req, &state, &current, id.into_inner(), None, filed).await
        }
        Err(refusal) => refusal,
    }
}

pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<AssetForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let patch = match form.fields() {
        Ok(body) => Value::Object(body),
        Err(p) => return render_asset(&req, &state, &current, id, Some(p), None).await,
    };
    let sent = state
        .health
        .send(UpdateAsset {
            id: id.clone(),
            patch,
        })
        .await;
    match answer(sent) {
        Ok(_) => redirect(&format!("/assets/{id}")),
        Err(p) => render_asset(&req, &state, &current, id, Some(p), None).await,
    }
}

#[derive(Deserialize)]
pub struct MaintenanceForm {
    csrf_token: String,
    /// `on` or `off`.
    active: String,
    #[serde(default)]
    comment: String,
}

pub async fn maintenance(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<MaintenanceForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let sent = state
        .health
        .send(SetAssetMaintenance {
            id: id.clone(),
            active: form.active == "on",
            by: current.username.clone(),
            comment: filled(&form.comment),
        })
        .await;
    match answer(sent) {
        Ok(_) => redirect(&format!("/assets/{id}")),
        Err(p) => render_asset(&req, &state, &current, id, Some(p), None).await,
    }
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    match answer(state.health.send(DeleteAsset(id.clone())).await) {
        Ok(()) => {
            tracing::info!(by = %current.username, asset = %id, "asset deleted from the UI");
            redirect("/assets")
        }
        Err(p) if p.status == StatusCode::CONFLICT => {
            let p = Problem {
                detail: format!("Not deleted: {}", p.detail),
                ..p
            };
            render_asset(&req, &state, &current, id, Some(p), None).await
        }
        Err(p) => render_asset(&req, &state, &current, id, Some(p), None).await,
    }
}
