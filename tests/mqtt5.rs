//! MQTT 5 features through plantd's policy layer and its patched rumqttd router, over real
//! sockets with rumqttc's v5 client and an integration token (or a device) as the login:
//! what each subscriber actually receives. One test per feature, and for the features that
//! touch authorization, that a device still gets nothing outside its contract topics.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::v5::{
    ConnectProperties, Filter, Packet, Publish, PublishProperties, RetainForwardRule,
    SubscribeReasonCode,
};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::MqttOptions;
use serde_json::json;

use crate::shadow::patch_desired;
use crate::support::http::{api, provision};
use crate::support::mqtt::{connect, Mqtt};
use crate::support::mqtt5::{
    integration, mqtt_token, options, props, text, RawV5, GRANTED_1, GRANTED_2, V5, WAIT,
};
use crate::support::Server;

#[test]
fn user_properties_payload_format_and_content_type_reach_subscribers_at_the_qos_published() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let mut sub = integration(&server, &login, "Subscriber");
    assert_eq!(
        sub.subscribe("svc/props", QoS::ExactlyOnce),
        vec![GRANTED_2]
    );
    // MQTT 3.1.1 subscribers get the same messages without properties.
    let mut old: Mqtt = connect(&server, "Old", Some((&login.0, &login.1))).expect("3.1.1");
    assert_eq!(
        old.subscribe("svc/props"),
        vec![rumqttc::SubscribeReasonCode::Success(
            rumqttc::QoS::AtLeastOnce
        )]
    );

    let mut publisher = integration(&server, &login, "Publisher");
    let sent = PublishProperties {
        payload_format_indicator: Some(1),
        content_type: Some("text/plain".into()),
        user_properties: vec![("a".into(), "2".into()), ("c".into(), "3".into())],
        response_topic: Some("svc/reply".into()),
        correlation_data: Some(b"334".to_vec().into()),
        ..Default::default()
    };
    for (qos, payload) in [
        (QoS::AtMostOnce, "q0"),
        (QoS::AtLeastOnce, "q1"),
        (QoS::ExactlyOnce, "q2"),
    ] {
        publisher.publish_props("svc/props", qos, false, payload, sent.clone());
    }

    let got = sub.until("q2");
    assert_eq!(
        got.iter().map(text).collect::<Vec<_>>(),
        vec!["q0", "q1", "q2"]
    );
    // Each at the lower of its own QoS and the subscription's (2).
    assert_eq!(
        got.iter().map(|p| p.qos).collect::<Vec<_>>(),
        vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
    );
    for p in &got {
        let props = props(p);
        assert_eq!(props.payload_format_indicator, Some(1), "{p:?}");
        assert_eq!(props.content_type.as_deref(), Some("text/plain"), "{p:?}");
        assert_eq!(props.user_properties, sent.user_properties, "{p:?}");
        assert_eq!(props.response_topic.as_deref(), Some("svc/reply"), "{p:?}");
        assert_eq!(
            props.correlation_data.as_deref(),
            Some(&b"334"[..]),
            "{p:?}"
        );
    }
    let old_got = old.collect_until(WAIT, "the 3.1.1 copies", |got| got.len() >= 3);
    assert_eq!(
        old_got
            .iter()
            .map(|(_, p)| p.as_slice())
            .collect::<Vec<_>>(),
        vec![&b"q0"[..], b"q1", b"q2"]
    );
}

#[test]
fn retained_messages_keep_their_properties_and_qos() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let mut publisher = integration(&server, &login, "Publisher");
    let user = vec![("a".to_owned(), "2".to_owned())];
    for (qos, n) in [
        (QoS::AtMostOnce, 0),
        (QoS::AtLeastOnce, 1),
        (QoS::ExactlyOnce, 2),
    ] {
        let props = PublishProperties {
            user_properties: user.clone(),
            content_type: Some("text/plain".into()),
            ..Default::default()
        };
        publisher.publish_props(&format!("svc/r/{n}"), qos, true, &format!("r{n}"), props);
    }
    // A QoS 0 publish is not acknowledged: a QoS 1 one after it on the same connection
    // is stored after it.
    publisher.publish("svc/r/mark", QoS::AtLeastOnce, false, "mark");

    let mut late = integration(&server, &login, "Late");
    assert_eq!(late.subscribe("svc/r/+", QoS::ExactlyOnce), vec![GRANTED_2]);
    let mut got = late.next_publishes(3);
    got.sort_by_key(text);
    assert_eq!(
        got.iter().map(text).collect::<Vec<_>>(),
        vec!["r0", "r1", "r2"]
    );
    assert_eq!(
        got.iter().map(|p| p.qos).collect::<Vec<_>>(),
        vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
    );
    for p in &got {
        assert!(p.retain, "a retained message sent on subscribing: {p:?}");
        assert_eq!(props(p).user_properties, user, "{p:?}");
        assert_eq!(props(p).content_type.as_deref(), Some("text/plain"));
    }
}

