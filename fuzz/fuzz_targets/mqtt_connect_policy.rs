//! Fuzz target: the policy layer's CONNECT decisions (who may log in, with which client
//! id, keep-alive and will), through the real `Policy` and rumqttd's codec. Beyond "no
//! panic": every accepted login is one the contract allows (a device with its right secret
//! under its own id; a token with the mqtt scope, under a client id that is neither
//! device-shaped nor reserved) and one within its token's session cap, stamped for
//! rumqttd's auth hook, held to the maximum keep-alive, with a will only on a topic its
//! principal may publish (a device's never retained); every refusal reaches the client as a
//! failure CONNACK with nothing of the login passed on. Raw bytes exercise the protocol
//! sniffing and decoding of a first packet.
#![no_main]

mod policy_harness;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use policy_harness::*;
use rumqttd::protocol::{Packet, Protocol};

#[derive(Arbitrary, Debug)]
struct ConnectIn {
    v5: bool,
    login: Option<LoginIn>,
    client_id: ClientIdIn,
    keep_alive: u16,
    clean: bool,
    will: Option<(TopicIn, bool, bool, u8)>,
}

#[derive(Arbitrary, Debug)]
enum Step {
    Connect(ConnectIn),
    /// The connection at this index (of those still open) ends.
    Drop(u8),
}

#[derive(Arbitrary, Debug)]
enum Input {
    Raw(Vec<u8>),
    Steps(SmallLimits, Vec<Step>),
}

fn raw(bytes: &[u8]) {
    let ctx = context(SmallLimits::limits_default());
    let mut conn = Conn::new(&ctx, false);
    let mut stream = bytes::BytesMut::from(bytes);
    match conn.policy.read_mut(&mut stream, MAX_PACKET) {
        Ok(Packet::Connect(_, _, _, _, login)) => {
            let login = login.expect("a CONNECT passed on has a login");
            assert_eq!(login.password, STAMP);
        }
        Ok(other) => panic!("a first packet that is not a CONNECT passed on: {other:?}"),
        Err(_) => {}
    }
}

fuzz_target!(|input: Input| {
    let (limits, steps) = match input {
        Input::Raw(bytes) => return raw(&bytes),
        Input::Steps(limits, steps) => (limits.limits(), steps),
    };
    let ctx = context(limits.clone());
    // Open connections: (connection, username, client id, integration?).
    let mut open: Vec<(Conn, String, String, bool)> = Vec::new();
    for step in steps.into_iter().take(8) {
        let c = match step {
            Step::Connect(c) => c,
            Step::Drop(i) => {
                if !open.is_empty() {
                    let i = usize::from(i) % open.len();
                    drop(open.remove(i));
                }
                continue;
            }
        };
        let login = c.login.as_ref().map(LoginIn::login);
        let username = login
            .as_ref()
            .map(|l| l.username.clone())
            .unwrap_or_default();
        let client_id = c.client_id.make(&username);
        let will = c.will.as_ref().map(|(t, empty, retain, q)| {
            (
                t.bytes(&username),
                will(&t.bytes(&username), *empty, *retain, *q),
            )
        });
        let mut conn = Conn::new(&ctx, c.v5);
        let packet = connect_packet(
            client_id.clone(),
            c.keep_alive,
            c.clean,
            will.as_ref().map(|(_, w)| w.clone()),
            login.clone(),
        );
        let Some(sent) = conn.send(packet) else {
            continue;
        };
        let Ok(Packet::Connect(connect, _, will_out, _, login_out)) = sent else {
            if let Ok(other) = sent {
                panic!("a CONNECT became {other:?}");
            }
            continue;
        };
        let login_out = login_out.expect("the layer always logs in with its stamp");
        assert_eq!(login_out.password, STAMP);
        let code = conn.connack_code();
        if login_out.username.is_empty() {
            // Refused: steered to rumqttd's CONNACK branch, nothing of the client kept.
            assert!(connect.client_id.is_empty() && !connect.clean_session);
            assert!(will_out.is_none(), "a refused login's will is dropped");
            assert_ne!(code, 0, "a refusal is a failure CONNACK");
            if let Some(login) = &login {
                if let Some(principal) = expected_principal(login, &client_id) {
                    // The only refusal the contract allows it: its token's session cap.
                    let token = principal.username().to_owned();
                    assert!(matches!(
                        principal,
                        plantd_broker::fuzzing::Principal::Integration(_)
                    ));
                    // An empty client id with a clean session would have been given a
                    // fresh name: then every other session of the token counts.
                    let fresh = client_id.is_empty() && c.clean;
                    let others: std::collections::HashSet<&str> = open
                        .iter()
                        .filter(|(_, user, id, _)| *user == token && (fresh || *id != client_id))
                        .map(|(_, _, id, _)| id.as_str())
                        .collect();
                    assert!(
                        others.len() >= limits.sessions_per_token,
                        "{token} refused under its cap ({} others)",
                        others.len()
                    );
                }
            }
            continue;
        }
        assert_eq!(code, 0);
        let login = login.expect("accepted without a login");
        let principal = expected_principal(&login, &client_id)
            .unwrap_or_else(|| panic!("accepted {login:?} with client id {client_id:?}"));
        assert_eq!(login_out.username, principal.username());
        let integration = matches!(principal, plantd_broker::fuzzing::Principal::Integration(_));
        if client_id.is_empty() && c.clean {
            assert!(
                connect.client_id.starts_with("plantd.anon-"),
                "{}",
                connect.client_id
            );
        } else {
            assert_eq!(connect.client_id, client_id);
        }
        if integration {
            let others: std::collections::HashSet<&str> = open
                .iter()
                .filter(|(_, user, id, _)| *user == login.username && *id != connect.client_id)
                .map(|(_, _, id, _)| id.as_str())
                .collect();
            assert!(
                others.len() < limits.sessions_per_token,
                "over the session cap"
            );
        }
        let max = limits.keep_alive_s;
        assert!(
            (1..=max).contains(&connect.keep_alive),
            "keep-alive {}",
            connect.keep_alive
        );
        if (1..=max).contains(&c.keep_alive) {
            assert_eq!(connect.keep_alive, c.keep_alive);
        }
        if let Some(w) = &will_out {
            let topic = std::str::from_utf8(&w.topic).expect("a will topic passed on is UTF-8");
            assert!(topic.len() <= limits.topic_bytes);
            assert!(
                may_publish(&principal, topic),
                "will on {topic:?} for {principal:?}"
            );
            if !integration {
                assert!(!w.retain, "a device's will is never retained");
            }
        } else if let Some((topic, _)) = &will {
            // Dropped: outside the principal's topics or limits (a retained one may be
            // over its token's places, not checked here).
            if let Ok(topic) = std::str::from_utf8(topic) {
                let fits = topic.len() <= limits.topic_bytes && may_publish(&principal, topic);
                let retained = c.will.as_ref().is_some_and(|(_, _, retain, _)| *retain);
                assert!(
                    !fits || (integration && retained),
                    "allowed will dropped: {topic:?}"
                );
            }
        }
        open.push((
            conn,
            login.username.clone(),
            connect.client_id.clone(),
            integration,
        ));
    }
});
