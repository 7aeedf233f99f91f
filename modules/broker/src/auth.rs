//! The bridge from rumqttd's connection tasks to the modules that check logins. The
//! policy layer must decide inside a synchronous `read_mut`, so it waits (bounded) for the
//! reply; devices and identity answer from memory in microseconds, but a slow answer
//! must not stall other connections (issue 14.10). The listener's runtime is a
//! multi-thread one, so the wait runs in `block_in_place`: tokio hands this worker's other
//! connections to another thread while this one waits.

use std::sync::mpsc;
use std::time::Duration;

use actix::{ArbiterHandle, Message, Recipient};
use plantd_contracts::devices::{AuthenticateDevice, DeviceAuth};
use plantd_contracts::identity::{AuthenticateToken, Principal};

/// How long a connect may wait for a module's answer before it is refused as unavailable.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct Authenticator {
    pub devices: Recipient<AuthenticateDevice>,
    pub tokens: Recipient<AuthenticateToken>,
    pub arbiter: ArbiterHandle,
}

impl Authenticator {
    /// `None` when the module did not answer in time. `certified`: the device proved its
    /// id with a verified client certificate (the secret is then not checked).
    pub fn device(&self, device_id: &str, secret: &str, certified: bool) -> Option<DeviceAuth> {
        self.ask(
            self.devices.clone(),
            AuthenticateDevice {
                device_id: device_id.to_owned(),
                secret: secret.to_owned(),
                certified,
            },
        )
    }

    /// `None` when the token is unknown, revoked, wrong, or the module did not answer.
    pub fn token(&self, id: &str, secret: &str) -> Option<Principal> {
        self.ask(
            self.tokens.clone(),
            AuthenticateToken {
                id: id.to_owned(),
                secret: secret.to_owned(),
            },
        )
        .flatten()
    }

    fn ask<M>(&self, recipient: Recipient<M>, msg: M) -> Option<M::Result>
    where
        M: Message + Send + 'static,
        M::Result: Send,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let spawned = self.arbiter.spawn(async move {
            let _ = tx.send(recipient.send(msg).await.ok());
        });
        if !spawned {
            return None;
        }
        let wait = || {
            metrics::gauge!("plantd_mqtt_logins_waiting").increment(1.0);
            let answer = rx.recv_timeout(ANSWER_TIMEOUT).ok().flatten();
            metrics::gauge!("plantd_mqtt_logins_waiting").decrement(1.0);
            answer
        };
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if on_worker {
            tokio::task::block_in_place(wait)
        } else {
            wait()
        }
    }
}