#[test]
fn message_expiry_counts_down_and_expired_messages_are_not_delivered() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let persistent = |opts: &mut MqttOptions| {
        opts.set_clean_start(false);
        let mut props = ConnectProperties::new();
        props.session_expiry_interval = Some(300);
        opts.set_connect_properties(props);
    };
    let mut sub = V5::connect(options(&server, "Away", (&login.0, &login.1), persistent));
    assert_eq!(
        sub.subscribe("svc/expiry", QoS::AtLeastOnce),
        vec![GRANTED_1]
    );
    sub.disconnect();

    let mut publisher = integration(&server, &login, "Publisher");
    let expiring = |s| PublishProperties {
        message_expiry_interval: Some(s),
        ..Default::default()
    };
    let published = Instant::now();
    publisher.publish_props("svc/expiry", QoS::AtLeastOnce, false, "short", expiring(1));
    publisher.publish_props("svc/expiry", QoS::AtLeastOnce, false, "long", expiring(600));
    publisher.publish("svc/expiry", QoS::AtLeastOnce, false, "forever");
    // The short one's interval must be over before the subscriber comes back.
    std::thread::sleep(
        (published + Duration::from_millis(2_100)).saturating_duration_since(Instant::now()),
    );

    let mut back = V5::connect(options(&server, "Away", (&login.0, &login.1), persistent));
    assert!(back.connack.session_present);
    let got = back.until("forever");
    assert_eq!(
        got.iter().map(text).collect::<Vec<_>>(),
        vec!["long", "forever"]
    );
    let left = props(&got[0]).message_expiry_interval.expect("expiry left");
    assert!(
        (1..=598).contains(&left),
        "600 s less the 2 s it waited, got {left}"
    );
    assert_eq!(props(&got[1]).message_expiry_interval, None);
}

