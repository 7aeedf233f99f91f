//! Fuzz target: the policy layer's SUBSCRIBE (and UNSUBSCRIBE) decisions, through the real
//! `Policy` and rumqttd's codec, for a device or an integration. Beyond "no panic": each
//! filter the router gets is exactly one the contract allows the principal (a device only
//! its own "plantd → device" topics; an integration anything but `$…`, shared
//! subscriptions of non-`$` filters excepted) within the topic-length and per-session
//! limits, every other one is swapped for the inert filter, and the client's SUBACK says
//! failure exactly for those.
#![no_main]

mod policy_harness;

use std::collections::HashSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use policy_harness::*;
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::v5::V5;
use rumqttd::protocol::{
    Filter, Packet, Protocol, RetainForwardRule, SubAck, Subscribe, SubscribeReasonCode,
    Unsubscribe,
};

#[derive(Arbitrary, Debug)]
enum Op {
    Subscribe(Vec<(TopicIn, u8)>),
    Unsubscribe(Vec<TopicIn>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    session: SessionIn,
    ops: Vec<Op>,
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
    // The filters the session holds, as the contract counts them.
    let mut held: HashSet<String> = HashSet::new();
    for (n, op) in input.ops.into_iter().take(16).enumerate() {
        let pkid = u16::try_from(n).unwrap_or(u16::MAX) + 1;
        match op {
            Op::Subscribe(filters) => {
                let paths: Vec<String> =
                    filters.iter().take(8).map(|(f, _)| f.text(&own)).collect();
                let filters: Vec<Filter> = paths
                    .iter()
                    .zip(&filters)
                    .map(|(path, (_, q))| Filter {
                        path: path.clone(),
                        qos: qos(*q),
                        nolocal: false,
                        preserve_retain: false,
                        retain_forward_rule: RetainForwardRule::OnEverySubscribe,
                    })
                    .collect();
                let count = filters.len();
                let Some(sent) = conn.send(Packet::Subscribe(Subscribe { pkid, filters }, None))
                else {
                    continue;
                };
                let got = match sent {
                    Ok(Packet::Subscribe(s, _)) => s,
                    Ok(other) => panic!("a SUBSCRIBE became {other:?}"),
                    // The codec refused it (e.g. no filter): the connection ends.
                    Err(_) => return,
                };
                assert_eq!(got.pkid, pkid);
                assert_eq!(got.filters.len(), count);
                let mut refused = Vec::new();
                for (i, (path, out)) in paths.iter().zip(&got.filters).enumerate() {
                    let allowed = path.len() <= limits.topic_bytes
                        && may_subscribe(&principal, path)
                        && (held.contains(path) || held.len() < limits.filters_per_session);
                    if allowed {
                        held.insert(path.clone());
                        assert_eq!(&out.path, path, "allowed filter passed on as is");
                    } else {
                        assert_eq!(out.path, VOID_FILTER, "{principal:?} got {path:?}");
                        refused.push(i);
                    }
                    // Whatever the oracle says: a device reads nothing outside its prefix,
                    // and nobody reads `$SYS` or plantd's denied topic.
                    if out.path != VOID_FILTER {
                        if let plantd_broker::fuzzing::Principal::Device(id) = &principal {
                            assert!(out.path.starts_with(&format!("devices/{id}/")));
                        }
                        assert!(!out.path.starts_with("$SYS") && !out.path.starts_with("$plantd"));
                    }
                }
                // The router grants everything it got; the client sees the refusals.
                let ack = Packet::SubAck(
                    SubAck {
                        pkid,
                        return_codes: vec![SubscribeReasonCode::QoS0; count],
                    },
                    None,
                );
                let mut wire = bytes::BytesMut::from(&conn.out(ack)[..]);
                let decoded = if conn.v5 {
                    V5.read_mut(&mut wire, MAX_PACKET)
                } else {
                    V4.read_mut(&mut wire, MAX_PACKET)
                };
                if let Ok(Packet::SubAck(ack, _)) = decoded {
                    for (i, code) in ack.return_codes.iter().enumerate() {
                        let failed = matches!(
                            code,
                            SubscribeReasonCode::Failure | SubscribeReasonCode::NotAuthorized
                        );
                        assert_eq!(failed, refused.contains(&i), "SUBACK code {i}: {code:?}");
                    }
                }
            }
            Op::Unsubscribe(filters) => {
                let paths: Vec<String> = filters.iter().take(8).map(|f| f.text(&own)).collect();
                let sent = conn.send(Packet::Unsubscribe(
                    Unsubscribe {
                        pkid,
                        filters: paths.clone(),
                    },
                    None,
                ));
                match sent {
                    None => continue,
                    Some(Err(_)) => return,
                    Some(Ok(Packet::Unsubscribe(u, _))) => {
                        // Only filters the session holds go on.
                        let want: Vec<&String> =
                            paths.iter().filter(|p| held.contains(*p)).collect();
                        assert!(!want.is_empty());
                        for f in &u.filters {
                            assert!(held.contains(f), "unsubscribe of {f:?} not held");
                        }
                    }
                    Some(Ok(Packet::Subscribe(s, _))) => {
                        // None held: an inert SUBSCRIBE stands in for it.
                        assert!(paths.iter().all(|p| !held.contains(p)), "{paths:?}");
                        assert_eq!(s.filters.len(), 1);
                        assert_eq!(s.filters[0].path, VOID_FILTER);
                    }
                    Some(Ok(other)) => panic!("an UNSUBSCRIBE became {other:?}"),
                }
                for p in &paths {
                    held.remove(p);
                }
            }
        }
    }
});
