//! Lazada's endpoints as the sandbox answers them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Multipart, RawQuery, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::payload::{self, list, number, text};
use super::state::{
    ACTIVE, Attribute, DELETED, INACTIVE, OrderItem, PENDING_QC, Product, Sku, State as Memory,
    Variation, category_attributes, is_leaf, millis_text, order_time, shop_sku, standard_sale_prop,
};
use super::{LazadaError, LazadaSandbox, fail};
use crate::orders::{parse_time, whole_second};

type S = State<Arc<LazadaSandbox>>;

/// The API paths the sandbox serves, under `/rest`.
pub fn routes(sandbox: Arc<LazadaSandbox>) -> Router {
    Router::new()
        .route("/rest/auth/token/create", post(token))
        .route("/rest/auth/token/refresh", post(token))
        .route("/rest/image/upload", post(upload))
        .route("/rest/image/migrate", post(seller_post))
        .route("/rest/images/migrate", post(seller_post))
        .route("/rest/image/response/get", get(seller_get))
        .route("/rest/product/create", post(seller_post))
        .route("/rest/product/update", post(seller_post))
        .route("/rest/products/get", get(seller_get))
        .route("/rest/product/item/get", get(seller_get))
        .route("/rest/category/attributes/get", get(seller_get))
        .route("/rest/product/stock/sellable/update", post(seller_post))
        .route("/rest/product/price_quantity/update", post(seller_post))
        .route("/rest/orders/get", get(seller_get))
        .route("/rest/orders/items/get", get(seller_get))
        .with_state(sandbox)
}

fn api_path(uri: &Uri) -> &str {
    uri.path().strip_prefix("/rest").unwrap_or(uri.path())
}

/// Every parameter of a call: query and form body together.
fn params(query: Option<String>, form: &[u8]) -> HashMap<String, String> {
    let mut all: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    all.extend(url::form_urlencoded::parse(form).into_owned());
    all
}

fn request_payload(params: &HashMap<String, String>) -> Result<Value, LazadaError> {
    let raw = params.get("payload").ok_or_else(|| {
        fail(
            "MissingParameter",
            "The input parameter payload is missing.",
        )
    })?;
    payload::parse(raw).ok_or_else(|| fail("InvalidParameter", "payload is neither JSON nor XML."))
}

async fn token(State(s): S, uri: Uri, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let path = api_path(&uri).to_string();
    let params = params(query, &body);
    let result = s.admit(&path, &params, false).and_then(|()| {
        let now = s.now();
        let mut state = s.state();
        let refresh_expires = if path == "/auth/token/create" {
            let code = params.get("code").map_or("", String::as_str);
            if !state.take_code(code, now) {
                return Err(fail("InvalidCode", "Invalid authorization code."));
            }
            now + s.config.refresh_ttl
        } else {
            let token = params.get("refresh_token").map_or("", String::as_str);
            state
                .refresh_expiry(token, now)
                .ok_or_else(|| fail("IllegalRefreshToken", "The specified refresh token is invalid or expired."))?
        };
        let (access, refresh) = state.issue_tokens(now, s.config.access_ttl, refresh_expires);
        Ok(json!({
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": s.config.access_ttl.num_seconds(),
            "refresh_expires_in": (refresh_expires - now).num_seconds(),
            "country": "vn",
            "account": "htx-bac-kan@example.vn",
            "account_platform": "seller_center",
            "country_user_info": [{ "country": "vn", "seller_id": s.config.seller_id, "user_id": "1001", "short_code": "VN1A2B3C" }],
        }))
    });
    s.answer_top(result)
}

/// `/image/upload`: the system parameters may come in the query or, as the
/// official Python SDK sends them (`requests.post(url, params, files=…)`),
/// as text fields of the multipart body; the file (`image`) is not signed.
async fn upload(State(s): S, RawQuery(query): RawQuery, mut form: Multipart) -> Response {
    let mut params = params(query, &[]);
    let mut image = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("image") => match field.bytes().await {
                Ok(bytes) => image = Some(bytes.to_vec()),
                Err(_) => return s.answer(Err(fail("InvalidParameter", "Unreadable image."))),
            },
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                match field.text().await {
                    Ok(value) => {
                        params.insert(name, value);
                    }
                    Err(_) => {
                        return s.answer(Err(fail("InvalidParameter", "Invalid multipart body.")));
                    }
                }
            }
            Ok(None) => break,
            Err(_) => return s.answer(Err(fail("InvalidParameter", "Invalid multipart body."))),
        }
    }
    if let Err(err) = s.admit("/image/upload", &params, true) {
        return s.answer(Err(err));
    }
    let result = (|| {
        let image = image
            .ok_or_else(|| fail("MissingParameter", "The input parameter image is missing."))?;
        let png = image.starts_with(b"\x89PNG\r\n\x1a\n");
        let jpeg = image.starts_with(&[0xFF, 0xD8, 0xFF]);
        if !png && !jpeg {
            return Err(fail("30001", "Only JPG and PNG images are supported."));
        }
        if image.len() > 3 * 1024 * 1024 {
            return Err(fail("30002", "Image should be at most 3 MB."));
        }
        Ok(json!({ "image": s.host_image() }))
    })();
    s.answer(result)
}

async fn seller_get(State(s): S, uri: Uri, RawQuery(query): RawQuery) -> Response {
    let path = api_path(&uri).to_string();
    let params = params(query, &[]);
    let result = s
        .admit(&path, &params, true)
        .and_then(|()| match path.as_str() {
            "/image/response/get" => s.image_response(&params),
            "/products/get" => s.products(&params),
            "/product/item/get" => s.product_item(&params),
            "/category/attributes/get" => category_attributes_answer(&params),
            "/orders/get" => s.orders(&params),
            "/orders/items/get" => s.order_items(&params),
            _ => Err(fail("InvalidApi", "No such API.")),
        });
    s.answer(result)
}

async fn seller_post(State(s): S, uri: Uri, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let path = api_path(&uri).to_string();
    let params = params(query, &body);
    let result = s.admit(&path, &params, true).and_then(|()| {
        let payload = request_payload(&params)?;
        match path.as_str() {
            "/image/migrate" => s.migrate_one(&payload),
            "/images/migrate" => s.migrate_many(&payload),
            "/product/create" => s.create(&payload),
            "/product/update" => s.update(&payload),
            "/product/stock/sellable/update" => s.stock_update(&payload, true),
            "/product/price_quantity/update" => s.stock_update(&payload, false),
            _ => Err(fail("InvalidApi", "No such API.")),
        }
    });
    // `batch_id` sits at the top level, next to `code`, with no `data`
    // (`product-api/migrateimages.json`, guide `image-upload.md`).
    if path == "/images/migrate" {
        s.answer_top(result)
    } else {
        s.answer(result)
    }
}