#[test]
fn overlapping_subscriptions_get_one_copy_with_every_identifier_and_open_no_topic() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let mut sub = integration(&server, &login, "Ids");
    assert_eq!(
        sub.subscribe_filter(Filter::new("svc/sid", QoS::AtLeastOnce), Some(456_789)),
        vec![GRANTED_1]
    );
    assert_eq!(
        sub.subscribe_filter(Filter::new("svc/sid/#", QoS::ExactlyOnce), Some(3)),
        vec![GRANTED_2]
    );
    assert_eq!(
        sub.subscribe("svc/plain", QoS::AtLeastOnce),
        vec![GRANTED_1]
    );
    let mut own = Filter::new("own/x", QoS::AtLeastOnce);
    own.nolocal = true;
    assert_eq!(sub.subscribe_filter(own, Some(10)), vec![GRANTED_1]);
    assert_eq!(
        sub.subscribe_filter(Filter::new("own/+", QoS::AtLeastOnce), Some(11)),
        vec![GRANTED_1]
    );
    // Its own message (QoS 0: the helper's publish waits for no PUBACK, so it misses
    // nothing that arrives): no-local takes "own/x" out, "own/+" still matches.
    sub.publish("own/x", QoS::AtMostOnce, false, "mine");
    let mine: Vec<(QoS, Vec<usize>)> = sub
        .until("mine")
        .iter()
        .map(|p| (p.qos, props(p).subscription_identifiers))
        .collect();
    assert_eq!(mine, vec![(QoS::AtMostOnce, vec![11])]);
    let mut publisher = integration(&server, &login, "Publisher");
    publisher.publish("own/x", QoS::AtLeastOnce, false, "theirs");
    publisher.publish("svc/sid", QoS::ExactlyOnce, false, "both");
    publisher.publish("svc/plain", QoS::AtLeastOnce, false, "none");

    let got = sub.until("none");
    // One copy of a message matching several subscriptions, at the highest of their QoS,
    // with every matching subscription's identifier (MQTT 5 §3.3.4).
    let copies = |payload: &str| -> Vec<(QoS, BTreeSet<usize>)> {
        got.iter()
            .filter(|p| text(p) == payload)
            .map(|p| {
                let ids = props(p).subscription_identifiers.into_iter().collect();
                (p.qos, ids)
            })
            .collect()
    };
    assert_eq!(
        copies("both"),
        vec![(QoS::ExactlyOnce, BTreeSet::from([3, 456_789]))],
        "{got:?}"
    );
    assert_eq!(
        copies("theirs"),
        vec![(QoS::AtLeastOnce, BTreeSet::from([10, 11]))],
        "{got:?}"
    );
    assert_eq!(copies("none"), vec![(QoS::AtLeastOnce, BTreeSet::new())]);

    // A device: an identifier on a refused filter delivers nothing from it.
    let p1 = provision(&server, "press-1");
    provision(&server, "press-2");
    let press1 = V5::connect(options(&server, "press-1", ("press-1", &p1), |_| {}));
    let refusal = press1.subscribe_refused(
        Filter::new("devices/press-2/commands/+", QoS::AtLeastOnce),
        Some(8),
    );
    assert!(refusal.contains("NotAuthorized"), "{refusal}");
    let mut press1 = V5::connect(options(&server, "press-1", ("press-1", &p1), |_| {}));
    assert_eq!(
        press1.subscribe_filter(
            Filter::new("devices/press-1/commands/+", QoS::AtLeastOnce),
            Some(7)
        ),
        vec![GRANTED_1]
    );
    let send = |device: &str| {
        let (status, reply) = api(&server).post(
            &format!("/api/v1/devices/{device}/commands"),
            json!({"name": "stop", "timeout_s": 60}),
        );
        assert_eq!(status, 202, "POST command: {reply}");
    };
    send("press-2");
    send("press-1");
    let got = press1.next_publishes(1);
    assert!(
        got[0].topic.starts_with(b"devices/press-1/commands/"),
        "{got:?}"
    );
    assert_eq!(props(&got[0]).subscription_identifiers, vec![7]);
}

/// Overlapping subscriptions, one of them dropped while messages wait: none is lost and
/// none comes twice. The subscriber holds one message in flight (receive maximum 1,
/// acknowledged by hand); the wildcard subscription is QoS 0, whose reads the in-flight
/// window did not bound. Then the exact one (QoS 2) is unsubscribed. Before rumqttd patch
/// 25 was mended, the highest-QoS subscription sent a shared message and the others skipped
/// it, so what the wildcard had read ahead and skipped was lost when the exact one went
/// away; now the first to read a message sends it, at the highest QoS of those matching.
#[test]
fn a_message_of_overlapping_subscriptions_survives_unsubscribing_one_of_them() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let mut sub = V5::connect(options(&server, "Overlap", (&login.0, &login.1), |o| {
        o.set_receive_maximum(Some(1));
        o.set_manual_acks(true);
    }));
    assert_eq!(
        sub.subscribe_filter(Filter::new("ovl/x", QoS::ExactlyOnce), Some(2)),
        vec![GRANTED_2]
    );
    assert_eq!(
        sub.subscribe_filter(Filter::new("ovl/#", QoS::AtMostOnce), Some(1)),
        vec![SubscribeReasonCode::Success(QoS::AtMostOnce)]
    );
    let mut publisher = integration(&server, &login, "Publisher");
    let sent: Vec<String> = (0..6).map(|n| format!("m{n}")).collect();
    for m in &sent {
        publisher.publish("ovl/x", QoS::ExactlyOnce, false, m);
    }

    let mut got = Vec::new();
    let first = sub.next_publishes(1).remove(0);
    got.push(text(&first));
    assert_eq!(
        (
            first.qos,
            props(&first)
                .subscription_identifiers
                .into_iter()
                .collect::<BTreeSet<_>>()
        ),
        (QoS::ExactlyOnce, BTreeSet::from([1, 2])),
        "one copy, at the highest QoS, with both identifiers"
    );
    sub.client.ack(&first).expect("ack");
    let second = sub.next_publishes(1).remove(0);
    got.push(text(&second));
    sub.client.unsubscribe("ovl/x").expect("unsubscribe");
    sub.expect("UNSUBACK", |p| matches!(p, Packet::UnsubAck(..)));
    sub.client.ack(&second).expect("ack");
    while got.last() != sent.last() {
        let next = sub.next_publishes(1).remove(0);
        got.push(text(&next));
        sub.client.ack(&next).expect("ack");
    }
    assert_eq!(got, sent, "every message once, in order");
}

