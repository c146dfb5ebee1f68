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
use chosync_connector::credentials::{
    Ahead, CredentialStore, Expiry, Refresher, TokenPair, Tokens,
};
use chosync_connector::dto::{
    AttributeSpec, ItemOutcome, ListingDraft, Order, OrderRef, OrderWindow, Page, PriceSet,
    RemoteListing, RemoteRef, RemoteVariant, StockSet, WebhookHint, same_option,
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
/// `get_brand_list` pages hold at most 100 brands.
const BRAND_PAGE: i64 = 100;
/// Shopee's name for an item without a brand (`brand_id` 0).
const NO_BRAND: &str = "No Brand";
/// What `get_order_detail` is asked for beyond its defaults.
const ORDER_FIELDS: &str = "item_list,cancel_by,cancel_reason,buyer_cancel_reason";
/// Shopee documents waiting at least this long between `add_item` and
/// `init_tier_variation`.
pub const TIER_WAIT: Duration = Duration::from_secs(5);

mod ep {
    use chosync_connector::EndpointClass::*;
    use chosync_connector::http::{Endpoint, endpoint as e};

    pub const AUTH_PARTNER: &str = "/api/v2/shop/auth_partner";
    // Codes are single-use, yet repeating the exchange is safe: if the first
    // attempt spent the code, the repeat is refused and the seller consents
    // again, which is where a lost answer leaves the channel anyway.
    pub const TOKEN_GET: Endpoint = e("/api/v2/auth/token/get", Auth, true);
    // A refresh token is single-use: a refresh whose answer was lost is
    // settled by `Tokens` (stored pair, then one more try), never repeated
    // blindly here.
    pub const TOKEN_REFRESH: Endpoint = e("/api/v2/auth/access_token/get", Auth, false);
    pub const UPLOAD_IMAGE: Endpoint = e("/api/v2/media_space/upload_image", Media, true);
    pub const ITEM_LIMIT: Endpoint = e("/api/v2/product/get_item_limit", Catalogue, true);
    pub const ATTRIBUTE_TREE: Endpoint = e("/api/v2/product/get_attribute_tree", Catalogue, true);
    pub const BRAND_LIST: Endpoint = e("/api/v2/product/get_brand_list", Catalogue, true);
    pub const CHANNEL_LIST: Endpoint = e("/api/v2/logistics/get_channel_list", Catalogue, true);
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
    /// Shopee publishes no numbers; 10 requests/s per shop is the assumed
    /// quota (and the sandbox's), so the client keeps one call a second of
    /// headroom for clock skew between our pacing and the gateway's windows.
    pub fn default_limits() -> Limits {
        Limits::shared("shop", NonZeroU32::new(9).unwrap_or(NonZeroU32::MIN))
    }
}

pub struct Shopee {
    config: ShopeeConfig,
    http: Http,
    tokens: Tokens,
    clock: Arc<dyn Clock>,
    /// Boxed: it is large, and the client sits in an enum of connectors.
    reference: Box<Reference>,
}

/// Reference data, read once per client and held across a fetch, so
/// listings created together ask once: item limits, attribute trees and
/// brand lists per category, the shop's logistics channels.
#[derive(Default)]
struct Reference {
    limits_by_category: tokio::sync::Mutex<HashMap<String, dto::ItemLimit>>,
    trees_by_category: tokio::sync::Mutex<HashMap<i64, Vec<dto::Attribute>>>,
    brands_by_category: tokio::sync::Mutex<HashMap<i64, dto::BrandList>>,
    channels: tokio::sync::Mutex<Option<Vec<dto::LogisticsChannel>>>,
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
            reference: Box::default(),
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

    /// When the channel's tokens run out (`None`: not authorized yet).
    pub async fn token_expiry(&self) -> Result<Option<Expiry>, ConnectorError> {
        self.tokens.expiry().await
    }

    /// Refreshes the tokens when the access token has less than `margin` left.
    pub async fn refresh_ahead(&self, margin: chrono::Duration) -> Result<Ahead, ConnectorError> {
        self.tokens.refresh_ahead(margin, self).await
    }

    /// Why the platform refused a refresh for good since last asked.
    pub fn take_refused_refresh(&self) -> Option<String> {
        self.tokens.take_refused_refresh()
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

    /// A Public-type GET: signed over `partner_id+path+timestamp`, no shop
    /// parameters.
    async fn public_get<T: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
    ) -> Result<T, ConnectorError> {
        self.http
            .call(
                endpoint,
                || Ok(self.signed(Method::GET, endpoint.path, None, &[])),
                response,
            )
            .await
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

    /// Shopee's limits for a category (title length, price range, …), read
    /// once per category for the life of the client. `category_id` is
    /// optional in `schemas/v2.product.get_item_limit.json`, but parts of
    /// the answer are the category's (days to ship, mandatory weight and
    /// dimensions), so it is asked per category a channel uses.
    pub async fn item_limit(&self, category_id: &str) -> Result<dto::ItemLimit, ConnectorError> {
        let category = category_number(category_id)?;
        let mut cache = self.reference.limits_by_category.lock().await;
        if let Some(limit) = cache.get(category_id) {
            return Ok(limit.clone());
        }
        let limit: dto::ItemLimit = self
            .shop_get(&ep::ITEM_LIMIT, vec![("category_id", category.to_string())])
            .await?;
        cache.insert(category_id.to_string(), limit.clone());
        Ok(limit)
    }

    /// A category's attribute tree (Vietnamese names), read once per
    /// category for the life of the client, as it changes rarely.
    async fn attribute_tree(&self, category: i64) -> Result<Vec<dto::Attribute>, ConnectorError> {
        let mut cache = self.reference.trees_by_category.lock().await;
        if let Some(tree) = cache.get(&category) {
            return Ok(tree.clone());
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
        let tree = tree_of(trees, category)?;
        cache.insert(category, tree.clone());
        Ok(tree)
    }

    /// The category's brand the mapping names (by id or name), if Shopee
    /// lists it, and whether the category requires one. `get_brand_list`
    /// (normal brands) is read page by page only until the brand is found
    /// — one page when none is named, which tells whether one is mandatory —
    /// and what was read is kept for the life of the client.
    async fn find_brand(
        &self,
        category: i64,
        named: Option<&str>,
    ) -> Result<(Option<dto::Brand>, bool), ConnectorError> {
        let mut cache = self.reference.brands_by_category.lock().await;
        let known = cache.entry(category).or_insert_with(|| dto::BrandList {
            has_next_page: true,
            ..dto::BrandList::default()
        });
        loop {
            let found = named.and_then(|name| {
                known.brand_list.iter().find(|b| {
                    b.brand_id.to_string() == name.trim()
                        || same_option(&b.original_brand_name, name)
                        || same_option(&b.display_brand_name, name)
                })
            });
            let first_read = known.next_offset > 0 || !known.has_next_page;
            if found.is_some() || !known.has_next_page || (named.is_none() && first_read) {
                return Ok((found.cloned(), known.is_mandatory));
            }
            let offset = known.next_offset;
            let page: dto::BrandList = self
                .shop_get(
                    &ep::BRAND_LIST,
                    vec![
                        ("offset", offset.to_string()),
                        ("page_size", BRAND_PAGE.to_string()),
                        ("category_id", category.to_string()),
                        ("status", "1".into()),
                    ],
                )
                .await?;
            known.is_mandatory |= page.is_mandatory;
            known.brand_list.extend(page.brand_list);
            // An offset that does not move would loop for ever.
            known.has_next_page = page.has_next_page && page.next_offset > offset;
            known.next_offset = page.next_offset;
        }
    }

    /// The shop's logistics channels, read once for the life of the client.
    async fn logistics_channels(&self) -> Result<Vec<dto::LogisticsChannel>, ConnectorError> {
        let mut cache = self.reference.channels.lock().await;
        if let Some(channels) = cache.as_ref() {
            return Ok(channels.clone());
        }
        let list: dto::ChannelList = self.shop_get(&ep::CHANNEL_LIST, Vec::new()).await?;
        *cache = Some(list.logistics_channel_list.clone());
        Ok(list.logistics_channel_list)
    }

    /// Every attribute of a category, drop-downs with their options.
    async fn specs(&self, category_id: &str) -> Result<Vec<AttributeSpec>, ConnectorError> {
        let tree = self.attribute_tree(category_number(category_id)?).await?;
        Ok(tree.iter().map(spec_of).collect())
    }

    /// The draft's attributes as `add_item` takes them: a drop-down value
    /// as the `value_id` of the option it names (refused when it names
    /// none), a combo-box value likewise when it names an option, any other
    /// value custom (`value_id` 0 + `original_value_name`), per
    /// `schemas/v2.product.add_item.json`.
    async fn attribute_list(&self, draft: &ListingDraft) -> Result<Vec<Value>, ConnectorError> {
        let tree = self
            .attribute_tree(category_number(&draft.category_id)?)
            .await?;
        draft
            .attributes
            .iter()
            .map(|(id, value)| attribute_entry(&tree, id, value))
            .collect()
    }

    /// `brand` for `add_item`: the category's brand the mapping names (by
    /// name or id); else Shopee's "No Brand" (`brand_id` 0,
    /// `original_brand_name` "No Brand", as `schemas/v2.product.add_item.json`
    /// describes it), which a category whose brand is mandatory refuses, so
    /// that is refused here first.
    async fn brand(&self, draft: &ListingDraft) -> Result<Value, ConnectorError> {
        let category = category_number(&draft.category_id)?;
        let named = draft.brand.as_deref().filter(|b| !b.trim().is_empty());
        let (found, mandatory) = self.find_brand(category, named).await?;
        match found {
            Some(brand) => Ok(json!({
                "brand_id": brand.brand_id,
                "original_brand_name": brand.original_brand_name,
            })),
            None if mandatory => Err(ConnectorError::Rejected {
                code: "chosync_brand".into(),
                field: Some("brand".into()),
                message: match named {
                    Some(name) => format!(
                        "Shopee category {category} requires a brand from its list, and \"{name}\" is not on it"
                    ),
                    None => format!(
                        "Shopee category {category} requires a brand from its list; the mapping gives none"
                    ),
                },
            }),
            None => Ok(json!({ "brand_id": 0, "original_brand_name": NO_BRAND })),
        }
    }

    /// `logistic_info` for `add_item`: each mapped channel, checked against
    /// the shop's channel list, with what its fee type needs.
    async fn logistic_info(&self, draft: &ListingDraft) -> Result<Vec<Value>, ConnectorError> {
        let channels = self.logistics_channels().await?;
        draft
            .logistics
            .iter()
            .map(|raw| {
                logistic_entry(&channels, raw).map_err(|message| ConnectorError::Rejected {
                    code: "chosync_logistics".into(),
                    field: Some("logistics".into()),
                    message,
                })
            })
            .collect()
    }

    fn check_against(
        &self,
        draft: &ListingDraft,
        limit: &dto::ItemLimit,
    ) -> Result<(), ConnectorError> {
        let reject = |field: &str, message: String| {
            Err(ConnectorError::Rejected {
                code: "chosync_item_limit".into(),
                field: Some(field.into()),
                message,
            })
        };
        let chars = |text: &str| text.chars().count() as f64;
        let checks = [
            (
                "title",
                "title length",
                &limit.item_name_length_limit,
                chars(&draft.title),
            ),
            (
                "description",
                "description length",
                &limit.item_description_length_limit,
                chars(&draft.description),
            ),
            (
                "images",
                "image count",
                &limit.item_image_count_limit,
                draft.images.len() as f64,
            ),
        ];
        for (field, what, range, value) in checks {
            if let Some(range) = range
                && !range.holds(value)
            {
                return reject(
                    field,
                    format!("{what} is {value}; Shopee allows {} here", range.shown()),
                );
            }
        }
        for variant in &draft.variants {
            if let Some(range) = &limit.price_limit
                && !range.holds(variant.price as f64)
            {
                return reject(
                    "price",
                    format!(
                        "price of {} is {} VND; Shopee allows {} here",
                        variant.sku,
                        variant.price,
                        range.shown()
                    ),
                );
            }
            if let Some(range) = &limit.stock_limit
                && !range.holds(variant.stock as f64)
            {
                return reject(
                    "stock",
                    format!(
                        "stock of {} is {}; Shopee allows {} here",
                        variant.sku,
                        variant.stock,
                        range.shown()
                    ),
                );
            }
        }
        let names = draft.option_names.iter();
        let options = draft.variants.iter().flat_map(|v| v.option_values.iter());
        for (what, range, mut texts) in [
            (
                "option name",
                &limit.tier_variation_name_length_limit,
                Box::new(names) as Box<dyn Iterator<Item = &String>>,
            ),
            (
                "option value",
                &limit.tier_variation_option_length_limit,
                Box::new(options),
            ),
        ] {
            if let Some(range) = range
                && let Some(long) = texts.find(|t| !range.holds(chars(t)))
            {
                return reject(
                    "variants",
                    format!(
                        "{what} \"{long}\" has {} characters; Shopee allows {} here",
                        chars(long),
                        range.shown()
                    ),
                );
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

    /// Creates an item in the fewest calls Shopee allows: `add_item` (its
    /// answer carries the item id) and, for variations,
    /// `init_tier_variation` (its answer carries the model ids), with no
    /// read-back. An item with variations goes up with no stock of its own,
    /// so nothing can be bought before its models bring theirs; if its tiers
    /// are refused it is deleted again.
    async fn create(&self, draft: &ListingDraft) -> Result<RemoteListing, ConnectorError> {
        check_variations(draft)?;
        let listing_sku = Self::listing_sku(draft);
        let body = self.add_item_body(draft, &listing_sku).await?;
        let added = self.add_item(&body, &listing_sku).await?;
        let added_at = tokio::time::Instant::now();
        let mut listing = if draft.option_names.is_empty() {
            single_listing(draft, &listing_sku, added.item_id)
        } else {
            self.add_tiers(added.item_id, draft, added_at).await?
        };
        if !added.item_status.is_empty() {
            listing.status = added.item_status;
        }
        Ok(listing)
    }

    /// The whole `add_item` body; the reference data it needs (attribute
    /// tree, brands, logistics channels) is cached, so only a category's
    /// first create reads it.
    async fn add_item_body(
        &self,
        draft: &ListingDraft,
        listing_sku: &str,
    ) -> Result<Value, ConnectorError> {
        let mut body = add_item_body(draft, listing_sku)?;
        body["attribute_list"] = Value::Array(self.attribute_list(draft).await?);
        body["brand"] = self.brand(draft).await?;
        body["logistic_info"] = Value::Array(self.logistic_info(draft).await?);
        Ok(body)
    }

    /// Gives a new item (or one whose create was cut off after `add_item`)
    /// its variations; the answer names every model, so nothing is read
    /// back unless the answer was lost.
    async fn add_tiers(
        &self,
        item_id: i64,
        draft: &ListingDraft,
        added_at: tokio::time::Instant,
    ) -> Result<RemoteListing, ConnectorError> {
        tokio::time::sleep_until(added_at + self.config.tier_wait).await;
        let tiers = self
            .shop_post::<dto::InitTiers>(&ep::INIT_TIERS, tier_body(item_id, draft))
            .await;
        match tiers {
            Ok(tiers) => {
                let listing = tiered_listing(item_id, draft, tiers);
                if draft.variants_missing_from(&listing).next().is_none() {
                    return Ok(listing);
                }
                // An answer that does not name every model the draft asked
                // for (the schema makes `model` optional): the item says.
                self.listing(item_id).await
            }
            Err(ConnectorError::Ambiguous(_)) => {
                // The answer was lost: what the item holds settles it.
                let listing = self.listing(item_id).await?;
                if listing.variants.iter().all(|v| v.variant_id == "0") {
                    return Err(ConnectorError::Ambiguous(format!(
                        "item {item_id} was created but its variations could not be confirmed"
                    )));
                }
                Ok(listing)
            }
            Err(refused) => {
                self.discard(item_id).await;
                Err(refused)
            }
        }
    }

    /// `add_item` is not idempotent: after an answer that was lost, the SKU is
    /// looked up (twice, a second apart, as Shopee may need a moment to list
    /// it) and the item adopted; only when it is surely absent is it sent again.
    async fn add_item(
        &self,
        body: &Value,
        listing_sku: &str,
    ) -> Result<dto::AddedItem, ConnectorError> {
        let mut last = String::new();
        for _ in 0..3 {
            match self
                .shop_post::<dto::AddedItem>(&ep::ADD_ITEM, body.clone())
                .await
            {
                Ok(item) => return Ok(item),
                Err(ConnectorError::Ambiguous(detail)) => {
                    tracing::warn!(channel = %self.config.channel, sku = %listing_sku, %detail, "add_item outcome unknown; looking the SKU up");
                    if let Some(adopted) = self.adopt(listing_sku).await? {
                        return Ok(adopted);
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

    /// The item a lost `add_item` created, in whatever status Shopee holds
    /// it (it may be in review), if the SKU is found.
    async fn adopt(&self, listing_sku: &str) -> Result<Option<dto::AddedItem>, ConnectorError> {
        let found = lost_write::look_up(|| self.find_listing_by_sku(listing_sku), identity).await?;
        found
            .map(|found| {
                let item_id = found.listing_id.parse().map_err(|_| {
                    ConnectorError::NotFound(format!("item id {}", found.listing_id))
                })?;
                Ok(dto::AddedItem {
                    item_id,
                    item_status: found.status,
                })
            })
            .transpose()
    }

    /// Deletes an item whose variations were refused.
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
                self.add_tiers(item_id, draft, tokio::time::Instant::now())
                    .await?;
            } else if !missing.is_empty() {
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
        body["attribute_list"] = Value::Array(self.attribute_list(draft).await?);
        body["brand"] = self.brand(draft).await?;
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
            // An int64[] parameter, sent repeated as the reference shows
            // for `item_status` and as the SDKs send arrays.
            let query = ids
                .iter()
                .map(|id| ("item_id_list", id.to_string()))
                .collect();
            let info: dto::BaseInfo = self.shop_get(&ep::BASE_INFO, query).await?;
            for item in info.item_list {
                let variants = if item.has_model {
                    let models = self.model_list(item.item_id).await?;
                    models
                        .model
                        .into_iter()
                        .map(|m| RemoteVariant {
                            price: m.price(),
                            stock: dto::seller_stock(&m.stock_info_v2),
                            locked: dto::reserved_stock(&m.stock_info_v2),
                            sku: m.model_sku,
                            variant_id: m.model_id.to_string(),
                            ..RemoteVariant::default()
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
                        locked: dto::reserved_stock(&item.stock_info_v2),
                        ..RemoteVariant::default()
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
    /// A Public API (`schemas/v2.push.get_lost_push_message.json`): signed
    /// without shop parameters, it answers for every shop of the partner, so
    /// another shop's messages are left out here.
    pub async fn lost_pushes(&self) -> Result<dto::LostPushes, ConnectorError> {
        let mut lost: dto::LostPushes = self.public_get(&ep::LOST_PUSH).await?;
        let shop = self.config.shop_id;
        lost.push_message_list
            .retain(|p| p.shop_id == 0 || p.shop_id == shop);
        Ok(lost)
    }

    /// Marks lost pushes up to `last_message_id` as handled (Public API too:
    /// `schemas/v2.push.confirm_consumed_lost_push_message.json`).
    pub async fn confirm_pushes(&self, last_message_id: i64) -> Result<(), ConnectorError> {
        self.public_post::<Value>(
            &ep::CONFIRM_PUSH,
            json!({ "last_message_id": last_message_id }),
            Payload::Response,
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

/// The tree of `category` in `get_attribute_tree`'s answer.
fn tree_of(
    trees: dto::AttributeTrees,
    category: i64,
) -> Result<Vec<dto::Attribute>, ConnectorError> {
    // One category is asked for, so an entry that omits its id is ours.
    trees
        .list
        .into_iter()
        .find(|t| t.category_id == category || t.category_id == 0)
        .map(|t| t.attribute_tree)
        .ok_or_else(|| {
            ConnectorError::NotFound(format!("the attribute tree of category {category}"))
        })
}

/// An attribute as chosync describes it: drop-downs with their options,
/// anything else free.
fn spec_of(attribute: &dto::Attribute) -> AttributeSpec {
    AttributeSpec {
        id: attribute.attribute_id.to_string(),
        name: attribute.name.clone(),
        options: attribute.is_drop_down().then(|| {
            attribute
                .attribute_value_list
                .iter()
                .map(|v| v.name.clone())
                .collect()
        }),
    }
}

/// One `attribute_list` entry for the mapped `value` of attribute `raw_id`.
/// An attribute the tree lacks is sent as a custom value for Shopee to judge.
fn attribute_entry(
    tree: &[dto::Attribute],
    raw_id: &str,
    value: &str,
) -> Result<Value, ConnectorError> {
    let id = shopee_id(raw_id, "attribute", "attributes")?;
    let custom = json!({ "value_id": 0, "original_value_name": value });
    let picked = match tree.iter().find(|a| a.attribute_id == id) {
        None => custom,
        Some(attribute) => {
            let option = attribute
                .attribute_value_list
                .iter()
                .find(|v| same_option(&v.name, value));
            match option {
                Some(option) => json!({ "value_id": option.value_id }),
                None if attribute.is_drop_down() => {
                    return Err(ConnectorError::Rejected {
                        code: "chosync_attribute_value".into(),
                        field: Some("attributes".into()),
                        message: format!(
                            "attribute {id} ({}): {}",
                            attribute.name,
                            spec_of(attribute).not_an_option(value)
                        ),
                    });
                }
                None => custom,
            }
        }
    };
    Ok(json!({ "attribute_id": id, "attribute_value_list": [picked] }))
}

/// One `logistic_info` entry for a mapped logistics channel: `"ID"`, or
/// `"ID:SIZE"` for a SIZE_SELECTION channel (the first of its sizes
/// otherwise), `"ID:FEE"` (whole VND) for a CUSTOM_PRICE one, as
/// `schemas/v2.product.add_item.json` asks `size_id` and `shipping_fee` of
/// those fee types. The error names the mapped id and what is wrong.
fn logistic_entry(channels: &[dto::LogisticsChannel], raw: &str) -> Result<Value, String> {
    let (id_text, extra) = match raw.split_once(':') {
        Some((id, extra)) => (id.trim(), Some(extra.trim())),
        None => (raw.trim(), None),
    };
    let id = shopee_id(id_text, "logistics", "logistics")
        .map_err(|_| format!("logistics \"{raw}\": not a Shopee logistics channel id"))?;
    let Some(channel) = channels.iter().find(|c| c.logistics_channel_id == id) else {
        let known: Vec<String> = channels
            .iter()
            .map(|c| format!("{} {}", c.logistics_channel_id, c.logistics_channel_name))
            .collect();
        return Err(format!(
            "logistics \"{raw}\": the shop has no logistics channel {id} (it has: {})",
            known.join(", ")
        ));
    };
    let name = &channel.logistics_channel_name;
    if !channel.enabled {
        return Err(format!(
            "logistics \"{raw}\" ({name}) is disabled for this shop; enable it in the Seller Centre or remove it"
        ));
    }
    let mut entry = json!({ "logistic_id": id, "enabled": true });
    match (channel.fee_type.as_str(), extra) {
        ("SIZE_SELECTION", size) => {
            // No size is guessed: each has its own fee.
            let chosen = size.and_then(|size| channel.size_list.iter().find(|s| s.size_id == size));
            let Some(chosen) = chosen else {
                let sizes: Vec<String> = channel
                    .size_list
                    .iter()
                    .map(|s| format!("{} {}", s.size_id, s.name))
                    .collect();
                return Err(format!(
                    "logistics \"{raw}\" ({name}) charges by size: write \"{id}:SIZE\" with one of its sizes ({})",
                    sizes.join(", ")
                ));
            };
            entry["size_id"] = chosen
                .size_id
                .parse::<i64>()
                .map_or_else(|_| json!(chosen.size_id), |n| json!(n));
        }
        ("CUSTOM_PRICE", fee) => {
            let Some(fee) = fee.and_then(|f| f.parse::<i64>().ok()).filter(|f| *f >= 0) else {
                return Err(format!(
                    "logistics \"{raw}\" ({name}) takes the seller's own shipping fee: write \"{id}:FEE\" (whole VND)"
                ));
            };
            entry["shipping_fee"] = json!(fee);
        }
        (_, Some(_)) => {
            return Err(format!(
                "logistics \"{raw}\" ({name}, fee type {}) takes no size or fee: write \"{id}\"",
                channel.fee_type
            ));
        }
        (_, None) => {}
    }
    Ok(entry)
}

/// A single-SKU item as `add_item` just created it.
fn single_listing(draft: &ListingDraft, listing_sku: &str, item_id: i64) -> RemoteListing {
    let variants = draft
        .variants
        .iter()
        .map(|v| RemoteVariant {
            sku: v.sku.clone(),
            variant_id: "0".into(),
            price: v.price,
            stock: v.stock,
            ..RemoteVariant::default()
        })
        .collect();
    RemoteListing {
        listing_id: item_id.to_string(),
        listing_sku: Some(listing_sku.to_string()),
        status: draft.on_sale("NORMAL", "UNLIST").into(),
        title: draft.title.clone(),
        variants,
    }
}

/// An item with variations as `init_tier_variation` answered.
fn tiered_listing(item_id: i64, draft: &ListingDraft, tiers: dto::InitTiers) -> RemoteListing {
    let variants = tiers
        .model
        .into_iter()
        .map(|m| {
            let asked = draft.variants.iter().find(|v| v.sku == m.model_sku);
            RemoteVariant {
                price: m
                    .price_info
                    .first()
                    .map(|p| p.original_price as i64)
                    .or(asked.map(|v| v.price))
                    .unwrap_or(0),
                stock: if m.seller_stock.is_empty() {
                    asked.map_or(0, |v| v.stock)
                } else {
                    m.seller_stock.iter().map(|s| s.stock).sum()
                },
                sku: m.model_sku,
                variant_id: m.model_id.to_string(),
                ..RemoteVariant::default()
            }
        })
        .collect();
    RemoteListing {
        listing_id: item_id.to_string(),
        listing_sku: Some(draft.product_key.clone()),
        status: draft.on_sale("NORMAL", "UNLIST").into(),
        title: draft.title.clone(),
        variants,
    }
}

/// Model 0 stands for an item without variations.
fn model_id(at: &RemoteRef) -> i64 {
    at.variant_id.parse().unwrap_or(0)
}

fn add_item_body(draft: &ListingDraft, listing_sku: &str) -> Result<Value, ConnectorError> {
    let cheapest = draft.variants.iter().map(|v| v.price).min().unwrap_or(0);
    // With variations to come, the item holds no stock of its own: nothing
    // is for sale until its models are in place.
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
        "item_status": draft.on_sale("NORMAL", "UNLIST"),
        "condition": "NEW",
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
        let tree = self.attribute_tree(category_number(category_id)?).await?;
        Ok(tree.iter().filter(|a| a.mandatory).map(spec_of).collect())
    }

    async fn category_attributes(
        &self,
        category_id: &str,
    ) -> Result<Vec<AttributeSpec>, ConnectorError> {
        self.specs(category_id).await
    }

    async fn logistics_problems(&self, ids: &[String]) -> Result<Vec<String>, ConnectorError> {
        let channels = self.logistics_channels().await?;
        Ok(ids
            .iter()
            .filter_map(|raw| logistic_entry(&channels, raw).err())
            .collect())
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
                    // Every status a lost `add_item` could leave its item
                    // in (`schemas/v2.product.get_item_list.json`), so
                    // adoption never creates an item twice. Deleted items
                    // (SELLER_DELETE, SHOPEE_DELETE) are left out: they can
                    // be neither sold nor edited, so a new item is right.
                    ("item_status", "NORMAL".into()),
                    ("item_status", "UNLIST".into()),
                    ("item_status", "REVIEWING".into()),
                    ("item_status", "BANNED".into()),
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
                    // Shopee's list names no update time.
                    updated_at: None,
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
                        // `schemas/v2.order.get_order_detail.json`: the
                        // lines (with their cancelled and active units) and
                        // who cancelled and why; PENDING orders and their
                        // `pending_terms` only when asked for.
                        ("response_optional_fields", ORDER_FIELDS.into()),
                        ("request_order_status_pending", "true".into()),
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
        // One partner app has one callback URL and one key for all its
        // shops: another shop's push is signed alike, and not this channel's.
        if push.shop_id != 0 && push.shop_id != self.config.shop_id {
            return Ok(WebhookHint::Other {
                code: format!("{} for shop {}", push.code, push.shop_id),
            });
        }
        if push.code == 12 && !push.expiry_concerns(self.config.shop_id) {
            return Ok(WebhookHint::Other {
                code: "12 for other shops".into(),
            });
        }
        Ok(push.hint())
    }
}

impl dto::OrderInfo {
    fn into_order(self) -> Order {
        let seconds = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap_or_default();
        let state = state_of(&self.order_status);
        let mut seen: HashMap<String, usize> = HashMap::new();
        let lines = self
            .item_list
            .into_iter()
            .map(|line| {
                let purchased = line.model_quantity_purchased;
                let cancelled = line
                    .cancelled_qty
                    .or(line.active_qty.map(|active| purchased - active))
                    .unwrap_or(0)
                    .clamp(0, purchased.max(0));
                chosync_connector::dto::OrderLine {
                    line_id: line_id(&mut seen, &line),
                    sku: if line.model_sku.is_empty() {
                        line.item_sku
                    } else {
                        line.model_sku
                    },
                    quantity: purchased,
                    cancelled_quantity: cancelled,
                    state,
                }
            })
            .collect();
        Order {
            state,
            created_at: seconds(self.create_time),
            updated_at: seconds(self.update_time),
            lines,
            platform_status: self.order_status,
            order_id: self.order_sn,
        }
    }
}

/// A line's id: Shopee's order item id (the item id outside bundle deals)
/// and model id; the same pair met again in the order (a bundle deal, or a
/// model bought twice) gets `#2`, `#3`… in answer order, so every line keys
/// its own effects.
fn line_id(seen: &mut HashMap<String, usize>, line: &dto::OrderItem) -> String {
    let order_item = if line.order_item_id != 0 {
        line.order_item_id
    } else {
        line.item_id
    };
    let base = format!("{order_item}:{}", line.model_id);
    let count = seen.entry(base.clone()).or_default();
    *count += 1;
    match *count {
        1 => base,
        n => format!("{base}#{n}"),
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
                { "attribute_id": 100037, "mandatory": true, "attribute_info": { "input_type": 1 },
                  "attribute_value_list": [{ "value_id": 5, "name": "Việt Nam" }] },
            ] }]
        }))
        .expect("decodes");
        let tree = tree_of(trees, 100150).expect("the only entry");
        let specs: Vec<AttributeSpec> = tree.iter().map(spec_of).collect();
        assert_eq!(specs[0].options, None, "free text");
        assert_eq!(specs[1].options, Some(vec!["Việt Nam".to_string()]));
        assert_eq!(
            attribute_entry(&tree, "100037", " việt nam ").expect("an option"),
            json!({ "attribute_id": 100037, "attribute_value_list": [{ "value_id": 5 }] })
        );
        assert!(attribute_entry(&tree, "100037", "Viet Nam").is_err());
        assert_eq!(
            attribute_entry(&tree, "100010", "Quế").expect("free text"),
            json!({ "attribute_id": 100010, "attribute_value_list": [{ "value_id": 0, "original_value_name": "Quế" }] })
        );
        let other = dto::AttributeTrees {
            list: vec![dto::CategoryAttributes {
                category_id: 100151,
                attribute_tree: vec![],
            }],
        };
        assert!(matches!(
            tree_of(other, 100150),
            Err(ConnectorError::NotFound(_))
        ));
    }

    #[test]
    fn a_model_bought_twice_in_one_order_gets_two_line_ids() {
        let line = |order_item_id, model_id| dto::OrderItem {
            item_id: 7,
            item_sku: String::new(),
            model_id,
            model_sku: "A".into(),
            model_quantity_purchased: 1,
            order_item_id,
            cancelled_qty: None,
            active_qty: None,
        };
        let mut seen = HashMap::new();
        let ids: Vec<String> = [line(7, 70), line(7, 70), line(0, 71), line(9, 70)]
            .iter()
            .map(|l| line_id(&mut seen, l))
            .collect();
        assert_eq!(ids, ["7:70", "7:70#2", "7:71", "9:70"]);
    }

    #[test]
    fn ids_that_are_not_numbers_are_refused_not_sent_as_zero() {
        assert_eq!(category_number("100150"), Ok(100150));
        for raw in ["", "0", "-5", "+5", "10 01", "Tinh dầu"] {
            assert!(category_number(raw).is_err(), "{raw:?}");
        }
        let tree = vec![];
        assert!(matches!(
            attribute_entry(&tree, "Xuất xứ", "Việt Nam"),
            Err(ConnectorError::Rejected { ref field, .. }) if field.as_deref() == Some("attributes")
        ));
    }
}
