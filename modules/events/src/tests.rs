//! The outbox against a real database: a SQLite file, or a fresh PostgreSQL database when
//! `PLANTD_TEST_DATABASE_URL` is set (as CI does), with real actors as subscribers.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use plantd_contracts::events::{
    examples, DeliverEvent, DeviceProvisioned, DeviceRef, EventFilter, ListEvents,
};
use plantd_contracts::{DeviceId, Event, EventData};
use plantd_storage::{Db, DbError, ScratchDb};
use uuid::Uuid;

use crate::{claim, outbox, record, store, EventSettings, Outbox, Subscription};

/// A database of its own for one test, dropped (PostgreSQL) or deleted (SQLite) at the end.
fn test_db(name: &str) -> ScratchDb {
    plantd_storage::scratch_db(&format!("events_{name}"), &[&crate::MIGRATIONS])
        .expect("scratch database")
}

fn device_event(id: &str) -> Event {
    Event::new(EventData::DeviceProvisioned(DeviceProvisioned {
        device_id: DeviceId::parse(id).expect("id"),
        asset_id: None,
    }))
}

/// Records events in their own transaction, as a module does, and wakes the dispatcher.
async fn commit(db: &Db, outbox: &Outbox, events: Vec<Event>) {
    db.run(move |c| record(c, &events)).await.expect("record");
    outbox.wake();
}