#[test]
fn no_local_keeps_a_clients_own_messages_from_it() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let no_local = |path: &str| {
        let mut f = Filter::new(path, QoS::AtLeastOnce);
        f.nolocal = true;
        f
    };
    let mut a = integration(&server, &login, "A");
    let mut b = integration(&server, &login, "B");
    assert_eq!(
        a.subscribe_filter(no_local("svc/nl"), None),
        vec![GRANTED_1]
    );
    assert_eq!(
        b.subscribe_filter(no_local("svc/nl"), None),
        vec![GRANTED_1]
    );
    // B gets A's message, A gets B's (published after A's own): neither its own. (A
    // client's publish waits for its PUBACK, passing over what comes in meanwhile: B
    // publishes only once it has A's message.)
    a.publish("svc/nl", QoS::AtLeastOnce, false, "from a");
    assert_eq!(
        b.next_publishes(1).iter().map(text).collect::<Vec<_>>(),
        vec!["from a"]
    );
    b.publish("svc/nl", QoS::AtLeastOnce, false, "from b");
    assert_eq!(
        a.until("from b").iter().map(text).collect::<Vec<_>>(),
        vec!["from b"]
    );
}

#[test]
fn retain_as_published_keeps_the_retain_flag_only_when_asked() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let mut keeps = integration(&server, &login, "Keeps");
    let mut filter = Filter::new("svc/rap", QoS::AtLeastOnce);
    filter.preserve_retain = true;
    assert_eq!(keeps.subscribe_filter(filter, None), vec![GRANTED_1]);
    let mut plain = integration(&server, &login, "Plain");
    assert_eq!(
        plain.subscribe("svc/rap", QoS::AtLeastOnce),
        vec![GRANTED_1]
    );

    let mut publisher = integration(&server, &login, "Publisher");
    publisher.publish("svc/rap", QoS::AtLeastOnce, false, "not retained");
    publisher.publish("svc/rap", QoS::AtLeastOnce, true, "retained");

    let flags = |got: Vec<Publish>| got.iter().map(|p| (text(p), p.retain)).collect::<Vec<_>>();
    assert_eq!(
        flags(keeps.until("retained")),
        vec![("not retained".into(), false), ("retained".into(), true)]
    );
    assert_eq!(
        flags(plain.until("retained")),
        vec![("not retained".into(), false), ("retained".into(), false)]
    );
}

