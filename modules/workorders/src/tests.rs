//! The module against a real database (a SQLite file, or a fresh PostgreSQL database when
//! `PLANTD_TEST_DATABASE_URL` is set): the consumer delivered the same event twice opens
//! one order, alarms on an open order comment, a done order makes the next one a repeat
//! failure, a refused transition leaves no trace; and a property test of the state
//! machine over random transition sequences.

use actix::prelude::*;
use chrono::Utc;
use diesel::Connection;
use plantd_contracts::events::{AlarmEvent, DeliverEvent, MaintenanceDue};
use plantd_contracts::health::{AlarmState, Severity};
use plantd_contracts::workorders::*;
use plantd_contracts::{DeviceId, DomainError, Event, EventData};
use plantd_storage::Db;
use serde_json::json;

use crate::{store, WorkOrders, WorkOrdersSettings};

/// A database of its own for one test, dropped (PostgreSQL) or deleted (SQLite) at the end.
struct TestDb {
    db: Db,
    cleanup: Option<Box<dyn FnOnce()>>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup();
        }
    }
}

fn test_db(name: &str) -> TestDb {
    let unique = format!("plantd_workorders_{name}_{}", std::process::id());
    let (db, cleanup): (Db, Box<dyn FnOnce()>) = match std::env::var("PLANTD_TEST_DATABASE_URL") {
        Ok(base) => {
            use diesel::RunQueryDsl;
            let base = base.trim_end_matches('/').to_owned();
            let admin = format!("{base}/postgres");
            let mut conn = diesel::PgConnection::establish(&admin).expect("PostgreSQL");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {unique} WITH (FORCE)"))
                .execute(&mut conn)
                .expect("drop");
            diesel::sql_query(format!("CREATE DATABASE {unique}"))
                .execute(&mut conn)
                .expect("create database");
            let db = Db::open(&format!("{base}/{unique}"), 4).expect("open");
            let cleanup = move || {
                if let Ok(mut conn) = diesel::PgConnection::establish(&admin) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {unique} WITH (FORCE)"))
                            .execute(&mut conn);
                }
            };
            (db, Box::new(cleanup))
        }
        Err(_) => {
            let dir = std::env::temp_dir().join(&unique);
            let _ = std::fs::remove_dir_all(&dir);
            let db = Db::open(dir.join("plantd.db").to_str().expect("path"), 4).expect("open");
            (db, Box::new(move || drop(std::fs::remove_dir_all(&dir))))
        }
    };
    plantd_storage::run_migrations(&db, &[&plantd_events::MIGRATIONS, &crate::MIGRATIONS])
        .expect("migrations");
    TestDb {
        db,
        cleanup: Some(cleanup),
    }
}

fn start(db: &Db) -> Addr<WorkOrders> {
    let (outbox, _dispatch) = plantd_events::outbox(db.clone(), Default::default());
    WorkOrders::new(db.clone(), outbox, WorkOrdersSettings::default()).start()
}

fn raised(alarm_id: &str, state: AlarmState) -> Event {
    Event::new(EventData::AlarmRaised(AlarmEvent {
        alarm_id: alarm_id.into(),
        rule_id: "rule-1".into(),
        rule_name: "P-101 vibration".into(),
        device_id: DeviceId::parse("pump-1").expect("id"),
        asset_id: Some("asset-1".into()),
        metric: Some("vibration".into()),
        state,
        severity: Severity::Critical,
        previous_severity: None,
        value: 9.5,
        create_work_order: true,
        by: "system".into(),
        comment: None,
    }))
}

async fn orders(addr: &Addr<WorkOrders>, filter: WorkOrderFilter) -> Vec<WorkOrder> {
    addr.send(ListWorkOrders {
        filter,
        after: None,
        limit: 100,
    })
    .await
    .expect("mailbox")
    .expect("list")
    .items
}

