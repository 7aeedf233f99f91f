//! Fuzz target: the policy layer's PUBLISH decisions (topics, topic length, MQTT 5 topic
//! aliases, retained places per token, a device's retain flag), through the real `Policy`
//! and rumqttd's codec. Beyond "no panic": a publish reaches the router unchanged exactly
//! when the contract allows it (a device only its own "Device → plantd" topics, never
//! retained; an integration anything outside `$…`, `devices/…` and `plantd/…`, a retained
//! one within its token's places), and every other one is rewritten to plantd's denied
//! topic with an empty payload, not retained. Through an alias, the topic the alias was set
//! with counts.
#![no_main]

mod policy_harness;

use std::collections::{HashMap, HashSet};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use plantd_broker::fuzzing::Principal;
use policy_harness::*;
use rumqttd::protocol::Packet;

#[derive(Arbitrary, Debug)]
struct PublishIn {
    topic: TopicIn,
    /// An empty topic (to use an alias set earlier).
    empty_topic: bool,
    alias: Option<u16>,
    qos: u8,
    retain: bool,
    empty_payload: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    session: SessionIn,
    publishes: Vec<PublishIn>,
}

fuzz_target!(|input: Input| {
    let Some(Session {
        mut conn,
        principal,
        limits,
        ctx: _ctx,
    }) = input.session.open()
    else {
        return;
    };
    let own = principal.username().to_owned();
    let integration = matches!(principal, Principal::Integration(_));
    // The oracle's books: alias → allowed topic (None: set by a refused publish), and the
    // topics this token retains.
    let mut aliases: HashMap<u16, Option<String>> = HashMap::new();
    let mut retained: HashSet<String> = HashSet::new();
    for (n, p) in input.publishes.into_iter().take(16).enumerate() {
        let topic = if p.empty_topic {
            Vec::new()
        } else {
            p.topic.bytes(&own)
        };
        let alias = p.alias.filter(|_| conn.v5);
        let payload: &[u8] = if p.empty_payload {
            b""
        } else {
            br#"{"values":{"a":1}}"#
        };
        let pkid = u16::try_from(n).unwrap_or(u16::MAX) + 1;
        let packet = publish_packet(publish(&topic, payload, p.qos, pkid, p.retain), alias);
        let Some(sent) = conn.send(packet) else {
            continue;
        };
        let (out, _) = match sent {
            Ok(Packet::Publish(out, props)) => (out, props),
            Ok(other) => panic!("a PUBLISH became {other:?}"),
            // The codec refused it: the connection ends.
            Err(_) => return,
        };
        // The oracle. Which topic counts, and whether it may be published.
        let text = std::str::from_utf8(&topic).ok();
        let counted: Option<String> = match text {
            None => None,
            Some("") => match alias.map(|a| aliases.get(&a)) {
                Some(Some(Some(t))) => Some(t.clone()),
                Some(Some(None)) | None => None,
                // An alias never set: rumqttd refuses it; only a retained one is stopped here.
                Some(None) => (!p.retain).then(String::new),
            },
            Some(t) => {
                (t.len() <= limits.topic_bytes && may_publish(&principal, t)).then(|| t.to_owned())
            }
        };
        let mut allowed = counted.is_some();
        if let (true, true, Some(t)) = (integration, p.retain, &counted) {
            if p.empty_payload {
                retained.remove(t);
            } else if !retained.contains(t) {
                if retained.len() < limits.retained_per_token {
                    retained.insert(t.clone());
                } else {
                    allowed = false;
                }
            }
        }
        if let (Some(a), false) = (alias, topic.is_empty()) {
            aliases.insert(
                a,
                allowed.then(|| String::from_utf8_lossy(&topic).into_owned()),
            );
        }
        if allowed {
            assert_eq!(
                &out.topic[..],
                &topic[..],
                "allowed publish passed on as is"
            );
            assert_eq!(&out.payload[..], payload);
            assert_eq!(out.retain, p.retain && integration, "retain: {principal:?}");
        } else {
            assert_eq!(
                &out.topic[..],
                DENIED_TOPIC,
                "{principal:?} published {text:?}"
            );
            assert!(out.payload.is_empty() && !out.retain);
        }
        // Whatever the oracle says: what reaches the router is denied, on an alias, or a
        // topic its principal may publish.
        if &out.topic[..] != DENIED_TOPIC && !out.topic.is_empty() {
            let t = std::str::from_utf8(&out.topic).expect("UTF-8 topic passed on");
            match &principal {
                Principal::Device(id) => {
                    assert!(t.starts_with(&format!("devices/{id}/")), "{t}");
                    assert!(!out.retain);
                }
                Principal::Integration(_) => {
                    assert!(
                        !t.starts_with('$')
                            && !t.starts_with("devices/")
                            && !t.starts_with("plantd/")
                    );
                }
            }
        }
    }
});
