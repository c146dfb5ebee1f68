//! Wire shapes of the assumed Voso contract (README).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub expires_in: i64,
}

/// `{ "error": { code, message, field } }` of any non-2xx answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    pub status: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category_id: String,
    #[serde(default)]
    pub images: Vec<String>,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub id: String,
    pub sku: String,
    #[serde(default)]
    pub options: Vec<String>,
    pub price: i64,
    pub stock: i64,
}

/// The body of a create or an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductWrite {
    pub name: String,
    pub description: String,
    pub category_id: String,
    pub images: Vec<String>,
    pub status: String,
    pub variants: Vec<VariantWrite>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantWrite {
    pub sku: String,
    pub options: Vec<String>,
    pub price: i64,
    pub stock: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProductPage {
    pub items: Vec<Product>,
    pub page: u64,
    pub page_size: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StockItem<'a> {
    pub sku: &'a str,
    pub stock: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PriceItem<'a> {
    pub sku: &'a str,
    pub price: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BatchAnswer {
    pub results: Vec<ItemResult>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ItemResult {
    pub sku: String,
    pub ok: bool,
    #[serde(default)]
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderPage {
    pub items: Vec<OrderSummary>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderSummary {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderDetail {
    pub id: String,
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub lines: Vec<OrderLine>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderLine {
    pub id: String,
    pub sku: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Push {
    pub event: String,
    #[serde(default)]
    pub order_id: Option<String>,
}
