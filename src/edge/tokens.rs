//! Revoking an API token, for the REST API and the Settings → API tokens page alike:
//! identity forgets it, then the broker drops its live MQTT sessions. Talks to identity and
//! the broker by message only.

use plantd_contracts::broker::DisconnectClient;
use plantd_contracts::identity::RevokeToken;

use super::Problem;
use crate::state::AppState;

/// Revokes token `id`; answers how many MQTT sessions it dropped.
pub async fn revoke(state: &AppState, id: &str) -> Result<usize, Problem> {
    state
        .identity
        .send(RevokeToken { id: id.to_owned() })
        .await
        .map_err(Problem::from)?
        .map_err(Problem::from)?;
    // The token stops working now; its live MQTT sessions end at their next packet.
    let sessions = state
        .broker
        .send(DisconnectClient {
            username: id.to_owned(),
        })
        .await
        .map_err(Problem::from)?;
    Ok(sessions)
}