async fn get(addr: &Addr<WorkOrders>, id: &str) -> WorkOrder {
    addr.send(GetWorkOrder(id.into()))
        .await
        .expect("mailbox")
        .expect("get")
}

async fn deliver(addr: &Addr<WorkOrders>, event: &Event) {
    addr.send(DeliverEvent(event.clone()))
        .await
        .expect("mailbox")
        .expect("handled");
}

async fn move_to(
    addr: &Addr<WorkOrders>,
    id: &str,
    body: serde_json::Value,
) -> Result<WorkOrder, DomainError> {
    addr.send(TransitionWorkOrder {
        id: id.into(),
        body,
        by: "eve".into(),
    })
    .await
    .expect("mailbox")
}

fn closing() -> serde_json::Value {
    json!({"failure_mode": "vibration", "cause": "wear", "action": "replace", "detection": "alarm"})
}

#[actix_rt::test]
async fn an_alarm_delivered_twice_opens_one_order_then_comments_then_a_repeat_failure() {
    let t = test_db("alarm");
    let addr = start(&t.db);
    let first = raised("alarm-1", AlarmState::ActiveUnack);
    deliver(&addr, &first).await;
    deliver(&addr, &first).await;
    let list = orders(&addr, WorkOrderFilter::default()).await;
    assert_eq!(list.len(), 1, "one order for one event delivered twice");
    let order = &list[0];
    assert_eq!(order.alarm_id.as_deref(), Some("alarm-1"));
    assert_eq!(order.rule_id.as_deref(), Some("rule-1"));
    assert_eq!(order.priority, Priority::Urgent, "critical → urgent");
    assert_eq!(order.kind, WorkOrderType::Corrective);
    assert_eq!(order.asset_id.as_deref(), Some("asset-1"));
    assert_eq!(order.number, 1);
    assert!(!order.repeat_failure);

    // The same episode as another event (another id): the unique alarm column holds.
    let mut again = raised("alarm-1", AlarmState::ActiveUnack);
    again.id = uuid::Uuid::new_v4();
    deliver(&addr, &again).await;
    // A new episode of the rule while the order is open: a comment.
    deliver(&addr, &raised("alarm-2", AlarmState::ActiveUnack)).await;
    // Out of service: nothing at all.
    deliver(&addr, &raised("alarm-3", AlarmState::OutOfService)).await;
    let list = orders(&addr, WorkOrderFilter::default()).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let detail = get(&addr, &order.id).await;
    assert_eq!(detail.comments.len(), 1, "{:?}", detail.comments);
    assert_eq!(detail.comments[0].by, "system");
    assert_eq!(
        detail
            .history
            .iter()
            .map(|h| h.action.as_str())
            .collect::<Vec<_>>(),
        ["created", "comment"]
    );

    move_to(&addr, &order.id, json!({"to": "in_progress"}))
        .await
        .expect("start");
    let refused = move_to(&addr, &order.id, json!({"to": "done"})).await;
    assert!(
        matches!(&refused, Err(DomainError::Invalid { field, .. }) if field == "closing.failure_mode"),
        "{refused:?}"
    );
    let done = move_to(
        &addr,
        &order.id,
        json!({"to": "done", "closing": closing(), "actual_hours": 2.5}),
    )
    .await
    .expect("done");
    assert!(done.completed_at.is_some());
    assert_eq!(
        done.closing.as_ref().map(|c| c.cause.as_str()),
        Some("wear")
    );

    // The next episode after done: a new order, a repeat failure of the first.
    deliver(&addr, &raised("alarm-4", AlarmState::ActiveUnack)).await;
    let list = orders(&addr, WorkOrderFilter::default()).await;
    assert_eq!(list.len(), 2);
    let repeat = &list[0];
    assert_eq!(repeat.alarm_id.as_deref(), Some("alarm-4"));
    assert!(repeat.repeat_failure);
    assert_eq!(repeat.repeat_of.as_deref(), Some(order.id.as_str()));
    assert_eq!(repeat.number, 2);
}

