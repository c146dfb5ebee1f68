//! Shopee's endpoints as the sandbox answers them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Multipart, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::state::{
    AttributeDef, CHANNELS, Item, Model, PARENT_CATEGORIES, State as Memory, attributes_of,
    brand_mandatory, brands_of, is_leaf,
};
use super::{ShopeeError, ShopeeSandbox, Signing, envelope, fail, top_level};

type S = State<Arc<ShopeeSandbox>>;

/// Query parameters in order (some repeat, like `item_status`).
struct Query {
    pairs: Vec<(String, String)>,
    map: HashMap<String, String>,
}

impl Query {
    fn parse(raw: Option<String>) -> Self {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let map = pairs.iter().cloned().collect();
        Self { pairs, map }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A list parameter as clients send it: repeated (`item_id_list=1&
    /// item_id_list=2`, as the SDKs send arrays and
    /// `schemas/v2.product.get_item_list.json` shows for `item_status`) or
    /// comma-separated (`item_id_list=1,2`), or both.
    fn list(&self, name: &str) -> Vec<&str> {
        self.all(name)
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn int(&self, name: &str) -> Result<Option<i64>, ShopeeError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(raw) => raw
                .parse()
                .map(Some)
                .map_err(|_| fail("error_param", format!("Invalid {name}."))),
        }
    }
}

pub fn routes(sandbox: Arc<ShopeeSandbox>) -> Router {
    Router::new()
        .route("/api/v2/shop/auth_partner", get(auth_partner))
        .route("/api/v2/auth/token/get", post(token_get))
        .route("/api/v2/auth/access_token/get", post(token_refresh))
        .route("/api/v2/media_space/upload_image", post(upload_image))
        .route("/api/v2/product/get_item_limit", get(shop_get))
        .route("/api/v2/product/get_attribute_tree", get(shop_get))
        .route("/api/v2/product/get_brand_list", get(shop_get))
        .route("/api/v2/logistics/get_channel_list", get(shop_get))
        .route("/api/v2/product/add_item", post(shop_post))
        .route("/api/v2/product/init_tier_variation", post(shop_post))
        .route("/api/v2/product/add_model", post(shop_post))
        .route("/api/v2/product/update_tier_variation", post(shop_post))
        .route("/api/v2/product/update_item", post(shop_post))
        .route("/api/v2/product/delete_item", post(shop_post))
        .route("/api/v2/product/update_stock", post(shop_post))
        .route("/api/v2/product/update_price", post(shop_post))
        .route("/api/v2/product/get_item_list", get(shop_get))
        .route("/api/v2/product/get_item_base_info", get(shop_get))
        .route("/api/v2/product/get_model_list", get(shop_get))
        .route("/api/v2/order/get_order_list", get(shop_get))
        .route("/api/v2/order/get_order_detail", get(shop_get))
        .route("/api/v2/push/get_lost_push_message", get(lost_pushes))
        .route(
            "/api/v2/push/confirm_consumed_lost_push_message",
            post(confirm_pushes),
        )
        .with_state(sandbox)
}

/// Shopee-only control: `POST /_sandbox/shopee/orders/{order_sn}/cancel-units`
/// `{line, quantity}` cancels units of one line (a partial cancellation);
/// `POST /_sandbox/shopee/listings/{sku}/promotion` `{reserved}` reserves
/// seller stock for a promotion.
pub fn control(sandbox: Arc<ShopeeSandbox>) -> Router {
    Router::new()
        .route(
            "/_sandbox/shopee/orders/{order_sn}/cancel-units",
            post(cancel_units),
        )
        .route("/_sandbox/shopee/listings/{sku}/promotion", post(promotion))
        .with_state(sandbox)
}

/// A promotion set up in the seller centre reserves `{reserved}` units of
/// `sku`'s seller stock (0 ends it).
async fn promotion(
    State(s): S,
    axum::extract::Path(sku): axum::extract::Path<String>,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let reserved = body["reserved"].as_i64().unwrap_or(-1);
    match s.reserve_for_promotion(&sku, reserved) {
        Ok(()) => axum::Json(json!({ "sku": sku, "reserved": reserved })).into_response(),
        Err(error) => (
            axum::http::StatusCode::CONFLICT,
            axum::Json(json!({ "error": error })),
        )
            .into_response(),
    }
}

async fn cancel_units(
    State(s): S,
    axum::extract::Path(order_sn): axum::extract::Path<String>,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let line = body["line"].as_u64().unwrap_or(0) as usize;
    let quantity = body["quantity"].as_i64().unwrap_or(0);
    match s.cancel_units(&order_sn, line, quantity) {
        Ok(()) => axum::Json(json!({ "ok": true })).into_response(),
        Err(error) => (
            axum::http::StatusCode::CONFLICT,
            axum::Json(json!({ "error": error })),
        )
            .into_response(),
    }
}

/// `get_lost_push_message`: a Public API
/// (`schemas/v2.push.get_lost_push_message.json`), also taken shop-signed.
async fn lost_pushes(State(s): S, RawQuery(raw): RawQuery) -> Response {
    let path = "/api/v2/push/get_lost_push_message";
    let result = s
        .admit(path, &Query::parse(raw).map, Signing::Either)
        .map(|_| s.lost_pushes());
    envelope(&s, result)
}

/// `confirm_consumed_lost_push_message`: Public likewise
/// (`schemas/v2.push.confirm_consumed_lost_push_message.json`).
async fn confirm_pushes(State(s): S, RawQuery(raw): RawQuery, body: Bytes) -> Response {
    let path = "/api/v2/push/confirm_consumed_lost_push_message";
    let result = s
        .admit(path, &Query::parse(raw).map, Signing::Either)
        .and_then(|_| {
            let last = body_json(&body)?["last_message_id"]
                .as_i64()
                .ok_or_else(|| fail("error_param", "Invalid last_message_id."))?;
            s.state().confirm_pushes(last);
            Ok(json!({}))
        });
    envelope(&s, result)
}

async fn auth_partner(State(s): S, RawQuery(raw): RawQuery) -> Response {
    let path = "/api/v2/shop/auth_partner";
    let query = Query::parse(raw);
    if let Err(err) = s.admit(path, &query.map, Signing::Public) {
        return envelope(&s, Err(err));
    }
    let Some(redirect) = query.get("redirect").filter(|r| !r.is_empty()) else {
        return envelope(
            &s,
            Err(fail("error_param", "There is no redirect in query.")),
        );
    };
    // The seller "logs in and confirms" at once.
    let code = s.issue_code();
    let separator = if redirect.contains('?') { '&' } else { '?' };
    Redirect::to(&format!(
        "{redirect}{separator}code={code}&shop_id={}",
        s.config.shop_id
    ))
    .into_response()
}

fn body_json(body: &Bytes) -> Result<Value, ShopeeError> {
    serde_json::from_slice(body).map_err(|_| fail("error_param", "Request body is not valid JSON."))
}

fn check_ids(s: &ShopeeSandbox, body: &Value) -> Result<(), ShopeeError> {
    if body["partner_id"].as_i64() != Some(s.config.partner_id) {
        return Err(fail("error_param", "partner_id in body does not match."));
    }
    if body["shop_id"].as_i64() != Some(s.config.shop_id) {
        return Err(fail("invalid_shop_id", "Invalid shop_id."));
    }
    Ok(())
}

/// What a token exchange spends: an authorization code or a refresh token.
enum Grant {
    Code,
    Refresh,
}

async fn token_get(State(s): S, RawQuery(raw): RawQuery, body: Bytes) -> Response {
    exchange(&s, "/api/v2/auth/token/get", raw, &body, Grant::Code)
}

async fn token_refresh(State(s): S, RawQuery(raw): RawQuery, body: Bytes) -> Response {
    exchange(
        &s,
        "/api/v2/auth/access_token/get",
        raw,
        &body,
        Grant::Refresh,
    )
}

/// Spends the grant (single-use either way) and issues a new token pair.
fn exchange(
    s: &ShopeeSandbox,
    path: &str,
    raw: Option<String>,
    body: &Bytes,
    grant: Grant,
) -> Response {
    let result = (|| {
        s.admit(path, &Query::parse(raw).map, Signing::Public)?;
        let body = body_json(body)?;
        check_ids(s, &body)?;
        let now = s.now();
        let mut state = s.state();
        let spent = match grant {
            Grant::Code => state.take_code(body["code"].as_str().unwrap_or(""), now),
            Grant::Refresh => {
                state.spend_refresh(body["refresh_token"].as_str().unwrap_or(""), now)
            }
        };
        if !spent {
            return Err(match grant {
                Grant::Code => fail("invalid_code", "Invalid code."),
                Grant::Refresh => fail("error_shop_refresh_token", "Invalid refresh_token."),
            });
        }
        let (access, refresh) = state.issue_tokens(now, s.config.access_ttl);
        Ok(json!({
            "access_token": access,
            "refresh_token": refresh,
            "expire_in": s.config.access_ttl.num_seconds(),
            "shop_id_list": [s.config.shop_id],
            "merchant_id_list": [],
        }))
    })();
    top_level(s, result)
}

async fn upload_image(State(s): S, RawQuery(raw): RawQuery, mut form: Multipart) -> Response {
    // A Public API (`schemas/v2.media_space.upload_image.json`) that the
    // SDKs call shop-signed: both are taken.
    let path = "/api/v2/media_space/upload_image";
    if let Err(err) = s.admit(path, &Query::parse(raw).map, Signing::Either) {
        return envelope(&s, Err(err));
    }
    let mut image: Option<Vec<u8>> = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("image") => match field.bytes().await {
                Ok(bytes) => image = Some(bytes.to_vec()),
                Err(_) => return envelope(&s, Err(fail("error_param", "Unreadable image."))),
            },
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => return envelope(&s, Err(fail("error_param", "Invalid multipart body."))),
        }
    }
    let result = (|| {
        let image = image.ok_or_else(|| fail("error_param", "There is no image in the form."))?;
        if image.len() > 10 * 1024 * 1024 {
            return Err(fail("error_image_size", "Image should be at most 10 MB."));
        }
        let png = image.starts_with(b"\x89PNG\r\n\x1a\n");
        let jpeg = image.starts_with(&[0xFF, 0xD8, 0xFF]);
        if !png && !jpeg {
            return Err(fail(
                "error_image_format",
                "Only JPG, JPEG and PNG are supported.",
            ));
        }
        let mut state = s.state();
        let id = format!("vn-11134207-{:016x}", state.next_id());
        state.images.insert(id.clone());
        Ok(json!({
            "image_info": {
                "image_id": id,
                "image_url_list": [{ "image_url_region": "VN", "image_url": format!("https://cf.shopee.vn/file/{id}") }],
            }
        }))
    })();
    envelope(&s, result)
}