/// Lazada fetches images itself: ports 80/443 only, no IP-literal hosts.
fn fetchable(source: &str) -> bool {
    let Ok(url) = url::Url::parse(source) else {
        return false;
    };
    let host_ok = matches!(url.host(), Some(url::Host::Domain(_)));
    let port_ok = url.port().is_none_or(|p| p == 80 || p == 443);
    matches!(url.scheme(), "http" | "https") && host_ok && port_ok
}

/// `/category/attributes/get`: a leaf category's attributes, flags and ids
/// as the strings `"0"`/`"1"` of `product-api/getcategoryattributes.json`.
fn category_attributes_answer(params: &HashMap<String, String>) -> Result<Value, LazadaError> {
    let category = params.get("primary_category_id").ok_or_else(|| {
        fail(
            "MissingParameter",
            "The input parameter primary_category_id is missing.",
        )
    })?;
    let category = category
        .parse::<i64>()
        .ok()
        .filter(|c| is_leaf(*c))
        .ok_or_else(|| fail("500", "primary_category_id must be a leaf category."))?;
    let flag = |yes: bool| if yes { "1" } else { "0" };
    let attributes: Vec<Value> = category_attributes(category)
        .iter()
        .enumerate()
        .map(|(n, a)| {
            json!({
                "id": (n + 1).to_string(),
                "name": a.name,
                "label": a.label,
                "is_mandatory": flag(a.mandatory),
                "is_sale_prop": flag(a.sale_prop),
                "attribute_type": "normal",
                "input_type": a.input_type,
                "options": [],
                "advanced": { "is_key_prop": 0 },
            })
        })
        .collect();
    Ok(Value::Array(attributes))
}

/// Whether `Attributes` gives `name` a value; `brand_id` stands for `brand`
/// (brand names are deprecated).
fn given(attributes: &Value, name: &str) -> bool {
    let filled = |value: &Value| match value {
        Value::String(s) => !s.trim().is_empty(),
        Value::Number(_) | Value::Bool(_) => true,
        Value::Array(items) => !items.is_empty(),
        Value::Object(fields) => !fields.is_empty(),
        Value::Null => false,
    };
    filled(&attributes[name]) || (name == "brand" && filled(&attributes["brand_id"]))
}

/// The first mandatory product attribute of `category` that `attributes`
/// leaves out or empty. Sale props are not looked for: they go per SKU.
fn missing_attribute(category: i64, attributes: &Value) -> Option<Attribute> {
    category_attributes(category)
        .into_iter()
        .find(|a| a.mandatory && !a.sale_prop && !given(attributes, a.name))
}

/// `Attributes` other than name and description, kept as text.
fn other_attributes(attributes: &Value) -> BTreeMap<String, String> {
    attributes
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "name" | "description"))
                .filter_map(|(name, value)| Some((name.clone(), text(value)?)))
                .filter(|(_, value)| !value.trim().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The time filters are ISO 8601 to the second and `/orders/get` shows
/// times to the second: a time within a second counts as that second.
fn whole_price(value: &Value) -> Result<i64, &'static str> {
    let price = number(value).ok_or("4118")?;
    if price <= 0.0 {
        return Err("4118");
    }
    if price.fract() != 0.0 {
        return Err("4104");
    }
    Ok(price as i64)
}

impl LazadaSandbox {
    fn host_image(&self) -> Value {
        let mut state = self.state();
        let n = state.next_number();
        let url = format!("https://vn-live.slatic.net/p/{n:032x}.jpg");
        state.images.insert(url.clone());
        json!({ "url": url, "hash_code": format!("{n:032x}") })
    }

    fn migrate_one(&self, payload: &Value) -> Result<Value, LazadaError> {
        let source = text(&payload["Request"]["Image"]["Url"]).unwrap_or_default();
        if !fetchable(&source) {
            return Err(fail(
                "30003",
                "The image could not be downloaded (http/https, ports 80 or 443, no IP address).",
            ));
        }
        Ok(json!({ "image": self.host_image() }))
    }

    fn migrate_many(&self, payload: &Value) -> Result<Value, LazadaError> {
        let sources: Vec<String> = list(&payload["Request"]["Images"]["Url"])
            .iter()
            .filter_map(text)
            .collect();
        if sources.is_empty() || sources.len() > 8 {
            return Err(fail(
                "30004",
                "Between 1 and 8 image URLs are migrated at once.",
            ));
        }
        let mut state = self.state();
        let batch_id = format!("batch-{:016x}", state.next_number());
        state.batches.insert(batch_id.clone(), sources);
        Ok(json!({ "batch_id": batch_id }))
    }

    fn image_response(&self, params: &HashMap<String, String>) -> Result<Value, LazadaError> {
        let batch = params.get("batch_id").cloned().unwrap_or_default();
        let sources = self
            .state()
            .batches
            .get(&batch)
            .cloned()
            .ok_or_else(|| fail("30005", "Unknown batch_id."))?;
        let (mut images, mut errors) = (Vec::new(), Vec::new());
        for source in sources {
            if fetchable(&source) {
                images.push(self.host_image());
            } else {
                // The entry of `product-api/getresponse.json`.
                errors.push(json!({ "msg": "Error download image", "field": source, "original_url": source }));
            }
        }
        Ok(json!({ "images": images, "errors": errors }))
    }

    /// `/product/create`: a new product, or, with `AssociatedSku`, new SKUs
    /// for the product carrying that SellerSku.
    fn create(&self, payload: &Value) -> Result<Value, LazadaError> {
        let product = &payload["Request"]["Product"];
        if let Some(anchor) = text(&product["AssociatedSku"]).filter(|a| !a.trim().is_empty()) {
            return self.associate(&anchor, product);
        }
        let category = number(&product["PrimaryCategory"]).unwrap_or(0.0) as i64;
        if !is_leaf(category) {
            return Err(fail("500", "PrimaryCategory must be a leaf category."));
        }
        let attributes = &product["Attributes"];
        let name = text(&attributes["name"]).unwrap_or_default();
        if name.trim().is_empty() || name.chars().count() > 255 {
            return Err(fail("500", "name is required, at most 255 characters."));
        }
        let description = text(&attributes["description"]).unwrap_or_default();
        if description.chars().count() > 25_000 {
            return Err(fail("500", "description is at most 25,000 characters."));
        }
        check_brand(attributes)?;
        if let Some(missing) = missing_attribute(category, attributes) {
            return Err(attribute_error(category, &missing));
        }
        let variation = read_variation(category, &product["variation"], "500")?;
        let images: Vec<String> = list(&product["Images"]["Image"])
            .iter()
            .filter_map(text)
            .collect();
        let mut state = self.state();
        if images.is_empty() || images.len() > 8 || images.iter().any(|i| !state.images.contains(i))
        {
            return Err(fail(
                "500",
                "Between 1 and 8 images, all hosted by Lazada, are required.",
            ));
        }
        let built = build_skus(&mut state, &list(&product["Skus"]["Sku"]))?;
        check_sale_props(category, &variation, &built)
            .map_err(|(code, sku, message)| detail_error(code, &sku, "saleProp", &message))?;
        let item_id = 6_700_000_000 + state.next_number() as i64;
        let sku_list = sku_list(item_id, &built);
        let now = self.now();
        state.products.insert(
            item_id,
            Product {
                item_id,
                category,
                name,
                description,
                attributes: other_attributes(attributes),
                images,
                variation,
                created: std::time::Instant::now(),
                status: PENDING_QC.into(),
                created_time: now,
                updated_time: now,
                skus: built,
            },
        );
        // `product-api/createproduct.json` quotes the ids as strings.
        Ok(
            json!({ "item_id": item_id.to_string(), "sku_list": sku_list, "item_status": PENDING_QC }),
        )
    }

