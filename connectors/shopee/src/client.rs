//! The Shopee connector: requests signed per attempt, shop calls with tokens
//! refreshed ahead of expiry (and once on refusal), listings, stock, prices,
//! orders and pushes.

use std::collections::{BTreeMap, HashMap};
use std::convert::identity;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chosync_connector::batch::{BatchOutcomes, last_per_key};
use chosync_connector::clock::Clock;
use chosync_connector::credentials::{CredentialStore, Refresher, TokenPair, Tokens};
use chosync_connector::dto::{
    AttributeSpec, ItemOutcome, ListingDraft, Order, OrderRef, OrderWindow, Page, PriceSet,
    RemoteListing, RemoteRef, RemoteVariant, StockSet, WebhookHint,
};
use chosync_connector::events::EventSink;
use chosync_connector::http::{Answer, Endpoint, Http, HttpConfig, Reply};
use chosync_connector::lost_write;
use chosync_connector::{BatchScope, Capabilities, Connector, ConnectorError, Limits};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::dto;
use crate::mapping::{Payload, decode, decode_batch, token_refused};
use crate::orders::{split_windows, state_of};
use crate::sign;
use crate::variants::{Extension, NewModel, add_model_body, must_recreate};

/// Shopee allows one item and at most 50 models per stock or price call.
pub const MODELS_PER_CALL: usize = 50;
/// `get_order_detail` and `get_item_base_info` take at most 50 ids.
pub const IDS_PER_CALL: usize = 50;
const PAGE_SIZE: i64 = 50;
/// Shopee documents waiting at least this long between `add_item` and
/// `init_tier_variation`.
pub const TIER_WAIT: Duration = Duration::from_secs(5);

mod ep {
    use chosync_connector::EndpointClass::*;
    use chosync_connector::http::Endpoint;

    const fn e(
        path: &'static str,
        class: chosync_connector::EndpointClass,
        idempotent: bool,
    ) -> Endpoint {
        Endpoint {
            path,
            class,
            idempotent,
        }
    }

    pub const AUTH_PARTNER: &str = "/api/v2/shop/auth_partner";
    // Codes and refresh tokens are single-use, yet repeating these calls is safe:
    // if the first attempt spent the token, the repeat is refused, which is
    // where a lost answer leaves the channel anyway; if it did not, it succeeds.
    pub const TOKEN_GET: Endpoint = e("/api/v2/auth/token/get", Auth, true);
    pub const TOKEN_REFRESH: Endpoint = e("/api/v2/auth/access_token/get", Auth, true);
    pub const UPLOAD_IMAGE: Endpoint = e("/api/v2/media_space/upload_image", Media, true);
    pub const ITEM_LIMIT: Endpoint = e("/api/v2/product/get_item_limit", Catalogue, true);
    pub const ATTRIBUTE_TREE: Endpoint = e("/api/v2/product/get_attribute_tree", Catalogue, true);
    pub const ADD_ITEM: Endpoint = e("/api/v2/product/add_item", Catalogue, false);
    pub const INIT_TIERS: Endpoint = e("/api/v2/product/init_tier_variation", Catalogue, false);
    pub const ADD_MODEL: Endpoint = e("/api/v2/product/add_model", Catalogue, false);
    // It sets every tier and every model's place in them, so a repeat sets
    // the same again.
    pub const UPDATE_TIERS: Endpoint = e("/api/v2/product/update_tier_variation", Catalogue, true);
    pub const UPDATE_ITEM: Endpoint = e("/api/v2/product/update_item", Catalogue, true);
    pub const DELETE_ITEM: Endpoint = e("/api/v2/product/delete_item", Catalogue, true);
    pub const UPDATE_STOCK: Endpoint = e("/api/v2/product/update_stock", Inventory, true);
    pub const UPDATE_PRICE: Endpoint = e("/api/v2/product/update_price", Inventory, true);
    pub const ITEM_LIST: Endpoint = e("/api/v2/product/get_item_list", Catalogue, true);
    pub const BASE_INFO: Endpoint = e("/api/v2/product/get_item_base_info", Catalogue, true);
    pub const MODEL_LIST: Endpoint = e("/api/v2/product/get_model_list", Catalogue, true);
    pub const ORDER_LIST: Endpoint = e("/api/v2/order/get_order_list", Orders, true);
    pub const ORDER_DETAIL: Endpoint = e("/api/v2/order/get_order_detail", Orders, true);
    pub const LOST_PUSH: Endpoint = e("/api/v2/push/get_lost_push_message", Push, true);
    pub const CONFIRM_PUSH: Endpoint = e(
        "/api/v2/push/confirm_consumed_lost_push_message",
        Push,
        true,
    );
}

/// One Shopee shop as a chosync channel.
#[derive(Clone)]
pub struct ShopeeConfig {
    pub channel: String,
    /// e.g. `https://partner.shopeemobile.com` (no trailing slash needed).
    pub base_url: String,
    pub partner_id: i64,
    pub partner_key: SecretString,
    pub shop_id: i64,
    /// The push callback URL exactly as registered in the console.
    pub callback_url: Option<String>,
    pub limits: Limits,
    pub http: HttpConfig,
    pub tier_wait: Duration,
}

impl ShopeeConfig {
    /// Shopee publishes no numbers; 10 requests/s per shop is conservative.
    pub fn default_limits() -> Limits {
        Limits::shared("shop", NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN))
    }
}

