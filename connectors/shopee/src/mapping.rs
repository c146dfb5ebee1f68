//! Shopee's answers: the `{request_id, error, message, response}` envelope,
//! and its error words mapped to `ConnectorError`.

use std::time::Duration;

use chosync_connector::ConnectorError;
use chosync_connector::http::{Answer, Reply, http_failure};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    response: Option<Value>,
}

/// Where the payload sits: under `response`, or at the top level (auth APIs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    Response,
    TopLevel,
}

/// Decodes one answer. Shopee reports most errors inside HTTP 200.
pub fn decode<T: DeserializeOwned>(reply: &Reply, payload: Payload) -> Answer<T> {
    if let Some(failure) = http_failure(reply) {
        return Answer::failed(failure, None, None);
    }
    let status = reply.status.as_u16();
    let value: Value = match serde_json::from_slice(&reply.body) {
        Ok(value) => value,
        Err(_) => {
            let error = ConnectorError::Transient(format!("unreadable answer (HTTP {status})"));
            return Answer::failed(error, None, None);
        }
    };
    let envelope: Envelope = match serde_json::from_value(value.clone()) {
        Ok(envelope) => envelope,
        Err(_) => {
            let error =
                ConnectorError::Transient("unexpected answer: not Shopee's envelope".into());
            return Answer::failed(error, None, None);
        }
    };
    let request_id = envelope.request_id.filter(|r| !r.is_empty());
    if let Some(code) = envelope.error.filter(|e| !e.is_empty()) {
        let message = envelope.message.unwrap_or_default();
        let error = classify(&code, &message);
        return Answer::failed(error, Some(code), request_id);
    }
    if status >= 400 {
        let error = ConnectorError::Rejected {
            code: format!("http_{status}"),
            field: None,
            message: "the platform refused the request".into(),
        };
        return Answer::failed(error, None, request_id);
    }
    let payload = match payload {
        Payload::Response => envelope.response.unwrap_or(Value::Null),
        Payload::TopLevel => value,
    };
    Answer::decoded(payload, request_id)
}

/// `update_stock` / `update_price`: per-model results, even when the call as a
/// whole reports an error ("check failure_list").
pub fn decode_batch(reply: &Reply) -> Answer<crate::dto::BatchResult> {
    let partial = serde_json::from_slice::<Envelope>(&reply.body)
        .ok()
        .filter(|e| e.error.as_deref().is_some_and(|e| !e.is_empty()))
        .and_then(|e| {
            let code = e.error.clone();
            let batch: crate::dto::BatchResult = serde_json::from_value(e.response?).ok()?;
            (!batch.failure_list.is_empty()).then_some((batch, code, e.request_id))
        });
    match partial {
        Some((batch, code, request_id)) => Answer {
            result: Ok(batch),
            platform_code: code,
            message: None,
            request_id,
        },
        None => decode(reply, Payload::Response),
    }
}

/// Whether Shopee refused the access token itself (a refresh may help), as
/// opposed to the partner, shop or app (it will not).
pub fn token_refused(error: &ConnectorError) -> bool {
    let ConnectorError::Unauthorized(detail) = error else {
        return false;
    };
    detail.starts_with("invalid_acceess_token")
        || detail.starts_with("invalid_access_token")
        || (detail.starts_with("error_auth") && mentions_token(detail))
}

/// Shopee's error word (and message) as a classified error.
pub fn classify(code: &str, message: &str) -> ConnectorError {
    let detail = || format!("{code}: {message}");
    match code {
        "error_rate_limit" => ConnectorError::RateLimited {
            retry_after: Duration::from_secs(1),
        },
        // The app's daily budget; it resets at 00:00 UTC+8.
        "error_limit" => ConnectorError::RateLimited {
            retry_after: Duration::from_secs(3600),
        },
        "error_auth" if mentions_token(message) || message.contains("partner_id") => {
            ConnectorError::Unauthorized(detail())
        }
        "invalid_acceess_token"
        | "invalid_access_token"
        | "error_shop_refresh_token"
        | "error_merchant_refresh_token"
        | "invalid_code"
        | "error_sign"
        | "invalid_partner_id"
        | "error_partner_key_expired"
        | "partner_frozen"
        | "shop_banned"
        | "error_api_permission"
        | "shop_no_linked"
        | "partner_shop_no_link"
        | "invalid_shop_id" => ConnectorError::Unauthorized(detail()),
        // A stale timestamp is cured by signing again.
        "error_param" if message.to_ascii_lowercase().contains("timestamp") => {
            ConnectorError::Transient(detail())
        }
        "error_item_not_found" | "error_item_or_variation_not_found" | "error_not_found" => {
            ConnectorError::NotFound(detail())
        }
        "error_server" | "error_inner" | "error_busy" | "error_network" | "error_system_busy" => {
            ConnectorError::Transient(detail())
        }
        _ => ConnectorError::Rejected {
            code: code.to_string(),
            field: field_of(code).map(str::to_string),
            message: message.to_string(),
        },
    }
}

fn mentions_token(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("access_token") || lower.contains("access token")
}

/// The listing field an item error is about, for operators.
fn field_of(code: &str) -> Option<&'static str> {
    let rules: [(&str, &str); 9] = [
        ("price", "price"),
        ("stock", "stock"),
        ("name", "title"),
        ("title", "title"),
        ("desc", "description"),
        ("image", "images"),
        ("category", "category"),
        ("tier", "variants"),
        ("model", "variants"),
    ];
    rules
        .iter()
        .find(|(word, _)| code.contains(word))
        .map(|(_, field)| *field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shopee_error_words_are_classified() {
        assert!(matches!(
            classify("error_rate_limit", "Too many requests"),
            ConnectorError::RateLimited { .. }
        ));
        assert!(matches!(
            classify("error_auth", "Invalid access_token."),
            ConnectorError::Unauthorized(_)
        ));
        assert!(matches!(
            classify("invalid_acceess_token", "x"),
            ConnectorError::Unauthorized(_)
        ));
        assert!(matches!(
            classify("error_sign", "Wrong sign."),
            ConnectorError::Unauthorized(_)
        ));
        assert!(matches!(
            classify("error_param", "Timestamp is expired"),
            ConnectorError::Transient(_)
        ));
        assert!(matches!(
            classify("error_item_not_found", "Item_id is not found"),
            ConnectorError::NotFound(_)
        ));
        assert_eq!(
            classify("error_price_exceed_max_limitt", "too high"),
            ConnectorError::Rejected {
                code: "error_price_exceed_max_limitt".into(),
                field: Some("price".into()),
                message: "too high".into()
            }
        );
        assert!(matches!(
            classify("error_auth", "Stock should be larger than reserved stock"),
            ConnectorError::Rejected { .. }
        ));
        assert!(token_refused(&classify(
            "invalid_acceess_token",
            "Invalid access_token."
        )));
        assert!(token_refused(&classify(
            "error_auth",
            "Invalid access_token."
        )));
        assert!(!token_refused(&classify("shop_banned", "Shop is banned.")));
        assert!(!token_refused(&classify("error_sign", "Wrong sign.")));
    }
}
