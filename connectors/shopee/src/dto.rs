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

/// One `{min_limit, max_limit}` of `get_item_limit`; a bound Shopee leaves
/// out is no bound.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Range {
    #[serde(default)]
    pub min_limit: Option<f64>,
    #[serde(default)]
    pub max_limit: Option<f64>,
}

impl Range {
    /// Whether `value` is within the bounds Shopee gave.
    pub fn holds(&self, value: f64) -> bool {
        self.min_limit.is_none_or(|min| value >= min)
            && self.max_limit.is_none_or(|max| value <= max)
    }

    /// The bounds as operators read them: "1–120".
    pub fn shown(&self) -> String {
        let bound = |b: Option<f64>| b.map_or_else(|| "…".to_string(), |b| b.to_string());
        format!("{}–{}", bound(self.min_limit), bound(self.max_limit))
    }
}

/// `get_item_limit`'s answer: every limit is a `{min_limit, max_limit}`
/// object (`schemas/v2.product.get_item_limit.json`); those chosync checks
/// before writing. A limit left out is no limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemLimit {
    #[serde(default)]
    pub price_limit: Option<Range>,
    #[serde(default)]
    pub stock_limit: Option<Range>,
    #[serde(default)]
    pub item_name_length_limit: Option<Range>,
    #[serde(default)]
    pub item_image_count_limit: Option<Range>,
    #[serde(default)]
    pub item_description_length_limit: Option<Range>,
    #[serde(default)]
    pub tier_variation_name_length_limit: Option<Range>,
    #[serde(default)]
    pub tier_variation_option_length_limit: Option<Range>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImageInfo {
    pub image_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Uploaded {
    pub image_info: ImageInfo,
}

/// `add_item`'s answer (`schemas/v2.product.add_item.json`): the item id
/// and the status Shopee gave it (it may be `REVIEWING`).
#[derive(Debug, Clone, Deserialize)]
pub struct AddedItem {
    pub item_id: i64,
    #[serde(default)]
    pub item_status: String,
}

/// `init_tier_variation`'s answer (`schemas/v2.product.init_tier_variation.json`):
/// every model with its id, so a create needs no read-back.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InitTiers {
    #[serde(default)]
    pub model: Vec<InitModel>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InitModel {
    pub model_id: i64,
    #[serde(default)]
    pub model_sku: String,
    #[serde(default)]
    pub price_info: Vec<PriceInfo>,
    #[serde(default)]
    pub seller_stock: Vec<Stock>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PriceInfo {
    pub original_price: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Stock {
    pub stock: i64,
}

/// `stock_info_v2` (`schemas/v2.product.get_model_list.json`): the
/// seller-managed stock per location and its summary.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StockInfo {
    #[serde(default)]
    pub seller_stock: Vec<Stock>,
    #[serde(default)]
    pub summary_info: StockSummary,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StockSummary {
    /// "Stock reserved for promotion": part of the seller stock, which
    /// `update_stock` may not set below it.
    #[serde(default)]
    pub total_reserved_stock: i64,
}

/// Seller stock summed over locations.
pub fn seller_stock(info: &StockInfo) -> i64 {
    info.seller_stock.iter().map(|s| s.stock).sum()
}

/// Stock a promotion reserves.
pub fn reserved_stock(info: &StockInfo) -> i64 {
    info.summary_info.total_reserved_stock.max(0)
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
    /// Shopee's id of the order line (the item id outside bundle deals,
    /// shared within one).
    #[serde(default)]
    pub order_item_id: i64,
    /// Units cancelled on their own (a partial cancellation); newer field,
    /// absent on older answers.
    #[serde(default)]
    pub cancelled_qty: Option<i64>,
    /// Units still to be fulfilled.
    #[serde(default)]
    pub active_qty: Option<i64>,
}

/// One order of `get_order_detail` (`schemas/v2.order.get_order_detail.json`),
/// with the optional fields reconciliation asks for.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderInfo {
    pub order_sn: String,
    pub order_status: String,
    pub create_time: i64,
    pub update_time: i64,
    #[serde(default)]
    pub item_list: Vec<OrderItem>,
    #[serde(default)]
    pub cancel_by: Option<String>,
    #[serde(default)]
    pub cancel_reason: Option<String>,
    #[serde(default)]
    pub buyer_cancel_reason: Option<String>,
    #[serde(default)]
    pub pending_terms: Vec<String>,
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
    /// Code 3 is an order status update; code 12 warns that authorizations
    /// run out within 7 days; the rest chosync only logs.
    pub fn hint(&self) -> WebhookHint {
        match (self.code, order_sn(&self.data)) {
            (3, Some(order)) => WebhookHint::OrdersChanged {
                order_ids: vec![order],
            },
            (12, _) => WebhookHint::TokenExpiring {
                expires_at: self
                    .data
                    .get("expire_before")
                    .and_then(serde_json::Value::as_i64)
                    .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0)),
            },
            _ => WebhookHint::Other {
                code: self.code.to_string(),
            },
        }
    }
}

