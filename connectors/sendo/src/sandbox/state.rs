//! What the fake Sendo holds and the rules `sendo.md` says Sendo applies to it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

/// Why a call is refused: an HTTP status, the envelope's message and its
/// `error_details`.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
    pub details: Vec<(String, String)>,
    /// The expired token's `exp` claim.
    pub exp: Option<i64>,
}

impl Refusal {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            details: Vec::new(),
            exp: None,
        }
    }

    /// A 400 naming the property at fault.
    pub fn field(property: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: 400,
            message: message.clone(),
            details: vec![(property.to_string(), message)],
            exp: None,
        }
    }
}

/// Statuses in which a product cannot be updated (`sendo.md` §3.4).
pub const FROZEN: [i64; 3] = [1, 4, 5];
/// New products go on sale at once (most categories, `sendo.md`).
pub const SELLING: i64 = 2;
const PRODUCT_FIELDS: [&str; 13] = [
    "name",
    "price",
    "special_price",
    "promotion_from_date",
    "promotion_to_date",
    "stock_quantity",
    "stock_availability",
    "description",
    "weight",
    "height",
    "length",
    "width",
    "variants",
];
const VARIANT_FIELDS: [&str; 3] = ["variant_price", "variant_special_price", "variant_quantity"];

#[derive(Debug, Clone)]
pub struct SalesOrder {
    pub number: String,
    pub status: i64,
    pub payment_status: i64,
    pub payment_method: i64,
    pub created: DateTime<Utc>,
    pub status_changed: DateTime<Utc>,
    /// (sku, product id, quantity, unit price)
    pub lines: Vec<(String, i64, i64, i64)>,
}

impl SalesOrder {
    pub fn detail(&self) -> Value {
        let sub_total = self.lines.iter().fold(0i64, |sum, (_, _, q, p)| {
            sum.saturating_add(q.saturating_mul(*p))
        });
        json!({
            "sales_order": {
                "order_number": self.number,
                "order_status": self.status,
                "payment_status": self.payment_status,
                "payment_method": self.payment_method,
                "sub_total": sub_total,
                "shipping_fee": 0,
                "total_amount": sub_total,
                "order_date_time_stamp": self.created.timestamp(),
                "order_status_date_time_stamp": self.status_changed.timestamp(),
                "receiver_name": "Nguyễn Văn An",
                "buyer_phone": "0900000000",
                "receiver_full_address": "1 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
            },
            "sku_details": self.lines.iter().map(|(sku, product, quantity, price)| json!({
                "product_variant_id": product,
                "sku": sku,
                "quantity": quantity,
                "price": price,
            })).collect::<Vec<_>>(),
        })
    }
}

/// What an order search selects; a page token carries it.
#[derive(Debug, Clone)]
pub struct OrderFilter {
    /// By status-change day (else by order day).
    pub by_status_date: bool,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub status: Option<i64>,
}

#[derive(Debug, Clone)]
pub enum Cursor {
    Products { offset: usize, name: Option<String> },
    Orders { filter: OrderFilter, offset: usize },
}

#[derive(Debug, Clone)]
pub struct PageToken {
    pub cursor: Cursor,
    pub page_size: usize,
    pub expires: DateTime<Utc>,
}

#[derive(Default)]
pub struct State {
    pub products: BTreeMap<i64, Value>,
    next_product: i64,
    /// Bearer token → expiry.
    pub tokens: HashMap<String, DateTime<Utc>>,
    /// The seller turned the API off in the seller centre.
    pub disabled: bool,
    pub orders: BTreeMap<String, SalesOrder>,
    next_order: u64,
    pub page_tokens: HashMap<String, PageToken>,
    next_page: u64,
    /// Create answers still to lose (the product is written first).
    pub lose_creates: u32,
    /// Page tokens still to issue already expired.
    pub stale_tokens: u32,
    /// Logins answered, for tests.
    pub logins: u64,
}

fn skus_of(product: &Value) -> Vec<String> {
    let mut skus = Vec::new();
    if let Some(sku) = product["sku"].as_str() {
        skus.push(sku.to_string());
    }
    if let Some(variants) = product["variants"].as_array() {
        skus.extend(
            variants
                .iter()
                .filter_map(|v| v["variant_sku"].as_str().map(String::from)),
        );
    }
    skus
}

/// A whole number of VND, refused otherwise (G: the document says
/// "decimal"; chosync sends integers and the sandbox holds it to that).
fn vnd(value: &Value, property: &str) -> Result<i64, Refusal> {
    match value.as_i64() {
        Some(n) if n > 0 => Ok(n),
        _ => Err(Refusal::field(
            property,
            format!("{property} must be a positive whole number of VND"),
        )),
    }
}

