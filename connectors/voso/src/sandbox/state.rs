//! What the fake Voso holds and the rules of the assumed contract that do
//! not depend on HTTP: product validation, SKU uniqueness, batch items,
//! order life and cursors.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use serde::Deserialize;

/// A product as the contract (README, "Products") describes it: the
/// sandbox's own types, not the connector's, so a shape the client gets
/// wrong is refused here rather than mirrored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: String,
    pub status: String,
    pub name: String,
    pub description: String,
    pub category_id: String,
    pub images: Vec<String>,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variant {
    pub id: String,
    pub sku: String,
    pub options: Vec<String>,
    pub price: i64,
    pub stock: i64,
}

/// The body of `POST /v1/products` and `PUT /v1/products/{id}`: every
/// field the contract names, nothing else.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductWrite {
    pub name: String,
    pub description: String,
    pub category_id: String,
    pub images: Vec<String>,
    pub status: String,
    pub variants: Vec<VariantWrite>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantWrite {
    pub sku: String,
    pub options: Vec<String>,
    pub price: i64,
    pub stock: i64,
}

/// An answer of the error envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "validation",
            message: message.into(),
            field: Some(field.into()),
            retry_after: None,
        }
    }

    pub fn unauthorized(message: &str) -> Self {
        Self {
            status: 401,
            code: "unauthorized",
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            code: "not_found",
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn rate_limited() -> Self {
        Self {
            status: 429,
            code: "rate_limited",
            message: "over 10 calls per second for this shop".into(),
            field: None,
            retry_after: Some(1),
        }
    }
}

pub const MIN_PRICE: i64 = 1000;
pub const MAX_VARIANTS: usize = 50;
pub const MAX_IMAGES: usize = 9;
pub const MAX_BATCH: usize = 50;
pub const ORDER_PAGE: usize = 50;
pub const MAX_ORDER_WINDOW_DAYS: i64 = 7;

#[derive(Debug, Clone, Serialize)]
pub struct OrderLine {
    pub id: String,
    pub sku: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub id: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
}

#[derive(Default)]
pub struct State {
    pub products: BTreeMap<u64, Product>,
    next_product: u64,
    next_variant: u64,
    /// Access token → when it runs out.
    pub tokens: HashMap<String, DateTime<Utc>>,
    pub issued: u64,
    pub revoked: bool,
    pub orders: BTreeMap<u64, Order>,
    next_order: u64,
}

/// Reads and checks a create or update body; `id` is the product updated.
pub fn product_write(body: &Value) -> Result<ProductWrite, ApiError> {
    let write: ProductWrite = serde_json::from_value(body.clone()).map_err(|e| {
        // serde names a missing or unknown field between backticks; other
        // messages quote the offending value there, which is no field name.
        let text = e.to_string();
        let field = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|prefix| text.strip_prefix(prefix))
            .and_then(|rest| rest.split('`').next())
            .filter(|f| !f.is_empty())
            .unwrap_or("body")
            .to_string();
        let why = if text.starts_with("unknown field") {
            "not a field of the contract"
        } else {
            "missing or wrongly typed field"
        };
        ApiError::validation(field, why)
    })?;
    let name_len = write.name.chars().count();
    if !(1..=255).contains(&name_len) {
        return Err(ApiError::validation(
            "name",
            "name must be 1-255 characters",
        ));
    }
    if write.status != "active" && write.status != "inactive" {
        return Err(ApiError::validation(
            "status",
            "status must be active or inactive",
        ));
    }
    if write.images.len() > MAX_IMAGES {
        return Err(ApiError::validation("images", "at most 9 images"));
    }
    if write.variants.is_empty() || write.variants.len() > MAX_VARIANTS {
        return Err(ApiError::validation("variants", "1-50 variants"));
    }
    let mut seen = HashSet::new();
    for (i, v) in write.variants.iter().enumerate() {
        let len = v.sku.chars().count();
        if !(1..=100).contains(&len) {
            return Err(ApiError::validation(
                format!("variants[{i}].sku"),
                "sku must be 1-100 characters",
            ));
        }
        if !seen.insert(v.sku.as_str()) {
            return Err(ApiError::validation(
                format!("variants[{i}].sku"),
                "sku repeated in the request",
            ));
        }
        if v.price < MIN_PRICE {
            return Err(ApiError::validation(
                format!("variants[{i}].price"),
                "price must be at least 1000 VND",
            ));
        }
        if v.stock < 0 {
            return Err(ApiError::validation(
                format!("variants[{i}].stock"),
                "stock must not be negative",
            ));
        }
    }
    Ok(write)
}

impl State {
    pub fn issue_token(&mut self, expires_at: DateTime<Utc>, entropy: u64) -> String {
        self.issued += 1;
        let token = format!("voso_at_{:016x}{:08x}", entropy, self.issued);
        self.tokens.insert(token.clone(), expires_at);
        token
    }

