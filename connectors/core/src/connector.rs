//! The trait every platform connector implements.

use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;

use crate::ConnectorError;
use crate::dto::{
    AttributeSpec, ItemOutcome, ListingDraft, Order, OrderRef, OrderWindow, Page, PriceSet,
    RemoteListing, StockSet, WebhookHint,
};

/// Groups of endpoints that share a platform quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointClass {
    Auth,
    Catalogue,
    Inventory,
    Orders,
    Media,
    Push,
}

impl EndpointClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Catalogue => "catalogue",
            Self::Inventory => "inventory",
            Self::Orders => "orders",
            Self::Media => "media",
            Self::Push => "push",
        }
    }
}

/// One quota and the endpoint classes that draw on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: &'static str,
    pub per_second: NonZeroU32,
    pub classes: Vec<EndpointClass>,
}

/// A connector's rate limits: the platform's published or conservative quotas,
/// which channel configuration may lower or raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub buckets: Vec<Bucket>,
}

impl Limits {
    /// Every class on one quota (a platform that limits per shop, not per API).
    pub fn shared(name: &'static str, per_second: NonZeroU32) -> Self {
        use EndpointClass::*;
        Self {
            buckets: vec![Bucket {
                name,
                per_second,
                classes: vec![Auth, Catalogue, Inventory, Orders, Media, Push],
            }],
        }
    }

    /// The same buckets with one bucket's rate replaced.
    pub fn with_rate(mut self, name: &str, per_second: NonZeroU32) -> Self {
        for bucket in &mut self.buckets {
            if bucket.name == name {
                bucket.per_second = per_second;
            }
        }
        self
    }
}

/// How many items one call can carry, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchScope {
    /// Items of one listing per call (Shopee: one item, its models).
    OneListing,
    /// Items of any listings together (Lazada: SKUs across products).
    AcrossListings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub stock_batch: usize,
    pub price_batch: usize,
    pub batch_scope: BatchScope,
    pub webhooks: bool,
    pub max_title_chars: usize,
    pub max_variants: usize,
    /// Longest time range one order-list call may span.
    pub order_window: Duration,
    pub order_detail_batch: usize,
}

#[async_trait]
pub trait Connector: Send + Sync {
    fn capabilities(&self) -> Capabilities;

    fn default_limits(&self) -> Limits;

    /// Refreshes the channel's tokens now (and persists them before use).
    async fn refresh_credentials(&self) -> Result<(), ConnectorError>;

    /// Uploads one image (bytes with a file name); returns the platform's reference.
    async fn upload_image(&self, name: &str, bytes: Vec<u8>) -> Result<String, ConnectorError>;

    /// Creates the listing, or updates `existing` to match the draft's content.
    /// Price and stock of existing variants go through `set_price`/`set_stock`.
    async fn upsert_listing(
        &self,
        draft: &ListingDraft,
        existing: Option<&RemoteListing>,
    ) -> Result<RemoteListing, ConnectorError>;

    /// The attributes the platform requires for a listing in `category_id`
    /// that the channel's mapping must supply: mandatory attributes other
    /// than those the connector fills from the draft itself (title,
    /// description, brand, variation axes).
    async fn required_attributes(
        &self,
        category_id: &str,
    ) -> Result<Vec<AttributeSpec>, ConnectorError>;

    /// Every attribute of `category_id` the platform describes, mandatory or
    /// not, with its options where it takes only those: `check-config` names
    /// a mapped value that is none of them. Platforms that describe no
    /// options give the required attributes.
    async fn category_attributes(
        &self,
        category_id: &str,
    ) -> Result<Vec<AttributeSpec>, ConnectorError> {
        self.required_attributes(category_id).await
    }

    /// What is wrong with the mapping's logistics channel ids (unknown,
    /// disabled, missing what the channel's fee type needs), one sentence
    /// each naming the id; empty where the platform has nothing to check.
    async fn logistics_problems(&self, ids: &[String]) -> Result<Vec<String>, ConnectorError> {
        let _ = ids;
        Ok(Vec::new())
    }

    /// The listing that carries `sku`, if any (adopts a create that timed out).
    async fn find_listing_by_sku(&self, sku: &str)
    -> Result<Option<RemoteListing>, ConnectorError>;

    /// Sets absolute stock; one outcome per item, in order.
    async fn set_stock(&self, items: &[StockSet]) -> Vec<ItemOutcome>;

    /// Sets prices; one outcome per item, in order.
    async fn set_price(&self, items: &[PriceSet]) -> Vec<ItemOutcome>;

    async fn list_remote_listings(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<RemoteListing>, ConnectorError>;

    /// Orders updated in the window (any length: the connector splits it).
    async fn list_orders(&self, window: OrderWindow) -> Result<Vec<OrderRef>, ConnectorError>;

    /// Full orders (any number: the connector batches).
    async fn get_orders(&self, ids: &[String]) -> Result<Vec<Order>, ConnectorError>;

    /// Checks a webhook's signature over the raw body and says what changed.
    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<WebhookHint, ConnectorError>;
}