fn is_config(product: &Value) -> bool {
    product["is_config_variant"].as_bool().unwrap_or(false)
}

fn total_stock(product: &Value) -> i64 {
    if is_config(product) {
        product["variants"]
            .as_array()
            .map(|vs| {
                vs.iter().fold(0i64, |sum, v| {
                    sum.saturating_add(v["variant_quantity"].as_i64().unwrap_or(0).max(0))
                })
            })
            .unwrap_or(0)
    } else {
        product["stock_quantity"].as_i64().unwrap_or(0)
    }
}

impl State {
    pub fn product_by_sku(&self, sku: &str) -> Option<&Value> {
        self.products
            .values()
            .find(|p| skus_of(p).iter().any(|s| s == sku))
    }

    /// Everything `sendo.md` says a product must satisfy, `id` aside.
    fn check(&self, product: &Value, id: i64) -> Result<(), Refusal> {
        if product["name"].as_str().is_none_or(|n| n.trim().is_empty()) {
            return Err(Refusal::field("name", "name is required"));
        }
        if product["sku"].as_str().is_none_or(|s| s.trim().is_empty()) {
            return Err(Refusal::field("sku", "sku is required"));
        }
        if product["cat_4_id"].as_i64().is_none_or(|c| c <= 0) {
            return Err(Refusal::field(
                "cat_4_id",
                "cat_4_id must be a level-4 category",
            ));
        }
        let description = product["description"].as_str().unwrap_or_default();
        let chars = description.chars().count();
        if !(100..=100_000).contains(&chars) {
            return Err(Refusal::field(
                "description",
                "description must be 100 to 100,000 characters",
            ));
        }
        if description.to_ascii_lowercase().matches("<img").count() > 20 {
            return Err(Refusal::field(
                "description",
                "description holds over 20 images",
            ));
        }
        vnd(&product["price"], "price")?;
        let mut skus = skus_of(product);
        if is_config(product) {
            let variants = product["variants"].as_array().cloned().unwrap_or_default();
            if variants.is_empty() {
                return Err(Refusal::field(
                    "variants",
                    "a configured product needs variants",
                ));
            }
            let checkout: Vec<&Value> = product["attributes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|a| a["attribute_is_checkout"].as_bool() == Some(true))
                        .collect()
                })
                .unwrap_or_default();
            for variant in &variants {
                if variant["variant_sku"]
                    .as_str()
                    .is_none_or(|s| s.trim().is_empty())
                {
                    return Err(Refusal::field("variant_sku", "variant_sku is required"));
                }
                vnd(&variant["variant_price"], "variant_price")?;
                if variant["variant_quantity"].as_i64().is_none() {
                    return Err(Refusal::field(
                        "variant_quantity",
                        "variant_quantity is required",
                    ));
                }
                let attributes = variant["variant_attributes"].as_array();
                if attributes.is_none_or(|a| a.is_empty()) {
                    return Err(Refusal::field(
                        "variant_attributes",
                        "a variant needs its checkout attributes",
                    ));
                }
                for attribute in attributes.into_iter().flatten() {
                    let declared = checkout.iter().find(|a| {
                        a["attribute_id"].as_i64().is_some()
                            && a["attribute_id"] == attribute["attribute_id"]
                    });
                    let option_known = declared.is_some_and(|a| {
                        a["attribute_values"].as_array().is_some_and(|values| {
                            values.iter().any(|v| {
                                v["id"].as_i64().is_some() && v["id"] == attribute["option_id"]
                            })
                        })
                    });
                    if !option_known {
                        return Err(Refusal::field(
                            "variant_attributes",
                            "a variant's attribute must be a checkout attribute of the product, its option one of that attribute's values",
                        ));
                    }
                }
            }
        } else if product["stock_quantity"].as_i64().is_none() {
            return Err(Refusal::field(
                "stock_quantity",
                "stock_quantity is required",
            ));
        }
        if total_stock(product) <= 0 && product["stock_availability"].as_bool() != Some(false) {
            return Err(Refusal::field(
                "stock_availability",
                "stock_availability must be false when stock is 0 or less",
            ));
        }
        skus.sort();
        if skus.windows(2).any(|w| w[0] == w[1]) {
            return Err(Refusal::field("sku", "a sku appears twice in the product"));
        }
        let taken = self
            .products
            .iter()
            .filter(|(other, _)| **other != id)
            .flat_map(|(_, p)| skus_of(p))
            .find(|s| skus.binary_search(s).is_ok());
        if let Some(sku) = taken {
            return Err(Refusal::field(
                "sku",
                format!("sku {sku} already exists in this shop"),
            ));
        }
        Ok(())
    }

    fn settle(product: &mut Value) {
        if is_config(product) {
            let cat = product["cat_4_id"].as_i64().unwrap_or(0);
            product["stock_quantity"] = json!(total_stock(product));
            if let Some(variants) = product["variants"].as_array_mut() {
                for variant in variants {
                    let hash: Vec<String> = variant["variant_attributes"]
                        .as_array()
                        .map(|attrs| {
                            attrs
                                .iter()
                                .map(|a| format!("{}_{}", a["attribute_id"], a["option_id"]))
                                .collect()
                        })
                        .unwrap_or_default();
                    variant["variant_attribute_hash"] = json!(format!("{cat}_{}", hash.join("_")));
                }
            }
        }
    }

    /// `POST /api/partner/product`: `id` 0 creates, else updates.
    pub fn upsert(&mut self, mut product: Value, now: DateTime<Utc>) -> Result<i64, Refusal> {
        if !product.is_object() {
            return Err(Refusal::new(400, "the body must be a product"));
        }
        let id = match &product["id"] {
            Value::Null => 0,
            value => value
                .as_i64()
                .filter(|id| *id >= 0)
                .ok_or_else(|| Refusal::field("id", "id must be 0 or a product id"))?,
        };
        let status = if id == 0 {
            SELLING
        } else {
            let held = self
                .products
                .get(&id)
                .ok_or_else(|| Refusal::new(404, format!("product {id} not found")))?;
            let status = held["status"].as_i64().unwrap_or(SELLING);
            if FROZEN.contains(&status) {
                return Err(Refusal::field(
                    "status",
                    format!("a product in status {status} cannot be updated"),
                ));
            }
            status
        };
        self.check(&product, id)?;
        let id = if id == 0 {
            self.next_product += 1;
            1_000_000 + self.next_product
        } else {
            id
        };
        product["id"] = json!(id);
        product["status"] = json!(status);
        product["updated_at_timestamp"] = json!(now.timestamp());
        Self::settle(&mut product);
        self.products.insert(id, product);
        Ok(id)
    }

    /// One element of `update-by-field-mask`: only the masked fields change,
    /// and a variant's only by its own mask; nothing changes if the result
    /// breaks a rule.
    pub fn mask(&mut self, element: &Value, now: DateTime<Utc>) -> Result<i64, Refusal> {
        let id = element["id"]
            .as_i64()
            .ok_or_else(|| Refusal::field("id", "id is required"))?;
        let mut product = self
            .products
            .get(&id)
            .cloned()
            .ok_or_else(|| Refusal::new(404, format!("product {id} not found")))?;
        let status = product["status"].as_i64().unwrap_or(SELLING);
        if FROZEN.contains(&status) {
            return Err(Refusal::field(
                "status",
                format!("a product in status {status} cannot be updated"),
            ));
        }
        let fields = element["field_mask"]
            .as_array()
            .ok_or_else(|| Refusal::field("field_mask", "field_mask is required"))?;
        for field in fields {
            let Some(field) = field.as_str().filter(|f| PRODUCT_FIELDS.contains(f)) else {
                return Err(Refusal::field(
                    "field_mask",
                    format!("{field} cannot be masked"),
                ));
            };
            if field != "variants" {
                product[field] = element[field].clone();
                continue;
            }
            for change in element["variants"].as_array().into_iter().flatten() {
                let sku = change["variant_sku"].as_str().unwrap_or_default();
                let Some(variant) = product["variants"]
                    .as_array_mut()
                    .and_then(|vs| vs.iter_mut().find(|v| v["variant_sku"] == sku))
                else {
                    return Err(Refusal::field("variant_sku", format!("no variant {sku}")));
                };
                let masked = change["field_mask"].as_array().ok_or_else(|| {
                    Refusal::field("field_mask", "a variant needs its field_mask")
                })?;
                for field in masked {
                    let Some(field) = field.as_str().filter(|f| VARIANT_FIELDS.contains(f)) else {
                        return Err(Refusal::field(
                            "field_mask",
                            format!("{field} cannot be masked"),
                        ));
                    };
                    variant[field] = change[field].clone();
                }
            }
        }
        self.check(&product, id)?;
        product["updated_at_timestamp"] = json!(now.timestamp());
        Self::settle(&mut product);
        self.products.insert(id, product);
        Ok(id)
    }

    pub fn page_token(&mut self, token: PageToken) -> String {
        self.next_page += 1;
        let name = format!("pt{:08x}{:04x}", self.next_page, fastrand::u16(..));
        self.page_tokens.insert(name.clone(), token);
        name
    }

    pub fn new_order_number(&mut self, now: DateTime<Utc>) -> String {
        self.next_order += 1;
        format!("{}{:06}", now.format("%y%m%d"), self.next_order)
    }
}
