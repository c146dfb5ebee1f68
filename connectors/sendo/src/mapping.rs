//! Between chosync's shapes and Sendo's: the envelope read into a classified
//! answer, a listing draft into a product, a product into a remote listing.

use chosync_connector::ConnectorError;
use chosync_connector::dto::{ListingDraft, RemoteListing, RemoteVariant};
use chosync_connector::http::{Answer, Reply, http_failure};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::dto::{Envelope, Product};

/// Reads one answer: HTTP throttling and 5xx first, then the envelope. An
/// expired or refused token (HTTP 401, or an `exp` key in the error) is
/// `Unauthorized`; other refusals are `Rejected` with the first
/// `error_details` entry's property and code. Values are never quoted back:
/// a refused body may hold a secret.
pub fn decode<T: DeserializeOwned>(reply: &Reply) -> Answer<T> {
    if let Some(failure) = http_failure(reply) {
        return Answer::failed(failure, Some(reply.status.as_u16().to_string()), None);
    }
    let Ok(envelope) = serde_json::from_slice::<Envelope>(&reply.body) else {
        return Answer::failed(
            ConnectorError::Transient(format!("unreadable answer (HTTP {})", reply.status)),
            None,
            None,
        );
    };
    if envelope.success && reply.status.is_success() {
        return Answer::decoded(envelope.result, None);
    }
    let status = envelope
        .status_code
        .unwrap_or_else(|| i64::from(reply.status.as_u16()));
    let error = envelope.error.unwrap_or_default();
    let message = error
        .message
        .clone()
        .unwrap_or_else(|| format!("refused (status {status})"));
    let code = Some(status.to_string());
    if reply.status.as_u16() == 401 || status == 401 || error.exp.is_some() {
        return Answer::failed(ConnectorError::Unauthorized(message), code, None);
    }
    if status == 429 {
        return Answer::failed(
            ConnectorError::RateLimited {
                retry_after: std::time::Duration::from_secs(1),
            },
            code,
            None,
        );
    }
    if status == 404 {
        return Answer::failed(ConnectorError::NotFound(message), code, None);
    }
    let detail = error.error_details.unwrap_or_default().into_iter().next();
    let (field, detail_code, message) = match detail {
        Some(d) => (
            d.property_name,
            d.code.map(|c| match c {
                Value::String(s) => s,
                other => other.to_string(),
            }),
            d.message.unwrap_or(message),
        ),
        None => (None, None, message),
    };
    Answer::failed(
        ConnectorError::Rejected {
            code: detail_code.unwrap_or_else(|| status.to_string()),
            field,
            message,
        },
        code,
        None,
    )
}

/// Whether an answer says the bearer token is no longer good.
pub fn token_refused(err: &ConnectorError) -> bool {
    matches!(err, ConnectorError::Unauthorized(_))
}

fn rejected(field: &str, message: String) -> ConnectorError {
    ConnectorError::Rejected {
        code: "mapping".into(),
        field: Some(field.into()),
        message,
    }
}

fn number(field: &str, text: &str) -> Result<i64, ConnectorError> {
    text.trim().parse::<i64>().map_err(|_| {
        rejected(
            field,
            format!("{field} must be a Sendo numeric id, not \"{text}\""),
        )
    })
}

/// Whether the draft is a simple product (one SKU, no variation axes).
pub fn is_simple(draft: &ListingDraft) -> bool {
    draft.option_names.is_empty() && draft.variants.len() <= 1
}