#[test]
fn retain_handling_sends_retained_messages_as_the_subscription_asks() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let mut publisher = integration(&server, &login, "Publisher");
    publisher.publish("svc/rh/a", QoS::AtLeastOnce, true, "kept");
    let with_rule = |rule| {
        let mut f = Filter::new("svc/rh/+", QoS::AtLeastOnce);
        f.retain_forward_rule = rule;
        f
    };
    // After each SUBSCRIBE, a plain message: whatever retained message was sent for the
    // subscription arrives before it.
    let mut mark = 0;
    let mut after_subscribe = |sub: &mut V5, publisher: &mut V5, rule| {
        assert_eq!(sub.subscribe_filter(with_rule(rule), None), vec![GRANTED_1]);
        mark += 1;
        let payload = format!("mark {mark}");
        publisher.publish("svc/rh/mark", QoS::AtLeastOnce, false, &payload);
        sub.until(&payload)
            .iter()
            .filter(|p| p.retain)
            .map(text)
            .collect::<Vec<_>>()
    };

    let mut sub = integration(&server, &login, "Handling");
    use RetainForwardRule::{Never, OnEverySubscribe, OnNewSubscribe};
    assert_eq!(
        after_subscribe(&mut sub, &mut publisher, OnNewSubscribe),
        vec!["kept"]
    );
    assert!(after_subscribe(&mut sub, &mut publisher, OnNewSubscribe).is_empty());
    assert_eq!(
        after_subscribe(&mut sub, &mut publisher, OnEverySubscribe),
        vec!["kept"]
    );
    assert_eq!(
        after_subscribe(&mut sub, &mut publisher, OnEverySubscribe),
        vec!["kept"]
    );
    let mut never = integration(&server, &login, "Never");
    assert!(after_subscribe(&mut never, &mut publisher, Never).is_empty());

    // A device gets its own retained desired state, never another device's, whatever it asks.
    let p1 = provision(&server, "press-1");
    provision(&server, "press-2");
    patch_desired(&server, "press-1", json!({"speed": 1}));
    patch_desired(&server, "press-2", json!({"speed": 2}));
    for path in ["devices/press-2/state/desired", "devices/+/state/desired"] {
        let press1 = V5::connect(options(&server, "press-1", ("press-1", &p1), |_| {}));
        let mut f = Filter::new(path, QoS::AtLeastOnce);
        f.retain_forward_rule = OnEverySubscribe;
        let refusal = press1.subscribe_refused(f, None);
        assert!(refusal.contains("NotAuthorized"), "{path}: {refusal}");
    }
    let mut press1 = V5::connect(options(&server, "press-1", ("press-1", &p1), |_| {}));
    let mut f = Filter::new("devices/press-1/state/desired", QoS::AtLeastOnce);
    f.retain_forward_rule = OnEverySubscribe;
    assert_eq!(press1.subscribe_filter(f, None), vec![GRANTED_1]);
    let got = press1.next_publishes(1);
    assert_eq!(got[0].topic, &b"devices/press-1/state/desired"[..]);
    let doc: serde_json::Value = serde_json::from_slice(&got[0].payload).expect("json");
    assert_eq!(doc["state"], json!({"speed": 1}), "{doc}");
}

#[test]
fn receive_maximum_limits_the_messages_in_flight_to_a_client() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let mut sub = V5::connect(options(&server, "Slow", (&login.0, &login.1), |o| {
        o.set_receive_maximum(Some(2));
        o.set_manual_acks(true);
    }));
    assert_eq!(sub.subscribe("svc/flow", QoS::AtLeastOnce), vec![GRANTED_1]);
    let mut publisher = integration(&server, &login, "Publisher");
    for n in 0..6 {
        publisher.publish("svc/flow", QoS::AtLeastOnce, false, &format!("m{n}"));
    }

    // Two at a time: with two in flight, a SUBSCRIBE's SUBACK comes before any third
    // message (the router writes acknowledgements and messages to a client in order, so a
    // third sent before the acknowledgements would be seen first).
    let mut got = Vec::new();
    for round in 0..3 {
        let two = sub.next_publishes(2);
        let before = sub.publishes_before_suback(&format!("svc/probe/{round}"));
        assert!(
            before.is_empty(),
            "round {round}: a third in flight: {before:?}"
        );
        got.extend(two.iter().map(text));
        for p in &two {
            sub.client.ack(p).expect("ack");
        }
    }
    assert_eq!(got, vec!["m0", "m1", "m2", "m3", "m4", "m5"]);
}