#[actix_rt::test]
async fn a_due_occurrence_delivered_twice_opens_one_preventive_order() {
    let t = test_db("due");
    let addr = start(&t.db);
    let due = |plan: &str, occurrence: i64| {
        Event::new(EventData::MaintenanceDue(MaintenanceDue {
            plan_id: plan.into(),
            occurrence,
            title: "Grease bearings".into(),
            description: String::new(),
            asset_id: "asset-1".into(),
            trigger: "calendar".into(),
            due_at: Some(Utc::now() + chrono::Duration::days(3)),
            due_meter: None,
            tasks: vec!["Grease DE bearing".into(), "Grease NDE bearing".into()],
            estimated_hours: Some(1.5),
            skills: vec!["mechanic".into()],
            tools: vec!["grease gun".into()],
            parts: vec![],
            stops_asset: true,
            interval_days: Some(30.0),
        }))
    };
    let event = due("plan-1", 1);
    deliver(&addr, &event).await;
    deliver(&addr, &event).await;
    deliver(&addr, &due("plan-1", 1)).await;
    let list = orders(&addr, WorkOrderFilter::default()).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let o = &list[0];
    assert_eq!(o.kind, WorkOrderType::Preventive);
    assert_eq!(
        (o.plan_id.as_deref(), o.occurrence),
        (Some("plan-1"), Some(1))
    );
    assert_eq!(o.checklist.len(), 2);
    assert_eq!(o.checklist[1].text, "Grease NDE bearing");
    assert_eq!(o.estimated_hours, Some(1.5));
    assert_eq!(o.skills, ["mechanic"]);
    assert!(o.stops_asset);
    assert_eq!(o.interval_days, Some(30.0));
    deliver(&addr, &due("plan-1", 2)).await;
    let by_plan = orders(
        &addr,
        WorkOrderFilter {
            plan_id: Some("plan-1".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_plan.len(), 2, "the next occurrence is another order");
}

#[actix_rt::test]
async fn a_refused_change_leaves_no_trace_and_the_hold_follows_in_progress() {
    let t = test_db("refused");
    let addr = start(&t.db);
    let created = addr
        .send(CreateWorkOrder {
            body: json!({"title": "Replace seal", "asset_id": "asset-1", "stops_asset": true,
                         "checklist": ["Drain", "Swap seal"]}),
            by: "eve".into(),
            location: Some("Hall 2".into()),
        })
        .await
        .expect("mailbox")
        .expect("created");
    assert_eq!(created.location.as_deref(), Some("Hall 2"));
    let before = get(&addr, &created.id).await;
    let refused = move_to(&addr, &created.id, json!({"to": "done"})).await;
    assert!(
        matches!(refused, Err(DomainError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(get(&addr, &created.id).await, before, "nothing changed");

    let started = move_to(&addr, &created.id, json!({"to": "in_progress"}))
        .await
        .expect("start");
    assert!(started.started_at.is_some() && started.downtime_start.is_some());
    let db = t.db.clone();
    let held = db
        .run(|c| store::asset_held(c, "asset-1"))
        .await
        .expect("held");
    assert!(held);
    // A failed item opens a follow-up order linked to this one.
    let ticked = addr
        .send(TickChecklistItem {
            id: created.id.clone(),
            item: 1,
            result: ItemResult::Failed,
            note: Some("shaft scored".into()),
            follow_up: true,
            by: "eve".into(),
        })
        .await
        .expect("mailbox")
        .expect("ticked");
    let follow = ticked.checklist[1].follow_up_id.clone().expect("follow-up");
    let child = get(&addr, &follow).await;
    assert_eq!(child.parent_id.as_deref(), Some(created.id.as_str()));
    assert_eq!(child.location.as_deref(), Some("Hall 2"));
    let done = move_to(
        &addr,
        &created.id,
        json!({"to": "done", "closing": closing()}),
    )
    .await
    .expect("done");
    assert!(done.downtime_end.is_some());
    let held = db
        .run(|c| store::asset_held(c, "asset-1"))
        .await
        .expect("held");
    assert!(!held, "released when done");
}

mod machine_props {
    use chrono::{Duration, Utc};
    use plantd_contracts::workorders::*;
    use proptest::prelude::*;

    use crate::input::{NewOrder, Transition};
    use crate::machine;

    fn codes() -> FailureCodes {
        let one = |c: &str| {
            vec![Code {
                code: c.into(),
                label: c.into(),
            }]
        };
        FailureCodes {
            failure_modes: one("noise"),
            causes: one("wear"),
            actions: one("repair"),
            detections: one("alarm"),
        }
    }

    fn step() -> impl Strategy<Value = (WorkOrderStatus, bool)> {
        (
            proptest::sample::select(WorkOrderStatus::ALL.to_vec()),
            any::<bool>(),
        )
    }

    proptest! {
        #[test]
        fn random_transitions_never_reach_an_illegal_state(
            corrective in any::<bool>(),
            stops in any::<bool>(),
            steps in proptest::collection::vec(step(), 0..24),
        ) {
            let now = Utc::now();
            let new = crate::input::parse_new(&serde_json::json!({
                "title": "t", "stops_asset": stops,
                "kind": if corrective { "corrective" } else { "inspection" },
            })).expect("valid");
            let mut order = machine::build("o".into(), 1, NewOrder { ..new }, WorkOrderType::Corrective, None, now, "eve");
            // The created entry, then one per accepted transition.
            let mut history = vec![machine::entry(now, "eve", "created", serde_json::Value::Null)];
            for (i, (to, with_codes)) in steps.into_iter().enumerate() {
                let before = order.clone();
                let t = Transition {
                    to,
                    comment: None,
                    closing: (with_codes && to == WorkOrderStatus::Done).then(|| ClosingCodes {
                        failure_mode: "noise".into(), cause: "wear".into(),
                        action: "repair".into(), detection: "alarm".into(),
                    }),
                    actual_hours: None,
                    downtime_start: None,
                    downtime_end: None,
                };
                let at = now + Duration::seconds(i as i64);
                match machine::transition(&mut order, &t, &codes(), at, "eve") {
                    Ok(entry) => {
                        prop_assert!(before.status.can_go(to));
                        prop_assert_eq!(entry.detail["from"].as_str(), Some(before.status.as_str()));
                        prop_assert_eq!(entry.detail["to"].as_str(), Some(to.as_str()));
                        history.push(entry);
                        prop_assert_eq!(order.status, to);
                    }
                    Err(_) => {
                        prop_assert_eq!(&order, &before, "a refused step changes nothing");
                        prop_assert!(!before.status.can_go(to)
                            || (to == WorkOrderStatus::Done && corrective && !with_codes));
                    }
                }
                // Invariants of every reachable state.
                let s = order.status;
                if matches!(s, WorkOrderStatus::InProgress | WorkOrderStatus::OnHold | WorkOrderStatus::Done) {
                    prop_assert!(order.started_at.is_some());
                }
                prop_assert_eq!(order.completed_at.is_some(), s == WorkOrderStatus::Done);
                if s == WorkOrderStatus::Done && corrective {
                    prop_assert!(order.closing.is_some());
                }
                if stops && order.started_at.is_some() {
                    prop_assert!(order.downtime_start.is_some());
                }
                if let (Some(a), Some(b)) = (order.downtime_start, order.downtime_end) {
                    prop_assert!(a <= b);
                }
            }
            // The history replays to the final status, each step legal.
            let mut replay = WorkOrderStatus::Open;
            for h in &history[1..] {
                let to = WorkOrderStatus::parse(h.detail["to"].as_str().unwrap_or("")).expect("status");
                prop_assert!(replay.can_go(to));
                replay = to;
            }
            prop_assert_eq!(replay, order.status);
        }
    }
}
