//! Platform-neutral shapes that cross the connector boundary.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ConnectorError;

/// A listing as chosync wants it, already rendered for the channel (price
/// rules applied, categories mapped, images uploaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingDraft {
    /// The canonical product id; connectors may store it as the listing's SKU.
    pub product_key: String,
    pub title: String,
    pub description: String,
    /// The platform's (leaf) category id.
    pub category_id: String,
    /// The platform's brand reference: Lazada's `brand_id`, Shopee's brand name.
    pub brand: Option<String>,
    /// Platform attribute id → value.
    pub attributes: Vec<(String, String)>,
    /// Platform-hosted image references (ids or URLs the platform issued).
    pub images: Vec<String>,
    pub weight_g: i64,
    /// Length, width, height.
    pub dimensions_cm: Option<[i64; 3]>,
    /// Platform logistics channel ids to enable.
    pub logistics: Vec<String>,
    /// Up to two option axes; every variant has one value per axis.
    pub option_names: Vec<String>,
    pub variants: Vec<VariantDraft>,
    /// For sale. `false` keeps the listing but takes it off sale (the
    /// product is inactive in the catalogue); `true` puts it back.
    pub listed: bool,
}

impl ListingDraft {
    /// The platform status word for the listing's sale state, for platforms
    /// that have the pair (Shopee's `item_status`).
    pub fn on_sale<'a>(&self, listed: &'a str, unlisted: &'a str) -> &'a str {
        if self.listed { listed } else { unlisted }
    }

    /// The variants whose SKU the platform does not hold yet (`held` says
    /// whether it holds one): an update must add them before it can set them.
    pub fn variants_not_held(
        &self,
        held: impl Fn(&str) -> bool,
    ) -> impl Iterator<Item = &VariantDraft> {
        self.variants.iter().filter(move |v| !held(&v.sku))
    }

    /// The variants `listing` has no variant for: new SKUs of a live listing.
    pub fn variants_missing_from(
        &self,
        listing: &RemoteListing,
    ) -> impl Iterator<Item = &VariantDraft> {
        self.variants_not_held(|sku| listing.variant(sku).is_some())
    }
}

/// A category attribute as the platform describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeSpec {
    /// What the mapping file names it by (Shopee: the numeric id; Lazada: the name).
    pub id: String,
    /// The platform's label, for operators.
    pub name: String,
    /// The values the platform lets a seller pick from, when it takes no
    /// other (Shopee's drop-downs); `None`: any value (free text, combo box).
    #[serde(default)]
    pub options: Option<Vec<String>>,
}

impl AttributeSpec {
    /// The option `value` names, if the attribute has options: compared
    /// trimmed and case-insensitively, never by a looser likeness, so "Viet
    /// Nam" is not taken for "Việt Nam".
    pub fn option<'a>(&'a self, value: &str) -> Option<&'a str> {
        self.options
            .as_deref()?
            .iter()
            .find(|o| same_option(o, value))
            .map(String::as_str)
    }

    /// Whether the platform takes `value` for this attribute.
    pub fn allows(&self, value: &str) -> bool {
        self.options.is_none() || self.option(value).is_some()
    }

    /// Why `value` is refused, for operators: "value "Viet Nam" is not one
    /// of its options (Việt Nam, Trung Quốc, …)".
    pub fn not_an_option(&self, value: &str) -> String {
        const SHOWN: usize = 8;
        let options = self.options.as_deref().unwrap_or_default();
        let mut listed: Vec<&str> = options.iter().take(SHOWN).map(String::as_str).collect();
        if options.len() > SHOWN {
            listed.push("…");
        }
        format!(
            "value \"{value}\" is not one of its options ({})",
            listed.join(", ")
        )
    }
}

/// Whether a mapped value names a platform option: trimmed, case aside.
pub fn same_option(option: &str, value: &str) -> bool {
    option.trim().to_lowercase() == value.trim().to_lowercase()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantDraft {
    pub sku: String,
    pub option_values: Vec<String>,
    /// Whole VND.
    pub price: i64,
    pub stock: i64,
}

/// A listing as the platform holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteListing {
    pub listing_id: String,
    /// The listing's own SKU, where the platform has one (the product key, or
    /// the SKU of a single-variant listing).
    pub listing_sku: Option<String>,
    pub status: String,
    pub title: String,
    pub variants: Vec<RemoteVariant>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteVariant {
    pub sku: String,
    pub variant_id: String,
    pub price: i64,
    /// The stock chosync sets (Shopee's seller stock, Lazada's sellable).
    pub stock: i64,
    /// Units the platform holds for open orders outside `stock` (Lazada's
    /// withheld and occupied): `stock` is lower by them until chosync has
    /// counted those orders. 0 where the platform does not say.
    #[serde(default)]
    pub held: i64,
    /// Units a promotion reserves inside `stock` (Shopee's reserved stock):
    /// the platform refuses a stock below it. 0 where the platform does not say.
    #[serde(default)]
    pub locked: i64,
}

impl RemoteListing {
    /// Whether this listing carries `sku`, as its own SKU or a variant's.
    pub fn carries(&self, sku: &str) -> bool {
        self.listing_sku.as_deref() == Some(sku) || self.variant(sku).is_some()
    }

    pub fn variant(&self, sku: &str) -> Option<&RemoteVariant> {
        self.variants.iter().find(|v| v.sku == sku)
    }

    pub fn at(&self, sku: &str) -> Option<RemoteRef> {
        self.variant(sku).map(|v| RemoteRef {
            listing_id: self.listing_id.clone(),
            variant_id: v.variant_id.clone(),
        })
    }
}

/// Where a SKU lives on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RemoteRef {
    pub listing_id: String,
    pub variant_id: String,
}