    /// `/product/create` with `AssociatedSku`: the SKUs join the product that
    /// carries that SellerSku, checked as a create's SKUs are and, with the
    /// product's own, against its variation (the request may declare more
    /// options: they are added to the product's) and for one sale-prop set
    /// with distinct values. The product keeps its category, name,
    /// attributes, images and QC status: any given in the request are
    /// ignored. The answer is a create's, listing the new SKUs only.
    fn associate(&self, anchor: &str, product: &Value) -> Result<Value, LazadaError> {
        let now = self.now();
        let mut state = self.state();
        let (item_id, category, existing, declared) = state
            .find_sku(anchor)
            .filter(|(p, _)| p.status != DELETED)
            .map(|(p, _)| (p.item_id, p.category, p.skus.clone(), p.variation.clone()))
            .ok_or_else(|| {
                detail_error(
                    "207",
                    anchor,
                    "AssociatedSku",
                    "AssociatedSku does not exist.",
                )
            })?;
        let asked = read_variation(category, &product["variation"], "500")?;
        let variation = merge_variation(declared, asked, "500")?;
        let built = build_skus(&mut state, &list(&product["Skus"]["Sku"]))?;
        let all: Vec<Sku> = existing.into_iter().chain(built.iter().cloned()).collect();
        check_sale_props(category, &variation, &all)
            .map_err(|(code, sku, message)| detail_error(code, &sku, "saleProp", &message))?;
        let sku_list = sku_list(item_id, &built);
        let stored = state
            .products
            .get_mut(&item_id)
            .ok_or_else(|| fail("E0208", "Item does not exist."))?;
        stored.skus.extend(built);
        stored.variation = variation;
        stored.updated_time = now;
        let item_status = stored
            .status_at(std::time::Instant::now(), self.config.qc_delay)
            .to_string();
        Ok(
            json!({ "item_id": item_id.to_string(), "sku_list": sku_list, "item_status": item_status }),
        )
    }

