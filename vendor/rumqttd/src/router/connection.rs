use slab::Slab;

use crate::protocol::LastWillProperties;
use crate::Filter;
use crate::{protocol::LastWill, Topic};
use std::collections::{HashMap, HashSet, VecDeque};

use super::ConnectionEvents;

/// Used to register a new connection with the router
/// Connection messages encompasses a handle for router to
/// communicate with this connection
#[derive(Debug)]
pub struct Connection {
    pub client_id: String,
    /// Id of client's organisation/tenant and the prefix associated with tenant's MQTT topic
    pub tenant_prefix: Option<String>,
    /// Dynamically create subscription filters incase they didn't exist during a publish
    pub dynamic_filters: bool,
    /// Clean session
    pub clean: bool,
    /// Subscriptions
    pub subscriptions: HashSet<Filter>,
    /// Last will of this connection
    pub last_will: Option<LastWill>,
    /// Properties of Last will
    pub last_will_properties: Option<LastWillProperties>,
    /// Connection events
    pub events: ConnectionEvents,
    /// Topic aliases set by clients
    pub(crate) topic_aliases: HashMap<u16, Topic>,
    /// Topic aliases used by broker
    pub(crate) broker_topic_aliases: Option<BrokerAliases>,
    /// subscription IDs for a connection
    pub(crate) subscription_ids: HashMap<Filter, usize>,
    /// plantd patch: MQTT 5 session expiry interval in seconds (`None`: MQTT 3.1.1, where a
    /// session outlives its connection unless it is clean). A DISCONNECT may change it.
    pub session_expiry: Option<u32>,
    /// plantd patch: MQTT 5 receive maximum: the client's limit on unacknowledged QoS 1
    /// and 2 messages sent to it.
    pub receive_max: Option<u16>,
    /// plantd patch: MQTT 5 maximum packet size the client accepts; bigger messages are
    /// not sent to it.
    pub max_packet_size: Option<u32>,
    /// plantd patch: the QoS, no-local and start of each of this client's subscriptions
    /// that is not shared, so that a message matching several of them goes once (MQTT 5).
    pub(crate) subscription_options: HashMap<Filter, SubscriptionOptions>,
    /// plantd patch: messages of overlapping subscriptions already sent.
    pub(crate) overlap_sent: OverlapSent,
}

/// plantd patch: what decides which of a client's overlapping subscriptions a message
/// matches: its QoS, its no-local option, and when it was made (a publish numbered before
/// the subscription was made, `since`, is not in that subscription's log).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubscriptionOptions {
    pub qos: u8,
    pub nolocal: bool,
    pub since: u64,
}

/// plantd patch: the publishes (by `PublishData::serial`) one of a client's overlapping
/// subscriptions already sent, so the others skip them. Whichever matching subscription
/// reads a message first sends it; one that was to send it can be dropped before it reads
/// it without losing it. Bounded: a subscription lagging more than `CAPACITY` such
/// messages behind another sends one again (MQTT 5 allows a copy per subscription; it
/// never loses one). Allocated only once a client has overlapping subscriptions.
#[derive(Debug, Default)]
pub(crate) struct OverlapSent {
    order: VecDeque<u64>,
    sent: HashSet<u64>,
}

impl OverlapSent {
    const CAPACITY: usize = 1024;

    /// Whether a message sent for overlapping subscriptions may still be read by
    /// another of them (one may have been unsubscribed since, leaving a single one).
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn contains(&self, serial: u64) -> bool {
        self.sent.contains(&serial)
    }

    /// Records `serial` as sent, forgetting the oldest past `CAPACITY`.
    pub fn insert(&mut self, serial: u64) {
        if !self.sent.insert(serial) {
            return;
        }
        self.order.push_back(serial);
        if self.order.len() > Self::CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.sent.remove(&old);
            }
        }
    }
}

impl Connection {
    /// Create connection state to hold identifying information of connecting device
    pub fn new(
        tenant_id: Option<String>,
        client_id: String,
        clean: bool,
        dynamic_filters: bool,
    ) -> Connection {
        // Change client id to -> tenant_id.client_id and derive topic path prefix
        // to validate topics
        let (client_id, tenant_prefix) = match tenant_id {
            Some(tenant_id) => {
                let tenant_prefix = Some("/tenants/".to_owned() + &tenant_id + "/");
                let client_id = tenant_id + "." + &client_id;
                (client_id, tenant_prefix)
            }
            None => (client_id, None),
        };

        Connection {
            client_id,
            tenant_prefix,
            dynamic_filters,
            clean,
            subscriptions: HashSet::default(),
            last_will: None,
            last_will_properties: None,
            events: ConnectionEvents::default(),
            topic_aliases: HashMap::new(),
            broker_topic_aliases: None,
            subscription_ids: HashMap::new(),
            // plantd patch: set by the link builder for MQTT 5 clients.
            session_expiry: None,
            receive_max: None,
            max_packet_size: None,
            subscription_options: HashMap::new(),
            overlap_sent: OverlapSent::default(),
        }
    }

    /// plantd patch: whether the session outlives this connection (MQTT 5: a session
    /// expiry interval above 0; MQTT 3.1.1: not clean).
    pub fn persists(&self) -> bool {
        match self.session_expiry {
            Some(interval) => interval > 0,
            None => !self.clean,
        }
    }

    pub fn topic_alias_max(&mut self, max: u16) -> &mut Connection {
        // if topic_alias_max is 0, that means client doesn't want to use / support topic alias
        if max > 0 {
            self.broker_topic_aliases = Some(BrokerAliases::new(max));
        }
        self
    }

    pub fn last_will(
        &mut self,
        will: Option<LastWill>,
        props: Option<LastWillProperties>,
    ) -> &mut Connection {
        self.last_will = will;
        self.last_will_properties = props;
        self
    }
}

#[derive(Debug)]
pub(crate) struct BrokerAliases {
    pub(crate) broker_topic_aliases: HashMap<Filter, u16>,
    pub(crate) used_aliases: Slab<()>,
    pub(crate) topic_alias_max: u16,
}

impl BrokerAliases {
    fn new(topic_alias_max: u16) -> BrokerAliases {
        let mut used_aliases = Slab::new();
        // occupy 0th index as 0 is invalid topic alias
        assert_eq!(0, used_aliases.insert(()));

        let broker_topic_aliases = HashMap::new();

        BrokerAliases {
            broker_topic_aliases,
            used_aliases,
            topic_alias_max,
        }
    }

    // unset / remove the alias for topic
    pub fn remove_alias(&mut self, topic: &str) {
        if let Some(alias) = self.broker_topic_aliases.remove(topic) {
            self.used_aliases.remove(alias as usize);
        }
    }

    // Get alias used for the topic, if it exists
    pub fn get_alias(&self, topic: &str) -> Option<u16> {
        self.broker_topic_aliases.get(topic).copied()
    }

    // Set new alias for a topic and return the alias
    // returns None if can't set new alias
    pub fn set_new_alias(&mut self, topic: &str) -> Option<u16> {
        let alias_to_use = self.used_aliases.insert(());

        // NOTE: maybe we can use self.used_aliases.len()
        // to check for availability of alias
        if alias_to_use > self.topic_alias_max as usize {
            self.used_aliases.remove(alias_to_use);
            return None;
        }

        let alias_to_use = alias_to_use as u16;
        self.broker_topic_aliases
            .insert(topic.to_owned(), alias_to_use);
        Some(alias_to_use)
    }
}
