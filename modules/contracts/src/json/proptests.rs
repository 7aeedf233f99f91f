//! Property tests of the JSON merge patch (RFC 7396) that shadows and device metadata use
//! (issue 14.14; the fuzz target `fuzz/fuzz_targets/shadow_merge_patch.rs` runs it for
//! longer): a patch applied twice is applied once, `null` removes its key, every other key
//! of an object patch is merged in, keys it does not name keep their value, and a patch
//! that is not an object replaces the target. Pure: no I/O.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;

/// JSON documents over a few keys, so that target and patch share some.
fn doc() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[a-z]{0,4}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map("[a-d]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn patched(target: &Value, patch: &Value) -> Value {
    let mut out = target.clone();
    merge_patch(&mut out, patch);
    out
}

/// Whether `value` holds a `null` anywhere below an object key.
fn has_null_member(value: &Value) -> bool {
    match value {
        Value::Object(m) => m.values().any(|v| v.is_null() || has_null_member(v)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn applying_a_patch_twice_is_applying_it_once(target in doc(), patch in doc()) {
        let once = patched(&target, &patch);
        prop_assert_eq!(patched(&once, &patch), once);
    }

    #[test]
    fn object_patches_merge_key_by_key(target in doc(), patch in doc()) {
        let after = patched(&target, &patch);
        let Value::Object(p) = &patch else {
            prop_assert_eq!(after, patch);
            return Ok(());
        };
        let Value::Object(a) = &after else {
            return Err(TestCaseError::fail(format!("an object patch gave {after}")));
        };
        let empty = Map::new();
        let t = target.as_object().unwrap_or(&empty);
        for (key, value) in p {
            if value.is_null() {
                prop_assert!(!a.contains_key(key), "null kept {}", key);
            } else {
                let before = t.get(key).cloned().unwrap_or(Value::Null);
                prop_assert_eq!(a.get(key), Some(&patched(&before, value)));
            }
        }
        for (key, value) in t {
            if !p.contains_key(key) {
                prop_assert_eq!(a.get(key), Some(value));
            }
        }
    }

    #[test]
    fn a_patch_onto_a_null_free_document_leaves_no_null_member(target in doc(), patch in doc()) {
        // What shadows rely on: documents built only by patches never hold a null member.
        let base = patched(&Value::Object(Map::new()), &target);
        prop_assume!(base.is_object());
        prop_assert!(!has_null_member(&base));
        prop_assert!(!has_null_member(&patched(&base, &patch)));
    }
}