#[test]
fn maximum_packet_size_is_announced_and_the_clients_is_kept() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let mut small = V5::connect(options(&server, "Small", (&login.0, &login.1), |o| {
        o.set_max_packet_size(Some(200));
    }));
    // The server's own maximum: the setting `mqtt_max_packet_bytes` (1 MiB by default).
    assert_eq!(
        small.connack_props.as_ref().and_then(|p| p.max_packet_size),
        Some(1024 * 1024)
    );
    assert_eq!(
        small.subscribe("svc/size", QoS::AtLeastOnce),
        vec![GRANTED_1]
    );
    let mut big = integration(&server, &login, "Big");
    assert_eq!(big.subscribe("svc/size", QoS::AtLeastOnce), vec![GRANTED_1]);

    let mut publisher = integration(&server, &login, "Publisher");
    let large = "x".repeat(500);
    publisher.publish("svc/size", QoS::AtLeastOnce, false, &large);
    publisher.publish("svc/size", QoS::AtLeastOnce, false, "fits");
    // The small client gets only what fits; the other gets both; both stay connected.
    assert_eq!(
        small.until("fits").iter().map(text).collect::<Vec<_>>(),
        vec!["fits"]
    );
    assert_eq!(big.until("fits").len(), 2);
    publisher.publish("svc/size", QoS::AtLeastOnce, false, "again");
    assert_eq!(
        small.until("again").iter().map(text).collect::<Vec<_>>(),
        vec!["again"]
    );
}

#[test]
fn topic_aliases_towards_a_client_follow_each_topic() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let mut sub = V5::connect(options(&server, "Aliased", (&login.0, &login.1), |o| {
        o.set_topic_alias_max(Some(10));
    }));
    assert_eq!(
        sub.subscribe("svc/alias/+", QoS::AtLeastOnce),
        vec![GRANTED_1]
    );
    let mut publisher = integration(&server, &login, "Publisher");
    // One message at a time, each received before the next is sent, so each goes out in
    // its own batch: the second on a topic goes by alias alone.
    let mut got = Vec::new();
    for (topic, payload) in [("a", "1"), ("b", "2"), ("a", "3"), ("b", "4")] {
        publisher.publish(
            &format!("svc/alias/{topic}"),
            QoS::AtLeastOnce,
            false,
            payload,
        );
        got.extend(sub.until(payload));
    }
    // rumqttc resolves an alias to the topic it was set with.
    assert_eq!(
        got.iter()
            .map(|p| (String::from_utf8_lossy(&p.topic).into_owned(), text(p)))
            .collect::<Vec<_>>(),
        vec![
            ("svc/alias/a".into(), "1".into()),
            ("svc/alias/b".into(), "2".into()),
            ("svc/alias/a".into(), "3".into()),
            ("svc/alias/b".into(), "4".into()),
        ]
    );
    let aliases: Vec<Option<u16>> = got.iter().map(|p| props(p).topic_alias).collect();
    assert!(aliases.iter().all(Option::is_some), "{aliases:?}");
    assert_eq!(aliases[0], aliases[2]);
    assert_eq!(aliases[1], aliases[3]);
    assert_ne!(aliases[0], aliases[1]);
    // Incoming aliases and the policy (an alias set on a foreign topic delivers nothing):
    // topics::an_mqtt5_topic_alias_reaches_only_the_topic_it_was_set_on.
}

#[test]
fn session_expiry_keeps_a_session_for_its_interval_only() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let session = |clean: bool, expiry: u32| {
        move |o: &mut MqttOptions| {
            o.set_clean_start(clean);
            let mut props = ConnectProperties::new();
            props.session_expiry_interval = Some(expiry);
            o.set_connect_properties(props);
        }
    };
    let connect = |clean, expiry| {
        V5::connect(options(
            &server,
            "Expiring",
            (&login.0, &login.1),
            session(clean, expiry),
        ))
    };
    // Expiry 0: the session ends with the connection, even without a clean start.
    let mut c = connect(true, 0);
    c.subscribe("svc/se", QoS::AtLeastOnce);
    c.disconnect();
    let c = connect(false, 0);
    assert!(!c.connack.session_present);
    c.disconnect();

    // Expiry 2 s: there within the interval, gone after it.
    let mut c = connect(true, 2);
    assert!(!c.connack.session_present);
    c.subscribe("svc/se", QoS::AtLeastOnce);
    c.disconnect();
    let c = connect(false, 2);
    assert!(c.connack.session_present);
    c.disconnect();
    let left = Instant::now();
    std::thread::sleep(
        (left + Duration::from_millis(2_500)).saturating_duration_since(Instant::now()),
    );
    let c = connect(false, 2);
    assert!(
        !c.connack.session_present,
        "the session outlived its expiry"
    );
    c.disconnect();
}