/// The product `POST /api/partner/product` takes for `draft`: `id` 0
/// creates. The mapping renders variation axes as Sendo ids: each of
/// `option_names` is a checkout attribute id of the category (`cat_4_id` is
/// the draft's category), each variant's option value that attribute's
/// option id. `kept` gives the price and stock Sendo holds for a SKU already
/// listed: content updates leave those to the field-mask calls.
pub fn product_body(
    draft: &ListingDraft,
    id: i64,
    kept: impl Fn(&str) -> Option<(i64, i64)>,
) -> Result<Value, ConnectorError> {
    let cat_4_id = number("cat_4_id", &draft.category_id)?;
    let mut body = json!({
        "id": id,
        "name": draft.title,
        "description": draft.description,
        "cat_4_id": cat_4_id,
        "weight": draft.weight_g,
        "unit_id": 1,
        "extended_shipping_package": {"is_using_standard": true, "is_using_eco": false},
    });
    if let Some(brand) = &draft.brand {
        body["brand_id"] = json!(number("brand_id", brand)?);
    }
    if let Some([length, width, height]) = draft.dimensions_cm {
        body["length"] = json!(length);
        body["width"] = json!(width);
        body["height"] = json!(height);
    }
    if let Some(first) = draft.images.first() {
        body["avatar"] = json!({ "picture_url": first });
    }
    body["pictures"] = Value::Array(
        draft
            .images
            .iter()
            .skip(1)
            .map(|url| json!({ "picture_url": url }))
            .collect(),
    );
    let mut attributes = Vec::new();
    for (attribute, value) in &draft.attributes {
        attributes.push(json!({
            "attribute_id": number("attribute_id", attribute)?,
            "attribute_is_checkout": false,
            "attribute_values": [{"value": value, "is_selected": true, "is_custom": true}],
        }));
    }
    if is_simple(draft) {
        let Some(variant) = draft.variants.first() else {
            return Err(rejected(
                "variants",
                "a listing needs one SKU at least".into(),
            ));
        };
        let (price, stock) = kept(&variant.sku).unwrap_or((variant.price, variant.stock));
        body["sku"] = json!(variant.sku);
        body["price"] = json!(price);
        body["stock_quantity"] = json!(stock);
        body["stock_availability"] = json!(draft.listed && stock > 0);
        body["is_config_variant"] = json!(false);
        body["attributes"] = Value::Array(attributes);
        return Ok(body);
    }
    let axes = draft
        .option_names
        .iter()
        .map(|axis| number("attribute_id", axis))
        .collect::<Result<Vec<_>, _>>()?;
    let mut variants = Vec::new();
    let mut total = 0;
    let mut lowest = i64::MAX;
    for variant in &draft.variants {
        if variant.option_values.len() != axes.len() {
            return Err(rejected(
                "variant_attributes",
                format!("SKU {} needs one option per axis", variant.sku),
            ));
        }
        let options = variant
            .option_values
            .iter()
            .map(|o| number("option_id", o))
            .collect::<Result<Vec<_>, _>>()?;
        let (price, stock) = kept(&variant.sku).unwrap_or((variant.price, variant.stock));
        total = stock.max(0).saturating_add(total);
        lowest = lowest.min(price);
        variants.push(json!({
            "variant_sku": variant.sku,
            "variant_price": price,
            "variant_quantity": stock,
            "variant_attributes": axes.iter().zip(&options).map(|(attribute, option)| json!({
                "attribute_id": attribute, "option_id": option,
            })).collect::<Vec<_>>(),
        }));
    }
    for (n, axis) in axes.iter().enumerate() {
        let mut options: Vec<i64> = Vec::new();
        for variant in &variants {
            if let Some(option) = variant["variant_attributes"][n]["option_id"].as_i64()
                && !options.contains(&option)
            {
                options.push(option);
            }
        }
        attributes.push(json!({
            "attribute_id": axis,
            "attribute_is_checkout": true,
            "attribute_values": options.iter().map(|o| json!({"id": o, "is_selected": true})).collect::<Vec<_>>(),
        }));
    }
    body["sku"] = json!(draft.product_key);
    body["price"] = json!(lowest);
    body["stock_quantity"] = json!(total);
    body["stock_availability"] = json!(draft.listed && total > 0);
    body["is_config_variant"] = json!(true);
    body["attributes"] = Value::Array(attributes);
    body["variants"] = Value::Array(variants);
    Ok(body)
}

/// Sendo's product status words (`sendo.md` §3.4; 5 and 6 both deleted).
pub fn status_word(status: i64) -> &'static str {
    match status {
        0 => "draft",
        1 => "awaiting_approval",
        2 => "selling",
        3 => "rejected",
        4 => "cancelled",
        5 | 6 => "deleted",
        _ => "unknown",
    }
}

/// A product as a remote listing: a simple product is one variant whose
/// variant id is empty; a configured product's variants are known by SKU.
pub fn remote_listing(product: &Product) -> RemoteListing {
    let variants = if product.is_config_variant || !product.variants.is_empty() {
        product
            .variants
            .iter()
            .map(|v| RemoteVariant {
                sku: v.variant_sku.clone(),
                variant_id: v.variant_sku.clone(),
                price: v.variant_price.round() as i64,
                stock: v.variant_quantity,
                ..RemoteVariant::default()
            })
            .collect()
    } else {
        vec![RemoteVariant {
            sku: product.sku.clone(),
            variant_id: String::new(),
            price: product.price.round() as i64,
            stock: product.stock_quantity,
            ..RemoteVariant::default()
        }]
    };
    RemoteListing {
        listing_id: product.id.to_string(),
        listing_sku: Some(product.sku.clone()),
        status: status_word(product.status).into(),
        title: product.name.clone(),
        variants,
    }
}
