//! Lazada's JSON shapes, as far as chosync reads them.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

#[derive(Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds.
    pub expires_in: i64,
    /// Seconds; a refresh does not extend it.
    #[serde(default)]
    pub refresh_expires_in: i64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Image {
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImageAnswer {
    pub image: Image,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Batch {
    pub batch_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BatchImages {
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub errors: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CreatedSku {
    pub seller_sku: String,
    pub sku_id: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Created {
    pub item_id: i64,
    #[serde(default)]
    pub sku_list: Vec<CreatedSku>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Sku {
    #[serde(rename = "SellerSku")]
    pub seller_sku: String,
    #[serde(rename = "SkuId")]
    pub sku_id: i64,
    #[serde(default)]
    pub price: f64,
    /// What buyers can buy: real − withheld − occupied.
    #[serde(rename = "sellableStock", default)]
    pub sellable_stock: i64,
    /// Variation axis → value. Kept raw: `None` when the answer leaves it out.
    #[serde(rename = "saleProp", default)]
    pub sale_prop: Option<Value>,
}

impl Sku {
    /// The variation axes this SKU declares; `None` when the answer does not
    /// say (no `saleProp` object), so nobody guesses.
    pub fn sale_prop_names(&self) -> Option<BTreeSet<String>> {
        let props = self.sale_prop.as_ref()?.as_object()?;
        Some(props.keys().cloned().collect())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub item_id: i64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub attributes: Value,
    #[serde(default)]
    pub skus: Vec<Sku>,
    #[serde(default)]
    pub updated_time: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Products {
    #[serde(default)]
    pub total_products: i64,
    #[serde(default)]
    pub products: Vec<Product>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderSummary {
    pub order_id: Value,
    #[serde(default)]
    pub statuses: Vec<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Orders {
    #[serde(default)]
    pub count: i64,
    #[serde(default)]
    pub orders: Vec<OrderSummary>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderItem {
    pub order_item_id: Value,
    pub sku: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderItems {
    pub order_id: Value,
    #[serde(default)]
    pub order_items: Vec<OrderItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Push {
    pub message_type: i64,
    #[serde(default)]
    pub seller_id: String,
    #[serde(default)]
    pub data: Value,
    #[serde(default)]
    pub timestamp: i64,
    #[serde(default)]
    pub site: String,
}

/// One attribute of `/category/attributes/get`. Flags arrive as 0/1
/// numbers, sometimes as strings; a field left out (or null) reads as empty
/// or "no", so one odd attribute does not spoil the whole list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CategoryAttribute {
    #[serde(default, deserialize_with = "lenient_text")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub label: String,
    #[serde(default, deserialize_with = "flag")]
    pub is_mandatory: bool,
    #[serde(default, deserialize_with = "flag")]
    pub is_sale_prop: bool,
    /// `normal` (product level) or `sku`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub attribute_type: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub input_type: String,
}

/// `1`, `"1"`, `true`, `"true"` → yes; anything else → no.
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Bool(yes) => yes,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => {
            let s = s.trim();
            s == "1" || s.eq_ignore_ascii_case("true")
        }
        _ => false,
    })
}

/// A string, a number as text, or empty for anything else.
fn lenient_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

/// Lazada ids arrive as numbers or strings.
pub fn id_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