    pub fn product_of(&self, sku: &str) -> Option<&Product> {
        self.products
            .values()
            .find(|p| p.variants.iter().any(|v| v.sku == sku))
    }

    /// What a buyer can buy of `sku` (0 when its product is inactive).
    pub fn buyable(&self, sku: &str) -> Option<i64> {
        self.products.values().find_map(|p| {
            let variant = p.variants.iter().find(|v| v.sku == sku)?;
            Some(if p.status == "active" {
                variant.stock
            } else {
                0
            })
        })
    }

    fn variant_mut(&mut self, sku: &str) -> Option<&mut Variant> {
        self.products
            .values_mut()
            .flat_map(|p| p.variants.iter_mut())
            .find(|v| v.sku == sku)
    }

    /// A SKU of `write` another product than `id` holds.
    fn taken(&self, write: &ProductWrite, id: Option<u64>) -> Option<ApiError> {
        write.variants.iter().enumerate().find_map(|(i, v)| {
            self.products
                .iter()
                .filter(|(other, _)| Some(**other) != id)
                .any(|(_, p)| p.variants.iter().any(|held| held.sku == v.sku))
                .then(|| ApiError {
                    status: 409,
                    code: "duplicate_sku",
                    message: "sku already belongs to another product".into(),
                    field: Some(format!("variants[{i}].sku")),
                    retry_after: None,
                })
        })
    }

    pub fn create(&mut self, write: ProductWrite) -> Result<Product, ApiError> {
        if let Some(err) = self.taken(&write, None) {
            return Err(err);
        }
        self.next_product += 1;
        let id = self.next_product;
        let variants = write
            .variants
            .into_iter()
            .map(|v| {
                self.next_variant += 1;
                Variant {
                    id: format!("v{}", self.next_variant),
                    sku: v.sku,
                    options: v.options,
                    price: v.price,
                    stock: v.stock,
                }
            })
            .collect();
        let product = Product {
            id: id.to_string(),
            status: write.status,
            name: write.name,
            description: write.description,
            category_id: write.category_id,
            images: write.images,
            variants,
        };
        self.products.insert(id, product.clone());
        Ok(product)
    }

    /// Variants matched by SKU: new ones added, missing ones removed, price
    /// and stock of existing ones untouched (the batch endpoints set them).
    pub fn update(&mut self, id: u64, write: ProductWrite) -> Result<Product, ApiError> {
        if !self.products.contains_key(&id) {
            return Err(ApiError::not_found("no such product"));
        }
        if let Some(err) = self.taken(&write, Some(id)) {
            return Err(err);
        }
        let mut next_variant = self.next_variant;
        let product = self
            .products
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found("no such product"))?;
        let old = std::mem::take(&mut product.variants);
        product.variants = write
            .variants
            .into_iter()
            .map(|v| match old.iter().find(|o| o.sku == v.sku) {
                Some(held) => Variant {
                    options: v.options,
                    ..held.clone()
                },
                None => {
                    next_variant += 1;
                    Variant {
                        id: format!("v{next_variant}"),
                        sku: v.sku,
                        options: v.options,
                        price: v.price,
                        stock: v.stock,
                    }
                }
            })
            .collect();
        product.name = write.name;
        product.description = write.description;
        product.category_id = write.category_id;
        product.images = write.images;
        product.status = write.status;
        let product = product.clone();
        self.next_variant = next_variant;
        Ok(product)
    }

    /// One batch item: `field` is `stock` or `price`.
    pub fn set_item(&mut self, field: &str, item: &Value) -> Result<String, (String, ApiError)> {
        let sku = item
            .get("sku")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| (String::new(), ApiError::validation("sku", "sku missing")))?;
        let value = item.get(field).and_then(Value::as_i64).ok_or_else(|| {
            (
                sku.clone(),
                ApiError::validation(field, format!("{field} missing or not an integer")),
            )
        })?;
        let refused = |why: &str| (sku.clone(), ApiError::validation(field, why));
        match field {
            "stock" if value < 0 => return Err(refused("stock must not be negative")),
            "price" if value < MIN_PRICE => return Err(refused("price must be at least 1000 VND")),
            _ => {}
        }
        let Some(variant) = self.variant_mut(&sku) else {
            return Err((sku.clone(), ApiError::not_found("no such sku")));
        };
        if field == "stock" {
            variant.stock = value;
        } else {
            variant.price = value;
        }
        Ok(sku)
    }

    pub fn place_order(
        &mut self,
        sku: &str,
        quantity: i64,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        if quantity <= 0 {
            return Err("quantity must be positive".into());
        }
        if self.buyable(sku) == Some(0) {
            return Err(format!("{sku} is not on sale"));
        }
        let variant = self.variant_mut(sku).ok_or("no such sku")?;
        if variant.stock < quantity {
            return Err(format!("only {} in stock", variant.stock));
        }
        variant.stock -= quantity;
        self.next_order += 1;
        let id = self.next_order;
        self.orders.insert(
            id,
            Order {
                id: format!("VS{id:08}"),
                status: "confirmed".into(),
                created_at: now,
                updated_at: now,
                lines: vec![OrderLine {
                    id: "1".into(),
                    sku: sku.to_string(),
                    quantity,
                }],
            },
        );
        Ok(format!("VS{id:08}"))
    }

    pub fn order_mut(&mut self, id: &str) -> Option<&mut Order> {
        self.orders.values_mut().find(|o| o.id == id)
    }

    pub fn cancel_order(&mut self, id: &str, now: DateTime<Utc>) -> Result<(), String> {
        let order = self.order_mut(id).ok_or("no such order")?;
        if order.status != "pending" && order.status != "confirmed" && order.status != "packed" {
            return Err(format!("a {} order cannot be cancelled", order.status));
        }
        order.status = "cancelled".into();
        order.updated_at = now;
        let lines = order.lines.clone();
        for line in lines {
            if let Some(variant) = self.variant_mut(&line.sku) {
                variant.stock = variant.stock.saturating_add(line.quantity);
            }
        }
        Ok(())
    }

    pub fn ship_order(&mut self, id: &str, now: DateTime<Utc>) -> Result<(), String> {
        let order = self.order_mut(id).ok_or("no such order")?;
        if order.status != "confirmed" && order.status != "packed" {
            return Err(format!("a {} order cannot be shipped", order.status));
        }
        order.status = "shipping".into();
        order.updated_at = now;
        Ok(())
    }

    /// Orders updated in [from, to), oldest first, from `offset`: a page and
    /// the offset of the next one.
    pub fn orders_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        offset: usize,
    ) -> (Vec<&Order>, Option<usize>) {
        let mut all: Vec<&Order> = self
            .orders
            .values()
            .filter(|o| o.updated_at >= from && o.updated_at < to)
            .collect();
        all.sort_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)));
        let page: Vec<&Order> = all.iter().skip(offset).take(ORDER_PAGE).copied().collect();
        let next = offset.saturating_add(ORDER_PAGE);
        (page, (next < all.len()).then_some(next))
    }
}