/// A subscriber that keeps the ids it handled, and refuses while `down` is set.
struct Collector {
    seen: Arc<Mutex<Vec<Uuid>>>,
    down: Arc<AtomicBool>,
    refusals: Arc<AtomicU32>,
}

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<DeliverEvent> for Collector {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: DeliverEvent, _: &mut Context<Self>) -> Self::Result {
        if self.down.load(Ordering::SeqCst) {
            self.refusals.fetch_add(1, Ordering::SeqCst);
            return Err("receiver down".into());
        }
        let mut seen = self.seen.lock().expect("lock");
        if !seen.contains(&msg.0.id) {
            seen.push(msg.0.id);
        }
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Probe {
    seen: Arc<Mutex<Vec<Uuid>>>,
    down: Arc<AtomicBool>,
    refusals: Arc<AtomicU32>,
}

impl Probe {
    fn subscription(&self, name: &'static str, filter: EventFilter) -> Subscription {
        let actor = Collector {
            seen: self.seen.clone(),
            down: self.down.clone(),
            refusals: self.refusals.clone(),
        }
        .start();
        Subscription {
            name,
            filter,
            recipient: actor.recipient(),
        }
    }

    fn seen(&self) -> Vec<Uuid> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn settings() -> EventSettings {
    EventSettings {
        poll: Duration::from_millis(200),
        ..EventSettings::default()
    }
}

#[actix_rt::test]
async fn every_type_decodes_from_a_stored_row() {
    let t = test_db("decode");
    let events: Vec<Event> = examples().into_iter().map(Event::new).collect();
    let stored = events.clone();
    t.db.run(move |c| record(c, &stored)).await.expect("record");
    let rows =
        t.db.run(|c| store::read_after(c, 0, 1000))
            .await
            .expect("read");
    assert_eq!(rows.len(), events.len());
    for (row, event) in rows.iter().zip(&events) {
        assert_eq!(row.kind, event.kind());
        assert_eq!(&row.decode().expect("decodes"), event);
    }
}

#[actix_rt::test]
async fn an_event_whose_transaction_rolls_back_is_never_delivered() {
    let t = test_db("rollback");
    let (outbox, mut dispatch) = outbox(t.db.clone(), settings());
    let probe = Probe::default();
    dispatch.subscribe(probe.subscription("probe", EventFilter::All));
    let _dispatcher = dispatch.start();

    let doomed = device_event("doomed");
    let failed: Result<(), DbError> =
        t.db.run(move |c| {
            c.transaction(|c| {
                record(c, &[doomed])?;
                // The change the event belongs to fails: everything is rolled back.
                Err(DbError::Task("the change failed".into()))
            })
        })
        .await;
    assert!(failed.is_err());
    let stored = t.db.run(store::last_seq).await.expect("read");
    assert_eq!(stored, 0, "the rolled-back event is not in the outbox");
    let kept = device_event("kept");
    let kept_id = kept.id;
    commit(&t.db, &outbox, vec![kept]).await;
    eventually("the committed event", || probe.seen() == vec![kept_id]).await;
}

#[actix_rt::test]
async fn a_failing_subscriber_is_retried_without_blocking_the_others() {
    let t = test_db("retry");
    let (outbox, mut dispatch) = outbox(t.db.clone(), settings());
    let (healthy, failing) = (Probe::default(), Probe::default());
    failing.down.store(true, Ordering::SeqCst);
    dispatch
        .subscribe(healthy.subscription("healthy", EventFilter::All))
        .subscribe(failing.subscription("failing", EventFilter::All));
    let _dispatcher = dispatch.start();

    let events: Vec<Event> = (1..=3).map(|n| device_event(&format!("d{n}"))).collect();
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    commit(&t.db, &outbox, events).await;
    eventually("the healthy subscriber to get all three", || {
        healthy.seen() == ids
    })
    .await;
    eventually("the failing subscriber to be retried", || {
        failing.refusals.load(Ordering::SeqCst) >= 2
    })
    .await;
    assert!(
        failing.seen().is_empty(),
        "nothing was handled while it refused"
    );

    failing.down.store(false, Ordering::SeqCst);
    eventually(
        "the recovered subscriber to get all three, in order",
        || failing.seen() == ids,
    )
    .await;
}

#[actix_rt::test]
async fn delivery_resumes_from_each_subscribers_cursor() {
    let t = test_db("resume");
    let first = device_event("first");
    let first_id = first.id;
    // A first "process": its own actor system, gone (with its loops) when the thread ends.
    let db = t.db.clone();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let (outbox, mut dispatch) = outbox(db.clone(), settings());
            let probe = Probe::default();
            dispatch.subscribe(probe.subscription("resumer", EventFilter::All));
            let _dispatcher = dispatch.start();
            commit(&db, &outbox, vec![first]).await;
            eventually("the first event", || probe.seen() == vec![first_id]).await;
            // The cursor is written after the subscriber answered.
            let deadline = Instant::now() + Duration::from_secs(10);
            while db
                .run(|c| store::cursor(c, "resumer", 0, 0))
                .await
                .expect("cursor")
                != 1
            {
                assert!(Instant::now() < deadline, "cursor not stored");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
    })
    .join()
    .expect("first process");
    let second = device_event("second");
    let second_id = second.id;
    t.db.run(move |c| record(c, &[second]))
        .await
        .expect("record");

    let (_outbox, mut dispatch) = outbox(t.db.clone(), settings());
    let probe = Probe::default();
    dispatch.subscribe(probe.subscription("resumer", EventFilter::All));
    let late = Probe::default();
    dispatch.subscribe(late.subscription("newcomer", EventFilter::All));
    let _dispatcher = dispatch.start();
    eventually("the second event", || probe.seen() == vec![second_id]).await;
    // A subscriber new to this database starts at the oldest kept event.
    eventually("the newcomer to get both", || {
        late.seen() == vec![first_id, second_id]
    })
    .await;
    assert_eq!(
        probe.seen(),
        vec![second_id],
        "the first is not delivered again"
    );
}

#[actix_rt::test]
async fn a_subscriber_gets_only_the_types_it_asked_for() {
    let t = test_db("filter");
    let (outbox, mut dispatch) = outbox(t.db.clone(), settings());
    let probe = Probe::default();
    dispatch.subscribe(probe.subscription(
        "devices-only",
        EventFilter::Prefixes(vec!["device.".into()]),
    ));
    let _dispatcher = dispatch.start();
    let command = Event::new(EventData::CommandCreated(
        plantd_contracts::events::CommandRef {
            device_id: DeviceId::parse("d1").expect("id"),
            command_id: "c1".into(),
            name: "reboot".into(),
        },
    ));
    let device = device_event("d1");
    let device_id = device.id;
    commit(&t.db, &outbox, vec![command, device]).await;
    eventually("the device event", || probe.seen() == vec![device_id]).await;
}

#[actix_rt::test]
async fn claiming_an_event_id_succeeds_once_per_consumer() {
    let t = test_db("claim");
    let id = Uuid::new_v4();
    let outcomes =
        t.db.run(move |c| {
            Ok((
                claim(c, "workorders", id, 1)?,
                claim(c, "workorders", id, 2)?,
                claim(c, "webhooks", id, 3)?,
            ))
        })
        .await
        .expect("claim");
    assert_eq!(outcomes, (true, false, true));
}

#[actix_rt::test]
async fn pruning_keeps_what_a_subscriber_has_not_handled_and_what_is_recent() {
    let t = test_db("prune");
    let mut old = device_event("old");
    old.time -= chrono_days(8);
    let mut old_unhandled = device_event("old2");
    old_unhandled.time -= chrono_days(8);
    let recent = device_event("recent");
    let recent_id = recent.id;
    let unhandled_id = old_unhandled.id;
    t.db.run(move |c| record(c, &[old, recent, old_unhandled]))
        .await
        .expect("record");
    let cutoff = plantd_contracts::time::now_ms() - 7 * 24 * 3600 * 1000;
    let pruned =
        t.db.run(move |c| {
            store::cursor(c, "a", 0, 0)?;
            store::cursor(c, "b", 0, 0)?;
            store::advance(c, "a", 3, 0)?;
            store::advance(c, "b", 2, 0)?;
            store::prune(c, &["a", "b"], cutoff, 1000)
        })
        .await
        .expect("prune");
    assert_eq!(pruned, 1, "only the old event both subscribers handled");
    let left: Vec<Uuid> =
        t.db.run(|c| store::read_after(c, 0, 10))
            .await
            .expect("read")
            .iter()
            .map(|r| r.decode().expect("decode").id)
            .collect();
    assert_eq!(left, vec![recent_id, unhandled_id]);
}

#[actix_rt::test]
async fn the_list_pages_by_event_id_and_filters_by_type() {
    let t = test_db("list");
    let (outbox, dispatch) = outbox(t.db.clone(), settings());
    let dispatcher = dispatch.start();
    let mut events: Vec<Event> = (1..=5).map(|n| device_event(&format!("d{n}"))).collect();
    events.push(Event::new(EventData::DeviceDeleted(DeviceRef {
        device_id: DeviceId::parse("d1").expect("id"),
    })));
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    commit(&t.db, &outbox, events).await;

    let page = |after, kind: Option<&str>, limit| ListEvents {
        after,
        kind: kind.map(str::to_owned),
        limit,
    };
    let first = dispatcher
        .send(page(None, None, 4))
        .await
        .expect("actor")
        .expect("list");
    assert_eq!(
        first.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[..4]
    );
    let next = first
        .next_cursor
        .expect("a next page")
        .parse()
        .expect("uuid");
    let second = dispatcher
        .send(page(Some(next), None, 4))
        .await
        .expect("actor")
        .expect("list");
    assert_eq!(
        second.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[4..]
    );
    assert_eq!(second.next_cursor, None);
    let deleted = dispatcher
        .send(page(None, Some("device.deleted"), 50))
        .await
        .expect("actor")
        .expect("list");
    assert_eq!(
        deleted.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ids[5]]
    );
    let unknown = dispatcher
        .send(page(Some(Uuid::new_v4()), None, 50))
        .await
        .expect("actor");
    assert!(matches!(
        unknown,
        Err(plantd_contracts::DomainError::NotFound(_))
    ));
}

fn chrono_days(n: i64) -> chrono::TimeDelta {
    chrono::TimeDelta::days(n)
}