impl Push {
    /// Whether a code-12 push concerns `shop_id`: it is partner-level (no
    /// `shop_id`) and names the shops whose authorization ends in
    /// `data.shop_expire_soon` (field names as community SDKs read them; a
    /// push without the list is taken as concerning every shop).
    pub fn expiry_concerns(&self, shop_id: i64) -> bool {
        match self.data.get("shop_expire_soon").and_then(|s| s.as_array()) {
            Some(shops) => shops.iter().any(|s| s.as_i64() == Some(shop_id)),
            None => true,
        }
    }
}

/// The `ordersn` a push's `data` carries. A lost push's `data` is a
/// JSON-encoded string (`schemas/v2.push.get_lost_push_message.json`: type
/// string), whose published sample holds the whole push again, so strings
/// are decoded and one nested `data` is looked into.
fn order_sn(data: &serde_json::Value) -> Option<String> {
    let decoded;
    let data = match data {
        serde_json::Value::String(text) => {
            decoded = serde_json::from_str::<serde_json::Value>(text).ok()?;
            &decoded
        }
        other => other,
    };
    match data.get("ordersn").and_then(|o| o.as_str()) {
        Some(order) => Some(order.to_string()),
        None => data
            .get("data")
            .filter(|d| !d.is_string())
            .and_then(order_sn),
    }
}

/// `get_lost_push_message` (`schemas/v2.push.get_lost_push_message.json`).
/// It is a Public API: it answers for every shop of the partner, and the
/// partner-level pushes (codes 1, 2, 12) carry no `shop_id`.
#[derive(Debug, Clone, Deserialize)]
pub struct LostPushes {
    #[serde(default)]
    pub push_message_list: Vec<Push>,
    #[serde(default)]
    pub has_next_page: bool,
    #[serde(default)]
    pub last_message_id: Option<i64>,
}

/// `get_brand_list` (`schemas/v2.product.get_brand_list.json`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BrandList {
    #[serde(default)]
    pub brand_list: Vec<Brand>,
    #[serde(default)]
    pub has_next_page: bool,
    #[serde(default)]
    pub next_offset: i64,
    #[serde(default)]
    pub is_mandatory: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Brand {
    pub brand_id: i64,
    #[serde(default)]
    pub original_brand_name: String,
    #[serde(default)]
    pub display_brand_name: String,
}

/// `logistics/get_channel_list` (`schemas/v2.logistics.get_channel_list.json`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChannelList {
    #[serde(default)]
    pub logistics_channel_list: Vec<LogisticsChannel>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogisticsChannel {
    pub logistics_channel_id: i64,
    #[serde(default)]
    pub logistics_channel_name: String,
    #[serde(default)]
    pub enabled: bool,
    /// SIZE_SELECTION, SIZE_INPUT, FIXED_DEFAULT_PRICE, CUSTOM_PRICE (and
    /// SELLER_LOGISTICS in the reference).
    #[serde(default)]
    pub fee_type: String,
    /// Only for SIZE_SELECTION.
    #[serde(default)]
    pub size_list: Vec<ChannelSize>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChannelSize {
    /// A string in `get_channel_list`, an int32 in `add_item`'s
    /// `logistic_info`: read as either.
    #[serde(deserialize_with = "text_or_number")]
    pub size_id: String,
    #[serde(default)]
    pub name: String,
}

fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(text) => Ok(text),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("size_id {other}"))),
    }
}

/// `get_attribute_tree` (`schemas/v2.product.get_attribute_tree.json`):
/// `response.list[]`, one entry per asked category, each with its
/// `category_id` and `attribute_tree[]`.
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

/// `attribute_info.input_type`: 1 single drop-down, 2 single combo box, 3
/// free text, 4 multi drop-down, 5 multi combo box.
pub const SINGLE_DROP_DOWN: i64 = 1;
pub const MULTI_DROP_DOWN: i64 = 4;

/// One attribute of a category.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Attribute {
    pub attribute_id: i64,
    #[serde(default)]
    pub mandatory: bool,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub attribute_value_list: Vec<AttributeValue>,
    #[serde(default)]
    pub attribute_info: AttributeInfo,
}

impl Attribute {
    /// Drop-downs take only a `value_id` from `attribute_value_list`.
    pub fn is_drop_down(&self) -> bool {
        matches!(
            self.attribute_info.input_type,
            SINGLE_DROP_DOWN | MULTI_DROP_DOWN
        )
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AttributeValue {
    #[serde(default)]
    pub value_id: i64,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AttributeInfo {
    #[serde(default)]
    pub input_type: i64,
}