/// An opaque cursor bound to its window.
pub fn cursor(from: DateTime<Utc>, to: DateTime<Utc>, offset: usize) -> String {
    format!(
        "{}.{}.{offset}",
        from.timestamp_millis(),
        to.timestamp_millis()
    )
}

/// The offset a cursor holds, if it belongs to this window.
pub fn cursor_offset(text: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<usize> {
    let mut parts = text.split('.');
    let f = parts.next()?.parse::<i64>().ok()?;
    let t = parts.next()?.parse::<i64>().ok()?;
    let offset = parts.next()?.parse::<usize>().ok()?;
    (parts.next().is_none() && f == from.timestamp_millis() && t == to.timestamp_millis())
        .then_some(offset)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(price: i64) -> Value {
        json!({"name": "Trà", "description": "", "category_id": "1", "images": [],
               "status": "active", "variants": [{"sku": "A", "options": [], "price": price, "stock": 1}]})
    }

    #[test]
    fn a_price_below_the_floor_is_refused_naming_the_field() {
        let err = product_write(&body(10)).expect_err("refused");
        assert_eq!(err.field.as_deref(), Some("variants[0].price"));
        let err = product_write(&json!({"name": 3})).expect_err("refused");
        assert_eq!(
            (err.code, err.field.as_deref()),
            ("validation", Some("body"))
        );
        let err = product_write(&json!({"name": "x"})).expect_err("refused");
        assert_eq!(err.field.as_deref(), Some("description"));
    }

    #[test]
    fn a_sku_held_by_another_product_is_a_conflict() {
        let mut state = State::default();
        let write = product_write(&body(5000)).expect("valid");
        state.create(write.clone()).expect("created");
        assert_eq!(
            state.create(write).map(|_| ()).map_err(|e| e.status),
            Err(409)
        );
    }

    #[test]
    fn a_cursor_only_fits_its_window() {
        let from = DateTime::<Utc>::UNIX_EPOCH;
        let to = from + chrono::Duration::days(1);
        let c = cursor(from, to, 50);
        assert_eq!(cursor_offset(&c, from, to), Some(50));
        assert_eq!(
            cursor_offset(&c, from, to + chrono::Duration::seconds(1)),
            None
        );
        assert_eq!(cursor_offset("garbage", from, to), None);
    }
}
