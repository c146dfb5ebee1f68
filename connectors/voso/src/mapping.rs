//! Between chosync's shapes and the assumed contract's: drafts to product
//! bodies, products to remote listings, answers to classified results.

use std::time::Duration;

use chosync_connector::ConnectorError;
use chosync_connector::dto::{ListingDraft, RemoteListing, RemoteVariant};
use chosync_connector::http::{Answer, Reply, http_failure, retry_after};
use serde::de::DeserializeOwned;

use crate::dto::{Envelope, ErrorBody, Product, ProductWrite, VariantWrite};

const REQUEST_ID: &str = "x-request-id";

/// The product body a draft becomes (create and update alike).
pub fn product_write(draft: &ListingDraft) -> ProductWrite {
    ProductWrite {
        name: draft.title.clone(),
        description: draft.description.clone(),
        category_id: draft.category_id.clone(),
        images: draft.images.clone(),
        status: if draft.listed { "active" } else { "inactive" }.into(),
        variants: draft
            .variants
            .iter()
            .map(|v| VariantWrite {
                sku: v.sku.clone(),
                options: v.option_values.clone(),
                price: v.price,
                stock: v.stock,
            })
            .collect(),
    }
}

/// A product as chosync sees a listing: Voso has no listing-level SKU.
pub fn remote_listing(product: Product) -> RemoteListing {
    RemoteListing {
        listing_id: product.id,
        listing_sku: None,
        status: product.status,
        title: product.name,
        variants: product
            .variants
            .into_iter()
            .map(|v| RemoteVariant {
                sku: v.sku,
                variant_id: v.id,
                price: v.price,
                stock: v.stock,
                ..RemoteVariant::default()
            })
            .collect(),
    }
}

/// What an error code of the envelope means.
pub fn classify(error: &ErrorBody, retry: Option<Duration>) -> ConnectorError {
    match error.code.as_str() {
        "unauthorized" => ConnectorError::Unauthorized(error.message.clone()),
        "not_found" => ConnectorError::NotFound(error.message.clone()),
        "rate_limited" => ConnectorError::RateLimited {
            retry_after: retry.unwrap_or(Duration::from_secs(1)),
        },
        _ => ConnectorError::Rejected {
            code: error.code.clone(),
            field: error.field.clone(),
            message: error.message.clone(),
        },
    }
}

/// Reads any answer: 2xx bodies as `T`, everything else through the error
/// envelope (429 and 5xx by their status first).
pub fn decode<T: DeserializeOwned>(reply: &Reply) -> Answer<T> {
    let request_id = reply
        .headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if reply.status.is_success() {
        return match serde_json::from_slice::<serde_json::Value>(&reply.body) {
            Ok(value) => Answer::decoded(value, request_id),
            Err(_) => Answer::failed(
                ConnectorError::Transient("unreadable answer".into()),
                None,
                request_id,
            ),
        };
    }
    let envelope = serde_json::from_slice::<Envelope>(&reply.body).ok();
    let code = envelope.as_ref().map(|e| e.error.code.clone());
    if let Some(failure) = http_failure(reply) {
        return Answer::failed(failure, code, request_id);
    }
    match envelope {
        Some(envelope) => Answer::failed(
            classify(&envelope.error, retry_after(&reply.headers)),
            code,
            request_id,
        ),
        None => Answer::failed(
            ConnectorError::Transient(format!("HTTP {} without an error body", reply.status)),
            None,
            request_id,
        ),
    }
}

/// An expired or unknown token (the one answer a new login fixes).
pub fn token_refused(error: &ConnectorError) -> bool {
    matches!(error, ConnectorError::Unauthorized(_))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn a_validation_error_names_its_field() {
        let answer: Answer<serde_json::Value> = decode(&reply(
            400,
            r#"{"error":{"code":"validation","message":"too low","field":"variants[0].price"}}"#,
        ));
        assert_eq!(
            answer.result,
            Err(ConnectorError::Rejected {
                code: "validation".into(),
                field: Some("variants[0].price".into()),
                message: "too low".into()
            })
        );
    }

    #[test]
    fn expired_tokens_throttling_and_outages_are_told_apart() {
        let expired: Answer<serde_json::Value> = decode(&reply(
            401,
            r#"{"error":{"code":"unauthorized","message":"token expired"}}"#,
        ));
        assert!(matches!(
            expired.result,
            Err(ConnectorError::Unauthorized(_))
        ));
        let throttled: Answer<serde_json::Value> = decode(&reply(429, "{}"));
        assert!(matches!(
            throttled.result,
            Err(ConnectorError::RateLimited { .. })
        ));
        let down: Answer<serde_json::Value> = decode(&reply(503, "upstream"));
        assert!(matches!(down.result, Err(ConnectorError::Transient(_))));
        let garbled: Answer<serde_json::Value> = decode(&reply(200, "<html>"));
        assert!(matches!(garbled.result, Err(ConnectorError::Transient(_))));
    }
}