pub struct Shopee {
    config: ShopeeConfig,
    http: Http,
    tokens: Tokens,
    clock: Arc<dyn Clock>,
    /// Held across a fetch, so listings created together ask once per category.
    limits_by_category: tokio::sync::Mutex<HashMap<String, dto::ItemLimit>>,
    /// Mandatory attributes per category id, held across a fetch likewise.
    attributes_by_category: tokio::sync::Mutex<HashMap<i64, Vec<AttributeSpec>>>,
}

impl Shopee {
    pub fn new(
        config: ShopeeConfig,
        credentials: Arc<dyn CredentialStore>,
        events: Arc<dyn EventSink>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        let http = Http::new(&config.channel, &config.limits, events, config.http)?;
        let tokens = Tokens::new(&config.channel, credentials, clock.clone());
        Ok(Self {
            config,
            http,
            tokens,
            clock,
            limits_by_category: tokio::sync::Mutex::new(HashMap::new()),
            attributes_by_category: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    /// The link a seller opens to authorize this app for their shop (valid 5 min).
    pub fn auth_link(&self, redirect: &str) -> Result<String, ConnectorError> {
        let ts = self.now();
        let key = self.config.partner_key.expose_secret();
        let sign = sign::public(key, self.config.partner_id, ep::AUTH_PARTNER, ts);
        let mut url =
            url::Url::parse(&self.url(ep::AUTH_PARTNER)).map_err(|e| ConnectorError::Rejected {
                code: "bad_base_url".into(),
                field: Some("base_url".into()),
                message: e.to_string(),
            })?;
        url.query_pairs_mut()
            .append_pair("partner_id", &self.config.partner_id.to_string())
            .append_pair("timestamp", &ts.to_string())
            .append_pair("sign", &sign)
            .append_pair("redirect", redirect);
        Ok(url.to_string())
    }

    /// Exchanges the authorization `code` for tokens and stores them.
    pub async fn authorize(&self, code: &str) -> Result<(), ConnectorError> {
        let body = json!({
            "code": code,
            "partner_id": self.config.partner_id,
            "shop_id": self.config.shop_id,
        });
        let tokens: dto::Tokens = self
            .public_post(&ep::TOKEN_GET, body, Payload::TopLevel)
            .await?;
        self.tokens.install(self.pair(tokens)).await
    }

    fn pair(&self, tokens: dto::Tokens) -> TokenPair {
        let now = self.clock.now();
        TokenPair {
            access_token: tokens.access_token.into(),
            refresh_token: tokens.refresh_token.into(),
            access_expires_at: now + chrono::Duration::seconds(tokens.expire_in),
            refresh_expires_at: Some(now + chrono::Duration::days(30)),
        }
    }

    async fn public_post<T: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        body: Value,
        payload: Payload,
    ) -> Result<T, ConnectorError> {
        self.http
            .call(
                endpoint,
                || {
                    Ok(self
                        .signed(Method::POST, endpoint.path, None, &[])
                        .json(&body))
                },
                |reply| decode(reply, payload),
            )
            .await
    }

    /// A request with Shopee's common parameters, signed now.
    fn signed(
        &self,
        method: Method,
        path: &str,
        access_token: Option<&SecretString>,
        query: &[(&str, String)],
    ) -> RequestBuilder {
        let ts = self.now();
        let key = self.config.partner_key.expose_secret();
        let partner = self.config.partner_id;
        let mut common = vec![
            ("partner_id", partner.to_string()),
            ("timestamp", ts.to_string()),
        ];
        let sign = match access_token {
            Some(token) => {
                let token = token.expose_secret();
                common.push(("access_token", token.to_string()));
                common.push(("shop_id", self.config.shop_id.to_string()));
                sign::shop(key, partner, path, ts, token, self.config.shop_id)
            }
            None => sign::public(key, partner, path, ts),
        };
        common.push(("sign", sign));
        self.http
            .client()
            .request(method, self.url(path))
            .query(&common)
            .query(query)
    }

    async fn shop_get<T: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        query: Vec<(&str, String)>,
    ) -> Result<T, ConnectorError> {
        self.shop_call(endpoint, Method::GET, &query, None, response)
            .await
    }

    async fn shop_post<T: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        body: Value,
    ) -> Result<T, ConnectorError> {
        self.shop_call(endpoint, Method::POST, &[], Some(&body), response)
            .await
    }

