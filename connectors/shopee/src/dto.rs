//! Shopee's JSON shapes, as far as chosync reads them.

use chosync_connector::ConnectorError;
use chosync_connector::dto::WebhookHint;
use serde::{Deserialize, Serialize};

#[derive(Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds.
    pub expire_in: i64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expire_in", &self.expire_in)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub min_limit: f64,
    pub max_limit: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemLimit {
    pub price_limit: Range,
    pub stock_limit: Range,
    pub item_name_length_limit: i64,
    pub item_image_count_limit: i64,
    pub item_description_length_limit: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImageInfo {
    pub image_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Uploaded {
    pub image_info: ImageInfo,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AddedItem {
    pub item_id: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PriceInfo {
    pub original_price: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Stock {
    pub stock: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StockInfo {
    #[serde(default)]
    pub seller_stock: Vec<Stock>,
}

/// Seller stock summed over locations.
pub fn seller_stock(info: &StockInfo) -> i64 {
    info.seller_stock.iter().map(|s| s.stock).sum()
}

#[derive(Debug, Clone, Deserialize)]
pub struct BaseItem {
    pub item_id: i64,
    #[serde(default)]
    pub item_sku: String,
    #[serde(default)]
    pub item_name: String,
    #[serde(default)]
    pub item_status: String,
    #[serde(default)]
    pub has_model: bool,
    #[serde(default)]
    pub price_info: Vec<PriceInfo>,
    #[serde(default)]
    pub stock_info_v2: StockInfo,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BaseInfo {
    #[serde(default)]
    pub item_list: Vec<BaseItem>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Model {
    pub model_id: i64,
    #[serde(default)]
    pub model_sku: String,
    /// One option index per tier.
    #[serde(default)]
    pub tier_index: Vec<usize>,
    #[serde(default)]
    pub price_info: Vec<PriceInfo>,
    #[serde(default)]
    pub stock_info_v2: StockInfo,
}

impl Model {
    pub fn price(&self) -> i64 {
        self.price_info
            .first()
            .map_or(0, |p| p.original_price as i64)
    }
}

/// `get_model_list`: the item's tiers, in both shapes the reference lists
/// (`standardise_tier_variation` replaced `tier_variation` in 2025-09).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ModelList {
    #[serde(default)]
    pub tier_variation: Vec<LegacyTier>,
    #[serde(default)]
    pub standardise_tier_variation: Vec<Tier>,
    #[serde(default)]
    pub model: Vec<Model>,
}

impl ModelList {
    /// The tiers in the current shape, converted from the older one when
    /// that is all the answer carries (custom variations: ids 0).
    pub fn tiers(&self) -> Vec<Tier> {
        if !self.standardise_tier_variation.is_empty() {
            return self.standardise_tier_variation.clone();
        }
        self.tier_variation
            .iter()
            .map(|t| Tier {
                variation_id: 0,
                variation_name: t.name.clone(),
                variation_group_id: None,
                variation_option_list: t
                    .option_list
                    .iter()
                    .map(|o| TierOption {
                        variation_option_id: 0,
                        variation_option_name: o.option.clone(),
                        image_id: None,
                    })
                    .collect(),
            })
            .collect()
    }
}

/// One tier as `standardise_tier_variation` gives it, and as
/// `update_tier_variation` takes it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tier {
    #[serde(default)]
    pub variation_id: i64,
    #[serde(default)]
    pub variation_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variation_group_id: Option<i64>,
    #[serde(default)]
    pub variation_option_list: Vec<TierOption>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierOption {
    #[serde(default)]
    pub variation_option_id: i64,
    #[serde(default)]
    pub variation_option_name: String,
    /// Kept as read, so an update does not drop an option's image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
}

/// The deprecated `tier_variation[{name, option_list[{option}]}]`.
#[derive(Debug, Clone, Deserialize)]
pub struct LegacyTier {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub option_list: Vec<LegacyOption>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LegacyOption {
    #[serde(default)]
    pub option: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ItemRef {
    pub item_id: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ItemList {
    #[serde(default)]
    pub item: Vec<ItemRef>,
    #[serde(default)]
    pub has_next_page: bool,
    #[serde(default)]
    pub next_offset: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Failure {
    pub model_id: i64,
    #[serde(default)]
    pub failed_reason: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Success {
    pub model_id: i64,
}

/// `update_stock` / `update_price`: partial failure is normal.
#[derive(Debug, Clone, Deserialize)]
pub struct BatchResult {
    #[serde(default)]
    pub success_list: Vec<Success>,
    #[serde(default)]
    pub failure_list: Vec<Failure>,
}

impl BatchResult {
    pub fn outcome(&self, model_id: &str, field: &str) -> Result<(), ConnectorError> {
        let id: i64 = model_id.parse().unwrap_or(-1);
        if let Some(failure) = self.failure_list.iter().find(|f| f.model_id == id) {
            let reason = failure.failed_reason.clone();
            if reason.to_ascii_lowercase().contains("model_id") {
                return Err(ConnectorError::NotFound(format!(
                    "model {model_id}: {reason}"
                )));
            }
            return Err(ConnectorError::Rejected {
                code: "failure_list".into(),
                field: Some(field.into()),
                message: reason,
            });
        }
        if self.success_list.iter().any(|s| s.model_id == id) {
            Ok(())
        } else {
            // Setting an absolute value again is harmless.
            Err(ConnectorError::Transient(format!(
                "model {model_id} is in neither success_list nor failure_list"
            )))
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderSummary {
    pub order_sn: String,
    #[serde(default)]
    pub order_status: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderList {
    #[serde(default)]
    pub more: bool,
    #[serde(default)]
    pub next_cursor: String,
    #[serde(default)]
    pub order_list: Vec<OrderSummary>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderItem {
    pub item_id: i64,
    #[serde(default)]
    pub item_sku: String,
    #[serde(default)]
    pub model_id: i64,
    #[serde(default)]
    pub model_sku: String,
    pub model_quantity_purchased: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderInfo {
    pub order_sn: String,
    pub order_status: String,
    pub create_time: i64,
    pub update_time: i64,
    #[serde(default)]
    pub item_list: Vec<OrderItem>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderDetail {
    #[serde(default)]
    pub order_list: Vec<OrderInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Push {
    pub code: i64,
    #[serde(default)]
    pub shop_id: i64,
    #[serde(default)]
    pub timestamp: i64,
    #[serde(default)]
    pub data: serde_json::Value,
}

impl Push {
    /// Code 3 is an order status update; the rest chosync only logs.
    pub fn hint(&self) -> WebhookHint {
        match (self.code, self.data.get("ordersn").and_then(|o| o.as_str())) {
            (3, Some(order)) => WebhookHint::OrdersChanged {
                order_ids: vec![order.to_string()],
            },
            _ => WebhookHint::Other {
                code: self.code.to_string(),
            },
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LostPushes {
    #[serde(default)]
    pub push_message_list: Vec<Push>,
    #[serde(default)]
    pub has_next_page: bool,
    #[serde(default)]
    pub last_message_id: Option<i64>,
}

/// `get_attribute_tree`. The reference lists the fields of one attribute but
/// not the container; `list[].attribute_tree[]` is assumed (one entry per
/// asked category).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AttributeTrees {
    #[serde(default)]
    pub list: Vec<CategoryAttributes>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CategoryAttributes {
    #[serde(default)]
    pub category_id: i64,
    #[serde(default)]
    pub attribute_tree: Vec<Attribute>,
}

/// One attribute of a category; value lists and input rules are not read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Attribute {
    pub attribute_id: i64,
    #[serde(default)]
    pub mandatory: bool,
    #[serde(default)]
    pub name: String,
}
