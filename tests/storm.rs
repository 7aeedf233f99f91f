//! A reconnect storm (issue 13, item 3): every device reconnects at once with the same
//! client id and drops its old connection. A reconnect may end its own old session
//! (takeover), but the old session's late cleanup must never end the NEW one: rumqttd
//! reuses connection ids, so a close that arrives after the takeover once ended whichever
//! connection held the id by then (patch 27). Afterwards every device is connected, online
//! in the registry, and the broker's gauges count each once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::{AbortHandle, JoinHandle};

use crate::support::http::{metric, provision};
use crate::support::{eventually, Server};

/// Devices in the storm: enough for reconnects to overlap the old sessions' cleanup.
const DEVICES: usize = 500;
/// Connects in flight at once (below the listener's accept backlog).
const CONCURRENCY: usize = 64;
const SETTLE: Duration = Duration::from_secs(120);

/// One connected device: its client and the task running its event loop, which ends (and
/// counts in `closed`) when the broker closes the connection.
struct Device {
    id: String,
    client: AsyncClient,
    task: JoinHandle<()>,
}

async fn connect(
    port: u16,
    id: String,
    password: String,
    closed: Arc<AtomicUsize>,
    subacks: Arc<AtomicUsize>,
) -> Device {
    let mut opts = MqttOptions::new(id.clone(), "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(60));
    opts.set_credentials(id.clone(), password);
    let (client, mut eventloop) = AsyncClient::new(opts, 4);
    let mut net = eventloop.network_options();
    net.set_connection_timeout(60);
    eventloop.set_network_options(net);
    match eventloop.poll().await {
        Ok(Event::Incoming(Packet::ConnAck(ack))) => {
            assert_eq!(
                ack.code,
                rumqttc::ConnectReturnCode::Success,
                "{id}: {ack:?}"
            )
        }
        other => panic!("{id}: expected a CONNACK, got {other:?}"),
    }
    let task = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    subacks.fetch_add(1, Ordering::SeqCst);
                }
                Ok(_) => {}
                Err(_) => {
                    closed.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
        }
    });
    Device { id, client, task }
}

/// Connects every device (at most `CONCURRENCY` at a time), each seeing its CONNACK; a
/// device with an old connection in `old` drops it (the socket closes, no DISCONNECT) as
/// soon as the new one is acknowledged.
fn connect_all(
    rt: &Runtime,
    port: u16,
    logins: &[(String, String)],
    mut old: HashMap<String, AbortHandle>,
    closed: &Arc<AtomicUsize>,
    subacks: &Arc<AtomicUsize>,
) -> Vec<Device> {
    rt.block_on(async {
        let permits = Arc::new(Semaphore::new(CONCURRENCY));
        let tasks: Vec<_> = logins
            .iter()
            .cloned()
            .map(|(id, password)| {
                let permits = permits.clone();
                let (closed, subacks) = (closed.clone(), subacks.clone());
                let old = old.remove(&id);
                tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await.expect("semaphore");
                    let new = connect(port, id, password, closed, subacks).await;
                    if let Some(old) = old {
                        old.abort();
                    }
                    new
                })
            })
            .collect();
        let mut devices = Vec::with_capacity(tasks.len());
        for task in tasks {
            devices.push(task.await.expect("connect task"));
        }
        devices
    })
}

/// Waits until the broker and the registry count exactly `n` live device sessions and
/// `connects` accepted logins.
fn settled(server: &Server, n: usize, connects: usize) {
    eventually(SETTLE, "the broker to count every device once", || {
        let sessions = metric(server, "plantd_mqtt_connections", "kind=\"device\"");
        let online = metric(server, "plantd_devices_online", "");
        let logins = metric(server, "plantd_mqtt_connects_total", "");
        (sessions == n as f64 && online == n as f64 && logins == connects as f64).then_some(())
    });
}

#[test]
fn a_reconnect_storm_leaves_every_device_connected_once() {
    let server = Server::start();
    let (_, port) = server.mqtt_addr();
    let logins: Vec<(String, String)> = (0..DEVICES)
        .map(|i| {
            let id = format!("storm-{i:03}");
            let password = provision(&server, &id);
            (id, password)
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let old_closed = Arc::new(AtomicUsize::new(0));
    let old_subacks = Arc::new(AtomicUsize::new(0));
    let old = connect_all(
        &rt,
        port,
        &logins,
        HashMap::new(),
        &old_closed,
        &old_subacks,
    );
    settled(&server, DEVICES, DEVICES);

    // The storm: every device reconnects at once (the broker takes each session over) and
    // drops its old socket once the new one is acknowledged, so the old session's close
    // races the takeover.
    let replaced = old
        .iter()
        .map(|d| (d.id.clone(), d.task.abort_handle()))
        .collect();
    let closed = Arc::new(AtomicUsize::new(0));
    let subacks = Arc::new(AtomicUsize::new(0));
    let new = connect_all(&rt, port, &logins, replaced, &closed, &subacks);
    rt.block_on(async {
        for device in old {
            let _ = device.task.await;
        }
    });
    settled(&server, DEVICES, 2 * DEVICES);

    // Every new session still answers: a SUBACK each, after the old sessions' cleanup ran.
    rt.block_on(async {
        for device in &new {
            device
                .client
                .subscribe(
                    format!("devices/{}/commands/+", device.id),
                    QoS::AtLeastOnce,
                )
                .await
                .expect("queue SUBSCRIBE");
        }
    });
    eventually(SETTLE, "a SUBACK on every new session", || {
        let acked = subacks.load(Ordering::SeqCst);
        (acked + closed.load(Ordering::SeqCst) >= DEVICES).then_some(())
    });
    assert_eq!(
        closed.load(Ordering::SeqCst),
        0,
        "the broker closed new sessions after the storm"
    );
    assert_eq!(subacks.load(Ordering::SeqCst), DEVICES);
    settled(&server, DEVICES, 2 * DEVICES);
    let dropped = new.iter().filter(|d| d.task.is_finished()).count();
    assert_eq!(dropped, 0, "new sessions ended after the storm");
    let (status, body) = crate::support::http::api(&server).get("/api/v1/devices/storm-000");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["online"], true, "{body}");
}