#[test]
fn offline_messages_are_queued_for_a_persistent_session() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let persistent = |o: &mut MqttOptions| {
        o.set_clean_start(false);
        let mut props = ConnectProperties::new();
        props.session_expiry_interval = Some(600);
        o.set_connect_properties(props);
    };
    let mut sub = V5::connect(options(
        &server,
        "Offline",
        (&login.0, &login.1),
        persistent,
    ));
    assert_eq!(sub.subscribe("svc/q/+", QoS::ExactlyOnce), vec![GRANTED_2]);
    sub.disconnect();

    let mut publisher = integration(&server, &login, "Publisher");
    publisher.publish("svc/q/0", QoS::AtMostOnce, false, "q0");
    publisher.publish("svc/q/1", QoS::AtLeastOnce, false, "q1");
    publisher.publish("svc/q/2", QoS::ExactlyOnce, false, "q2");

    let mut back = V5::connect(options(
        &server,
        "Offline",
        (&login.0, &login.1),
        persistent,
    ));
    assert!(back.connack.session_present);
    let got = back.until("q2");
    assert_eq!(
        got.iter().map(|p| (text(p), p.qos)).collect::<Vec<_>>(),
        vec![
            ("q0".into(), QoS::AtMostOnce),
            ("q1".into(), QoS::AtLeastOnce),
            ("q2".into(), QoS::ExactlyOnce)
        ]
    );
}

/// A persistent session's unacknowledged messages come again after it reconnects, also
/// when every reader had read the log to its end (rumqttd patch 33 frees a log's messages
/// then; it must not while one of them waits for an acknowledgement: the session re-reads
/// them from the log).
#[test]
fn unacknowledged_messages_of_a_persistent_session_come_again_after_the_log_was_read() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let persistent = |o: &mut MqttOptions| {
        o.set_clean_start(false);
        o.set_manual_acks(true);
        let mut props = ConnectProperties::new();
        props.session_expiry_interval = Some(600);
        o.set_connect_properties(props);
    };
    let mut sub = V5::connect(options(&server, "Keeper", (&login.0, &login.1), persistent));
    assert_eq!(sub.subscribe("svc/keep", QoS::AtLeastOnce), vec![GRANTED_1]);
    let mut publisher = integration(&server, &login, "Publisher");
    // More than patch 33's 256, so the log is worth freeing once its reader is at the end.
    let sent: Vec<String> = (0..300).map(|n| format!("k{n}")).collect();
    for m in &sent {
        publisher.publish("svc/keep", QoS::AtLeastOnce, false, m);
    }
    // All read; the last ten left unacknowledged.
    let mut got = Vec::new();
    while got.len() < sent.len() {
        let p = sub.next_publishes(1).remove(0);
        if got.len() < 290 {
            sub.client.ack(&p).expect("ack");
        }
        got.push(text(&p));
    }
    assert_eq!(got, sent);
    drop(sub);

    let mut back = V5::connect(options(&server, "Keeper", (&login.0, &login.1), persistent));
    assert!(back.connack.session_present);
    // The unacknowledged ten, in order, after any whose acknowledgement was still on its
    // way when the connection dropped (those may come again too: QoS 1).
    let again: Vec<String> = back.until("k299").iter().map(text).collect();
    assert!(again.len() >= 10, "{again:?}");
    assert_eq!(
        again[..],
        sent[sent.len() - again.len()..],
        "a tail of what was sent"
    );
}

#[test]
fn server_keep_alive_is_announced_when_the_client_asks_for_none_or_more() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let asks = |keep_alive: u64| {
        let c = V5::connect(options(&server, "KeepAlive", (&login.0, &login.1), |o| {
            o.set_keep_alive(Duration::from_secs(keep_alive));
        }));
        let told = c.connack_props.as_ref().and_then(|p| p.server_keep_alive);
        c.disconnect();
        told
    };
    // The setting `mqtt_max_keep_alive_s` (1,200 s by default); rumqttc's v5 client
    // cannot ask for none (0), which tests/auth.rs covers over a raw socket.
    assert_eq!(asks(3_600), Some(1_200));
    assert_eq!(asks(30), None);
}