/// Every other shop GET: authenticated, then routed by path.
async fn shop_get(State(s): S, uri: axum::http::Uri, RawQuery(raw): RawQuery) -> Response {
    let query = Query::parse(raw);
    let result = s
        .admit(uri.path(), &query.map, Signing::Shop)
        .and_then(|_| match uri.path() {
            "/api/v2/product/get_item_limit" => item_limit(&query),
            "/api/v2/product/get_attribute_tree" => attribute_tree(&query),
            "/api/v2/product/get_brand_list" => brand_list(&query),
            "/api/v2/logistics/get_channel_list" => Ok(channel_list()),
            "/api/v2/product/get_item_list" => s.item_list(&query),
            "/api/v2/product/get_item_base_info" => s.base_info(&query),
            "/api/v2/product/get_model_list" => s.model_list(&query),
            "/api/v2/order/get_order_list" => s.order_list(&query),
            "/api/v2/order/get_order_detail" => s.order_detail(&query),
            _ => Err(fail("error_not_found", "No such API.")),
        });
    envelope(&s, result)
}

/// Every other shop POST.
async fn shop_post(
    State(s): S,
    uri: axum::http::Uri,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let query = Query::parse(raw);
    let result = s
        .admit(uri.path(), &query.map, Signing::Shop)
        .and_then(|_| {
            let body = body_json(&body)?;
            match uri.path() {
                "/api/v2/product/add_item" => s.add_item(&body),
                "/api/v2/product/init_tier_variation" => s.init_tiers(&body),
                "/api/v2/product/add_model" => s.add_model(&body),
                "/api/v2/product/update_tier_variation" => s.update_tiers(&body),
                "/api/v2/product/update_item" => s.update_item(&body),
                "/api/v2/product/delete_item" => s.delete_item(&body),
                "/api/v2/product/update_stock" => s.update_stock(&body),
                "/api/v2/product/update_price" => s.update_price(&body),
                _ => Err(fail("error_not_found", "No such API.")),
            }
        });
    envelope(&s, result)
}

/// Only leaf categories take items (and have attribute trees).
fn leaf_category(category: i64) -> Result<(), ShopeeError> {
    if PARENT_CATEGORIES.contains(&category) {
        return Err(fail(
            "error_invalid_category",
            "Category is not a leaf category.",
        ));
    }
    if !is_leaf(category) {
        return Err(fail("error_invalid_category", "Invalid category_id."));
    }
    Ok(())
}

/// `get_attribute_tree`: 1..20 leaf categories, names in `vn` or `en`.
fn attribute_tree(query: &Query) -> Result<Value, ShopeeError> {
    let ids = id_list(query, "category_id_list", 20)?;
    let english = match query.get("language") {
        None | Some("") | Some("vn") => false,
        Some("en") => true,
        Some(_) => return Err(fail("error_param", "language should be vn or en.")),
    };
    let mut list = Vec::new();
    for category in ids {
        leaf_category(category)?;
        let tree: Vec<Value> = attributes_of(category)
            .iter()
            .map(|a| attribute_json(a, english))
            .collect();
        list.push(json!({ "category_id": category, "attribute_tree": tree }));
    }
    Ok(json!({ "list": list }))
}

/// One attribute with the fields of `schemas/v2.product.get_attribute_tree.json`.
fn attribute_json(attribute: &AttributeDef, english: bool) -> Value {
    let values: Vec<Value> = attribute
        .values
        .iter()
        .map(|(id, name)| json!({ "value_id": id, "name": name, "value_unit": "", "child_attribute_list": [] }))
        .collect();
    json!({
        "attribute_id": attribute.id,
        "mandatory": attribute.mandatory,
        "name": if english { attribute.name_en } else { attribute.name_vn },
        "attribute_value_list": values,
        "attribute_info": {
            "input_type": attribute.input_type,
            "input_validation_type": if attribute.is_drop_down() { 0 } else { 2 },
            "format_type": 1,
            "attribute_unit_list": [],
            "max_value_count": 1,
        },
    })
}

