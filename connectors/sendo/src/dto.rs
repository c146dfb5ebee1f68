//! Sendo's JSON shapes (`sendo.md` §3.1–3.6), as far as chosync reads them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every answer: `{result, success, error{…}, status_code}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Envelope {
    pub result: Value,
    pub success: bool,
    pub error: Option<ErrorBody>,
    pub status_code: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub message: Option<String>,
    pub details: Option<Value>,
    pub error_details: Option<Vec<ErrorDetail>>,
    /// Present when the bearer token has expired (the community code's test).
    pub exp: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    pub property_name: Option<String>,
    pub message: Option<String>,
    pub code: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Login {
    pub token: String,
    /// When the token runs out (RFC 3339); the token's `exp` claim otherwise.
    #[serde(default)]
    pub expires: Option<String>,
}

/// A product as `GET /api/partner/product` and the search give it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub sku: String,
    pub status: i64,
    pub price: f64,
    pub stock_quantity: i64,
    pub stock_availability: bool,
    pub is_config_variant: bool,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Variant {
    pub variant_sku: String,
    pub variant_price: f64,
    pub variant_quantity: i64,
    pub variant_attribute_hash: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProductPage {
    pub data: Vec<Product>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrderPage {
    pub data: Vec<OrderDetail>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrderDetail {
    pub sales_order: SalesOrder,
    pub sku_details: Vec<SkuDetail>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SalesOrder {
    pub order_number: String,
    pub order_status: i64,
    pub payment_status: i64,
    pub payment_method: i64,
    /// Epoch seconds.
    pub order_date_time_stamp: i64,
    /// Epoch seconds of the last status change (the sandbox's name; G).
    pub order_status_date_time_stamp: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SkuDetail {
    pub product_variant_id: Value,
    pub sku: String,
    pub quantity: i64,
}

/// A push: `{type, store_id, shop_key, data}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Push {
    #[serde(rename = "type")]
    pub kind: String,
    pub store_id: Value,
    pub shop_key: String,
    pub data: Value,
}