    /// A shop call; a refused token is refreshed once and the call repeated.
    async fn shop_call<T: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        method: Method,
        query: &[(&str, String)],
        body: Option<&Value>,
        decode: fn(&Reply) -> Answer<T>,
    ) -> Result<T, ConnectorError> {
        let method = &method;
        self.tokens
            .with_access(self, token_refused, |token| async move {
                self.shop_attempts(endpoint, method, query, body, &token, decode)
                    .await
            })
            .await
    }

    async fn shop_attempts<T: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        method: &Method,
        query: &[(&str, String)],
        body: Option<&Value>,
        token: &SecretString,
        decode: fn(&Reply) -> Answer<T>,
    ) -> Result<T, ConnectorError> {
        self.http
            .call(
                endpoint,
                || {
                    let request = self.signed(method.clone(), endpoint.path, Some(token), query);
                    Ok(match body {
                        Some(body) => request.json(body),
                        None => request,
                    })
                },
                decode,
            )
            .await
    }

    /// Shopee's limits for a category (title length, price range, …), cached.
    pub async fn item_limit(&self, category_id: &str) -> Result<dto::ItemLimit, ConnectorError> {
        let mut cache = self.limits_by_category.lock().await;
        if let Some(limit) = cache.get(category_id) {
            return Ok(limit.clone());
        }
        let limit: dto::ItemLimit = self
            .shop_get(
                &ep::ITEM_LIMIT,
                vec![("category_id", category_id.to_string())],
            )
            .await?;
        cache.insert(category_id.to_string(), limit.clone());
        Ok(limit)
    }

    /// The mandatory attributes of a category (Vietnamese names), cached for
    /// the life of the client, as they change rarely.
    async fn mandatory_attributes(
        &self,
        category_id: &str,
    ) -> Result<Vec<AttributeSpec>, ConnectorError> {
        let category = category_number(category_id)?;
        let mut cache = self.attributes_by_category.lock().await;
        if let Some(specs) = cache.get(&category) {
            return Ok(specs.clone());
        }
        let trees: dto::AttributeTrees = self
            .shop_get(
                &ep::ATTRIBUTE_TREE,
                vec![
                    ("category_id_list", category.to_string()),
                    ("language", "vn".into()),
                ],
            )
            .await?;
        let specs = mandatory_of(trees, category)?;
        cache.insert(category, specs.clone());
        Ok(specs)
    }

    fn check_against(
        &self,
        draft: &ListingDraft,
        limit: &dto::ItemLimit,
    ) -> Result<(), ConnectorError> {
        let reject = |field: &str, message: String| ConnectorError::Rejected {
            code: "chosync_item_limit".into(),
            field: Some(field.into()),
            message,
        };
        let title = draft.title.chars().count() as i64;
        if title > limit.item_name_length_limit {
            return Err(reject(
                "title",
                format!(
                    "title has {title} characters; Shopee allows {} here",
                    limit.item_name_length_limit
                ),
            ));
        }
        for variant in &draft.variants {
            let range = &limit.price_limit;
            if (variant.price as f64) < range.min_limit || (variant.price as f64) > range.max_limit
            {
                return Err(reject(
                    "price",
                    format!(
                        "price of {} is {} VND; Shopee allows {}–{} here",
                        variant.sku, variant.price, range.min_limit, range.max_limit
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The SKU a listing carries itself: the only variant's, or the product key.
    fn listing_sku(draft: &ListingDraft) -> String {
        match draft.variants.as_slice() {
            [only] if draft.option_names.is_empty() => only.sku.clone(),
            _ => draft.product_key.clone(),
        }
    }

    /// Creates an item. An item with variations is created unlisted with no
    /// stock, gets its tiers, and only then goes on sale; if its tiers are
    /// refused it is deleted again, so a failed create leaves nothing to sell.
    async fn create(&self, draft: &ListingDraft) -> Result<RemoteListing, ConnectorError> {
        check_variations(draft)?;
        let listing_sku = Self::listing_sku(draft);
        let with_tiers = !draft.option_names.is_empty();
        let item_id = self.add_item(draft, &listing_sku).await?;
        let added_at = tokio::time::Instant::now();
        if !with_tiers {
            return self.listing(item_id).await;
        }
        self.add_tiers(item_id, draft, added_at).await
    }

    /// Gives a new item (or one whose create was cut off after `add_item`)
    /// its variations and puts it on sale.
    async fn add_tiers(
        &self,
        item_id: i64,
        draft: &ListingDraft,
        added_at: tokio::time::Instant,
    ) -> Result<RemoteListing, ConnectorError> {
        tokio::time::sleep_until(added_at + self.config.tier_wait).await;
        let tiers = self
            .shop_post::<Value>(&ep::INIT_TIERS, tier_body(item_id, draft))
            .await;
        match tiers {
            // A lost answer is settled by the read below.
            Ok(_) | Err(ConnectorError::Ambiguous(_)) => {}
            Err(refused) => {
                self.discard(item_id).await;
                return Err(refused);
            }
        }
        // The one read a create needs: the model ids the variations got.
        let mut listing = self.listing(item_id).await?;
        if listing.variants.iter().all(|v| v.variant_id == "0") {
            return Err(ConnectorError::Ambiguous(format!(
                "item {item_id} was created but its variations could not be confirmed"
            )));
        }
        self.shop_post::<Value>(
            &ep::UPDATE_ITEM,
            json!({ "item_id": item_id, "item_status": draft.on_sale("NORMAL", "UNLIST") }),
        )
        .await?;
        listing.status = draft.on_sale("NORMAL", "UNLIST").into();
        Ok(listing)
    }

    /// `add_item` is not idempotent: after an answer that was lost, the SKU is
    /// looked up (twice, a second apart, as Shopee may need a moment to list
    /// it) and the item adopted; only when it is surely absent is it sent again.
    async fn add_item(
        &self,
        draft: &ListingDraft,
        listing_sku: &str,
    ) -> Result<i64, ConnectorError> {
        let body = add_item_body(draft, listing_sku)?;
        let mut last = String::new();
        for _ in 0..3 {
            match self
                .shop_post::<dto::AddedItem>(&ep::ADD_ITEM, body.clone())
                .await
            {
                Ok(item) => return Ok(item.item_id),
                Err(ConnectorError::Ambiguous(detail)) => {
                    tracing::warn!(channel = %self.config.channel, sku = %listing_sku, %detail, "add_item outcome unknown; looking the SKU up");
                    if let Some(item_id) = self.adopt(listing_sku).await? {
                        return Ok(item_id);
                    }
                    last = detail;
                }
                Err(other) => return Err(other),
            }
        }
        Err(ConnectorError::Ambiguous(format!(
            "add_item for {listing_sku} did not complete ({last}); look the SKU up before trying again"
        )))
    }

    async fn adopt(&self, listing_sku: &str) -> Result<Option<i64>, ConnectorError> {
        let found = lost_write::look_up(|| self.find_listing_by_sku(listing_sku), identity).await?;
        found
            .map(|found| {
                found
                    .listing_id
                    .parse()
                    .map_err(|_| ConnectorError::NotFound(format!("item id {}", found.listing_id)))
            })
            .transpose()
    }

    /// Deletes an unlisted item whose variations were refused.
    async fn discard(&self, item_id: i64) {
        if let Err(err) = self
            .shop_post::<Value>(&ep::DELETE_ITEM, json!({ "item_id": item_id }))
            .await
        {
            tracing::warn!(channel = %self.config.channel, item_id, error = %err, "an unlisted item whose variations were refused is left behind");
        }
    }

    async fn update(
        &self,
        draft: &ListingDraft,
        existing: &RemoteListing,
    ) -> Result<RemoteListing, ConnectorError> {
        let item_id: i64 = existing
            .listing_id
            .parse()
            .map_err(|_| ConnectorError::NotFound(format!("item id {}", existing.listing_id)))?;
        let missing: Vec<&str> = draft
            .variants_missing_from(existing)
            .map(|v| v.sku.as_str())
            .collect();
        let tierless = existing.variants.iter().all(|v| v.variant_id == "0");
        if tierless {
            // An adopted item whose create stopped before its variations
            // carries the product key, not a variant's SKU.
            let cut_off = existing.listing_sku.as_deref() == Some(draft.product_key.as_str());
            if !draft.option_names.is_empty() && (missing.is_empty() || cut_off) {
                check_variations(draft)?;
                return self
                    .add_tiers(item_id, draft, tokio::time::Instant::now())
                    .await;
            }
            if !missing.is_empty() {
                return Err(must_recreate(
                    existing,
                    &missing,
                    "it has no variations (its one SKU is the item's own)",
                ));
            }
        } else if !missing.is_empty() {
            check_variations(draft)?;
            self.add_variants(item_id, draft, existing, &missing)
                .await?;
        }
        let mut body = update_item_body(item_id, draft)?;
        // Also puts on sale an item a create cut off before its last step
        // left unlisted.
        body["item_status"] = json!(draft.on_sale("NORMAL", "UNLIST"));
        self.shop_post::<Value>(&ep::UPDATE_ITEM, body).await?;
        self.listing(item_id).await
    }

    /// Gives an item with tiers the draft's new SKUs: options a tier lacks
    /// are appended first (`update_tier_variation`), then the models are
    /// added (`add_model`). Every check runs on the item as just read, before
    /// any write.
    async fn add_variants(
        &self,
        item_id: i64,
        draft: &ListingDraft,
        existing: &RemoteListing,
        missing: &[&str],
    ) -> Result<(), ConnectorError> {
        // The item as it is now: an earlier attempt may have added some.
        let read = self.model_list(item_id).await?;
        let plan = Extension::plan(draft, existing, missing, &read)?;
        if plan.grown {
            self.shop_post::<Value>(&ep::UPDATE_TIERS, plan.tiers_body(item_id, &read.model))
                .await?;
        }
        for chunk in plan.new.chunks(MODELS_PER_CALL) {
            self.add_models(item_id, chunk).await?;
        }
        Ok(())
    }

    /// `add_model` is not idempotent: after an answer that was lost, the
    /// item's models are read (twice, a second apart, as for `add_item`) and
    /// those whose SKU is there adopted; only the ones surely absent are sent
    /// again.
    async fn add_models(&self, item_id: i64, chunk: &[NewModel<'_>]) -> Result<(), ConnectorError> {
        let mut pending: Vec<&NewModel> = chunk.iter().collect();
        let mut last = String::new();
        for _ in 0..3 {
            match self
                .shop_post::<Value>(&ep::ADD_MODEL, add_model_body(item_id, &pending))
                .await
            {
                Ok(_) => return Ok(()),
                Err(ConnectorError::Ambiguous(detail)) => {
                    tracing::warn!(channel = %self.config.channel, item_id, %detail, "add_model outcome unknown; reading the models");
                    pending = self.still_absent(item_id, pending).await?;
                    if pending.is_empty() {
                        return Ok(());
                    }
                    last = detail;
                }
                Err(other) => return Err(other),
            }
        }
        let skus: Vec<&str> = pending.iter().map(|m| m.variant.sku.as_str()).collect();
        Err(ConnectorError::Ambiguous(format!(
            "add_model for {} on item {item_id} did not complete ({last}); read the item before trying again",
            skus.join(", ")
        )))
    }

    /// The models of `pending` the item does not carry yet.
    async fn still_absent<'a>(
        &self,
        item_id: i64,
        mut pending: Vec<&'a NewModel<'a>>,
    ) -> Result<Vec<&'a NewModel<'a>>, ConnectorError> {
        lost_write::look_up(
            || self.model_list(item_id),
            |read| {
                pending.retain(|m| !read.model.iter().any(|r| r.model_sku == m.variant.sku));
                pending.is_empty().then_some(())
            },
        )
        .await?;
        Ok(pending)
    }

    async fn model_list(&self, item_id: i64) -> Result<dto::ModelList, ConnectorError> {
        self.shop_get(&ep::MODEL_LIST, vec![("item_id", item_id.to_string())])
            .await
    }

    /// One item with its models, as Shopee holds it.
    async fn listing(&self, item_id: i64) -> Result<RemoteListing, ConnectorError> {
        let mut listings = self.listings(&[item_id]).await?;
        listings
            .pop()
            .ok_or_else(|| ConnectorError::NotFound(format!("item {item_id}")))
    }

    async fn listings(&self, item_ids: &[i64]) -> Result<Vec<RemoteListing>, ConnectorError> {
        let mut out = Vec::new();
        for ids in item_ids.chunks(IDS_PER_CALL) {
            let joined = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            let info: dto::BaseInfo = self
                .shop_get(&ep::BASE_INFO, vec![("item_id_list", joined)])
                .await?;
            for item in info.item_list {
                let variants = if item.has_model {
                    let models = self.model_list(item.item_id).await?;
                    models
                        .model
                        .into_iter()
                        .map(|m| RemoteVariant {
                            price: m.price(),
                            stock: dto::seller_stock(&m.stock_info_v2),
                            sku: m.model_sku,
                            variant_id: m.model_id.to_string(),
                        })
                        .collect()
                } else {
                    vec![RemoteVariant {
                        sku: item.item_sku.clone(),
                        variant_id: "0".into(),
                        price: item
                            .price_info
                            .first()
                            .map_or(0, |p| p.original_price as i64),
                        stock: dto::seller_stock(&item.stock_info_v2),
                    }]
                };
                out.push(RemoteListing {
                    listing_id: item.item_id.to_string(),
                    listing_sku: Some(item.item_sku).filter(|s| !s.is_empty()),
                    status: item.item_status,
                    title: item.item_name,
                    variants,
                });
            }
        }
        Ok(out)
    }

    /// Sets stock or price: one call per item with at most 50 models, and one
    /// outcome per input, in input order.
    async fn per_item<'a>(
        &self,
        endpoint: &Endpoint,
        list_field: &str,
        field: &str,
        items: Vec<(&'a str, &'a RemoteRef, Value)>,
    ) -> Vec<ItemOutcome> {
        let key = |at: &'a RemoteRef| (at.listing_id.as_str(), at.variant_id.as_str());
        // Per item, per model: the last value asked for wins (Shopee refuses a
        // repeated model_id).
        let mut by_item: BTreeMap<&str, Vec<(&str, usize)>> = BTreeMap::new();
        for ((listing, model), i) in last_per_key(items.iter().map(|(_, at, _)| key(at))) {
            by_item.entry(listing).or_default().push((model, i));
        }
        let mut outcomes = BatchOutcomes::default();
        for (listing, models) in by_item {
            for chunk in models.chunks(MODELS_PER_CALL) {
                let entries: Vec<Value> = chunk.iter().map(|(_, i)| items[*i].2.clone()).collect();
                let batch: Result<dto::BatchResult, ConnectorError> = match listing.parse::<i64>() {
                    Ok(item_id) => {
                        let mut body = json!({ "item_id": item_id });
                        body[list_field] = Value::Array(entries);
                        self.shop_call(endpoint, Method::POST, &[], Some(&body), decode_batch)
                            .await
                    }
                    Err(_) => Err(ConnectorError::NotFound(format!("item id {listing}"))),
                };
                let keys = chunk.iter().map(|(model, _)| (listing, *model));
                outcomes.record(keys, &batch, |batch, (_, model)| {
                    batch.outcome(model, field)
                });
            }
        }
        outcomes.per_input(items.iter().map(|(sku, at, _)| (*sku, key(at))))
    }

    /// Push messages Shopee could not deliver (last 3 days, 100 at a time).
    pub async fn lost_pushes(&self) -> Result<dto::LostPushes, ConnectorError> {
        self.shop_get(&ep::LOST_PUSH, Vec::new()).await
    }

    /// Marks lost pushes up to `last_message_id` as handled.
    pub async fn confirm_pushes(&self, last_message_id: i64) -> Result<(), ConnectorError> {
        self.shop_post::<Value>(
            &ep::CONFIRM_PUSH,
            json!({ "last_message_id": last_message_id }),
        )
        .await
        .map(|_| ())
    }
}

fn response<T: DeserializeOwned>(reply: &Reply) -> Answer<T> {
    decode(reply, Payload::Response)
}

/// Shopee's limits on variations (VN), checked before anything is created.
fn check_variations(draft: &ListingDraft) -> Result<(), ConnectorError> {
    let reject = |field: &str, message: String| {
        Err(ConnectorError::Rejected {
            code: "chosync_variation_limit".into(),
            field: Some(field.into()),
            message,
        })
    };
    if draft.option_names.len() > 2 {
        return reject("variants", "Shopee allows at most 2 option axes".into());
    }
    if draft.variants.len() > 50 {
        return reject(
            "variants",
            format!(
                "{} variants; Shopee allows at most 50",
                draft.variants.len()
            ),
        );
    }
    for axis in 0..draft.option_names.len() {
        let mut values: Vec<&String> = draft
            .variants
            .iter()
            .filter_map(|v| v.option_values.get(axis))
            .collect();
        values.sort();
        values.dedup();
        if values.len() > 20 {
            return reject(
                "variants",
                format!(
                    "{} values for \"{}\"; Shopee allows at most 20",
                    values.len(),
                    draft.option_names[axis]
                ),
            );
        }
    }
    if draft
        .variants
        .iter()
        .any(|v| v.option_values.len() != draft.option_names.len())
    {
        return reject(
            "variants",
            "every variant needs one value per option".into(),
        );
    }
    if let Some(long) = draft.variants.iter().find(|v| v.sku.chars().count() > 100) {
        return reject(
            "sku",
            format!("SKU {} is longer than 100 characters", long.sku),
        );
    }
    let prices = draft.variants.iter().map(|v| v.price);
    if let (Some(min), Some(max)) = (prices.clone().min(), prices.max())
        && max > min.saturating_mul(5)
    {
        return reject(
            "price",
            format!(
                "prices range from {min} to {max} VND; Shopee allows the dearest variant at most 5 times the cheapest"
            ),
        );
    }
    Ok(())
}

/// A Shopee id (category, attribute): digits only, above zero. Anything else
/// is refused here rather than sent as some other id.
fn shopee_id(raw: &str, what: &str, field: &str) -> Result<i64, ConnectorError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0 && raw.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| ConnectorError::Rejected {
            code: format!("chosync_{what}_id"),
            field: Some(field.into()),
            message: format!("Shopee {what} ids are positive numbers; \"{raw}\" is not one"),
        })
}

fn category_number(category_id: &str) -> Result<i64, ConnectorError> {
    shopee_id(category_id, "category", "category")
}

/// The mandatory attributes in `category`'s tree. Shopee keeps title,
/// description, brand and variations out of the tree (they are item fields),
/// so every one of them is the mapping's to supply.
fn mandatory_of(
    trees: dto::AttributeTrees,
    category: i64,
) -> Result<Vec<AttributeSpec>, ConnectorError> {
    // One category is asked for, so an entry that omits its id is ours.
    let tree = trees
        .list
        .into_iter()
        .find(|t| t.category_id == category || t.category_id == 0)
        .ok_or_else(|| {
            ConnectorError::NotFound(format!("the attribute tree of category {category}"))
        })?;
    Ok(tree
        .attribute_tree
        .into_iter()
        .filter(|a| a.mandatory)
        .map(|a| AttributeSpec {
            id: a.attribute_id.to_string(),
            name: a.name,
        })
        .collect())
}

/// Model 0 stands for an item without variations.
fn model_id(at: &RemoteRef) -> i64 {
    at.variant_id.parse().unwrap_or(0)
}

fn add_item_body(draft: &ListingDraft, listing_sku: &str) -> Result<Value, ConnectorError> {
    let cheapest = draft.variants.iter().map(|v| v.price).min().unwrap_or(0);
    // With variations to come, nothing is for sale until they are in place.
    let with_tiers = !draft.option_names.is_empty();
    let stock: i64 = if with_tiers {
        0
    } else {
        draft.variants.iter().map(|v| v.stock).sum()
    };
    let mut body = json!({
        "item_name": draft.title,
        "description": draft.description,
        "original_price": cheapest,
        "seller_stock": [{ "stock": stock }],
        "weight": draft.weight_g as f64 / 1000.0,
        "category_id": category_number(&draft.category_id)?,
        "image": { "image_id_list": draft.images },
        "item_sku": listing_sku,
        "item_status": if with_tiers { "UNLIST" } else { draft.on_sale("NORMAL", "UNLIST") },
        "condition": "NEW",
        "logistic_info": draft.logistics.iter().map(|id| json!({
            "logistic_id": id.parse::<i64>().unwrap_or(0),
            "enabled": true,
        })).collect::<Vec<_>>(),
        "attribute_list": attributes(draft)?,
    });
    extend_common(&mut body, draft);
    Ok(body)
}

fn update_item_body(item_id: i64, draft: &ListingDraft) -> Result<Value, ConnectorError> {
    let mut body = json!({
        "item_id": item_id,
        "item_name": draft.title,
        "description": draft.description,
        "weight": draft.weight_g as f64 / 1000.0,
        "category_id": category_number(&draft.category_id)?,
        "image": { "image_id_list": draft.images },
        "attribute_list": attributes(draft)?,
    });
    extend_common(&mut body, draft);
    Ok(body)
}

fn extend_common(body: &mut Value, draft: &ListingDraft) {
    if let Some([length, width, height]) = draft.dimensions_cm {
        body["dimension"] = json!({
            "package_length": length,
            "package_width": width,
            "package_height": height,
        });
    }
    if let Some(brand) = &draft.brand {
        body["brand"] = json!({ "brand_id": 0, "original_brand_name": brand });
    }
}

/// The mapping's attributes as custom values (`value_id` 0 with
/// `original_value_name`, a string), the shape the reference gives for values
/// not picked from Shopee's list.
fn attributes(draft: &ListingDraft) -> Result<Vec<Value>, ConnectorError> {
    draft
        .attributes
        .iter()
        .map(|(id, value)| {
            Ok(json!({
                "attribute_id": shopee_id(id, "attribute", "attributes")?,
                "attribute_value_list": [{ "value_id": 0, "original_value_name": value }],
            }))
        })
        .collect()
}

fn tier_body(item_id: i64, draft: &ListingDraft) -> Value {
    // Option values in first-seen order per axis; each model points into them.
    let mut options: Vec<Vec<String>> = vec![Vec::new(); draft.option_names.len()];
    for variant in &draft.variants {
        for (axis, value) in variant.option_values.iter().enumerate() {
            if let Some(list) = options.get_mut(axis)
                && !list.contains(value)
            {
                list.push(value.clone());
            }
        }
    }
    let tiers: Vec<Value> = draft
        .option_names
        .iter()
        .zip(&options)
        .map(|(name, values)| {
            json!({
                "variation_id": 0,
                "variation_name": name,
                "variation_option_list": values.iter().map(|v| json!({
                    "variation_option_id": 0,
                    "variation_option_name": v,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let models: Vec<Value> = draft
        .variants
        .iter()
        .map(|variant| {
            let tier_index: Vec<usize> = variant
                .option_values
                .iter()
                .enumerate()
                .map(|(axis, value)| options[axis].iter().position(|o| o == value).unwrap_or(0))
                .collect();
            json!({
                "tier_index": tier_index,
                "original_price": variant.price,
                "model_sku": variant.sku,
                "seller_stock": [{ "stock": variant.stock }],
            })
        })
        .collect();
    json!({ "item_id": item_id, "standardise_tier_variation": tiers, "model": models })
}

#[async_trait]
impl Refresher for Shopee {
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenPair, ConnectorError> {
        let body = json!({
            "refresh_token": refresh_token.expose_secret(),
            "partner_id": self.config.partner_id,
            "shop_id": self.config.shop_id,
        });
        let tokens: dto::Tokens = self
            .public_post(&ep::TOKEN_REFRESH, body, Payload::TopLevel)
            .await?;
        Ok(self.pair(tokens))
    }
}

#[async_trait]
impl Connector for Shopee {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            stock_batch: MODELS_PER_CALL,
            price_batch: MODELS_PER_CALL,
            batch_scope: BatchScope::OneListing,
            webhooks: true,
            max_title_chars: 120,
            max_variants: 50,
            order_window: Duration::from_secs(15 * 24 * 3600),
            order_detail_batch: IDS_PER_CALL,
        }
    }

    fn default_limits(&self) -> Limits {
        ShopeeConfig::default_limits()
    }

    async fn refresh_credentials(&self) -> Result<(), ConnectorError> {
        self.tokens.refresh_now(self).await
    }

    async fn upload_image(&self, name: &str, bytes: Vec<u8>) -> Result<String, ConnectorError> {
        let endpoint = &ep::UPLOAD_IMAGE;
        let uploaded: dto::Uploaded = self
            .http
            .call(
                endpoint,
                || {
                    let part =
                        reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string());
                    let form = reqwest::multipart::Form::new()
                        .part("image", part)
                        .text("scene", "normal");
                    Ok(self
                        .signed(Method::POST, endpoint.path, None, &[])
                        .multipart(form))
                },
                |reply| decode(reply, Payload::Response),
            )
            .await?;
        Ok(uploaded.image_info.image_id)
    }

    async fn upsert_listing(
        &self,
        draft: &ListingDraft,
        existing: Option<&RemoteListing>,
    ) -> Result<RemoteListing, ConnectorError> {
        let limit = self.item_limit(&draft.category_id).await?;
        self.check_against(draft, &limit)?;
        match existing {
            Some(existing) => self.update(draft, existing).await,
            None => self.create(draft).await,
        }
    }

    async fn required_attributes(
        &self,
        category_id: &str,
    ) -> Result<Vec<AttributeSpec>, ConnectorError> {
        self.mandatory_attributes(category_id).await
    }

    async fn find_listing_by_sku(
        &self,
        sku: &str,
    ) -> Result<Option<RemoteListing>, ConnectorError> {
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list_remote_listings(cursor.as_deref()).await?;
            if let Some(found) = page.items.into_iter().find(|l| l.carries(sku)) {
                return Ok(Some(found));
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(None),
            }
        }
    }

    async fn set_stock(&self, items: &[StockSet]) -> Vec<ItemOutcome> {
        let entries = items
            .iter()
            .map(|s| {
                let entry = json!({
                    "model_id": model_id(&s.at),
                    "seller_stock": [{ "stock": s.quantity }],
                });
                (s.sku.as_str(), &s.at, entry)
            })
            .collect();
        self.per_item(&ep::UPDATE_STOCK, "stock_list", "stock", entries)
            .await
    }

    async fn set_price(&self, items: &[PriceSet]) -> Vec<ItemOutcome> {
        let entries = items
            .iter()
            .map(|p| {
                let entry = json!({ "model_id": model_id(&p.at), "original_price": p.price });
                (p.sku.as_str(), &p.at, entry)
            })
            .collect();
        self.per_item(&ep::UPDATE_PRICE, "price_list", "price", entries)
            .await
    }

    async fn list_remote_listings(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<RemoteListing>, ConnectorError> {
        let offset: i64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let list: dto::ItemList = self
            .shop_get(
                &ep::ITEM_LIST,
                vec![
                    ("offset", offset.to_string()),
                    ("page_size", PAGE_SIZE.to_string()),
                    ("item_status", "NORMAL".into()),
                    ("item_status", "UNLIST".into()),
                    ("item_status", "REVIEWING".into()),
                ],
            )
            .await?;
        let ids: Vec<i64> = list.item.iter().map(|i| i.item_id).collect();
        let items = self.listings(&ids).await?;
        let next = list.has_next_page.then(|| list.next_offset.to_string());
        Ok(Page { items, next })
    }

    async fn list_orders(&self, window: OrderWindow) -> Result<Vec<OrderRef>, ConnectorError> {
        let mut out = Vec::new();
        for (from, to) in split_windows(window, self.capabilities().order_window) {
            let mut cursor = String::new();
            loop {
                let page: dto::OrderList = self
                    .shop_get(
                        &ep::ORDER_LIST,
                        vec![
                            ("time_range_field", "update_time".into()),
                            ("time_from", from.to_string()),
                            ("time_to", to.to_string()),
                            ("page_size", "100".into()),
                            ("cursor", cursor.clone()),
                            ("response_optional_fields", "order_status".into()),
                        ],
                    )
                    .await?;
                out.extend(page.order_list.into_iter().map(|o| OrderRef {
                    order_id: o.order_sn,
                    status: o.order_status.unwrap_or_default(),
                }));
                if !page.more || page.next_cursor.is_empty() {
                    break;
                }
                cursor = page.next_cursor;
            }
        }
        Ok(out)
    }

    async fn get_orders(&self, ids: &[String]) -> Result<Vec<Order>, ConnectorError> {
        let mut out = Vec::new();
        for batch in ids.chunks(IDS_PER_CALL) {
            let detail: dto::OrderDetail = self
                .shop_get(
                    &ep::ORDER_DETAIL,
                    vec![
                        ("order_sn_list", batch.join(",")),
                        ("response_optional_fields", "item_list".into()),
                    ],
                )
                .await?;
            out.extend(
                detail
                    .order_list
                    .into_iter()
                    .map(dto::OrderInfo::into_order),
            );
        }
        Ok(out)
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<WebhookHint, ConnectorError> {
        let Some(callback) = &self.config.callback_url else {
            return Err(ConnectorError::Unauthorized(
                "no callback URL is configured for this channel's pushes".into(),
            ));
        };
        let given = headers
            .get(reqwest::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let key = self.config.partner_key.expose_secret();
        if !sign::verify(key, &[callback.as_bytes(), b"|", raw_body], given) {
            return Err(ConnectorError::Unauthorized(
                "push signature does not match".into(),
            ));
        }
        let push: dto::Push =
            serde_json::from_slice(raw_body).map_err(|e| ConnectorError::Rejected {
                code: "bad_push".into(),
                field: None,
                message: format!("push body is not Shopee's push JSON: {e}"),
            })?;
        Ok(push.hint())
    }
}

impl dto::OrderInfo {
    fn into_order(self) -> Order {
        let seconds = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap_or_default();
        let state = state_of(&self.order_status);
        Order {
            state,
            created_at: seconds(self.create_time),
            updated_at: seconds(self.update_time),
            lines: self
                .item_list
                .into_iter()
                .map(|line| chosync_connector::dto::OrderLine {
                    line_id: format!("{}:{}", line.item_id, line.model_id),
                    sku: if line.model_sku.is_empty() {
                        line.item_sku
                    } else {
                        line.model_sku
                    },
                    quantity: line.model_quantity_purchased,
                    state,
                })
                .collect(),
            platform_status: self.order_status,
            order_id: self.order_sn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attribute_tree_with_fields_left_out_still_reads() {
        let trees: dto::AttributeTrees = serde_json::from_value(json!({
            "list": [{ "attribute_tree": [
                { "attribute_id": 100010, "name": "Thương hiệu phụ" },
                { "attribute_id": 100037, "mandatory": true },
            ] }]
        }))
        .expect("decodes");
        let specs = mandatory_of(trees, 100150).expect("the only entry");
        assert_eq!(
            specs,
            vec![AttributeSpec {
                id: "100037".into(),
                name: String::new()
            }]
        );
        let other = dto::AttributeTrees {
            list: vec![dto::CategoryAttributes {
                category_id: 100151,
                attribute_tree: vec![],
            }],
        };
        assert!(matches!(
            mandatory_of(other, 100150),
            Err(ConnectorError::NotFound(_))
        ));
    }

    #[test]
    fn ids_that_are_not_numbers_are_refused_not_sent_as_zero() {
        assert_eq!(category_number("100150"), Ok(100150));
        for raw in ["", "0", "-5", "+5", "10 01", "Tinh dầu"] {
            assert!(category_number(raw).is_err(), "{raw:?}");
        }
        let draft = ListingDraft {
            product_key: "P".into(),
            title: "t".into(),
            description: "d".into(),
            category_id: "100150".into(),
            brand: None,
            attributes: vec![("Xuất xứ".into(), "Việt Nam".into())],
            images: vec![],
            weight_g: 1,
            dimensions_cm: None,
            logistics: vec![],
            option_names: vec![],
            variants: vec![],
            listed: true,
        };
        assert!(matches!(
            attributes(&draft),
            Err(ConnectorError::Rejected { ref field, .. }) if field.as_deref() == Some("attributes")
        ));
    }
}