/// `attribute_list` as `schemas/v2.product.add_item.json` describes it:
/// every attribute one of the category's; a drop-down's values picked by a
/// `value_id` of its list (never 0); a free-text value custom (`value_id` 0
/// with a non-blank `original_value_name`); every mandatory attribute given.
fn check_attributes(body: &Value, category: i64, creating: bool) -> Result<(), ShopeeError> {
    let given: &[Value] = match &body["attribute_list"] {
        Value::Null => &[],
        Value::Array(list) => list,
        _ => return Err(fail("error_param", "attribute_list should be a list.")),
    };
    let tree = attributes_of(category);
    for entry in given {
        let id = entry["attribute_id"].as_i64().unwrap_or(0);
        let Some(attribute) = tree.iter().find(|a| a.id == id) else {
            return Err(fail(
                "error_param",
                format!("Attribute {id} is not an attribute of category {category}."),
            ));
        };
        let values = entry["attribute_value_list"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        if let Some(bad) = values.iter().find(|v| !value_fits(attribute, v)) {
            return Err(fail(
                "error_param",
                format!(
                    "Invalid value for attribute {} ({}): {bad}.",
                    attribute.id, attribute.name_vn
                ),
            ));
        }
    }
    if !creating && given.is_empty() {
        return Ok(());
    }
    match tree
        .into_iter()
        .find(|a| a.mandatory && !has_value(given, a.id))
    {
        Some(missing) => Err(fail(
            "error_param",
            format!(
                "Attribute {} ({}) is mandatory for category {category}.",
                missing.id, missing.name_vn
            ),
        )),
        None => Ok(()),
    }
}

/// A drop-down takes only an id of its list; free text only a custom value.
fn value_fits(attribute: &AttributeDef, value: &Value) -> bool {
    let id = value["value_id"].as_i64().unwrap_or(-1);
    if attribute.is_drop_down() {
        attribute.values.iter().any(|(known, _)| *known == id)
    } else {
        id == 0
            && value["original_value_name"]
                .as_str()
                .is_some_and(|name| !name.trim().is_empty())
    }
}

fn has_value(given: &[Value], attribute_id: i64) -> bool {
    given
        .iter()
        .filter(|a| a["attribute_id"].as_i64() == Some(attribute_id))
        .any(|a| {
            a["attribute_value_list"]
                .as_array()
                .is_some_and(|v| !v.is_empty())
        })
}

/// `brand` (`schemas/v2.product.add_item.json`): a `brand_id` of the
/// category's list, or 0 with "No Brand", which a category whose brand is
/// mandatory refuses; left out, it is "No Brand" too.
fn check_brand(body: &Value, category: i64) -> Result<(), ShopeeError> {
    let brand_id = match &body["brand"] {
        Value::Null => 0,
        brand => brand["brand_id"]
            .as_i64()
            .ok_or_else(|| fail("error_param", "brand.brand_id is required."))?,
    };
    if brand_id == 0 {
        if brand_mandatory(category) {
            return Err(fail(
                "error_param",
                format!("Brand is mandatory for category {category}; No Brand is not accepted."),
            ));
        }
        return Ok(());
    }
    if brands_of(category).iter().any(|b| b.id == brand_id) {
        Ok(())
    } else {
        Err(fail(
            "error_param",
            format!("Invalid brand_id {brand_id} for category {category}."),
        ))
    }
}

/// `logistic_info`: known channels of the shop, enabled ones only, with the
/// `size_id` a SIZE_SELECTION channel needs and the `shipping_fee` a
/// CUSTOM_PRICE one needs; at least one enabled.
fn check_logistics(body: &Value) -> Result<(), ShopeeError> {
    let entries = body["logistic_info"]
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| fail("error_param", "logistic_info is required."))?;
    let mut enabled = 0;
    for entry in entries {
        let id = entry["logistic_id"].as_i64().unwrap_or(0);
        let channel = CHANNELS
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| fail("error_param", format!("Invalid logistic_id {id}.")))?;
        if !entry["enabled"].as_bool().unwrap_or(false) {
            continue;
        }
        if !channel.enabled {
            return Err(fail(
                "error_logistic_channel_disabled",
                format!("Logistics channel {id} is disabled for this shop."),
            ));
        }
        match channel.fee_type {
            "SIZE_SELECTION" => {
                let size = match &entry["size_id"] {
                    Value::Number(n) => n.to_string(),
                    Value::String(s) => s.clone(),
                    _ => String::new(),
                };
                if !channel.sizes.iter().any(|(id, _, _)| *id == size) {
                    return Err(fail(
                        "error_param",
                        format!("size_id is required for logistics channel {id} (SIZE_SELECTION)."),
                    ));
                }
            }
            "CUSTOM_PRICE" if entry["shipping_fee"].as_f64().is_none_or(|f| f < 0.0) => {
                return Err(fail(
                    "error_param",
                    format!("shipping_fee is required for logistics channel {id} (CUSTOM_PRICE)."),
                ));
            }
            _ => {}
        }
        enabled += 1;
    }
    if enabled == 0 {
        return Err(fail(
            "error_param",
            "At least one logistics channel must be enabled.",
        ));
    }
    Ok(())
}

/// `get_item_limit` in the shape of `schemas/v2.product.get_item_limit.json`:
/// every limit a `{min_limit, max_limit}` object; `category_id` optional.
fn item_limit(query: &Query) -> Result<Value, ShopeeError> {
    if let Some(category) = query.int("category_id")? {
        leaf_category(category)?;
    }
    let range = |min: f64, max: f64| json!({ "min_limit": min, "max_limit": max });
    Ok(json!({
        "price_limit": range(1000.0, 120_000_000.0),
        "wholesale_price_threshold_percentage": range(30.0, 100.0),
        "stock_limit": range(0.0, 999_999.0),
        "item_name_length_limit": range(1.0, 120.0),
        "item_image_count_limit": range(1.0, 9.0),
        "item_description_length_limit": range(20.0, 3000.0),
        "tier_variation_name_length_limit": range(1.0, 14.0),
        "tier_variation_option_length_limit": range(1.0, 20.0),
        "item_count_limit": { "max_limit": 5000 },
        "dts_limit": { "days_to_ship_limit": range(7.0, 15.0), "non_pre_order_days_to_ship": 2 },
        "weight_limit": { "weight_mandatory": true },
        "dimension_limit": { "dimension_mandatory": false },
        "size_chart_limit": { "size_chart_mandatory": false, "support_image_size_chart": false, "support_template_size_chart": false },
    }))
}

/// `get_brand_list` (`schemas/v2.product.get_brand_list.json`): `offset`,
/// `page_size` ≤ 100, `category_id` and `status` required; status 2
/// (pending brands) has none here.
fn brand_list(query: &Query) -> Result<Value, ShopeeError> {
    let required = |name: &str| {
        query
            .int(name)?
            .ok_or_else(|| fail("error_param", format!("{name} is required.")))
    };
    let offset = required("offset")?;
    let page_size = required("page_size")?;
    let category = required("category_id")?;
    let status = required("status")?;
    if offset < 0 || !(1..=100).contains(&page_size) || !(1..=2).contains(&status) {
        return Err(fail(
            "error_param",
            "Wrong parameters, detail: offset, page_size (1-100) or status (1, 2).",
        ));
    }
    leaf_category(category)?;
    let brands = if status == 1 {
        brands_of(category)
    } else {
        Vec::new()
    };
    let (page, next, more) = page_of(
        &brands,
        offset as usize,
        page_size as usize,
        |b| json!({ "brand_id": b.id, "original_brand_name": b.name, "display_brand_name": b.name }),
    );
    Ok(json!({
        "brand_list": page,
        "has_next_page": more,
        "next_offset": next,
        "is_mandatory": brand_mandatory(category),
        "input_type": "DROP_DOWN",
    }))
}

/// One page of `all` from `offset`: its rows, the offset after it, and
/// whether anything is left past it.
fn page_of<T>(
    all: &[T],
    offset: usize,
    page_size: usize,
    row: impl FnMut(&T) -> Value,
) -> (Vec<Value>, usize, bool) {
    let page: Vec<Value> = all.iter().skip(offset).take(page_size).map(row).collect();
    let next = offset + page.len();
    (page, next, next < all.len())
}

/// `logistics/get_channel_list` (`schemas/v2.logistics.get_channel_list.json`).
fn channel_list() -> Value {
    let channels: Vec<Value> = CHANNELS
        .iter()
        .map(|c| {
            json!({
                "logistics_channel_id": c.id,
                "logistics_channel_name": c.name,
                "cod_enabled": true,
                "enabled": c.enabled,
                "fee_type": c.fee_type,
                "size_list": c.sizes.iter().map(|(id, name, price)| json!({ "size_id": id, "name": name, "default_price": price })).collect::<Vec<_>>(),
                "weight_limit": { "item_max_weight": 30.0, "item_min_weight": 0.0 },
                "item_max_dimension": { "height": 0, "width": 0, "length": 0, "unit": "cm", "dimension_sum": 0 },
                "volume_limit": { "item_max_volume": 0, "item_min_volume": 0 },
                "logistics_description": "",
                "force_enable": false,
                "mask_channel_id": 0,
                "support_cross_border": false,
                "logistics_capability": { "seller_logistics": false },
            })
        })
        .collect();
    json!({ "logistics_channel_list": channels })
}

/// VN prices are whole dong.
fn vnd(value: &Value, what: &str) -> Result<i64, ShopeeError> {
    let price = value
        .as_f64()
        .ok_or_else(|| fail("error_param", format!("{what} is required.")))?;
    // VN prices are whole dong; Shopee rounds decimals.
    let price = price.round();
    if !(1000.0..=120_000_000.0).contains(&price) {
        return Err(fail(
            "error_price_exceed_max_limitt",
            format!("{what} is out of the allowed range."),
        ));
    }
    Ok(price as i64)
}

/// Within one item the dearest model may cost at most 5× the cheapest (VN).
fn spread_ok(prices: impl Iterator<Item = i64> + Clone) -> bool {
    let (min, max) = (prices.clone().min(), prices.max());
    matches!((min, max), (Some(min), Some(max)) if max <= min * 5)
}

