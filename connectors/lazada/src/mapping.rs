//! Lazada's answers: `{code, type, message, request_id, data, detail}`, where
//! `code` "0" is success, and its codes mapped to `ConnectorError`.

use std::collections::HashMap;
use std::time::Duration;

use chosync_connector::ConnectorError;
use chosync_connector::http::{Answer, Reply, http_failure};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    code: Value,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    detail: Option<Value>,
}

impl Envelope {
    fn code(&self) -> String {
        match &self.code {
            Value::String(code) => code.clone(),
            Value::Number(code) => code.to_string(),
            _ => String::new(),
        }
    }
}

/// Where the payload sits: under `data`, or at the top level (token APIs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    Data,
    TopLevel,
}

fn parse(reply: &Reply) -> Result<(Envelope, Value), ConnectorError> {
    if let Some(failure) = http_failure(reply) {
        return Err(failure);
    }
    let status = reply.status.as_u16();
    let value: Value = serde_json::from_slice(&reply.body)
        .map_err(|_| ConnectorError::Transient(format!("unreadable answer (HTTP {status})")))?;
    let envelope: Envelope = serde_json::from_value(value.clone()).map_err(|_| {
        ConnectorError::Transient("unexpected answer: not Lazada's envelope".into())
    })?;
    Ok((envelope, value))
}

/// Decodes one answer. Lazada reports errors inside HTTP 200.
pub fn decode<T: DeserializeOwned>(reply: &Reply, payload: Payload) -> Answer<T> {
    let (envelope, value) = match parse(reply) {
        Ok(parsed) => parsed,
        Err(error) => return Answer::failed(error, None, None),
    };
    let request_id = envelope.request_id.clone().filter(|r| !r.is_empty());
    let code = envelope.code();
    if code != "0" {
        let error = classify(
            &code,
            envelope.message.as_deref().unwrap_or(""),
            envelope.detail.as_ref(),
        );
        return Answer::failed(error, Some(code), request_id);
    }
    let payload = match payload {
        Payload::Data => envelope.data.unwrap_or(Value::Null),
        Payload::TopLevel => value,
    };
    Answer::decoded(payload, request_id)
}

/// Per-SKU failures of a stock or price batch: Lazada names the SKUs it
/// refused in `detail`; the others were applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchFailures(pub HashMap<String, ConnectorError>);

pub fn decode_batch(reply: &Reply) -> Answer<BatchFailures> {
    let (envelope, _) = match parse(reply) {
        Ok(parsed) => parsed,
        Err(error) => return Answer::failed(error, None, None),
    };
    let request_id = envelope.request_id.clone().filter(|r| !r.is_empty());
    let code = envelope.code();
    if code == "0" {
        return Answer::ok(BatchFailures::default(), request_id);
    }
    let per_sku: HashMap<String, ConnectorError> = envelope
        .detail
        .as_ref()
        .and_then(Value::as_array)
        .map(|details| {
            details
                .iter()
                .filter_map(|d| {
                    let sku = d["seller_sku"].as_str()?.to_string();
                    let item_code = d["code"].as_str().unwrap_or(&code).to_string();
                    let message = d["message"].as_str().unwrap_or("").to_string();
                    let field = d["field"].as_str().map(str::to_string);
                    let error = match classify(&item_code, &message, None) {
                        ConnectorError::Rejected { code, message, .. } => {
                            ConnectorError::Rejected {
                                code,
                                field,
                                message,
                            }
                        }
                        other => other,
                    };
                    Some((sku, error))
                })
                .collect()
        })
        .unwrap_or_default();
    if per_sku.is_empty() {
        let error = classify(
            &code,
            envelope.message.as_deref().unwrap_or(""),
            envelope.detail.as_ref(),
        );
        return Answer::failed(error, Some(code), request_id);
    }
    Answer {
        result: Ok(BatchFailures(per_sku)),
        platform_code: Some(code),
        message: envelope.message,
        request_id,
    }
}