#[test]
fn a_disconnect_changes_the_session_expiry_interval() {
    let server = Server::start();
    let login = mqtt_token(&server);
    // Connected with 1 s, left with 600 s: still there after the first second.
    let (mut raw, present) = RawV5::connect(&server, &login, "Stretch", true, 1);
    assert!(!present);
    raw.subscribe("svc/stretch");
    raw.disconnect(600);
    let left = Instant::now();
    std::thread::sleep(
        (left + Duration::from_millis(1_500)).saturating_duration_since(Instant::now()),
    );
    let (raw, present) = RawV5::connect(&server, &login, "Stretch", false, 600);
    assert!(present, "the DISCONNECT's 600 s did not hold");
    // Left with 0: the session ends with the connection.
    raw.disconnect(0);
    let (raw, present) = RawV5::connect(&server, &login, "Stretch", false, 600);
    assert!(!present, "the DISCONNECT's 0 did not end the session");
    raw.disconnect(0);
}

#[test]
fn a_packet_over_the_servers_maximum_gets_a_packet_too_large_disconnect() {
    let server = Server::start_with(&[("PLANTD_MQTT_MAX_PACKET_BYTES", "2048")]);
    let login = mqtt_token(&server);
    let (mut raw, _) = RawV5::connect(&server, &login, "Big", true, 0);
    let big = rumqttc::v5::mqttbytes::v5::Publish::new(
        "svc/big",
        QoS::AtMostOnce,
        vec![b'x'; 4096],
        None,
    );
    raw.send(Packet::Publish(big));
    match raw.next() {
        Packet::Disconnect(d) => assert_eq!(
            d.reason_code,
            rumqttc::v5::mqttbytes::v5::DisconnectReasonCode::PacketTooLarge
        ),
        other => panic!("expected a DISCONNECT, got {other:?}"),
    }
}

#[test]
fn the_servers_receive_maximum_is_announced_and_a_publish_over_it_ends_the_connection() {
    use rumqttc::v5::mqttbytes::v5::{DisconnectReasonCode, Publish as RawPublish};
    let server = Server::start_with(&[("PLANTD_MQTT_RECEIVE_MAX", "3")]);
    let login = mqtt_token(&server);
    let mut watcher = integration(&server, &login, "Watcher");
    assert_eq!(
        watcher.subscribe("svc/flow", QoS::AtLeastOnce),
        vec![GRANTED_1]
    );
    let (mut raw, _) = RawV5::connect(&server, &login, "Flow", true, 0);
    assert_eq!(raw.receive_max, Some(3), "the CONNACK announces it");
    let publish = |pkid: u16, qos: QoS, payload: &str| {
        let mut p = RawPublish::new("svc/flow", qos, payload.to_owned(), None);
        p.pkid = pkid;
        Packet::Publish(p)
    };
    // Acknowledged publishes free their place: six QoS 1 ones, one after the other.
    for pkid in 1..=6 {
        raw.send(publish(pkid, QoS::AtLeastOnce, &format!("q1 {pkid}")));
        match raw.next() {
            Packet::PubAck(ack) => assert_eq!(ack.pkid, pkid),
            other => panic!("expected a PUBACK, got {other:?}"),
        }
    }
    // QoS 2 publishes stay in flight until their PUBCOMP: with no PUBREL sent, three fill
    // the window and a fourth is one too many.
    for pkid in 7..=9 {
        raw.send(publish(pkid, QoS::ExactlyOnce, &format!("q2 {pkid}")));
        match raw.next() {
            Packet::PubRec(rec) => assert_eq!(rec.pkid, pkid),
            other => panic!("expected a PUBREC, got {other:?}"),
        }
    }
    raw.send(publish(10, QoS::ExactlyOnce, "one too many"));
    match raw.next() {
        Packet::Disconnect(d) => {
            assert_eq!(d.reason_code, DisconnectReasonCode::ReceiveMaximumExceeded)
        }
        other => panic!("expected a DISCONNECT, got {other:?}"),
    }
    let got: Vec<String> = watcher.until("q1 6").iter().map(text).collect();
    assert_eq!(got, (1..=6).map(|n| format!("q1 {n}")).collect::<Vec<_>>());
    assert_eq!(
        crate::support::http::metric(
            &server,
            "plantd_mqtt_limited_total",
            "limit=\"receive_maximum\""
        ),
        1.0
    );
}