/// `stock_info_v2`: seller stock, of which a promotion reserves `reserved`
/// ("stock reserved for promotion"); the rest can be sold now.
fn stock_info(stock: i64, reserved: i64) -> Value {
    json!({
        "summary_info": {
            "total_reserved_stock": reserved,
            "total_available_stock": stock - reserved,
        },
        "seller_stock": [{ "stock": stock, "if_saleable": true }],
    })
}

fn stock_value(list: &Value) -> Option<i64> {
    list.as_array()?.first()?["stock"].as_i64()
}

/// Seller stock within Shopee's range (`stock_limit` of `get_item_limit`).
fn checked_stock(list: &Value, required: bool) -> Result<i64, ShopeeError> {
    match stock_value(list) {
        None if required => Err(fail("error_param", "seller_stock is required.")),
        None => Ok(0),
        Some(stock) if (0..=999_999).contains(&stock) => Ok(stock),
        Some(_) => Err(fail(
            "error_stock_invalid",
            "Stock should be between 0 and 999999.",
        )),
    }
}

/// Shopee refuses a batch that names a model twice.
fn no_repeats(entries: &[Value]) -> Result<(), ShopeeError> {
    let mut seen = std::collections::HashSet::new();
    if entries
        .iter()
        .all(|e| seen.insert(e["model_id"].as_i64().unwrap_or(-1)))
    {
        Ok(())
    } else {
        Err(fail("error_param", "Repeat model_id."))
    }
}

