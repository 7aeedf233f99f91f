//! MQTT over TLS and secure WebSocket (issue 13, item 4) over real sockets: a device
//! connects with its credentials through TLS (certificates made by the test), a client
//! stalled mid-handshake delays no one, and SIGHUP swaps the certificate for new
//! connections (a bad file keeps the old one).

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rumqttc::{MqttOptions, QoS, Transport};

use crate::listeners::{connect_v5, publish_v5, still_open, wait_all_closed, DEADLINE_MS};
use crate::support::http::{metric, provision, stored_points};
use crate::support::mqtt::connect_with;
use crate::support::server::free_port;
use crate::support::tls::{client_tls, presented_certificate, write, Ca};
use crate::support::{eventually, Server};

struct TlsServer {
    server: Server,
    tls_port: u16,
    ws_port: u16,
    cert: PathBuf,
    key: PathBuf,
}

/// A plantd with TLS on (certificate signed by `ca`) and secure WebSocket on.
fn tls_server(ca: &Ca) -> TlsServer {
    tls_server_with(ca, &[])
}

fn tls_server_with(ca: &Ca, extra: &[(&str, &str)]) -> TlsServer {
    let (tls_port, ws_port) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("plantd-tls-{}-{tls_port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("certificate folder");
    let (cert, key) = write(&dir, "server", &ca.server());
    let (tls_addr, ws_addr) = (
        format!("127.0.0.1:{tls_port}"),
        format!("127.0.0.1:{ws_port}"),
    );
    let server = [
        ("PLANTD_MQTT_TLS_ADDR", tls_addr.as_str()),
        ("PLANTD_MQTT_WS_ADDR", ws_addr.as_str()),
        ("PLANTD_TLS_CERT_FILE", cert.to_str().expect("utf-8")),
        ("PLANTD_TLS_KEY_FILE", key.to_str().expect("utf-8")),
        ("PLANTD_MQTT_CONNECT_TIMEOUT_MS", DEADLINE_MS),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .collect::<Vec<_>>();
    let server = Server::start_with(&server);
    TlsServer {
        server,
        tls_port,
        ws_port,
        cert,
        key,
    }
}

fn tls_options(port: u16, ca: &Ca, id: &str, password: &str) -> MqttOptions {
    let mut opts = MqttOptions::new(id, "localhost", port);
    opts.set_transport(Transport::tls_with_config(client_tls(ca)));
    opts.set_credentials(id, password);
    opts.set_keep_alive(Duration::from_secs(30));
    opts
}

fn sample(value: u32) -> String {
    format!(r#"{{"values": {{"temperature_c": {value}}}}}"#)
}

/// A socket stalls in the middle of its TLS handshake (a record header, then nothing).
/// Meanwhile a device connects over TLS with its credentials and publishes, and an MQTT 5
/// device does so over secure WebSocket (`wss://…/mqtt`): both samples are stored, while
/// the stalled socket is still open. It is closed after the deadline, counted as a TLS
/// listener timeout. Wrong credentials over TLS are refused as over TCP.
#[test]
fn devices_publish_over_tls_while_a_handshake_stalls() {
    let ca = Ca::new("plantd test CA");
    let tls = tls_server(&ca);
    let server = &tls.server;
    let password = provision(server, "tls-1");
    let ws_password = provision(server, "wss-1");

    let stalled = {
        let mut s = TcpStream::connect(("127.0.0.1", tls.tls_port)).expect("connect");
        // A handshake record of 512 bytes is announced; none follow.
        s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
            .expect("record header");
        s.set_nonblocking(true).expect("non-blocking");
        s
    };

    let mut device = connect_with(tls_options(tls.tls_port, &ca, "tls-1", &password))
        .expect("the device connects over TLS while another handshake stalls");
    device.publish("devices/tls-1/telemetry", sample(71), QoS::AtLeastOnce);

    let mut opts =
        rumqttc::v5::MqttOptions::new("wss-1", format!("wss://localhost:{}/mqtt", tls.ws_port), 0);
    opts.set_transport(Transport::wss_with_config(client_tls(&ca)));
    opts.set_credentials("wss-1", ws_password.as_str());
    opts.set_keep_alive(Duration::from_secs(30));
    let (wss, packets) = connect_v5(opts).expect("MQTT 5 over secure WebSocket");
    publish_v5(&wss, &packets, "devices/wss-1/telemetry", sample(72));
    assert!(
        still_open(&stalled),
        "both were served while a handshake stalled"
    );

    assert_eq!(
        stored_points(server, "tls-1", "temperature_c", 1)[0].1,
        71.0
    );
    assert_eq!(
        stored_points(server, "wss-1", "temperature_c", 1)[0].1,
        72.0
    );

    // The Settings page lists the three listeners as they are.
    let agent = crate::support::web::agent();
    let session = crate::support::web::sign_in(server, &agent);
    let settings = crate::health_pages::page(server, &agent, &session, "/settings");
    for (what, port) in [
        ("MQTT 3.1.1 and 5 over TCP", server.mqtt_port),
        ("MQTT 3.1.1 and 5 over TLS", tls.tls_port),
        (
            "MQTT 3.1.1 and 5 over secure WebSocket (path /mqtt)",
            tls.ws_port,
        ),
    ] {
        let listed = format!("<dt>{what}</dt><dd><code>127.0.0.1:{port}</code></dd>");
        assert!(settings.contains(&listed), "{listed} in {settings}");
    }

    let refused = connect_with(tls_options(tls.tls_port, &ca, "tls-1", "wrong-secret"));
    assert!(
        matches!(refused, Err(rumqttc::ConnectionError::ConnectionRefused(_))),
        "a wrong password over TLS is refused: {:?}",
        refused.err()
    );

    wait_all_closed(
        std::slice::from_ref(&stalled),
        "the stalled handshake to be closed after the deadline",
    );
    eventually(Duration::from_secs(10), "the TLS timeout counted", || {
        let n = metric(
            server,
            "plantd_mqtt_handshake_failures_total",
            r#"listener="tls",reason="timeout""#,
        );
        (n >= 1.0).then_some(())
    });
}

fn sighup(server: &Server) {
    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success(), "kill -HUP failed");
}

/// SIGHUP re-reads the certificate and key: after the files are replaced, a new TLS
/// connection is given the new certificate. A reload from a broken key keeps the current
/// certificate (counted as a failed reload) and plantd goes on serving.
#[test]
fn sighup_reloads_the_certificate_and_a_bad_one_keeps_the_old() {
    let first_ca = Ca::new("plantd test CA 1");
    let tls = tls_server(&first_ca);
    let server = &tls.server;
    let first = std::fs::read_to_string(&tls.cert).expect("first certificate");
    assert!(first.contains("BEGIN CERTIFICATE"));
    let second_ca = Ca::new("plantd test CA 2");
    let both = [&first_ca, &second_ca];
    let before = presented_certificate(tls.tls_port, &both).expect("TLS handshake");

    let second = second_ca.server();
    std::fs::write(&tls.key, &second.key_pem).expect("replace key");
    std::fs::write(&tls.cert, &second.cert_pem).expect("replace certificate");
    sighup(server);
    eventually(Duration::from_secs(20), "the new certificate", || {
        let now = presented_certificate(tls.tls_port, &both).ok()?;
        (now == second.der).then_some(())
    });
    assert_ne!(before, second.der);
    assert!(
        metric(server, "plantd_tls_reloads_total", r#"outcome="ok""#) >= 1.0,
        "the reload is counted"
    );

    std::fs::write(&tls.key, "-----BEGIN PRIVATE KEY-----\nnot a key\n").expect("break key");
    sighup(server);
    eventually(Duration::from_secs(20), "the failed reload counted", || {
        let n = metric(server, "plantd_tls_reloads_total", r#"outcome="failed""#);
        (n >= 1.0).then_some(())
    });
    let kept = presented_certificate(tls.tls_port, &both).expect("TLS still served");
    assert_eq!(
        kept, second.der,
        "a failed reload keeps the certificate in use"
    );

    // And devices still connect over TLS, trusting only the new CA.
    let password = provision(server, "tls-2");
    let mut device = connect_with(tls_options(tls.tls_port, &second_ca, "tls-2", &password))
        .expect("connect after the reloads");
    device.publish("devices/tls-2/telemetry", sample(5), QoS::AtLeastOnce);
    stored_points(server, "tls-2", "temperature_c", 1);
}

/// With `tls_client_ca_file`, a device whose certificate (signed by that CA) names its id
/// in the CN or a DNS SAN logs in over TLS without its secret, with or without a username;
/// the certificate does not let it log in as another device, a certificate of another CA
/// is refused in the handshake, and a device without a certificate still logs in with its
/// secret.
#[test]
fn a_client_certificate_naming_the_device_is_its_login() {
    let ca = Ca::new("plantd test CA");
    let devices_ca = Ca::new("plantd devices CA");
    let dir = std::env::temp_dir().join(format!("plantd-client-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("folder");
    let ca_file = dir.join("devices-ca.pem");
    std::fs::write(&ca_file, &devices_ca.pem).expect("write CA");
    let tls = tls_server_with(
        &ca,
        &[(
            "PLANTD_TLS_CLIENT_CA_FILE",
            ca_file.to_str().expect("utf-8"),
        )],
    );
    let server = &tls.server;
    provision(server, "cert-1");
    let password_2 = provision(server, "cert-2");
    let with_cert = |issued: &crate::support::tls::Issued, id: &str, login: Option<&str>| {
        let mut opts = MqttOptions::new(id, "localhost", tls.tls_port);
        opts.set_transport(Transport::tls_with_config(
            rumqttc::TlsConfiguration::Simple {
                ca: ca.pem.clone().into_bytes(),
                alpn: None,
                client_auth: Some((
                    issued.cert_pem.clone().into_bytes(),
                    issued.key_pem.clone().into_bytes(),
                )),
            },
        ));
        if let Some(password) = login {
            opts.set_credentials(id, password);
        }
        opts.set_keep_alive(Duration::from_secs(30));
        opts
    };

    let by_cn = devices_ca.issue("cert-1", &[]);
    let mut device = connect_with(with_cert(&by_cn, "cert-1", Some("not-the-secret")))
        .expect("the certificate's CN is the device's login");
    device.publish("devices/cert-1/telemetry", sample(81), QoS::AtLeastOnce);
    assert_eq!(
        stored_points(server, "cert-1", "temperature_c", 1)[0].1,
        81.0
    );

    let refused = connect_with(with_cert(&by_cn, "cert-2", Some("not-the-secret")));
    assert!(
        matches!(refused, Err(rumqttc::ConnectionError::ConnectionRefused(_))),
        "cert-1's certificate is no login for cert-2: {:?}",
        refused.err()
    );

    let by_san = devices_ca.issue("a gateway", &["cert-2"]);
    let mut device = connect_with(with_cert(&by_san, "cert-2", None))
        .expect("a DNS SAN naming the device, no username");
    device.publish("devices/cert-2/telemetry", sample(82), QoS::AtLeastOnce);
    assert_eq!(
        stored_points(server, "cert-2", "temperature_c", 1)[0].1,
        82.0
    );
    drop(device);

    let stranger = Ca::new("someone else's CA").issue("cert-1", &[]);
    let refused = connect_with(with_cert(&stranger, "cert-1", Some("x")));
    assert!(
        refused.is_err() && !matches!(refused, Err(rumqttc::ConnectionError::ConnectionRefused(_))),
        "a certificate of another CA fails the TLS handshake"
    );

    let mut device = connect_with(tls_options(tls.tls_port, &ca, "cert-2", &password_2))
        .expect("without a certificate, the secret still works");
    device.publish("devices/cert-2/telemetry", sample(83), QoS::AtLeastOnce);
    stored_points(server, "cert-2", "temperature_c", 2);
    let _ = std::fs::remove_dir_all(dir);
}
