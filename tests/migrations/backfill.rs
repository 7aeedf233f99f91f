//! Migrations that add columns read from the stored documents fill them for the rows
//! already there: a work order's figure columns and search text, an alarm's search text.
//! A database is brought to the version before them with rows as plantd wrote them then,
//! and `plantd migrate` does the rest.

use super::database::{TestDatabase, VERSIONS_TABLE};
use super::on_disk;

/// The first migration that adds the columns (both modules' are at or after it).
const FIRST: &str = "20261203913001";

const ORDER_DOC: &str = r#"{"id":"wo1","number":7,"title":"Überdruck Kessel","description":"Lager prüfen","kind":"corrective","priority":"high","status":"done","asset_id":"a1","device_id":null,"location":"Halle 2","assignee":"erin","due_at":null,"estimated_hours":2.5,"actual_hours":3.0,"stops_asset":true,"downtime_start":"2026-12-01T08:00:00Z","downtime_end":"2026-12-01T10:30:00.250Z","skills":[],"tools":[],"parts":[],"checklist":[],"comments":[],"alarm_id":null,"rule_id":null,"plan_id":null,"occurrence":null,"interval_days":7.0,"request_id":null,"parent_id":null,"repeat_of":null,"repeat_failure":true,"closing":{"failure_mode":"vibration","cause":"wear","action":"replace","detection":"alarm"},"created_by":"status","created_at":"2026-12-01T07:00:00Z","updated_at":"2026-12-01T11:00:00Z","started_at":null,"completed_at":"2026-12-01T11:00:00.500Z","overdue":false}"#;

const ALARM_DOC: &str = r#"{"id":"al1","rule_id":"r1","rule_name":"Pump VIB high","device_id":"pump-3","asset_id":null,"metric":"vib","state":"unacknowledged","severity":"major","peak_severity":"major"}"#;

#[test]
fn columns_added_later_are_filled_from_the_stored_documents() {
    let db = TestDatabase::fresh("backfill");
    let mut before: Vec<_> = on_disk(db.backend())
        .into_iter()
        .filter(|m| m.version.as_str() < FIRST)
        .collect();
    before.sort_by(|a, b| a.version.cmp(&b.version));
    db.execute(&format!(
        "CREATE TABLE {VERSIONS_TABLE} (version VARCHAR(50) PRIMARY KEY NOT NULL, \
         run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    ));
    for migration in &before {
        db.execute(&migration.up);
        db.execute(&format!(
            "INSERT INTO {VERSIONS_TABLE} (version) VALUES ('{}')",
            migration.version
        ));
    }
    db.execute(&format!(
        "INSERT INTO workorders_orders (id, number, kind, status, asset_id, assignee, \
         stops_asset, created_at, closed_at, doc) VALUES ('wo1', 7, 'corrective', 'done', \
         'a1', 'erin', true, 1796108400000, 1796122800500, '{ORDER_DOC}')"
    ));
    db.execute(&format!(
        "INSERT INTO health_alarms (id, rule_id, device_id, state, severity, raised_at, \
         updated_at, doc) VALUES ('al1', 'r1', 'pump-3', 'unacknowledged', 'major', 1, 1, \
         '{ALARM_DOC}')"
    ));
    db.migrate();

    let text = |column: &str| -> String {
        let lines = db.lines(
            &format!("SELECT CAST({column} AS TEXT) AS line FROM workorders_orders"),
            &[&format!(
                "SELECT {column}::text AS line FROM workorders_orders"
            )],
        );
        assert_eq!(lines.len(), 1, "{column}: {lines:?}");
        lines[0].clone()
    };
    // 2026-12-01T11:00:00.500Z, 08:00:00Z and 10:30:00.250Z in milliseconds.
    assert_eq!(text("completed_at"), "1796122800500");
    assert_eq!(text("downtime_start"), "1796112000000");
    assert_eq!(text("downtime_end"), "1796121000250");
    for (column, value) in [
        ("estimated_hours", 2.5),
        ("actual_hours", 3.0),
        ("interval_days", 7.0),
    ] {
        assert_eq!(text(column).parse::<f64>().ok(), Some(value), "{column}");
    }
    assert!(
        ["1", "true"].contains(&text("repeat_failure").as_str()),
        "repeat_failure"
    );
    assert_eq!(text("failure_mode"), "vibration");
    let search = text("search_text");
    for word in [
        "wo-7",
        "kessel",
        "lager",
        "corrective",
        "erin",
        "halle 2",
        "a1",
    ] {
        assert!(search.contains(word), "{word} in {search:?}");
    }
    for json in ["status", "created_by", "\"", "{", "null"] {
        assert!(!search.contains(json), "{json} not in {search:?}");
    }

    let alarm = db.lines(
        "SELECT search_text AS line FROM health_alarms",
        &["SELECT search_text AS line FROM health_alarms"],
    );
    assert_eq!(alarm, ["pump vib high pump-3 vib major unacknowledged "]);
}
