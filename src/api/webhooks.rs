//! Platform pushes. Each is verified with the platform's signature over the
//! raw body (the channel's connector knows how), its order ids are stored as
//! hints before it is answered, and the channel's worker is woken to fetch
//! those orders: a push body is a hint, never state. The answer is what the
//! platforms expect: 2xx with an empty body, within Shopee's 3 s (Lazada
//! asks for 500 ms; a slower answer means a resend later, which the poll
//! covers meanwhile), else they send the push again.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chosync_connector::ConnectorError;
use chosync_connector::dto::WebhookHint;

use secrecy::ExposeSecret;

use super::ApiState;
use crate::channels::tokens;
use crate::store::orders::{AlertKind, NewAlert};

/// Longest a push's write may take before it is answered 503 (the platform
/// sends it again): well inside Shopee's 3 s.
const STORE_DEADLINE: Duration = Duration::from_secs(2);

pub(super) async fn receive(
    State(state): State<ApiState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    take(state, channel, None, headers, body).await
}

/// A push to `/webhooks/{channel}/{key}`: the URL form of platforms whose
/// pushes carry no signature (Sendo).
pub(super) async fn receive_keyed(
    State(state): State<ApiState>,
    Path((channel, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    take(state, channel, Some(key), headers, body).await
}

async fn take(
    state: ApiState,
    channel: String,
    key: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(live) = state.channels.get(&channel) else {
        return StatusCode::NOT_FOUND;
    };
    let verified = match (&live.push_key, key) {
        (None, None) => live.client.connector().verify_webhook(&headers, &body),
        (None, Some(_)) => return StatusCode::NOT_FOUND,
        (Some(_), None) => Err(ConnectorError::Unauthorized(
            "the push URL holds no key (register the URL `chosync channels connect` prints)".into(),
        )),
        (Some(expected), Some(given)) if same_key(expected.expose_secret(), &given) => {
            live.client.connector().verify_webhook(&headers, &body)
        }
        (Some(_), Some(_)) => Err(ConnectorError::Unauthorized(
            "the push URL's key is wrong".into(),
        )),
    };
    match verified {
        Ok(WebhookHint::OrdersChanged { order_ids }) => {
            let stored = state.store.add_order_hints(&channel, &order_ids);
            match tokio::time::timeout(STORE_DEADLINE, stored).await {
                Ok(Ok(())) => {
                    tracing::info!(channel, orders = order_ids.len(), "push received");
                    state.workers.wake(&channel);
                    StatusCode::OK
                }
                Ok(Err(err)) => {
                    tracing::error!(channel, %err, "push not stored; the platform sends it again");
                    StatusCode::SERVICE_UNAVAILABLE
                }
                Err(_) => {
                    tracing::error!(
                        channel,
                        "push not stored in time; the platform sends it again"
                    );
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }
        Ok(WebhookHint::TokenExpiring { expires_at }) => {
            tracing::warn!(
                channel,
                expires_at = ?expires_at,
                "the platform says the channel's authorization runs out soon: authorize it again"
            );
            let platform = live.settings.platform;
            let raised =
                tokens::expiry_pushed(state.store.as_ref(), &channel, platform, expires_at);
            match tokio::time::timeout(STORE_DEADLINE, raised).await {
                Ok(Ok(_)) => StatusCode::OK,
                // Answered 503, the platform sends it again.
                Ok(Err(err)) => {
                    tracing::error!(channel, %err, "authorization_expiring not raised");
                    StatusCode::SERVICE_UNAVAILABLE
                }
                Err(_) => {
                    tracing::error!(channel, "raising authorization_expiring timed out");
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }
        Ok(WebhookHint::Other { code }) => {
            tracing::debug!(channel, code, "push of a kind chosync does not act on");
            StatusCode::OK
        }
        Err(ConnectorError::Unauthorized(reason)) => {
            refused(&state, &channel, &reason).await;
            StatusCode::UNAUTHORIZED
        }
        Err(err) => {
            // Signed, yet unreadable: answered as a bad request, never stored.
            tracing::warn!(channel, %err, "push not understood");
            StatusCode::BAD_REQUEST
        }
    }
}

/// Compares digests, so the time taken says nothing of how much of the key
/// a guess got right.
fn same_key(expected: &str, given: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(expected.as_bytes()) == Sha256::digest(given.as_bytes())
}

/// Refused pushes of one channel are logged and alerted once per this long.
const REFUSAL_QUIET: Duration = Duration::from_secs(60);

/// A push whose signature does not hold: logged (never its body) and raised
/// as an alert, for a wrong key and a forger look the same from here.
async fn refused(state: &ApiState, channel: &str, reason: &str) {
    let now = std::time::Instant::now();
    let first_this_minute = state.refusals.lock().is_ok_and(|mut last| {
        let quiet = last
            .get(channel)
            .is_none_or(|at| now.duration_since(*at) >= REFUSAL_QUIET);
        if quiet {
            last.insert(channel.to_string(), now);
        }
        quiet
    });
    if !first_this_minute {
        return;
    }
    tracing::warn!(channel, reason, "push refused");
    let alert = NewAlert {
        kind: AlertKind::WebhookRefused,
        channel: channel.to_string(),
        subject: String::new(),
        message: format!(
            "a push to /webhooks/{channel} was refused ({reason}): check the channel's key and callback URL"
        ),
    };
    match tokio::time::timeout(STORE_DEADLINE, state.store.raise_alert(&alert)).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => tracing::error!(channel, %err, "could not raise the webhook_refused alert"),
        Err(_) => tracing::error!(channel, "raising the webhook_refused alert timed out"),
    }
}
