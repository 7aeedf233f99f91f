//! Issue 14.10, written as the attack: the MQTT listener used to wait for each CONNECT's
//! login answer on its one thread, so a login whose answer is slow (a registry under
//! load, or many CONNECTs whose answers queue) stalled every other connection's I/O for
//! up to 3 s. The test hook `PLANTD_TEST_HOLD_LOGINS` (a file; while it exists the device
//! registry's login answers wait) makes one answer slow on purpose.

use std::time::{Duration, Instant};

use rumqttc::QoS;

use crate::support::http::{metric, provision, token};
use crate::support::mqtt::{connect, device};
use crate::support::{eventually, Server};

/// Each of these must complete within it while a login is held.
const PROMPT: Duration = Duration::from_secs(1);

/// The attack: "slow-1" connects while its login answer is held. Meanwhile the already
/// connected "fast-1" makes five QoS 1 round trips (PUBLISH → PUBACK) and an integration
/// logs in with its token (answered by identity, not held): each completes within 1 s.
/// Once the hold is lifted, "slow-1" is logged in too.
#[test]
fn attack_a_slow_login_does_not_stall_other_connections() {
    let hold = std::env::temp_dir().join(format!("plantd-hold-logins-{}", std::process::id()));
    let _ = std::fs::remove_file(&hold);
    let hold_env = hold.to_str().expect("utf-8 path").to_owned();
    let server = Server::start_with(&[("PLANTD_TEST_HOLD_LOGINS", &hold_env)]);
    let fast_password = provision(&server, "fast-1");
    let slow_password = provision(&server, "slow-1");
    let (token_id, secret) = token(&server, &["mqtt"]);
    let mut fast = device(&server, "fast-1", &fast_password);

    std::fs::write(&hold, b"").expect("hold file");
    let slow = {
        let (host, port) = server.mqtt_addr();
        let opts = {
            let mut o = rumqttc::MqttOptions::new("slow-1", host, port);
            o.set_credentials("slow-1", slow_password.as_str());
            o.set_keep_alive(Duration::from_secs(30));
            o
        };
        std::thread::spawn(move || crate::support::mqtt::connect_with(opts).map(|_| ()))
    };
    eventually(PROMPT, "the slow login waiting for its answer", || {
        (metric(&server, "plantd_mqtt_logins_waiting", "") >= 1.0).then_some(())
    });

    for i in 0..5 {
        let start = Instant::now();
        fast.publish(
            "devices/fast-1/telemetry",
            format!(r#"{{"ts": {}, "values": {{"t": {i}}}}}"#, 1000 + i),
            QoS::AtLeastOnce,
        );
        let took = start.elapsed();
        assert!(
            took < PROMPT,
            "round trip {i} took {took:?} while a login was held"
        );
    }
    let start = Instant::now();
    let integration = connect(&server, "integration.watcher", Some((&token_id, &secret)));
    let took = start.elapsed();
    assert!(
        integration.is_ok(),
        "the integration's login is answered: {:?}",
        integration.err()
    );
    assert!(took < PROMPT, "the integration's CONNECT took {took:?}");
    assert!(!slow.is_finished(), "the held login is still waiting");

    std::fs::remove_file(&hold).expect("lift the hold");
    assert!(
        slow.join().expect("slow thread").is_ok(),
        "the held login is accepted once answered"
    );
}