/// Tier names and options as `init_tier_variation` and
/// `update_tier_variation` take them: named, 1..20 options each, option names
/// unique within their tier.
fn parse_tiers(tiers: &[Value]) -> Result<Vec<(String, Vec<String>)>, ShopeeError> {
    let mut parsed: Vec<(String, Vec<String>)> = Vec::new();
    for tier in tiers {
        let name = tier["variation_name"].as_str().unwrap_or("").to_string();
        let options: Vec<String> = tier["variation_option_list"]
            .as_array()
            .map(|o| {
                o.iter()
                    .filter_map(|v| v["variation_option_name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if name.chars().count() > 14 || options.iter().any(|o| o.chars().count() > 20) {
            return Err(fail(
                "error_param",
                "Variation names have at most 14 characters and options at most 20.",
            ));
        }
        if name.is_empty() || options.is_empty() {
            return Err(fail(
                "error_param",
                "Each tier variation needs a name and options.",
            ));
        }
        if options.len() > 20 {
            return Err(fail(
                "error_tier_opt_too_many",
                "A tier variation has at most 20 options.",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if !options.iter().all(|o| seen.insert(o)) {
            return Err(fail(
                "error_param",
                format!("Repeat option name in tier variation {name}."),
            ));
        }
        parsed.push((name, options));
    }
    Ok(parsed)
}

/// One option index per tier, each within its tier.
fn tier_index_of(raw: &Value, tiers: &[(String, Vec<String>)]) -> Result<Vec<usize>, ShopeeError> {
    let index: Vec<usize> = raw
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|i| i.as_u64().map(|i| i as usize))
                .collect()
        })
        .unwrap_or_default();
    let valid = index.len() == tiers.len()
        && index
            .iter()
            .zip(tiers)
            .all(|(i, (_, options))| *i < options.len());
    if valid {
        Ok(index)
    } else {
        Err(fail("error_param", "Wrong tier_index."))
    }
}

fn model_sku(model: &Value) -> Result<String, ShopeeError> {
    let sku = model["model_sku"].as_str().unwrap_or("").to_string();
    if sku.chars().count() > 100 {
        return Err(fail(
            "error_param",
            "model_sku should be at most 100 characters.",
        ));
    }
    Ok(sku)
}

/// The item `add_model` / `update_tier_variation` work on: it exists and its
/// tiers were initialized.
fn tiered_item(state: &Memory, item_id: i64) -> Result<&Item, ShopeeError> {
    let item = state
        .items
        .get(&item_id)
        .filter(|i| i.status != "SELLER_DELETE")
        .ok_or_else(|| fail("error_item_not_found", "Item_id is not found."))?;
    if item.models.is_empty() || item.tiers.is_empty() {
        return Err(fail(
            "error_param",
            "Tier variation is not initialized for this item; call init_tier_variation first.",
        ));
    }
    Ok(item)
}

/// One `add_model` entry, at a place no model of the item (or of the same
/// call) holds, with a SKU none of them has. Its id is given once all pass.
fn new_model(entry: &Value, item: &Item, batch: &[Model]) -> Result<Model, ShopeeError> {
    let tier_index = tier_index_of(&entry["tier_index"], &item.tiers)?;
    let mut others = item.models.iter().chain(batch);
    if others.clone().any(|m| m.tier_index == tier_index) {
        return Err(fail("error_param", "Repeat tier_index."));
    }
    let sku = model_sku(entry)?;
    if !sku.is_empty() && others.any(|m| m.sku == sku) {
        return Err(fail("error_param", "Repeat model_sku."));
    }
    Ok(Model {
        model_id: 0,
        tier_index,
        sku,
        price: vnd(&entry["original_price"], "original_price")?,
        stock: checked_stock(&entry["seller_stock"], true)?,
        reserved: 0,
    })
}

/// `update_tier_variation`'s `model_list`: each model of the item once, at a
/// valid place no other model takes.
fn replaced_places(
    list: &[Value],
    item: &Item,
    tiers: &[(String, Vec<String>)],
) -> Result<Vec<(i64, Vec<usize>)>, ShopeeError> {
    no_repeats(list)?;
    let mut places: Vec<(i64, Vec<usize>)> = Vec::new();
    for entry in list {
        let model_id = entry["model_id"].as_i64().unwrap_or(-1);
        if !item.models.iter().any(|m| m.model_id == model_id) {
            return Err(fail("error_param", "Wrong model_id."));
        }
        let tier_index = tier_index_of(&entry["tier_index"], tiers)?;
        if places.iter().any(|(_, p)| *p == tier_index) {
            return Err(fail("error_param", "Repeat tier_index."));
        }
        places.push((model_id, tier_index));
    }
    if places.len() != item.models.len() {
        return Err(fail(
            "error_param",
            "Every model of the item must be in model_list.",
        ));
    }
    Ok(places)
}

/// Tiers in the `standardise_tier_variation` shape; the sandbox's are all
/// custom, so their ids are 0.
fn standard_tiers(tiers: &[(String, Vec<String>)]) -> Vec<Value> {
    tiers
        .iter()
        .map(|(name, options)| {
            json!({
                "variation_id": 0,
                "variation_name": name,
                "variation_group_id": 0,
                "variation_option_list": options.iter().map(|o| json!({
                    "variation_option_id": 0,
                    "variation_option_name": o,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// The tiers of an `init_tier_variation` call in the current shape: its
/// `standardise_tier_variation`, or else the deprecated
/// `tier_variation[{name, option_list[{option, image{image_id}}]}]` that
/// clients still send (the schema says at least one of the two comes).
fn tiers_given(body: &Value) -> Vec<Value> {
    match body["standardise_tier_variation"].as_array() {
        Some(tiers) if !tiers.is_empty() => tiers.clone(),
        _ => body["tier_variation"]
            .as_array()
            .map(|tiers| {
                tiers
                    .iter()
                    .map(|t| {
                        let options: Vec<Value> = t["option_list"]
                            .as_array()
                            .map_or(&[][..], Vec::as_slice)
                            .iter()
                            .map(|o| json!({ "variation_option_id": 0, "variation_option_name": o["option"] }))
                            .collect();
                        json!({ "variation_id": 0, "variation_name": t["name"], "variation_option_list": options })
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn model_answer(model: &Model) -> Value {
    json!({
        "tier_index": model.tier_index,
        "model_id": model.model_id,
        "model_sku": model.sku,
        "price_info": [{ "original_price": model.price, "current_price": model.price }],
        "seller_stock": [{ "stock": model.stock }],
    })
}

impl ShopeeSandbox {
    fn check_item_fields(
        &self,
        body: &Value,
        state: &Memory,
        creating: bool,
    ) -> Result<(), ShopeeError> {
        if creating || body.get("item_name").is_some() {
            let name = body["item_name"].as_str().unwrap_or("").trim();
            let length = name.chars().count();
            if length == 0 {
                return Err(fail(
                    "error_item_name_is_too_short",
                    "Item name is required.",
                ));
            }
            if length > 120 {
                return Err(fail(
                    "error_name_length_limit",
                    "Item name should be at most 120 characters.",
                ));
            }
        }
        if creating || body.get("category_id").is_some() {
            leaf_category(body["category_id"].as_i64().unwrap_or(0))?;
        }
        if creating || body.get("image").is_some() {
            let images = body["image"]["image_id_list"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if images.is_empty() || images.len() > 9 {
                return Err(fail(
                    "error_image_unavailable",
                    "Between 1 and 9 images are required.",
                ));
            }
            if images
                .iter()
                .any(|i| !i.as_str().is_some_and(|id| state.images.contains(id)))
            {
                return Err(fail(
                    "error_image_unavailable",
                    "Image is not uploaded to media space.",
                ));
            }
        }
        if creating || body.get("description").is_some() {
            let length = body["description"].as_str().unwrap_or("").chars().count();
            if !(20..=3000).contains(&length) {
                return Err(fail(
                    "error_desc_length_min_limit",
                    "Description should be 20 to 3000 characters.",
                ));
            }
        }
        if creating && body["weight"].as_f64().is_none_or(|w| w <= 0.0) {
            return Err(fail("error_param", "Weight is required."));
        }
        Ok(())
    }

    fn add_item(&self, body: &Value) -> Result<Value, ShopeeError> {
        let mut state = self.state();
        self.check_item_fields(body, &state, true)?;
        let category = body["category_id"].as_i64().unwrap_or(0);
        check_attributes(body, category, true)?;
        check_brand(body, category)?;
        check_logistics(body)?;
        let price = vnd(&body["original_price"], "original_price")?;
        let stock = checked_stock(&body["seller_stock"], false)?;
        let status = match body["item_status"].as_str() {
            None => "NORMAL",
            Some(status @ ("NORMAL" | "UNLIST")) => status,
            Some(_) => {
                return Err(fail(
                    "error_param",
                    "item_status should be NORMAL or UNLIST.",
                ));
            }
        };
        let item_id = state.next_id();
        let item = Item {
            item_id,
            item_sku: body["item_sku"].as_str().unwrap_or("").to_string(),
            name: body["item_name"].as_str().unwrap_or("").to_string(),
            description: body["description"].as_str().unwrap_or("").to_string(),
            category_id: body["category_id"].as_i64().unwrap_or(0),
            status: status.into(),
            images: string_list(&body["image"]["image_id_list"]),
            weight: body["weight"].as_f64().unwrap_or(0.0),
            price,
            stock,
            reserved: 0,
            created: std::time::Instant::now(),
            update_time: self.now().timestamp(),
            tiers: Vec::new(),
            models: Vec::new(),
        };
        let answer = json!({
            "item_id": item_id,
            "item_status": status,
            "item_name": item.name,
            "item_sku": item.item_sku,
            "price_info": { "original_price": price },
            "seller_stock": [{ "stock": stock }],
        });
        state.items.insert(item_id, item);
        Ok(answer)
    }

    fn init_tiers(&self, body: &Value) -> Result<Value, ShopeeError> {
        let item_id = item_id(body)?;
        let mut state = self.state();
        let next_ids: Vec<i64> = (0..50).map(|_| state.next_id()).collect();
        let item = state
            .items
            .get_mut(&item_id)
            .filter(|i| i.status != "SELLER_DELETE")
            .ok_or_else(|| fail("error_item_not_found", "Item_id is not found."))?;
        if item.created.elapsed() < self.config.tier_wait {
            return Err(fail(
                "error_busy",
                "The item is still being created; call init_tier_variation at least 5 seconds after add_item.",
            ));
        }
        if !item.models.is_empty() {
            return Err(fail(
                "error_param",
                "Tier variation has been initialized for this item.",
            ));
        }
        let tiers = tiers_given(body);
        if tiers.is_empty() || tiers.len() > 2 {
            return Err(fail(
                "error_tier_var_too_many",
                "An item has 1 or 2 tier variations.",
            ));
        }
        let parsed = parse_tiers(&tiers)?;
        let models = body["model"].as_array().cloned().unwrap_or_default();
        if models.is_empty() || models.len() > 50 {
            return Err(fail(
                "error_model_count_over_limit",
                "An item has 1 to 50 models.",
            ));
        }
        let mut built: Vec<Model> = Vec::new();
        for (model, model_id) in models.iter().zip(next_ids) {
            let tier_index = tier_index_of(&model["tier_index"], &parsed)?;
            if built.iter().any(|m| m.tier_index == tier_index) {
                return Err(fail("error_param", "Repeat tier_index."));
            }
            built.push(Model {
                model_id,
                tier_index,
                sku: model_sku(model)?,
                price: vnd(&model["original_price"], "original_price")?,
                stock: checked_stock(&model["seller_stock"], true)?,
                reserved: 0,
            });
        }
        if !spread_ok(built.iter().map(|m| m.price)) {
            return Err(fail(
                "error_invalid_price",
                "The most expensive model may cost at most 5 times the cheapest.",
            ));
        }
        item.tiers = parsed;
        item.models = built;
        item.update_time = self.now().timestamp();
        // The answer of `schemas/v2.product.init_tier_variation.json`.
        let tiers: Vec<Value> = item
            .tiers
            .iter()
            .map(|(name, options)| json!({ "name": name, "option_list": options.iter().map(|o| json!({ "option": o })).collect::<Vec<_>>() }))
            .collect();
        let models: Vec<Value> = item.models.iter().map(model_answer).collect();
        Ok(json!({ "item_id": item_id, "tier_variation": tiers, "model": models }))
    }

    /// `add_model`: 1..50 models for an item that has tiers, each at a free
    /// place with its own SKU; the item stays within 50 models and the 5×
    /// spread.
    fn add_model(&self, body: &Value) -> Result<Value, ShopeeError> {
        let item_id = item_id(body)?;
        let entries = body["model_list"]
            .as_array()
            .filter(|l| (1..=50).contains(&l.len()))
            .ok_or_else(|| fail("error_param", "model_list should have 1 to 50 models."))?;
        let mut state = self.state();
        let item = tiered_item(&state, item_id)?;
        let mut built: Vec<Model> = Vec::new();
        for entry in entries {
            let model = new_model(entry, item, &built)?;
            built.push(model);
        }
        if item.models.len() + built.len() > 50 {
            return Err(fail(
                "error_model_count_over_limit",
                "An item has at most 50 models.",
            ));
        }
        if !spread_ok(item.models.iter().chain(&built).map(|m| m.price)) {
            return Err(fail(
                "error_invalid_price",
                "The most expensive model may cost at most 5 times the cheapest.",
            ));
        }
        for model in &mut built {
            model.model_id = state.next_id();
        }
        let answer: Vec<Value> = built.iter().map(model_answer).collect();
        let now = self.now().timestamp();
        if let Some(item) = state.items.get_mut(&item_id) {
            item.models.extend(built);
            item.update_time = now;
        }
        Ok(json!({ "item_id": item_id, "model": answer }))
    }

    /// `update_tier_variation`: new options and names for the same number of
    /// tiers, every model of the item placed again (none added or dropped).
    fn update_tiers(&self, body: &Value) -> Result<Value, ShopeeError> {
        let item_id = item_id(body)?;
        let tiers = body["standardise_tier_variation"]
            .as_array()
            .ok_or_else(|| fail("error_param", "standardise_tier_variation is required."))?;
        let parsed = parse_tiers(tiers)?;
        let list = body["model_list"]
            .as_array()
            .ok_or_else(|| fail("error_param", "model_list is required."))?;
        let now = self.now().timestamp();
        let mut state = self.state();
        let item = tiered_item(&state, item_id)?;
        if parsed.len() != item.tiers.len() {
            return Err(fail(
                "error_param",
                "The number of tier variations cannot be changed.",
            ));
        }
        let places = replaced_places(list, item, &parsed)?;
        let item = state
            .items
            .get_mut(&item_id)
            .ok_or_else(|| fail("error_item_not_found", "Item_id is not found."))?;
        for model in &mut item.models {
            if let Some((_, place)) = places.iter().find(|(id, _)| *id == model.model_id) {
                model.tier_index = place.clone();
            }
        }
        item.tiers = parsed;
        item.update_time = now;
        let models: Vec<Value> = item
            .models
            .iter()
            .map(|m| json!({ "model_id": m.model_id, "tier_index": m.tier_index }))
            .collect();
        Ok(json!({
            "item_id": item_id,
            "standardise_tier_variation": standard_tiers(&item.tiers),
            "model": models,
        }))
    }

    fn update_item(&self, body: &Value) -> Result<Value, ShopeeError> {
        let item_id = item_id(body)?;
        let mut state = self.state();
        if !state.items.contains_key(&item_id) {
            return Err(fail("error_item_not_found", "Item_id is not found."));
        }
        self.check_item_fields(body, &state, false)?;
        let category = body["category_id"]
            .as_i64()
            .or_else(|| state.items.get(&item_id).map(|i| i.category_id))
            .unwrap_or(0);
        check_attributes(body, category, false)?;
        if body.get("brand").is_some() {
            check_brand(body, category)?;
        }
        if body.get("logistic_info").is_some() {
            check_logistics(body)?;
        }
        let now = self.now().timestamp();
        let item = state
            .items
            .get_mut(&item_id)
            .filter(|i| i.status != "SELLER_DELETE")
            .ok_or_else(|| fail("error_item_not_found", "Item_id is not found."))?;
        if let Some(name) = body["item_name"].as_str() {
            item.name = name.to_string();
        }
        if let Some(description) = body["description"].as_str() {
            item.description = description.to_string();
        }
        if let Some(category) = body["category_id"].as_i64() {
            item.category_id = category;
        }
        if body.get("image").is_some() {
            item.images = string_list(&body["image"]["image_id_list"]);
        }
        if let Some(weight) = body["weight"].as_f64() {
            item.weight = weight;
        }
        match body["item_status"].as_str() {
            None => {}
            Some(status @ ("NORMAL" | "UNLIST")) => item.status = status.to_string(),
            Some(_) => {
                return Err(fail(
                    "error_param",
                    "item_status should be NORMAL or UNLIST.",
                ));
            }
        }
        item.update_time = now;
        Ok(json!({ "item_id": item_id }))
    }

    /// A deleted item stays known as SELLER_DELETE and can no longer change.
    fn delete_item(&self, body: &Value) -> Result<Value, ShopeeError> {
        let item_id = item_id(body)?;
        let now = self.now().timestamp();
        let mut state = self.state();
        let item = state
            .items
            .get_mut(&item_id)
            .filter(|i| i.status != "SELLER_DELETE")
            .ok_or_else(|| fail("error_item_not_found", "Item_id is not found."))?;
        item.status = "SELLER_DELETE".into();
        item.update_time = now;
        Ok(json!({}))
    }

    /// Shared by update_stock and update_price: one item, 1..50 models.
    fn batch<'a>(&self, body: &'a Value, list: &str) -> Result<(i64, &'a Vec<Value>), ShopeeError> {
        let item_id = item_id(body)?;
        let entries = body[list]
            .as_array()
            .ok_or_else(|| fail("error_param", format!("{list} is required.")))?;
        if entries.is_empty() || entries.len() > 50 {
            return Err(fail(
                "error_param",
                format!("{list} should have 1 to 50 entries."),
            ));
        }
        no_repeats(entries)?;
        Ok((item_id, entries))
    }

    fn update_stock(&self, body: &Value) -> Result<Value, ShopeeError> {
        let (item_id, entries) = self.batch(body, "stock_list")?;
        let now = self.now().timestamp();
        let mut state = self.state();
        let item = state
            .items
            .get_mut(&item_id)
            .filter(|i| i.status != "SELLER_DELETE")
            .ok_or_else(|| fail("error_item_not_found", "Item_id is not found."))?;
        let (mut success, mut failure) = (Vec::new(), Vec::new());
        for entry in entries {
            let model_id = entry["model_id"].as_i64().unwrap_or(-1);
            let stock = stock_value(&entry["seller_stock"]);
            let target = if model_id == 0 && item.models.is_empty() {
                Some((&mut item.stock, item.reserved))
            } else {
                item.models
                    .iter_mut()
                    .find(|m| m.model_id == model_id)
                    .map(|m| (&mut m.stock, m.reserved))
            };
            match (target, stock) {
                (None, _) => failure.push(json!({ "model_id": model_id, "failed_reason": "Wrong model_id." })),
                (Some(_), None) => failure.push(json!({ "model_id": model_id, "failed_reason": "seller_stock is required." })),
                (Some(_), Some(s)) if !(0..=999_999).contains(&s) => {
                    failure.push(json!({ "model_id": model_id, "failed_reason": "Stock is out of the allowed range." }))
                }
                // A running promotion's reserved stock is a floor
                // (`schemas/v2.product.update_stock.json`).
                (Some((_, reserved)), Some(s)) if s < reserved => {
                    failure.push(json!({ "model_id": model_id, "failed_reason": "Stock should be larger than reserved stock." }))
                }
                (Some((target, _)), Some(s)) => {
                    *target = s;
                    success.push(json!({ "model_id": model_id, "stock": s }));
                }
            }
        }
        item.update_time = now;
        Ok(json!({ "success_list": success, "failure_list": failure }))
    }

    fn update_price(&self, body: &Value) -> Result<Value, ShopeeError> {
        let (item_id, entries) = self.batch(body, "price_list")?;
        let now = self.now().timestamp();
        let mut state = self.state();
        let item = state
            .items
            .get_mut(&item_id)
            .filter(|i| i.status != "SELLER_DELETE")
            .ok_or_else(|| fail("error_item_not_found", "Item_id is not found."))?;
        let (mut success, mut failure) = (Vec::new(), Vec::new());
        let mut proposed: Vec<(i64, i64)> = Vec::new();
        for entry in entries {
            let model_id = entry["model_id"].as_i64().unwrap_or(-1);
            let known = (model_id == 0 && item.models.is_empty())
                || item.models.iter().any(|m| m.model_id == model_id);
            if !known {
                failure.push(json!({ "model_id": model_id, "failed_reason": "Wrong model_id." }));
                continue;
            }
            match vnd(&entry["original_price"], "original_price") {
                Ok(price) => proposed.push((model_id, price)),
                Err(err) => {
                    failure.push(json!({ "model_id": model_id, "failed_reason": err.message }))
                }
            }
        }
        // The 5x rule holds for the item as it would be after the whole batch.
        let after = item.models.iter().map(|m| {
            proposed
                .iter()
                .find(|(id, _)| *id == m.model_id)
                .map_or(m.price, |(_, price)| *price)
        });
        if !item.models.is_empty() && !spread_ok(after) {
            for (model_id, _) in proposed.drain(..) {
                failure.push(json!({ "model_id": model_id, "failed_reason": "The most expensive model may cost at most 5 times the cheapest." }));
            }
        }
        for (model_id, price) in proposed {
            if model_id == 0 {
                item.price = price;
            } else if let Some(model) = item.models.iter_mut().find(|m| m.model_id == model_id) {
                model.price = price;
            }
            success.push(json!({ "model_id": model_id, "original_price": price }));
        }
        item.update_time = now;
        Ok(json!({ "success_list": success, "failure_list": failure }))
    }

    /// `get_item_list`: `item_status` repeated, as
    /// `schemas/v2.product.get_item_list.json` shows (commas also taken).
    fn item_list(&self, query: &Query) -> Result<Value, ShopeeError> {
        let offset = query.int("offset")?.unwrap_or(0);
        let page_size = query.int("page_size")?.unwrap_or(0);
        if !(1..=100).contains(&page_size) || offset < 0 {
            return Err(fail(
                "error_param",
                "page_size should be between 1 and 100.",
            ));
        }
        let statuses = query.list("item_status");
        if statuses.is_empty() {
            return Err(fail("error_param", "item_status is required."));
        }
        let state = self.state();
        let matching: Vec<&Item> = state
            .items
            .values()
            .filter(|i| statuses.contains(&i.status.as_str()))
            .collect();
        let (page, next, more) = page_of(
            &matching,
            offset as usize,
            page_size as usize,
            |i| json!({ "item_id": i.item_id, "item_status": i.status, "update_time": i.update_time }),
        );
        Ok(json!({
            "item": page,
            "total_count": matching.len(),
            "has_next_page": more,
            "next_offset": next,
        }))
    }

    fn base_info(&self, query: &Query) -> Result<Value, ShopeeError> {
        let ids = id_list(query, "item_id_list", 50)?;
        let state = self.state();
        let items: Vec<Value> = ids
            .iter()
            .filter_map(|id| state.items.get(id))
            .map(|i| {
                json!({
                    "item_id": i.item_id,
                    "item_sku": i.item_sku,
                    "item_name": i.name,
                    "item_status": i.status,
                    "category_id": i.category_id,
                    "has_model": !i.models.is_empty(),
                    "price_info": if i.models.is_empty() { json!([{ "original_price": i.price, "current_price": i.price, "currency": "VND" }]) } else { json!([]) },
                    "stock_info_v2": stock_info(i.stock, i.reserved),
                    "image": { "image_id_list": i.images },
                    "weight": i.weight.to_string(),
                    "update_time": i.update_time,
                })
            })
            .collect();
        Ok(json!({ "item_list": items }))
    }

    fn model_list(&self, query: &Query) -> Result<Value, ShopeeError> {
        let item_id = query
            .int("item_id")?
            .ok_or_else(|| fail("error_param", "Invalid item_id."))?;
        let state = self.state();
        let item = state
            .items
            .get(&item_id)
            .ok_or_else(|| fail("error_item_not_found", "Item_id is not found."))?;
        let tiers: Vec<Value> = item
            .tiers
            .iter()
            .map(|(name, options)| json!({ "name": name, "option_list": options.iter().map(|o| json!({ "option": o })).collect::<Vec<_>>() }))
            .collect();
        let models: Vec<Value> = item
            .models
            .iter()
            .map(|m| {
                json!({
                    "model_id": m.model_id,
                    "model_sku": m.sku,
                    "tier_index": m.tier_index,
                    "model_status": "MODEL_NORMAL",
                    "price_info": [{ "original_price": m.price, "current_price": m.price, "currency": "VND" }],
                    "stock_info_v2": stock_info(m.stock, m.reserved),
                })
            })
            .collect();
        Ok(json!({
            "tier_variation": tiers,
            "standardise_tier_variation": standard_tiers(&item.tiers),
            "model": models,
        }))
    }

    fn order_list(&self, query: &Query) -> Result<Value, ShopeeError> {
        let field = query.get("time_range_field").unwrap_or("");
        if field != "create_time" && field != "update_time" {
            return Err(fail(
                "error_param",
                "time_range_field should be create_time or update_time.",
            ));
        }
        let from = query
            .int("time_from")?
            .ok_or_else(|| fail("error_param", "time_from is required."))?;
        let to = query
            .int("time_to")?
            .ok_or_else(|| fail("error_param", "time_to is required."))?;
        let valid = |t: i64| (0..=4_294_967_295).contains(&t);
        if !valid(from) || !valid(to) || to < from || to - from > 15 * 86_400 {
            return Err(fail(
                "error_param",
                "The time range should be no longer than 15 days.",
            ));
        }
        let page_size = query.int("page_size")?.unwrap_or(0);
        if !(1..=100).contains(&page_size) {
            return Err(fail(
                "error_param",
                "page_size should be between 1 and 100.",
            ));
        }
        let start: usize = match query.get("cursor").unwrap_or("") {
            "" => 0,
            cursor => cursor
                .parse()
                .map_err(|_| fail("error_param", "Invalid cursor."))?,
        };
        let state = self.state();
        let matching: Vec<&super::state::Order> = state
            .orders
            .values()
            .filter(|o| {
                let t = if field == "update_time" {
                    o.update_time
                } else {
                    o.create_time
                };
                (from..=to).contains(&t)
            })
            .collect();
        let (page, next, more) = page_of(
            &matching,
            start,
            page_size as usize,
            |o| json!({ "order_sn": o.order_sn, "order_status": o.status }),
        );
        Ok(json!({
            "more": more,
            "next_cursor": if more { next.to_string() } else { String::new() },
            "order_list": page,
        }))
    }

    /// `get_order_detail` (`schemas/v2.order.get_order_detail.json`):
    /// `order_sn_list` of 1..50 (comma-separated; repeated also taken), the
    /// default fields, and those `response_optional_fields` names.
    fn order_detail(&self, query: &Query) -> Result<Value, ShopeeError> {
        let sns = query.list("order_sn_list");
        if sns.is_empty() || sns.len() > 50 {
            return Err(fail(
                "error_param",
                "order_sn_list should have 1 to 50 order_sn.",
            ));
        }
        let optional = query.list("response_optional_fields");
        let asked = |field: &str| optional.contains(&field);
        let pending = query.get("request_order_status_pending") == Some("true");
        let state = self.state();
        let orders: Vec<Value> = sns
            .iter()
            .filter_map(|sn| state.orders.get(*sn))
            .map(|o| {
                let mut order = json!({
                    "order_sn": o.order_sn,
                    "order_status": o.status,
                    "create_time": o.create_time,
                    "update_time": o.update_time,
                    "region": "VN",
                    "currency": "VND",
                    "cod": true,
                    "message_to_seller": "",
                    "days_to_ship": 2,
                    "ship_by_date": o.create_time + 2 * 86_400,
                });
                if pending {
                    order["pending_terms"] = json!([]);
                    order["pending_description"] = json!([]);
                }
                if asked("cancel_by") {
                    order["cancel_by"] = json!(o.cancel_by);
                }
                if asked("cancel_reason") {
                    order["cancel_reason"] = json!(o.cancel_reason);
                }
                if asked("buyer_cancel_reason") {
                    let buyer = if o.cancel_by == "buyer" {
                        o.cancel_reason.as_str()
                    } else {
                        ""
                    };
                    order["buyer_cancel_reason"] = json!(buyer);
                }
                if asked("item_list") {
                    order["item_list"] = Value::Array(
                        o.lines
                            .iter()
                            .map(|line| order_line_json(&state, line))
                            .collect(),
                    );
                }
                order
            })
            .collect();
        Ok(json!({ "order_list": orders }))
    }

    fn lost_pushes(&self) -> Value {
        let (messages, more, last) = self.state().lost_pushes();
        json!({ "push_message_list": messages, "has_next_page": more, "last_message_id": last })
    }
}

/// One `item_list` entry of `get_order_detail`, with the per-line unit
/// counts (`active_qty`, `cancelled_qty`, …) the schema gives.
fn order_line_json(state: &Memory, line: &super::state::Line) -> Value {
    let item = state.items.get(&line.item_id);
    let model = item.and_then(|i| i.models.iter().find(|m| m.model_id == line.model_id));
    let price = model.map_or_else(|| item.map_or(0, |i| i.price), |m| m.price);
    json!({
        "item_id": line.item_id,
        "item_name": item.map_or("", |i| i.name.as_str()),
        "item_sku": item.map_or("", |i| i.item_sku.as_str()),
        "model_id": line.model_id,
        "model_name": "",
        "model_sku": model.map_or("", |m| m.sku.as_str()),
        "model_quantity_purchased": line.quantity,
        "model_original_price": price,
        "model_discounted_price": price,
        "wholesale": false,
        "add_on_deal": false,
        "main_item": false,
        "add_on_deal_id": 0,
        "promotion_type": "",
        "promotion_id": 0,
        // Outside bundle deals Shopee's order_item_id is the item id.
        "order_item_id": line.item_id,
        "promotion_group_id": 0,
        "active_qty": line.quantity - line.cancelled,
        "cancel_requested_qty": 0,
        "cancelled_qty": line.cancelled,
        "return_requested_qty": 0,
        "returned_qty": 0,
    })
}

/// A list of 1..`max` ids, repeated or comma-separated.
fn id_list(query: &Query, name: &str, max: usize) -> Result<Vec<i64>, ShopeeError> {
    let ids: Vec<i64> = query
        .list(name)
        .into_iter()
        .map(|s| {
            s.parse()
                .map_err(|_| fail("error_param", format!("Invalid {name}.")))
        })
        .collect::<Result<_, _>>()?;
    if ids.is_empty() || ids.len() > max {
        return Err(fail(
            "error_param",
            format!("{name} should have 1 to {max} ids."),
        ));
    }
    Ok(ids)
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The request's `item_id`.
fn item_id(body: &Value) -> Result<i64, ShopeeError> {
    body["item_id"]
        .as_i64()
        .ok_or_else(|| fail("error_param", "Invalid item_id."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::SandboxConfig;

    /// A sandbox holding item 1: tiers Size [S, M] × Pack [1], models 10 (S)
    /// and 11 (M) at 100,000 and 120,000 VND.
    fn sandbox() -> Arc<ShopeeSandbox> {
        let s = ShopeeSandbox::new(SandboxConfig::default());
        let model = |model_id, size, sku: &str, price| Model {
            model_id,
            tier_index: vec![size, 0],
            sku: sku.into(),
            price,
            stock: 5,
            reserved: 0,
        };
        s.state().items.insert(
            1,
            Item {
                item_id: 1,
                item_sku: "P".into(),
                name: "n".into(),
                description: "d".into(),
                category_id: 100_150,
                status: "NORMAL".into(),
                images: vec![],
                weight: 0.1,
                price: 0,
                stock: 0,
                reserved: 0,
                created: std::time::Instant::now(),
                update_time: 0,
                tiers: vec![
                    ("Size".into(), vec!["S".into(), "M".into()]),
                    ("Pack".into(), vec!["1".into()]),
                ],
                models: vec![model(10, 0, "A", 100_000), model(11, 1, "B", 120_000)],
            },
        );
        s
    }

    fn code(result: Result<Value, ShopeeError>) -> &'static str {
        result.err().map_or("ok", |e| e.code)
    }

    fn new_model(tier_index: Value, sku: &str, price: i64) -> Value {
        json!({ "tier_index": tier_index, "original_price": price, "model_sku": sku, "seller_stock": [{ "stock": 3 }] })
    }

    #[test]
    fn add_model_refuses_taken_places_repeated_skus_and_wide_spreads() {
        let s = sandbox();
        let add = |models: Vec<Value>| s.add_model(&json!({ "item_id": 1, "model_list": models }));
        assert_eq!(
            code(add(vec![new_model(json!([0, 0]), "C", 100_000)])),
            "error_param"
        );
        assert_eq!(
            code(add(vec![new_model(json!([2, 0]), "C", 100_000)])),
            "error_param"
        );
        assert_eq!(
            code(add(vec![new_model(json!([0]), "C", 100_000)])),
            "error_param"
        );
        assert_eq!(code(add(vec![])), "error_param");
        assert_eq!(
            code(s.add_model(
                &json!({ "item_id": 2, "model_list": [new_model(json!([0, 0]), "C", 100_000)] })
            )),
            "error_item_not_found"
        );
        // Room is made for a third size, then the model checks apply.
        let tiers = json!([
            { "variation_name": "Size", "variation_option_list": [
                { "variation_option_name": "S" }, { "variation_option_name": "M" }, { "variation_option_name": "L" }] },
            { "variation_name": "Pack", "variation_option_list": [{ "variation_option_name": "1" }] },
        ]);
        let places = json!([{ "model_id": 10, "tier_index": [0, 0] }, { "model_id": 11, "tier_index": [1, 0] }]);
        assert_eq!(
            code(s.update_tiers(
                &json!({ "item_id": 1, "standardise_tier_variation": tiers, "model_list": places })
            )),
            "ok"
        );
        assert_eq!(
            code(add(vec![new_model(json!([2, 0]), "A", 100_000)])),
            "error_param"
        );
        assert_eq!(
            code(add(vec![new_model(json!([2, 0]), "C", 600_000)])),
            "error_invalid_price"
        );
        assert_eq!(
            code(add(vec![
                new_model(json!([2, 0]), "C", 110_000),
                new_model(json!([2, 0]), "D", 110_000)
            ])),
            "error_param"
        );
        assert_eq!(
            code(add(vec![new_model(json!([2, 0]), "C", 110_000)])),
            "ok"
        );
        let state = s.state();
        let item = state.items.get(&1).expect("item");
        let added = item.models.iter().find(|m| m.sku == "C").expect("model C");
        assert_eq!(
            (added.tier_index.clone(), added.price, added.stock),
            (vec![2, 0], 110_000, 3)
        );
        assert_eq!(item.models.len(), 3);
    }

    #[test]
    fn add_model_keeps_an_item_within_fifty_models() {
        let s = sandbox();
        let options: Vec<Value> = (0..20)
            .map(|i| json!({ "variation_option_name": format!("S{i}") }))
            .collect();
        let packs: Vec<Value> = (0..3)
            .map(|i| json!({ "variation_option_name": format!("P{i}") }))
            .collect();
        let tiers = json!([
            { "variation_name": "Size", "variation_option_list": options },
            { "variation_name": "Pack", "variation_option_list": packs },
        ]);
        let places = json!([{ "model_id": 10, "tier_index": [0, 0] }, { "model_id": 11, "tier_index": [1, 0] }]);
        assert_eq!(
            code(s.update_tiers(
                &json!({ "item_id": 1, "standardise_tier_variation": tiers, "model_list": places })
            )),
            "ok"
        );
        let many: Vec<Value> = (2..20)
            .flat_map(|size| (0..3).map(move |pack| (size, pack)))
            .map(|(size, pack)| new_model(json!([size, pack]), &format!("M{size}-{pack}"), 100_000))
            .take(49)
            .collect();
        let (first, rest) = many.split_at(48);
        assert_eq!(
            code(s.add_model(&json!({ "item_id": 1, "model_list": first }))),
            "ok"
        );
        assert_eq!(
            code(s.add_model(&json!({ "item_id": 1, "model_list": rest }))),
            "error_model_count_over_limit"
        );
    }

    #[test]
    fn update_tier_variation_keeps_tiers_models_and_unique_options() {
        let s = sandbox();
        let tiers = |sizes: &[&str]| {
            json!([
                { "variation_name": "Size", "variation_option_list":
                    sizes.iter().map(|o| json!({ "variation_option_name": o })).collect::<Vec<_>>() },
                { "variation_name": "Pack", "variation_option_list": [{ "variation_option_name": "1" }] },
            ])
        };
        let update = |tiers: Value, places: Value| {
            code(s.update_tiers(
                &json!({ "item_id": 1, "standardise_tier_variation": tiers, "model_list": places }),
            ))
        };
        let both = json!([{ "model_id": 10, "tier_index": [0, 0] }, { "model_id": 11, "tier_index": [1, 0] }]);
        // One tier fewer.
        let one = json!([{ "variation_name": "Size", "variation_option_list": [{ "variation_option_name": "S" }, { "variation_option_name": "M" }] }]);
        let one_places =
            json!([{ "model_id": 10, "tier_index": [0] }, { "model_id": 11, "tier_index": [1] }]);
        assert_eq!(update(one, one_places), "error_param");
        // A model left out, an unknown model, a taken place, a place out of range.
        assert_eq!(
            update(
                tiers(&["S", "M", "L"]),
                json!([{ "model_id": 10, "tier_index": [0, 0] }])
            ),
            "error_param"
        );
        assert_eq!(
            update(
                tiers(&["S", "M"]),
                json!([{ "model_id": 10, "tier_index": [0, 0] }, { "model_id": 99, "tier_index": [1, 0] }])
            ),
            "error_param"
        );
        assert_eq!(
            update(
                tiers(&["S", "M"]),
                json!([{ "model_id": 10, "tier_index": [0, 0] }, { "model_id": 11, "tier_index": [0, 0] }])
            ),
            "error_param"
        );
        assert_eq!(
            update(
                tiers(&["S"]),
                json!([{ "model_id": 10, "tier_index": [0, 0] }, { "model_id": 11, "tier_index": [1, 0] }])
            ),
            "error_param"
        );
        // Options: unique, at most 20.
        assert_eq!(update(tiers(&["S", "M", "S"]), both.clone()), "error_param");
        let many: Vec<String> = (0..21).map(|i| format!("S{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            update(tiers(&many), both.clone()),
            "error_tier_opt_too_many"
        );
        // Nothing was changed by the refusals; a valid update applies.
        assert_eq!(update(tiers(&["S", "M", "L"]), both), "ok");
        let state = s.state();
        let item = state.items.get(&1).expect("item");
        assert_eq!(item.tiers[0].1, ["S", "M", "L"]);
        assert_eq!(item.models[1].tier_index, vec![1, 0]);
    }
}