    fn update(&self, payload: &Value) -> Result<Value, LazadaError> {
        let product = &payload["Request"]["Product"];
        let item_id = number(&product["ItemId"]).unwrap_or(0.0) as i64;
        let name = text(&product["Attributes"]["name"]);
        let description = text(&product["Attributes"]["description"]);
        let attributes = other_attributes(&product["Attributes"]);
        let images: Vec<String> = list(&product["Images"]["Image"])
            .iter()
            .filter_map(text)
            .collect();
        let now = self.now();
        let mut state = self.state();
        // Everything is checked before anything changes: an update applies whole or not at all.
        if name
            .as_ref()
            .is_some_and(|n| n.trim().is_empty() || n.chars().count() > 255)
        {
            return Err(fail("501", "name is required, at most 255 characters."));
        }
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 25_000)
        {
            return Err(fail("501", "description is at most 25,000 characters."));
        }
        if images.len() > 8 || images.iter().any(|i| !state.images.contains(i)) {
            return Err(fail("501", "At most 8 images, all hosted by Lazada."));
        }
        let stored = state
            .products
            .get_mut(&item_id)
            .filter(|p| p.status != DELETED)
            .ok_or_else(|| fail("E0208", "Item does not exist."))?;
        let asked = read_variation(stored.category, &product["variation"], "501")?;
        let variation = merge_variation(stored.variation.clone(), asked, "501")?;
        let mut skus = stored.skus.clone();
        for sku in list(&product["Skus"]["Sku"]) {
            update_sku(&mut skus, &sku)?;
        }
        check_sale_props(stored.category, &variation, &skus)
            .map_err(|(code, sku, message)| update_error(code, &sku, "saleProp", &message))?;
        if let Some(name) = name {
            stored.name = name;
        }
        if let Some(description) = description {
            stored.description = description;
        }
        stored.attributes.extend(attributes);
        if !images.is_empty() {
            stored.images = images;
        }
        stored.variation = variation;
        stored.skus = skus;
        stored.updated_time = now;
        Ok(
            json!({ "item_status": stored.status_at(std::time::Instant::now(), self.config.qc_delay) }),
        )
    }

    /// `/product/stock/sellable/update` (sellable = given) or
    /// `/product/price_quantity/update` (real stock and/or price), up to 50
    /// SKUs of any products. SKUs refused are named in `detail`; the others apply.
    fn stock_update(&self, payload: &Value, sellable: bool) -> Result<Value, LazadaError> {
        let skus = list(&payload["Request"]["Product"]["Skus"]["Sku"]);
        if skus.is_empty() {
            return Err(fail("MissingParameter", "No SKU given."));
        }
        if skus.len() > 50 {
            return Err(fail("E204", "Too many SKU."));
        }
        let now = self.now();
        let mut state = self.state();
        let mut refused = Vec::new();
        for sku in &skus {
            let seller_sku = text(&sku["SellerSku"]).unwrap_or_default();
            let item_id = number(&sku["ItemId"]).unwrap_or(0.0) as i64;
            let sku_id = number(&sku["SkuId"]).unwrap_or(0.0) as i64;
            let Some(product) = state
                .products
                .get_mut(&item_id)
                .filter(|p| p.status != DELETED)
            else {
                refused.push(json!({ "seller_sku": seller_sku, "code": "208", "field": "ItemId", "message": "Item does not exist." }));
                continue;
            };
            let Some(target) = product.skus.iter_mut().find(|s| s.sku_id == sku_id) else {
                refused.push(json!({ "seller_sku": seller_sku, "code": "207", "field": "SkuId", "message": "SKU does not exist." }));
                continue;
            };
            match apply(target, sku, sellable) {
                Ok(()) => product.updated_time = now,
                Err((code, field, message)) => refused.push(json!({ "seller_sku": seller_sku, "code": code, "field": field, "message": message })),
            }
        }
        if refused.is_empty() {
            Ok(json!({}))
        } else {
            Err(LazadaError {
                code: "501",
                message: "Some SKUs were not updated.".into(),
                detail: Some(Value::Array(refused)),
            })
        }
    }

    fn products(&self, params: &HashMap<String, String>) -> Result<Value, LazadaError> {
        let limit: usize = params
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(20);
        if !(1..=50).contains(&limit) {
            return Err(fail("E019", "Invalid limit: at most 50."));
        }
        let offset: usize = params
            .get("offset")
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        if offset > 10_000 {
            return Err(fail("E014", "Invalid offset: at most 10000."));
        }
        let filter = params.get("filter").map_or("all", String::as_str);
        let after = match params.get("update_after") {
            Some(text) => {
                Some(parse_time(text).ok_or_else(|| fail("E017", "Invalid update_after."))?)
            }
            None => None,
        };
        let wanted: Option<Vec<String>> = match params.get("sku_seller_list") {
            Some(raw) => {
                let list: Vec<String> = serde_json::from_str(raw)
                    .map_err(|_| fail("InvalidParameter", "sku_seller_list is a JSON array."))?;
                if list.len() > 100 {
                    return Err(fail(
                        "InvalidParameter",
                        "sku_seller_list holds at most 100 SKUs.",
                    ));
                }
                Some(list)
            }
            None => None,
        };
        let now = std::time::Instant::now();
        let state = self.state();
        let mut matching: Vec<&Product> = state
            .products
            .values()
            .filter(|p| {
                // The filter words of `product-api/getproducts.json`.
                let status = p.status_at(now, self.config.qc_delay);
                match filter {
                    "all" => status != DELETED,
                    "live" => status == ACTIVE,
                    "inactive" => status == INACTIVE,
                    "deleted" => status == DELETED,
                    "pending" => status == PENDING_QC,
                    "sold-out" => status == ACTIVE && p.skus.iter().all(|s| s.sellable() <= 0),
                    // The sandbox's QC never rejects.
                    _ => false,
                }
            })
            .filter(|p| after.is_none_or(|a| whole_second(p.updated_time) >= a))
            .filter(|p| {
                wanted
                    .as_ref()
                    .is_none_or(|w| p.skus.iter().any(|s| w.contains(&s.seller_sku)))
            })
            .collect();
        matching.sort_by_key(|p| (p.updated_time, p.item_id));
        let page: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(limit)
            .map(|p| Memory::product_json(p, now, self.config.qc_delay))
            .collect();
        // `total_products` is quoted in `product-api/getproducts.json`.
        Ok(json!({ "total_products": matching.len().to_string(), "products": page }))
    }

    fn product_item(&self, params: &HashMap<String, String>) -> Result<Value, LazadaError> {
        let item_id: i64 = params
            .get("item_id")
            .and_then(|i| i.parse().ok())
            .unwrap_or(0);
        let state = self.state();
        let product = state
            .products
            .get(&item_id)
            .ok_or_else(|| fail("E0208", "Item does not exist."))?;
        Ok(Memory::product_json(
            product,
            std::time::Instant::now(),
            self.config.qc_delay,
        ))
    }

    fn orders(&self, params: &HashMap<String, String>) -> Result<Value, LazadaError> {
        let time = |name: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, LazadaError> {
            match params.get(name) {
                None => Ok(None),
                Some(text) => parse_time(text)
                    .map(Some)
                    .ok_or_else(|| fail("E017", format!("Invalid {name}."))),
            }
        };
        let (update_after, created_after) = (time("update_after")?, time("created_after")?);
        if update_after.is_none() && created_after.is_none() {
            return Err(fail(
                "MissingParameter",
                "One of created_after or update_after is required.",
            ));
        }
        let update_before = time("update_before")?;
        let limit: usize = params
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(100);
        if !(1..=100).contains(&limit) {
            return Err(fail("E019", "Invalid limit: at most 100."));
        }
        let offset: usize = params
            .get("offset")
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        if offset > 5_000 {
            return Err(fail("E014", "Invalid offset: at most 5000."));
        }
        let state = self.state();
        let mut matching: Vec<&super::state::Order> = state
            .orders
            .values()
            .filter(|o| update_after.is_none_or(|a| whole_second(o.updated_at) >= a))
            .filter(|o| update_before.is_none_or(|b| whole_second(o.updated_at) <= b))
            .filter(|o| created_after.is_none_or(|a| whole_second(o.created_at) >= a))
            .collect();
        let descending = params.get("sort_direction").map(String::as_str) == Some("DESC");
        if params.get("sort_by").map(String::as_str) == Some("updated_at") {
            matching.sort_by_key(|o| (o.updated_at, o.order_id.clone()));
        } else {
            matching.sort_by_key(|o| (o.created_at, o.order_id.clone()));
        }
        if descending {
            matching.reverse();
        }
        let page: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(limit)
            .map(|o| {
                let mut statuses: Vec<&str> = o.items.iter().map(|i| i.status.as_str()).collect();
                statuses.sort();
                statuses.dedup();
                let price: i64 = o.items.iter().map(|i| i.price).sum();
                // The shape of `order-api/getorders.json`: ids, counts and
                // amounts as strings, times in RFC 3339.
                json!({
                    "order_id": o.order_id,
                    "order_number": o.order_id,
                    "statuses": statuses,
                    "created_at": order_time(o.created_at),
                    "updated_at": order_time(o.updated_at),
                    "items_count": o.items.len().to_string(),
                    "price": format!("{price}.00"),
                    "voucher": "0.00",
                    "shipping_fee": "0.00",
                    "payment_method": "COD",
                    "warehouse_code": "dropshipping",
                })
            })
            .collect();
        Ok(
            json!({ "count": page.len().to_string(), "countTotal": matching.len().to_string(), "orders": page }),
        )
    }

    fn order_items(&self, params: &HashMap<String, String>) -> Result<Value, LazadaError> {
        let raw = params.get("order_ids").cloned().unwrap_or_default();
        let ids: Vec<Value> = serde_json::from_str(&raw)
            .map_err(|_| fail("E016", "order_ids is a JSON array of order ids."))?;
        if ids.is_empty() || ids.len() > 50 {
            return Err(fail("E016", "Between 1 and 50 order ids."));
        }
        let state = self.state();
        let orders: Vec<Value> = ids
            .iter()
            .filter_map(|id| state.orders.get(&text(id).unwrap_or_default()))
            .map(|o| {
                json!({
                    "order_id": o.order_id,
                    "order_number": o.order_id,
                    "order_items": o.items.iter().map(|i| item_json(&o.order_id, i)).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok(Value::Array(orders))
    }
}

/// An order item as `order-api/getmultipleorderitems.json` shows it: ids and
/// amounts as strings, `created_at`/`updated_at` in epoch milliseconds.
fn item_json(order_id: &str, item: &OrderItem) -> Value {
    let mut json = json!({
        "order_item_id": item.order_item_id,
        "order_id": order_id,
        "sku": item.seller_sku,
        "shop_sku": shop_sku(item.item_id, item.sku_id),
        "sku_id": item.sku_id.to_string(),
        "product_id": item.item_id.to_string(),
        "status": item.status,
        "item_price": format!("{}.00", item.price),
        "paid_price": format!("{}.00", item.price),
        "warehouse_code": "dropshipping",
        "is_fbl": "0",
        "created_at": millis_text(item.created_at),
        "updated_at": millis_text(item.updated_at),
    });
    if let Some(reverse) = &item.reverse_order_id {
        json["reverse_order_id"] = json!(reverse);
    }
    json
}

/// Applies one SKU's stock or price; `Err((code, field, message))` refuses it.
fn apply(
    target: &mut Sku,
    sku: &Value,
    sellable: bool,
) -> Result<(), (&'static str, &'static str, String)> {
    let held = target.withheld + target.occupied;
    if sellable {
        let quantity = number(&sku["SellableQuantity"]).ok_or((
            "MissingParameter",
            "SellableQuantity",
            "SellableQuantity is required.".to_string(),
        ))?;
        if quantity < 0.0 || quantity.fract() != 0.0 {
            return Err((
                "212",
                "SellableQuantity",
                "Sellable quantity cannot be negative.".into(),
            ));
        }
        if quantity > MAX_STOCK {
            return Err((
                "500",
                "SellableQuantity",
                "Sellable quantity is too large.".into(),
            ));
        }
        target.real = quantity as i64 + held;
        return Ok(());
    }
    let price = match sku.get("Price") {
        Some(price) => Some(whole_price(price).map_err(|code| {
            (
                code,
                "Price",
                "Price must be a whole number above 0 for VN.".to_string(),
            )
        })?),
        None => None,
    };
    let quantity = match sku.get("Quantity") {
        Some(q) => {
            let q = number(q).ok_or(("500", "Quantity", "Quantity is a number.".to_string()))?;
            if q > MAX_STOCK {
                return Err(("500", "Quantity", "Quantity is too large.".into()));
            }
            if q < 0.0 || (q as i64) < held {
                return Err((
                    "500",
                    "Quantity",
                    format!("Quantity must be at least the {held} units held by orders."),
                ));
            }
            Some(q as i64)
        }
        None => None,
    };
    if price.is_none() && quantity.is_none() {
        return Err((
            "MissingParameter",
            "Price",
            "Price or Quantity is required.".into(),
        ));
    }
    if let Some(price) = price {
        target.price = price;
    }
    if let Some(quantity) = quantity {
        target.real = quantity;
    }
    Ok(())
}

/// A create's `sku_list`: the SKUs it made, ids as strings as in
/// `product-api/createproduct.json`.
fn sku_list(item_id: i64, built: &[Sku]) -> Vec<Value> {
    built
        .iter()
        .map(|s| json!({ "seller_sku": s.seller_sku, "shop_sku": shop_sku(item_id, s.sku_id), "sku_id": s.sku_id.to_string() }))
        .collect()
}

/// The brand: a `brand` name ("No Brand", as every sample of
/// `product-api/createproduct.json` sends it, though the guide
/// `create-a-product.md` calls it deprecated) or a `brand_id`, which must be
/// an id (4142 `THD_BRAND_ID_IS_NOT_VALID_IN_CATEGORY` otherwise). Whether
/// one is there at all is the mandatory-attribute check's (`brand`).
fn check_brand(attributes: &Value) -> Result<(), LazadaError> {
    match text(&attributes["brand_id"]) {
        Some(id) if !id.trim().is_empty() && !id.trim().bytes().all(|b| b.is_ascii_digit()) => {
            Err(failure_with_detail(
                "500",
                "Create product failed.",
                json!({ "code": "4142", "field": "brand_id", "message": "The brand is invalid in the category." }),
            ))
        }
        _ => Ok(()),
    }
}

/// A boolean written as `true` or `"true"`.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(yes) => *yes,
        Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// `Product.variation` checked as the guide `custom-sales-attributes.md`
/// lists its errors: at most 2 (`VARIATION_SIZE_LIMIT`), each with a name of
/// 1–15 characters, distinct (`VARIATION_NAME_*`), `hasImage` on
/// `variation1` only, 1–50 distinct options of 1–20 characters
/// (`VARIATION_OPTION*`, `OPTIONS_SIZE_LIMIT`), and a non-custom one must be
/// a standard sale prop of the category (`VARIATION_CATEGORY_ATTRIBUTE_INVALID`).
/// Options are read as `options.option[]` (the request shape) or `options[]`.
fn read_variation(
    category: i64,
    value: &Value,
    top: &'static str,
) -> Result<Vec<Variation>, LazadaError> {
    let refuse = |(code, message): (&str, String)| {
        failure_with_detail(
            top,
            "Invalid variation.",
            json!({ "code": code, "field": "variation", "message": message }),
        )
    };
    let entries = variation_nodes(value).map_err(refuse)?;
    if entries.len() > 2 {
        return Err(refuse((
            "VARIATION_SIZE_LIMIT",
            "The Variations Size Exceeds Maximum Size Limit, The Size Limit is: 2 .".into(),
        )));
    }
    let mut declared: Vec<Variation> = Vec::new();
    for (n, entry) in entries {
        let variation = read_variation_node(category, n, entry).map_err(refuse)?;
        if declared.iter().any(|d| d.name == variation.name) {
            return Err(refuse((
                "VARIATION_NAME_DUPLICATE",
                format!(
                    "The Variation Name Is Duplicate, The Variation Node is: Variation{n} , The Duplicate Name is: {}",
                    variation.name
                ),
            )));
        }
        declared.push(variation);
    }
    Ok(declared)
}

/// A refusal: the guide's error code and message.
type Refusal = (&'static str, String);

/// `variation`'s nodes in order (`variation1`, `variation2`, …; any case).
fn variation_nodes(value: &Value) -> Result<Vec<(u32, &Value)>, Refusal> {
    match value {
        Value::Object(fields) => {
            let mut entries = Vec::new();
            for (key, entry) in fields {
                let n = key
                    .to_ascii_lowercase()
                    .strip_prefix("variation")
                    .and_then(|n| n.parse::<u32>().ok())
                    .ok_or_else(|| ("VARIATION_EMPTY", format!("Unknown node {key}.")))?;
                entries.push((n, entry));
            }
            entries.sort_by_key(|(n, _)| *n);
            Ok(entries)
        }
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.trim().is_empty() => Ok(Vec::new()),
        _ => Err(("VARIATION_EMPTY", "The Variation is Empty".into())),
    }
}

/// One node, `VariationN`.
fn read_variation_node(category: i64, n: u32, entry: &Value) -> Result<Variation, Refusal> {
    let node = format!("Variation{n}");
    if entry.as_object().is_none_or(|e| e.is_empty()) {
        return Err((
            "VARIATION_CONTENT_EMPTY",
            format!("The Variation Content is Empty, The Variation Node is: {node}"),
        ));
    }
    let name = text(&entry["name"]).unwrap_or_default();
    if name.trim().is_empty() {
        return Err((
            "VARIATION_NAME_EMPTY",
            format!("The Variation Name is Empty, The Variation Node is: {node}"),
        ));
    }
    if name.chars().count() > 15 {
        return Err((
            "VARIATION_NAME_LENGTH_LIMIT",
            format!(
                "The Variation Name's Content Exceeds Maximum Length Limit, The Variation Node is: {node} , The Length Limit is: 15, The Name is: {name}"
            ),
        ));
    }
    let has_image = truthy(&entry["hasImage"]);
    if has_image && n != 1 {
        return Err((
            "VARIATION_IMAGE_MUST_SET_VARIATION1",
            format!("Only Variation1 Can set hasImage to true, The Variation Node is: {node}"),
        ));
    }
    let customize = truthy(&entry["customize"]);
    if !customize && standard_sale_prop(category, &name).is_none() {
        return Err((
            "VARIATION_CATEGORY_ATTRIBUTE_INVALID",
            format!("This attribute {name} is not found in the category attribute library."),
        ));
    }
    let options = read_options(&entry["options"]).map_err(|(code, message)| {
        (
            code,
            format!("{message}, The Variation Node is: {node} , The Name is: {name}"),
        )
    })?;
    Ok(Variation {
        name,
        has_image,
        customize,
        options,
    })
}

fn read_options(value: &Value) -> Result<Vec<String>, Refusal> {
    let raw = match value.get("option") {
        Some(options) => list(options),
        None => list(value),
    };
    if raw.is_empty() {
        return Err((
            "VARIATION_OPTIONS_EMPTY",
            "The Variation Options Is Empty".into(),
        ));
    }
    if raw.len() > 50 {
        return Err((
            "OPTIONS_SIZE_LIMIT",
            "The Variation Options Exceeds Maximum Size Limit, The Size Limit is: 50".into(),
        ));
    }
    let mut options: Vec<String> = Vec::new();
    for option in raw.iter().map(|o| text(o).unwrap_or_default()) {
        if option.trim().is_empty() {
            return Err((
                "VARIATION_OPTION_EMPTY",
                "The Variation Option Is Empty".into(),
            ));
        }
        if option.chars().count() > 20 {
            return Err((
                "VARIATION_OPTION_LENGTH_LIMIT",
                format!(
                    "The Variation Name's Content Exceeds Maximum Length Limit, The Length Limit is: 20, The Option is: {option}"
                ),
            ));
        }
        if options.contains(&option) {
            return Err((
                "VARIATION_OPTION_DUPLICATE",
                format!("The Variation Option Is Duplicate, The Duplicate Option is: {option}"),
            ));
        }
        options.push(option);
    }
    Ok(options)
}

/// A product's declaration with a request's: options of a name declared
/// again are added (an update or `AssociatedSku` declares the new SKUs'
/// values), new names are appended, still at most 2. The sandbox's choice:
/// the guide does not say whether a declaration replaces the product's.
fn merge_variation(
    mut declared: Vec<Variation>,
    asked: Vec<Variation>,
    top: &'static str,
) -> Result<Vec<Variation>, LazadaError> {
    for variation in asked {
        match declared.iter_mut().find(|d| d.name == variation.name) {
            Some(known) => {
                for option in variation.options {
                    if !known.options.contains(&option) {
                        known.options.push(option);
                    }
                }
            }
            None => declared.push(variation),
        }
    }
    if declared.len() > 2 {
        return Err(failure_with_detail(
            top,
            "Invalid variation.",
            json!({ "code": "VARIATION_SIZE_LIMIT", "field": "variation", "message": "The Variations Size Exceeds Maximum Size Limit, The Size Limit is: 2 ." }),
        ));
    }
    if declared.iter().any(|d| d.options.len() > 50) {
        return Err(failure_with_detail(
            top,
            "Invalid variation.",
            json!({ "code": "OPTIONS_SIZE_LIMIT", "field": "variation", "message": "The Variation Options Exceeds Maximum Size Limit, The Size Limit is: 50" }),
        ));
    }
    Ok(declared)
}

/// One SKU entry of an update applied to a copy of the product's SKUs: found
/// by `SkuId`, SellerSku unchanged, `Status` and `saleProp` taken.
fn update_sku(skus: &mut [Sku], sku: &Value) -> Result<(), LazadaError> {
    let sku_id = number(&sku["SkuId"]).unwrap_or(0.0) as i64;
    let seller_sku = text(&sku["SellerSku"]).unwrap_or_default();
    let Some(target) = skus.iter_mut().find(|s| s.sku_id == sku_id) else {
        return Err(update_error(
            "207",
            &seller_sku,
            "SkuId",
            "SKU does not exist.",
        ));
    };
    if !seller_sku.is_empty() && seller_sku != target.seller_sku {
        return Err(update_error(
            "501",
            &seller_sku,
            "SellerSku",
            "SellerSku cannot be changed.",
        ));
    }
    match text(&sku["Status"]).as_deref() {
        None => {}
        Some(status @ ("active" | "inactive" | "deleted")) => target.status = status.to_string(),
        Some(_) => {
            return Err(update_error(
                "501",
                &seller_sku,
                "Status",
                "Status is active, inactive or deleted.",
            ));
        }
    }
    if sku["saleProp"].is_object() {
        target.sale_props = sale_props_of(sku);
    }
    Ok(())
}

/// The SKUs of a create (1–50), checked whole before any is kept: SellerSku
/// unique in the shop, whole prices, package weight.
fn build_skus(state: &mut Memory, skus: &[Value]) -> Result<Vec<Sku>, LazadaError> {
    if skus.is_empty() {
        return Err(fail("500", "At least one SKU is required."));
    }
    if skus.len() > 50 {
        return Err(fail("E204", "Too many SKU."));
    }
    let mut built: Vec<Sku> = Vec::new();
    for sku in skus {
        let mut new = read_sku(state, sku, &built)?;
        new.sku_id = 12_000_000_000 + state.next_number() as i64;
        built.push(new);
    }
    Ok(built)
}

fn sale_props_of(sku: &Value) -> BTreeMap<String, String> {
    sku["saleProp"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// One SKU of a create, its id not yet allocated.
fn read_sku(state: &mut Memory, sku: &Value, built: &[Sku]) -> Result<Sku, LazadaError> {
    let seller_sku = text(&sku["SellerSku"]).unwrap_or_default();
    if seller_sku.is_empty() {
        return Err(fail("500", "SellerSku is required."));
    }
    if state.find_sku(&seller_sku).is_some() || built.iter().any(|b| b.seller_sku == seller_sku) {
        return Err(detail_error(
            "4105",
            &seller_sku,
            "SellerSku",
            "SellerSku is duplicate.",
        ));
    }
    let price = whole_price(&sku["price"]).map_err(|code| {
        detail_error(
            code,
            &seller_sku,
            "price",
            "Price must be a whole number above 0 for VN.",
        )
    })?;
    let quantity = number(&sku["quantity"]).unwrap_or(0.0);
    if !(0.0..=MAX_STOCK).contains(&quantity) {
        return Err(detail_error(
            "500",
            &seller_sku,
            "quantity",
            "quantity cannot be negative.",
        ));
    }
    let weight = number(&sku["package_weight"]).unwrap_or(0.0);
    if weight <= 0.0 {
        return Err(detail_error(
            "500",
            &seller_sku,
            "package_weight",
            "package_weight is required.",
        ));
    }
    Ok(Sku {
        sku_id: 0,
        seller_sku,
        sale_props: sale_props_of(sku),
        price,
        real: quantity as i64,
        withheld: 0,
        occupied: 0,
        status: "active".into(),
    })
}

/// A product's SKUs against its declared variation and category. Per SKU, at
/// most 2 sale props (`BIZ_CHECK_TOTAL_SALE_PROP_MAX_ITEMS`); a declared one
/// only with a declared option (`SKU_VARIATION_OPTION_NOT_EXIST`); an
/// undeclared one only if it is a standard sale prop of the category (4143
/// `BIZ_CHECK_SALEPROP_ATTRIBUTE_INVALID`: "The selling attributes are not
/// defined in the variation"); every declared one present
/// (`SKU_VARIATION_NAME_MISSING`; guide `custom-sales-attributes.md`). Across
/// SKUs, one set of names (4113 `CHK_SKU_PROPS_NOT_IDENTICAL`) and never the
/// same values twice (4112 `CHK_SKU_PROPS_DUPLICATE`;
/// `product-api/createproduct.json`). `Err((code, SellerSku, message))`.
fn check_sale_props(
    category: i64,
    declared: &[Variation],
    skus: &[Sku],
) -> Result<(), (&'static str, String, String)> {
    for sku in skus {
        check_sku_props(category, declared, sku)
            .map_err(|(code, message)| (code, sku.seller_sku.clone(), message))?;
    }
    let names = |sku: &Sku| sku.sale_props.keys().cloned().collect::<Vec<_>>();
    for (i, sku) in skus.iter().enumerate() {
        for other in &skus[..i] {
            if names(other) != names(sku) {
                return Err((
                    "4113",
                    sku.seller_sku.clone(),
                    "All SKUs of a product must fill in the same sales attributes.".into(),
                ));
            }
            if other.sale_props == sku.sale_props {
                return Err((
                    "4112",
                    sku.seller_sku.clone(),
                    format!(
                        "The values of variant attributes are duplicated between SKUs {} and {}.",
                        other.seller_sku, sku.seller_sku
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// One SKU's `saleProp` against the declared variation and the category.
fn check_sku_props(category: i64, declared: &[Variation], sku: &Sku) -> Result<(), Refusal> {
    if sku.sale_props.len() > 2 {
        return Err((
            "BIZ_CHECK_TOTAL_SALE_PROP_MAX_ITEMS",
            "At most 2 sale properties.".into(),
        ));
    }
    for (name, value) in &sku.sale_props {
        match declared.iter().find(|d| &d.name == name) {
            Some(d) if !d.options.contains(value) => {
                return Err((
                    "SKU_VARIATION_OPTION_NOT_EXIST",
                    format!(
                        "The SKU Variation Option is Not Exist, The SellerSKU is: {} , The SKU Variation Name is: {name} , The SKU Variation Option is: {value}",
                        sku.seller_sku
                    ),
                ));
            }
            Some(_) => {}
            None if standard_sale_prop(category, name).is_some() => {}
            None => {
                return Err((
                    "4143",
                    format!("The selling attributes are not defined in the variation: {name}"),
                ));
            }
        }
    }
    match declared
        .iter()
        .find(|d| !sku.sale_props.contains_key(&d.name))
    {
        Some(missing) => Err((
            "SKU_VARIATION_NAME_MISSING",
            format!(
                "The SKU Variation Name is Missing, The SellerSKU is: {} , The Missing SKU Variation Name is: {}",
                sku.seller_sku, missing.name
            ),
        )),
        None => Ok(()),
    }
}

/// A create failure (500) with the business code in `detail`, as Lazada answers.
fn detail_error(code: &str, seller_sku: &str, field: &str, message: &str) -> LazadaError {
    failure_with_detail(
        "500",
        "Create product failed.",
        json!({ "seller_sku": seller_sku, "code": code, "field": field, "message": message }),
    )
}

/// A create failure (500) naming the mandatory attribute left out in
/// `detail`. Lazada's business code for it is unknown, so the entry has none.
fn attribute_error(category: i64, attribute: &Attribute) -> LazadaError {
    let message = format!(
        "{} ({}) is mandatory in category {category}.",
        attribute.name, attribute.label
    );
    failure_with_detail(
        "500",
        "Create product failed.",
        json!({ "field": attribute.name, "message": message }),
    )
}

/// An update failure (501) with the business code in `detail`.
fn update_error(code: &str, seller_sku: &str, field: &str, message: &str) -> LazadaError {
    failure_with_detail(
        "501",
        "Update product failed.",
        json!({ "seller_sku": seller_sku, "code": code, "field": field, "message": message }),
    )
}

fn failure_with_detail(top: &'static str, summary: &str, entry: Value) -> LazadaError {
    LazadaError {
        code: top,
        message: summary.to_string(),
        detail: Some(json!([entry])),
    }
}

/// The most one SKU may hold in the sandbox.
const MAX_STOCK: f64 = 1_000_000.0;

#[cfg(test)]
mod tests {
    use super::super::SandboxConfig;
    use super::*;

    fn sku(seller_sku: &str, size: Option<&str>) -> Value {
        let mut sku = json!({ "SellerSku": seller_sku, "price": "65000", "quantity": "4", "package_weight": "0.52" });
        if let Some(size) = size {
            sku["saleProp"] = json!({ "size": size });
        }
        sku
    }

    /// A sandbox holding one product with SKUs A (size S) and B (size M).
    fn with_product() -> (Arc<LazadaSandbox>, i64) {
        let sandbox = LazadaSandbox::new(SandboxConfig::default());
        let image = sandbox.host_image()["url"].clone();
        let created = sandbox.create(&json!({ "Request": { "Product": {
            "PrimaryCategory": "10000151",
            "Images": { "Image": [image] },
            "Attributes": { "name": "Miến dong", "description": "d", "brand_id": "94125" },
            "Skus": { "Sku": [sku("A", Some("S")), sku("B", Some("M"))] },
        } } }));
        let item_id = created
            .ok()
            .and_then(|c| c["item_id"].as_str()?.parse().ok())
            .unwrap_or(0);
        (sandbox, item_id)
    }

    fn associate(
        sandbox: &LazadaSandbox,
        anchor: &str,
        skus: Vec<Value>,
    ) -> Result<Value, LazadaError> {
        sandbox.create(&json!({ "Request": { "Product": {
            "AssociatedSku": anchor,
            "PrimaryCategory": "10000152",
            "Attributes": { "name": "ignored" },
            "Skus": { "Sku": skus },
        } } }))
    }

    fn business_code(err: &LazadaError) -> Option<String> {
        err.detail.as_ref()?[0]["code"].as_str().map(str::to_string)
    }

    #[test]
    fn associated_skus_join_the_product_and_keep_its_content() {
        let (sandbox, item_id) = with_product();
        let answer = associate(&sandbox, "B", vec![sku("C", Some("L"))]).unwrap_or_default();
        assert_eq!(answer["item_id"], item_id.to_string());
        assert_eq!(answer["sku_list"].as_array().map(Vec::len), Some(1));
        assert_eq!(answer["sku_list"][0]["seller_sku"], "C");
        let state = sandbox.state();
        let product = &state.products[&item_id];
        assert_eq!(
            (product.category, product.name.as_str()),
            (10_000_151, "Miến dong")
        );
        assert_eq!(product.skus.len(), 3);
        assert_eq!(state.products.len(), 1);
    }

    #[test]
    fn associating_is_refused_for_an_unknown_sku_other_axes_repeated_values_or_a_taken_sku() {
        let (sandbox, _) = with_product();
        let refused = |anchor: &str, skus: Vec<Value>| {
            associate(&sandbox, anchor, skus)
                .err()
                .map(|err| (err.code, business_code(&err)))
        };
        let code = |c: &str| Some(("500", Some(c.to_string())));
        assert_eq!(refused("NOPE", vec![sku("C", Some("L"))]), code("207"));
        assert_eq!(refused("A", vec![sku("C", None)]), code("4113"));
        assert_eq!(refused("A", vec![sku("C", Some("M"))]), code("4112"));
        assert_eq!(refused("A", vec![sku("B", Some("L"))]), code("4105"));
        assert_eq!(
            sandbox.state().find_sku("C").map(|(p, _)| p.skus.len()),
            None
        );
    }

    /// A create of two SKUs varying by the custom sale prop "Khối lượng",
    /// declared by `variation` (or not, when `None`).
    fn create_custom(
        sandbox: &LazadaSandbox,
        variation: Option<Value>,
    ) -> Result<Value, LazadaError> {
        let image = sandbox.host_image()["url"].clone();
        let weighed = |seller_sku: &str, weight: &str| {
            let mut sku = sku(seller_sku, None);
            sku["saleProp"] = json!({ "Khối lượng": weight });
            sku
        };
        let mut product = json!({
            "PrimaryCategory": "10000151",
            "Images": { "Image": [image] },
            "Attributes": { "name": "Miến dong", "description": "d", "brand": "No Brand" },
            "Skus": { "Sku": [weighed("K1", "500 g"), weighed("K2", "1 kg")] },
        });
        if let Some(variation) = variation {
            product["variation"] = variation;
        }
        sandbox.create(&json!({ "Request": { "Product": product } }))
    }

    fn declared(name: &str, options: Vec<String>) -> Value {
        json!({ "variation1": { "name": name, "hasImage": false, "customize": true, "options": { "option": options } } })
    }

    #[test]
    fn custom_sale_props_must_be_declared_within_lazadas_limits() {
        let refused = |variation: Option<Value>| {
            let sandbox = LazadaSandbox::new(SandboxConfig::default());
            create_custom(&sandbox, variation)
                .err()
                .and_then(|e| business_code(&e))
        };
        let weights = || vec!["500 g".to_string(), "1 kg".to_string()];
        assert_eq!(refused(None).as_deref(), Some("4143"));
        assert_eq!(
            refused(Some(declared("Khối lượng", weights()))),
            None,
            "declared: created"
        );
        assert_eq!(
            refused(Some(declared("Khối lượng tịnh của gói", weights()))).as_deref(),
            Some("VARIATION_NAME_LENGTH_LIMIT")
        );
        assert_eq!(
            refused(Some(declared("Khối lượng", vec!["500 g".into()]))).as_deref(),
            Some("SKU_VARIATION_OPTION_NOT_EXIST")
        );
        let long = vec![
            "500 g".into(),
            "1 kg".into(),
            "một bao hai mươi lăm ký".into(),
        ];
        assert_eq!(
            refused(Some(declared("Khối lượng", long))).as_deref(),
            Some("VARIATION_OPTION_LENGTH_LIMIT")
        );
        let many: Vec<String> = (0..51).map(|n| format!("{n} g")).collect();
        assert_eq!(
            refused(Some(declared("Khối lượng", many))).as_deref(),
            Some("OPTIONS_SIZE_LIMIT")
        );
        let mut two = declared("Khối lượng", weights());
        two["variation2"] = json!({ "name": "Đóng gói", "hasImage": false, "customize": true, "options": { "option": ["Túi"] } });
        assert_eq!(
            refused(Some(two)).as_deref(),
            Some("SKU_VARIATION_NAME_MISSING")
        );
        let standard = json!({ "variation1": { "name": "Khối lượng", "hasImage": false, "customize": false, "options": { "option": weights() } } });
        assert_eq!(
            refused(Some(standard)).as_deref(),
            Some("VARIATION_CATEGORY_ATTRIBUTE_INVALID")
        );
    }
}