/// Lazada's code (and message) as a classified error.
pub fn classify(code: &str, message: &str, detail: Option<&Value>) -> ConnectorError {
    let detail_text = || format!("{code}: {message}");
    match code {
        // "this ban will last 1 seconds"
        "ApiCallLimit" => ConnectorError::RateLimited {
            retry_after: ban_seconds(message).unwrap_or(Duration::from_secs(1)),
        },
        "AppCallLimit" => ConnectorError::RateLimited {
            retry_after: Duration::from_secs(10),
        },
        "901" | "E901" => ConnectorError::RateLimited {
            retry_after: Duration::from_secs(1),
        },
        // Disabled for stability during a mega campaign (announced beforehand).
        "998" => ConnectorError::RateLimited {
            retry_after: Duration::from_secs(60),
        },
        "IllegalAccessToken" => ConnectorError::Unauthorized(detail_text()),
        "IncompleteSignature"
        | "APP_KEY_INVALID"
        | "IllegalRefreshToken"
        | "InvalidCode"
        | "AUTH_TYPE_UNSUPPORTED"
        | "SellerNotVerified" => ConnectorError::Unauthorized(detail_text()),
        "InvalidTimestamp" | "ServiceTimeout" | "InternalError" | "ServiceUnavailable" => {
            ConnectorError::Transient(detail_text())
        }
        "E0208" | "208" | "207" | "E016" => ConnectorError::NotFound(detail_text()),
        // Create/update failures (500/501) carry the business code in `detail`.
        _ => {
            let first = detail.and_then(|d| d.as_array()?.first().cloned());
            let business = first.as_ref().and_then(|d| match &d["code"] {
                Value::String(c) => Some(c.clone()),
                Value::Number(c) => Some(c.to_string()),
                _ => None,
            });
            ConnectorError::Rejected {
                code: business.unwrap_or_else(|| code.to_string()),
                field: first
                    .as_ref()
                    .and_then(|d| d["field"].as_str().map(str::to_string))
                    .or_else(|| (code == "E204").then(|| "skus".to_string())),
                message: first
                    .as_ref()
                    .and_then(|d| d["message"].as_str().map(str::to_string))
                    .unwrap_or_else(|| message.to_string()),
            }
        }
    }
}

fn ban_seconds(message: &str) -> Option<Duration> {
    let after = message.split("last").nth(1)?;
    let number: String = after
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    number
        .parse::<u64>()
        .ok()
        .map(|seconds| Duration::from_secs(seconds).min(chosync_connector::http::MAX_WAIT))
}

/// Whether Lazada refused the access token itself (a refresh may help).
pub fn token_refused(error: &ConnectorError) -> bool {
    matches!(error, ConnectorError::Unauthorized(detail) if detail.starts_with("IllegalAccessToken"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_business_code_in_detail_is_the_rejection_code() {
        let detail = serde_json::json!([{ "seller_sku": "A", "code": 4105, "field": "SellerSku", "message": "SellerSku is duplicate." }]);
        assert_eq!(
            classify("500", "create failed", Some(&detail)),
            ConnectorError::Rejected {
                code: "4105".into(),
                field: Some("SellerSku".into()),
                message: "SellerSku is duplicate.".into()
            }
        );
        let huge = classify(
            "ApiCallLimit",
            "this ban will last 18446744073709551615 seconds",
            None,
        );
        assert_eq!(
            huge,
            ConnectorError::RateLimited {
                retry_after: chosync_connector::http::MAX_WAIT
            }
        );
    }

    #[test]
    fn lazada_codes_are_classified() {
        assert_eq!(
            classify(
                "ApiCallLimit",
                "Api access frequency exceeds the limit. this ban will last 1 seconds",
                None
            ),
            ConnectorError::RateLimited {
                retry_after: Duration::from_secs(1)
            }
        );
        assert!(matches!(
            classify("AppCallLimit", "", None),
            ConnectorError::RateLimited { .. }
        ));
        assert!(matches!(
            classify("E901", "", None),
            ConnectorError::RateLimited { .. }
        ));
        assert!(matches!(
            classify("998", "", None),
            ConnectorError::RateLimited { .. }
        ));
        let token = classify(
            "IllegalAccessToken",
            "The specified access token is invalid or expired",
            None,
        );
        assert!(token_refused(&token));
        let sign = classify(
            "IncompleteSignature",
            "The request signature does not conform to lazada standards",
            None,
        );
        assert!(matches!(sign, ConnectorError::Unauthorized(_)) && !token_refused(&sign));
        assert!(matches!(
            classify("E0208", "item not exist", None),
            ConnectorError::NotFound(_)
        ));
        assert_eq!(
            classify("E204", "Too many SKU", None),
            ConnectorError::Rejected {
                code: "E204".into(),
                field: Some("skus".into()),
                message: "Too many SKU".into()
            }
        );
    }
}
