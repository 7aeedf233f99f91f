//! Every event type round-trips through its wire format; unknown types decode to the
//! catch-all.

use super::*;
use crate::DeviceId;

fn device() -> DeviceId {
    DeviceId::parse("press-1").expect("id")
}

#[test]
fn examples_cover_every_type() {
    let examples = examples();
    let mut kinds: Vec<&str> = examples.iter().map(|d| d.kind()).collect();
    kinds.sort_unstable();
    let mut types = EventData::TYPES.to_vec();
    types.sort_unstable();
    assert_eq!(kinds, types);
}

#[test]
fn every_type_round_trips_through_the_wire_format() {
    for data in examples() {
        let event = Event::new(data);
        let wire = serde_json::to_value(&event).expect("encode");
        let object = wire.as_object().expect("an object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["data", "id", "source", "time", "type"], "{wire}");
        assert_eq!(object["type"], event.kind());
        assert_eq!(object["id"], event.id.to_string());
        assert!(object["data"].is_object(), "{wire}");
        let back: Event = serde_json::from_value(wire.clone()).expect("decode");
        assert_eq!(back, event, "{wire}");
        assert!(!back.data.is_malformed());
    }
}

#[test]
fn the_wire_format_is_the_contracts() {
    let wire = r#"{"id":"6f1c1b8e-9a4b-4c41-9d51-0a2f5e1e7b10","type":"device.connected",
        "time":"2026-11-24T06:00:00.250Z","source":"devices",
        "data":{"device_id":"press-1","protocol_version":4}}"#;
    let event: Event = serde_json::from_str(wire).expect("decode");
    assert_eq!(event.source, "devices");
    assert_eq!(event.topic(), "plantd/events/device.connected");
    assert_eq!(event.data.presence(), Some((&device(), true)));
    let EventData::DeviceConnected(c) = &event.data else {
        panic!("decoded as {:?}", event.data);
    };
    assert_eq!(c.protocol_version, 4);
}

#[test]
fn unknown_types_decode_to_the_catch_all_and_encode_back_unchanged() {
    let wire = serde_json::json!({
        "id": "6f1c1b8e-9a4b-4c41-9d51-0a2f5e1e7b10",
        "type": "alarm.from_the_future",
        "time": "2026-11-24T06:00:00.250Z",
        "source": "health",
        "data": {"alarm_id": "a-1", "nested": [1, 2]}
    });
    let event: Event = serde_json::from_value(wire.clone()).expect("decode");
    assert_eq!(event.kind(), "alarm.from_the_future");
    assert!(!event.data.is_malformed());
    assert!(matches!(event.data, EventData::Unknown { .. }));
    assert_eq!(serde_json::to_value(&event).expect("encode"), wire);
}

#[test]
fn a_known_type_with_bad_data_is_kept_and_flagged_not_a_panic() {
    let wire = r#"{"id":"6f1c1b8e-9a4b-4c41-9d51-0a2f5e1e7b10","type":"device.connected",
        "time":"2026-11-24T06:00:00Z","source":"devices","data":{"device_id":"Not An Id"}}"#;
    let event: Event = serde_json::from_str(wire).expect("decode");
    assert!(event.data.is_malformed());
    assert_eq!(event.data.presence(), None);
}

#[test]
fn filters_match_by_prefix() {
    let devices = EventFilter::Prefixes(vec!["device.".into()]);
    assert!(devices.matches("device.connected"));
    assert!(!devices.matches("command.created"));
    assert!(EventFilter::All.matches("anything"));
}