/// Set the sellable stock of one SKU to an absolute value (never a delta).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockSet {
    pub sku: String,
    pub at: RemoteRef,
    pub quantity: i64,
}

/// Set the price of one SKU, whole VND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceSet {
    pub sku: String,
    pub at: RemoteRef,
    pub price: i64,
}

/// One item's result inside a batch: partial failure is normal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemOutcome {
    pub sku: String,
    pub result: Result<(), ConnectorError>,
}

/// A time range for listing orders by update time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRef {
    pub order_id: String,
    pub status: String,
    /// When the platform last changed the order, where its list says: an
    /// order recorded at this version and status need not be read again.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// What an order's platform status means for stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Placed, not paid: stock is held.
    Unpaid,
    /// Paid; the seller has not prepared it yet.
    Paid,
    /// Packed or declared ready, waiting for the carrier.
    ReadyToShip,
    /// Handed to the carrier or beyond.
    Shipped,
    Completed,
    /// Cancelled before or after shipping.
    Cancelled,
    /// Coming back to the seller.
    Returned,
}

impl OrderState {
    pub const ALL: [OrderState; 7] = [
        Self::Unpaid,
        Self::Paid,
        Self::ReadyToShip,
        Self::Shipped,
        Self::Completed,
        Self::Cancelled,
        Self::Returned,
    ];

    /// The canonical name (as stored and shown).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unpaid => "unpaid",
            Self::Paid => "paid",
            Self::ReadyToShip => "ready_to_ship",
            Self::Shipped => "shipped",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Returned => "returned",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: String,
    /// The platform's own status word, kept for operators.
    pub platform_status: String,
    pub state: OrderState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// Stable within the order, so effects can be keyed by (order, line).
    pub line_id: String,
    pub sku: String,
    pub quantity: i64,
    /// Units of `quantity` cancelled on their own while the rest of the line
    /// goes on (Shopee's partial cancellation); `state` is the rest's.
    #[serde(default)]
    pub cancelled_quantity: i64,
    /// Platforms that track status per line (Lazada) may cancel one line of
    /// an order; elsewhere it is the order's state.
    pub state: OrderState,
}

/// What a verified webhook says changed; always re-fetch, never trust it as state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookHint {
    OrdersChanged {
        order_ids: Vec<String>,
    },
    /// The seller's authorization runs out soon (`expires_at` when the
    /// platform says): refresh or re-authorize the channel before then.
    TokenExpiring {
        expires_at: Option<DateTime<Utc>>,
    },
    /// Something chosync does not act on (kept for the log).
    Other {
        code: String,
    },
}

/// One page of a listing walk; `next` continues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_skus_are_those_the_live_listing_has_no_variant_for() {
        let variant = |sku: &str| VariantDraft {
            sku: sku.into(),
            option_values: vec![],
            price: 1,
            stock: 1,
        };
        let draft = ListingDraft {
            product_key: "P".into(),
            title: "t".into(),
            description: "d".into(),
            category_id: "1".into(),
            brand: None,
            attributes: vec![],
            images: vec![],
            weight_g: 1,
            dimensions_cm: None,
            logistics: vec![],
            option_names: vec![],
            variants: vec![variant("A"), variant("P"), variant("B")],
            listed: true,
        };
        // The listing's own SKU is not a variant: "P" is still to be added.
        let listing = RemoteListing {
            listing_id: "7".into(),
            listing_sku: Some("P".into()),
            status: "active".into(),
            title: "t".into(),
            variants: vec![RemoteVariant {
                sku: "A".into(),
                variant_id: "70".into(),
                price: 1,
                stock: 1,
                ..RemoteVariant::default()
            }],
        };
        let skus = |found: Vec<&VariantDraft>| -> Vec<String> {
            found.into_iter().map(|v| v.sku.clone()).collect()
        };
        assert_eq!(
            skus(draft.variants_missing_from(&listing).collect()),
            ["P", "B"]
        );
        assert_eq!(
            skus(draft.variants_not_held(|sku| sku != "B").collect()),
            ["B"]
        );
    }
}
