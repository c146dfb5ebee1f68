//! The Lazada connector: calls signed per attempt (upper-case hex over sorted
//! parameters, millisecond timestamps, never an empty parameter), JSON
//! `payload`s, tokens refreshed 30 minutes ahead, stock and prices in batches
//! of up to 50 SKUs across products, orders by update window.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::convert::identity;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chosync_connector::batch::{BatchOutcomes, last_per_key};
use chosync_connector::clock::Clock;
use chosync_connector::credentials::{
    Ahead, CredentialStore, Expiry, Refresher, TokenPair, Tokens,
};
use chosync_connector::dto::{
    AttributeSpec, ItemOutcome, ListingDraft, Order, OrderLine, OrderRef, OrderWindow, Page,
    PriceSet, RemoteListing, RemoteVariant, StockSet, VariantDraft, WebhookHint,
};
use chosync_connector::events::EventSink;
use chosync_connector::http::{Answer, Endpoint, Http, HttpConfig, Reply};
use chosync_connector::lost_write;
use chosync_connector::{
    BatchScope, Bucket, Capabilities, Connector, ConnectorError, EndpointClass, Limits,
};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::dto::{self, id_text};
use crate::mapping::{BatchFailures, Payload, decode, decode_batch, token_refused};
use crate::orders::{format_time, order_state, parse_time, state_of, whole_second};
use crate::sign;

/// Stock and price calls carry at most 50 SKUs, from any products.
pub const SKUS_PER_CALL: usize = 50;
/// `/orders/items/get` takes at most 50 orders.
pub const ORDERS_PER_CALL: usize = 50;
/// `/orders/get` refuses an offset beyond this: the window moves instead.
pub const MAX_ORDER_OFFSET: i64 = 5_000;
const ORDER_PAGE: i64 = 100;
const PRODUCT_PAGE: i64 = 50;
const MAX_PRODUCT_OFFSET: i64 = 10_000;
/// `/images/migrate` takes at most 8 URLs.
const IMAGES_PER_BATCH: usize = 8;

mod ep {
    use chosync_connector::EndpointClass::*;
    use chosync_connector::http::{Endpoint, endpoint as e};

    // Spending a code or refresh token twice is refused, which is where a
    // lost answer leaves the channel anyway: safe to repeat.
    pub const TOKEN_CREATE: Endpoint = e("/auth/token/create", Auth, true);
    pub const TOKEN_REFRESH: Endpoint = e("/auth/token/refresh", Auth, true);
    pub const IMAGE_UPLOAD: Endpoint = e("/image/upload", Media, true);
    pub const IMAGE_MIGRATE: Endpoint = e("/image/migrate", Media, true);
    pub const IMAGES_MIGRATE: Endpoint = e("/images/migrate", Media, true);
    pub const IMAGE_RESPONSE: Endpoint = e("/image/response/get", Media, true);
    pub const PRODUCT_CREATE: Endpoint = e("/product/create", Catalogue, false);
    pub const PRODUCT_UPDATE: Endpoint = e("/product/update", Catalogue, true);
    pub const PRODUCTS_GET: Endpoint = e("/products/get", Catalogue, true);
    pub const PRODUCT_ITEM_GET: Endpoint = e("/product/item/get", Catalogue, true);
    pub const CATEGORY_ATTRIBUTES: Endpoint = e("/category/attributes/get", Catalogue, true);
    pub const SELLABLE_UPDATE: Endpoint = e("/product/stock/sellable/update", Inventory, true);
    pub const PRICE_QUANTITY_UPDATE: Endpoint =
        e("/product/price_quantity/update", Inventory, true);
    pub const ORDERS_GET: Endpoint = e("/orders/get", Orders, true);
    pub const ORDER_ITEMS_GET: Endpoint = e("/orders/items/get", Orders, true);
}

/// One Lazada seller as a chosync channel.
#[derive(Clone)]
pub struct LazadaConfig {
    pub channel: String,
    /// e.g. `https://api.lazada.vn/rest`.
    pub base_url: String,
    /// e.g. `https://auth.lazada.com/rest` (token create and refresh).
    pub auth_url: String,
    pub app_key: String,
    pub app_secret: SecretString,
    pub limits: Limits,
    pub http: HttpConfig,
}

impl LazadaConfig {
    /// A margin below the quotas, as Lazada counts calls in its own
    /// one-second windows and a call's arrival there wobbles with the network:
    /// inventory and price APIs 45 calls/s per seller (documented quota 50,
    /// `product-inventory-management/inventory-management-api.md`); other
    /// APIs 8 calls/s (no quota is published for them; the sandbox enforces
    /// 10).
    pub fn default_limits() -> Limits {
        use EndpointClass::*;
        let rate = |n| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        Limits {
            buckets: vec![
                Bucket {
                    name: "inventory",
                    per_second: rate(45),
                    classes: vec![Inventory],
                },
                Bucket {
                    name: "other",
                    per_second: rate(8),
                    classes: vec![Auth, Catalogue, Orders, Media, Push],
                },
            ],
        }
    }
}

pub struct Lazada {
    config: LazadaConfig,
    http: Http,
    tokens: Tokens,
    clock: Arc<dyn Clock>,
    /// Source image URL → Lazada URL: an image is migrated once.
    migrated: Mutex<HashMap<String, String>>,
    /// Category id → what its mapping must supply: a category's attributes
    /// rarely change, and one sync asks for the same categories over and over.
    required: Mutex<HashMap<String, Vec<AttributeSpec>>>,
}

impl Lazada {
    pub fn new(
        config: LazadaConfig,
        credentials: Arc<dyn CredentialStore>,
        events: Arc<dyn EventSink>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        let http = Http::new(&config.channel, &config.limits, events, config.http)?;
        // Lazada recommends refreshing about 30 minutes ahead.
        let tokens = Tokens::new(&config.channel, credentials, clock.clone())
            .with_margin(chrono::Duration::minutes(30));
        Ok(Self {
            config,
            http,
            tokens,
            clock,
            migrated: Mutex::new(HashMap::new()),
            required: Mutex::new(HashMap::new()),
        })
    }

    /// The consent page a seller opens to authorize the app.
    pub fn auth_link(&self, redirect_uri: &str) -> Result<String, ConnectorError> {
        let site = self
            .config
            .auth_url
            .trim_end_matches('/')
            .trim_end_matches("/rest");
        let mut url = url::Url::parse(&format!("{site}/oauth/authorize")).map_err(|e| {
            ConnectorError::Rejected {
                code: "bad_auth_url".into(),
                field: Some("auth_url".into()),
                message: e.to_string(),
            }
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("force_auth", "true")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("client_id", &self.config.app_key);
        Ok(url.to_string())
    }

    /// Exchanges the authorization `code` for tokens and stores them.
    pub async fn authorize(&self, code: &str) -> Result<(), ConnectorError> {
        let tokens: dto::Tokens = self
            .call(
                &ep::TOKEN_CREATE,
                Method::POST,
                None,
                &[("code", code.to_string())],
                top_level,
            )
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
            access_expires_at: now + chrono::Duration::seconds(tokens.expires_in),
            refresh_expires_at: (tokens.refresh_expires_in > 0)
                .then(|| now + chrono::Duration::seconds(tokens.refresh_expires_in)),
        }
    }

    /// Lazada's system parameters with `params`, signed now, `sign` last.
    fn signed_params(
        &self,
        endpoint: &Endpoint,
        access_token: Option<&SecretString>,
        params: &[(&str, String)],
    ) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = vec![
            ("app_key".into(), self.config.app_key.clone()),
            (
                "timestamp".into(),
                self.clock.now().timestamp_millis().to_string(),
            ),
            ("sign_method".into(), "sha256".into()),
        ];
        if let Some(token) = access_token {
            all.push(("access_token".into(), token.expose_secret().to_string()));
        }
        // Never an empty parameter: the official SDKs disagree on whether to
        // sign them (Python signs them, Java skips them).
        all.extend(
            params
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.clone())),
        );
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let sign = sign::request(
            self.config.app_secret.expose_secret(),
            endpoint.path,
            &pairs,
        );
        all.push(("sign".into(), sign));
        all
    }

    fn url(&self, endpoint: &Endpoint) -> String {
        let base = match endpoint.class {
            EndpointClass::Auth => &self.config.auth_url,
            _ => &self.config.base_url,
        };
        format!("{}{}", base.trim_end_matches('/'), endpoint.path)
    }

    /// A request with Lazada's system parameters, signed now. GET carries the
    /// parameters in the query, POST in a form body.
    fn signed(
        &self,
        endpoint: &Endpoint,
        method: &Method,
        access_token: Option<&SecretString>,
        params: &[(&str, String)],
    ) -> RequestBuilder {
        let all = self.signed_params(endpoint, access_token, params);
        let request = self
            .http
            .client()
            .request(method.clone(), self.url(endpoint));
        if *method == Method::GET {
            request.query(&all)
        } else {
            request.form(&all)
        }
    }

    async fn call<T>(
        &self,
        endpoint: &Endpoint,
        method: Method,
        token: Option<&SecretString>,
        params: &[(&str, String)],
        decode: fn(&Reply) -> Answer<T>,
    ) -> Result<T, ConnectorError> {
        self.http
            .call(
                endpoint,
                || Ok(self.signed(endpoint, &method, token, params)),
                decode,
            )
            .await
    }

    /// A seller call; a refused token is refreshed once and the call repeated.
    async fn seller<T>(
        &self,
        endpoint: &Endpoint,
        method: Method,
        params: &[(&str, String)],
        decode: fn(&Reply) -> Answer<T>,
    ) -> Result<T, ConnectorError> {
        let method = &method;
        self.tokens
            .with_access(self, token_refused, |token| async move {
                self.call(endpoint, method.clone(), Some(&token), params, decode)
                    .await
            })
            .await
    }

    async fn post_payload<T>(
        &self,
        endpoint: &Endpoint,
        payload: &Value,
        decode: fn(&Reply) -> Answer<T>,
    ) -> Result<T, ConnectorError> {
        let payload = serde_json::to_string(payload).unwrap_or_default();
        self.seller(endpoint, Method::POST, &[("payload", payload)], decode)
            .await
    }

    /// Lazada-hosted URLs for source image URLs, migrating each one once
    /// (one by one, or in batches of 8 with `/images/migrate`).
    pub async fn lazada_images(&self, sources: &[String]) -> Result<Vec<String>, ConnectorError> {
        let known = |url: &str| self.migrated.lock().ok().and_then(|m| m.get(url).cloned());
        let missing: Vec<&String> = {
            let mut seen = HashSet::new();
            sources
                .iter()
                .filter(|s| known(s).is_none() && seen.insert(s.as_str()))
                .collect()
        };
        match missing.as_slice() {
            [] => {}
            [one] => {
                let payload = json!({ "Request": { "Image": { "Url": one } } });
                let answer: dto::ImageAnswer = self
                    .post_payload(&ep::IMAGE_MIGRATE, &payload, data)
                    .await?;
                self.remember(one, answer.image.url);
            }
            many => {
                for batch in many.chunks(IMAGES_PER_BATCH) {
                    self.migrate_batch(batch).await?;
                }
            }
        }
        sources
            .iter()
            .map(|s| {
                known(s)
                    .ok_or_else(|| ConnectorError::Transient(format!("image {s} was not migrated")))
            })
            .collect()
    }

    async fn migrate_batch(&self, urls: &[&String]) -> Result<(), ConnectorError> {
        let payload = json!({ "Request": { "Images": { "Url": urls } } });
        // `batch_id` is answered at the top level (see `dto::Batch`).
        let batch: dto::Batch = self
            .post_payload(&ep::IMAGES_MIGRATE, &payload, top_level)
            .await?;
        for _ in 0..20 {
            // Lazada asks for about half a second before the result is ready.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let result: dto::BatchImages = self
                .seller(
                    &ep::IMAGE_RESPONSE,
                    Method::GET,
                    &[("batch_id", batch.batch_id.clone())],
                    data,
                )
                .await?;
            if !result.errors.is_empty() {
                return Err(ConnectorError::Rejected {
                    code: "image_migrate".into(),
                    field: Some("images".into()),
                    message: format!("{} image(s) could not be migrated", result.errors.len()),
                });
            }
            if result.images.len() == urls.len() {
                for (source, image) in urls.iter().zip(result.images) {
                    self.remember(source, image.url);
                }
                return Ok(());
            }
        }
        Err(ConnectorError::Transient(format!(
            "image batch {} not finished",
            batch.batch_id
        )))
    }

    fn remember(&self, source: &str, lazada: String) {
        if let Ok(mut migrated) = self.migrated.lock() {
            migrated.insert(source.to_string(), lazada);
        }
    }

    async fn create(&self, draft: &ListingDraft) -> Result<RemoteListing, ConnectorError> {
        if draft.variants.len() > SKUS_PER_CALL {
            return Err(ConnectorError::Rejected {
                code: "chosync_too_many_skus".into(),
                field: Some("skus".into()),
                message: format!(
                    "{} SKUs; one create carries at most {SKUS_PER_CALL}",
                    draft.variants.len()
                ),
            });
        }
        let first = draft
            .variants
            .first()
            .map(|v| v.sku.clone())
            .unwrap_or_default();
        let payload = product_payload(draft, None)?;
        match self
            .post_payload::<dto::Created>(&ep::PRODUCT_CREATE, &payload, data)
            .await
        {
            // The answer names the product and every SKU's id: nothing to read back.
            Ok(created) => match created_listing(draft, &created) {
                Some(listing) => Ok(listing),
                // An answer that leaves a SKU out is read back once, rather than guessed.
                None => self.listing(&created.item_id).await,
            },
            // SellerSku is unique per shop: a lost answer is settled by looking it up.
            Err(ConnectorError::Ambiguous(detail)) => {
                let found =
                    lost_write::look_up(|| self.find_listing_by_sku(&first), identity).await?;
                found.ok_or_else(|| ConnectorError::Ambiguous(format!(
                    "/product/create for {first} may or may not have been applied ({detail}); look the SKU up before trying again"
                )))
            }
            Err(other) => Err(other),
        }
    }

    /// SKUs the product lacks join it first (`add_skus`); then one
    /// `/product/update` for the content and status of all of them; then the
    /// product as Lazada holds it.
    async fn update(
        &self,
        draft: &ListingDraft,
        existing: &RemoteListing,
    ) -> Result<RemoteListing, ConnectorError> {
        let item_id = existing.listing_id.as_str();
        if item_id.is_empty() || !item_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConnectorError::NotFound(format!("item id {item_id}")));
        }
        // Checked before any write: a draft Lazada cannot take changes nothing.
        variation(draft)?;
        let grows = draft.variants_missing_from(existing).next().is_some();
        let known = if grows {
            Cow::Owned(self.add_skus(draft, item_id).await?)
        } else {
            Cow::Borrowed(existing)
        };
        let payload = product_payload(draft, Some((item_id, &known)))?;
        self.post_payload::<Value>(&ep::PRODUCT_UPDATE, &payload, data)
            .await?;
        self.listing(item_id).await
    }

    /// Adds the draft's SKUs the product lacks with `/product/create` and
    /// `AssociatedSku`, at most 50 per call. The product is read first:
    /// `existing` may predate a create whose answer was lost (its SKUs are
    /// adopted, never sent again), and the new SKUs must vary by its axes.
    /// Returns the product with every SKU known so far, new ones included.
    async fn add_skus(
        &self,
        draft: &ListingDraft,
        item_id: &str,
    ) -> Result<RemoteListing, ConnectorError> {
        let live = self.product(item_id).await?;
        let new: Vec<&VariantDraft> = draft
            .variants_not_held(|sku| live.skus.iter().any(|s| s.seller_sku == sku))
            .collect();
        if new.is_empty() {
            return Ok(remote(live));
        }
        let anchor = associated_sku(draft, &live, &new)?;
        let mut known = remote(live);
        for chunk in new.chunks(SKUS_PER_CALL) {
            let payload = associate_payload(draft, &anchor, chunk)?;
            match self
                .post_payload::<dto::Created>(&ep::PRODUCT_CREATE, &payload, data)
                .await
            {
                Ok(created) => adopt_created(&mut known, chunk, created),
                Err(ConnectorError::Ambiguous(detail)) => {
                    known = self.settle_added(item_id, chunk, &detail).await?;
                }
                Err(other) => return Err(other),
            }
        }
        Ok(known)
    }

    /// A create with `AssociatedSku` whose answer was lost. SellerSku is
    /// unique per shop, so the product itself says whether the SKUs joined;
    /// if they did not show up, nothing is sent again.
    async fn settle_added(
        &self,
        item_id: &str,
        chunk: &[&VariantDraft],
        detail: &str,
    ) -> Result<RemoteListing, ConnectorError> {
        let joined = lost_write::look_up(
            || self.listing(item_id),
            |listing| {
                chunk
                    .iter()
                    .all(|v| listing.carries(&v.sku))
                    .then_some(listing)
            },
        )
        .await?;
        if let Some(listing) = joined {
            return Ok(listing);
        }
        let skus: Vec<&str> = chunk.iter().map(|v| v.sku.as_str()).collect();
        Err(ConnectorError::Ambiguous(format!(
            "/product/create adding {} to product {item_id} may or may not have been applied ({detail}); read the product before trying again",
            skus.join(", ")
        )))
    }

    async fn product(&self, item_id: &str) -> Result<dto::Product, ConnectorError> {
        self.seller(
            &ep::PRODUCT_ITEM_GET,
            Method::GET,
            &[("item_id", item_id.to_string())],
            data,
        )
        .await
    }

    async fn listing(&self, item_id: &str) -> Result<RemoteListing, ConnectorError> {
        Ok(remote(self.product(item_id).await?))
    }

    /// Stock or price for up to 50 SKUs of any products per call; the last
    /// value asked for a SKU wins.
    async fn batched(&self, endpoint: &Endpoint, entries: Vec<(&str, Value)>) -> Vec<ItemOutcome> {
        let latest: Vec<(&str, usize)> = last_per_key(entries.iter().map(|(sku, _)| *sku))
            .into_iter()
            .collect();
        let mut outcomes = BatchOutcomes::default();
        for chunk in latest.chunks(SKUS_PER_CALL) {
            let skus: Vec<&Value> = chunk.iter().map(|(_, i)| &entries[*i].1).collect();
            let payload = json!({ "Request": { "Product": { "Skus": { "Sku": skus } } } });
            let answer: Result<BatchFailures, ConnectorError> =
                self.post_payload(endpoint, &payload, decode_batch).await;
            outcomes.record(
                chunk.iter().map(|(sku, _)| *sku),
                &answer,
                |failures, sku| failures.0.get(*sku).map_or(Ok(()), |e| Err(e.clone())),
            );
        }
        outcomes.per_input(entries.iter().map(|(sku, _)| (*sku, *sku)))
    }

    /// One page of `/orders/get` from `after`, oldest update first.
    async fn orders_page(
        &self,
        after: &str,
        before: &str,
        offset: i64,
    ) -> Result<dto::Orders, ConnectorError> {
        self.seller(
            &ep::ORDERS_GET,
            Method::GET,
            &[
                ("update_after", after.to_string()),
                ("update_before", before.to_string()),
                ("sort_by", "updated_at".into()),
                ("sort_direction", "ASC".into()),
                ("limit", ORDER_PAGE.to_string()),
                ("offset", offset.to_string()),
            ],
            data,
        )
        .await
    }
}

/// What a verified push asks for (guides under
/// `push-mechanismwebhook-application/webhook-apis/`): trade-order pushes
/// (type 0, returns included) and reverse-order pushes (type 10) name the
/// order in `trade_order_id`; the token-expiration alert (type 8) gives
/// `auth_expiry_time` in seconds. Everything else is only logged.
fn hint(push: &dto::Push) -> WebhookHint {
    let other = || WebhookHint::Other {
        code: push.message_type.to_string(),
    };
    match push.message_type {
        0 | 10 => match push.data.get("trade_order_id") {
            Some(order) if !id_text(order).is_empty() && !order.is_null() => {
                WebhookHint::OrdersChanged {
                    order_ids: vec![id_text(order)],
                }
            }
            _ => other(),
        },
        8 => WebhookHint::TokenExpiring {
            expires_at: push
                .data
                .get("auth_expiry_time")
                .and_then(|t| match t {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                })
                .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0)),
        },
        _ => other(),
    }
}

/// Lazada's time filters take whole seconds; times are compared at that grain.
fn data<T: DeserializeOwned>(reply: &Reply) -> Answer<T> {
    decode(reply, Payload::Data)
}

fn top_level<T: DeserializeOwned>(reply: &Reply) -> Answer<T> {
    decode(reply, Payload::TopLevel)
}

fn remote(product: dto::Product) -> RemoteListing {
    RemoteListing {
        listing_id: product.item_id,
        listing_sku: None,
        status: product.status,
        title: product.attributes["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        variants: product
            .skus
            .into_iter()
            .map(|sku| RemoteVariant {
                stock: sku.sellable(),
                held: sku.held(),
                sku: sku.seller_sku,
                variant_id: sku.sku_id,
                price: sku.price.round() as i64,
                ..RemoteVariant::default()
            })
            .collect(),
    }
}

/// What `product_payload` fills from the draft whatever the category says:
/// the product's name, description and brand (`brand_id`, standing for
/// `brand`), and the SKU fields Lazada lists among a category's attributes
/// (`attribute_type` "sku").
const FILLED_FROM_DRAFT: [&str; 11] = [
    "name",
    "description",
    "brand",
    "brand_id",
    "SellerSku",
    "price",
    "quantity",
    "package_weight",
    "package_length",
    "package_width",
    "package_height",
];

/// The mandatory attributes a channel's mapping must supply: not the sale
/// props (the draft's options go per SKU as `saleProp`), not what the
/// connector fills from the draft.
fn mapping_required(attributes: Vec<dto::CategoryAttribute>) -> Vec<AttributeSpec> {
    attributes
        .into_iter()
        .filter(|a| a.is_mandatory && !a.is_sale_prop && !a.name.trim().is_empty())
        .filter(|a| !FILLED_FROM_DRAFT.contains(&a.name.as_str()))
        .map(|a| AttributeSpec {
            name: if a.label.trim().is_empty() {
                a.name.clone()
            } else {
                a.label
            },
            id: a.name,
            options: None,
        })
        .collect()
}

/// The SellerSku new SKUs are associated with: one the product carries. The
/// new SKUs must declare the axes (sale-prop names) its SKUs declare, as
/// Lazada wants one sale-prop set per product; otherwise only a new listing
/// can take them. When the answer does not show the axes, Lazada checks.
fn associated_sku(
    draft: &ListingDraft,
    live: &dto::Product,
    new: &[&VariantDraft],
) -> Result<String, ConnectorError> {
    let recreate = |message: String| ConnectorError::Rejected {
        code: "chosync_sale_props".into(),
        field: Some("option_names".into()),
        message: format!("{message}; the listing must be re-created"),
    };
    let anchor = live.skus.first().ok_or_else(|| {
        recreate(format!(
            "product {} has no SKU to add new ones to",
            live.item_id
        ))
    })?;
    let Some(axes) = anchor.sale_prop_names() else {
        return Ok(anchor.seller_sku.clone());
    };
    match new.iter().find(|v| sale_prop_names(draft, v) != axes) {
        None => Ok(anchor.seller_sku.clone()),
        Some(odd) => Err(recreate(format!(
            "product {} varies by [{}] but {} by [{}], and Lazada wants one set of sale props per product",
            live.item_id,
            axes.into_iter().collect::<Vec<_>>().join(", "),
            odd.sku,
            sale_prop_names(draft, odd)
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Sale-prop names `variant` is sent with (see `sale_props`).
fn sale_prop_names(draft: &ListingDraft, variant: &VariantDraft) -> BTreeSet<String> {
    axes(draft)
        .into_iter()
        .take(variant.option_values.len())
        .map(|axis| axis.name)
        .collect()
}

/// How a channel's mapping names a category's standard sale prop for an
/// option axis, among the category's attributes:
/// `"saleProp:<option name>" = "<attribute name>"`, e.g.
/// `"saleProp:Màu" = "color_family"`. Such entries are not attributes.
pub const SALE_PROP_KEY: &str = "saleProp:";

/// Lazada's limits on a declared variation (guide
/// `product-operation/custom-sales-attributes.md`, errors
/// `VARIATION_SIZE_LIMIT`, `VARIATION_NAME_LENGTH_LIMIT`, `OPTIONS_SIZE_LIMIT`,
/// `VARIATION_OPTION_LENGTH_LIMIT`).
const MAX_VARIATIONS: usize = 2;
const MAX_VARIATION_NAME: usize = 15;
const MAX_OPTIONS: usize = 50;
const MAX_OPTION_VALUE: usize = 20;

/// One option axis as Lazada sees it: a sale-prop name, standard (one of the
/// category's `is_sale_prop` attributes, mapped) or custom (the option name).
struct Axis {
    name: String,
    custom: bool,
}

fn axes(draft: &ListingDraft) -> Vec<Axis> {
    draft
        .option_names
        .iter()
        .map(|option| {
            let mapped = draft.attributes.iter().find_map(|(key, value)| {
                let axis = key.strip_prefix(SALE_PROP_KEY)?;
                (axis.trim() == option.trim() && !value.trim().is_empty())
                    .then(|| value.trim().to_string())
            });
            match mapped {
                Some(name) => Axis {
                    name,
                    custom: false,
                },
                None => Axis {
                    name: option.clone(),
                    custom: true,
                },
            }
        })
        .collect()
}

/// `Product.variation`: every axis declared as `variationN {name, hasImage,
/// customize, options.option[]}` with the values the draft's variants use
/// (guide `custom-sales-attributes.md`, CreateProduct case 2); custom sale
/// props must be declared, standard ones may be. `None` without options.
/// Lazada's limits are checked here, before any call.
fn variation(draft: &ListingDraft) -> Result<Option<Value>, ConnectorError> {
    let refuse = |field: &str, message: String| ConnectorError::Rejected {
        code: "chosync_variation".into(),
        field: Some(field.into()),
        message,
    };
    let axes = axes(draft);
    if axes.is_empty() {
        return Ok(None);
    }
    if axes.len() > MAX_VARIATIONS {
        return Err(refuse(
            "option_names",
            format!(
                "{} option axes; Lazada takes at most {MAX_VARIATIONS}",
                axes.len()
            ),
        ));
    }
    let mut declared = serde_json::Map::new();
    for (n, axis) in axes.iter().enumerate() {
        let chars = axis.name.chars().count();
        if axis.name.trim().is_empty() || chars > MAX_VARIATION_NAME {
            return Err(refuse(
                "option_names",
                format!(
                    "option name \"{}\" has {chars} characters; Lazada wants 1 to {MAX_VARIATION_NAME} (or map it to a standard sale prop: \"{SALE_PROP_KEY}{}\" in the category's attributes)",
                    axis.name, axis.name
                ),
            ));
        }
        let options = axis_options(draft, n).map_err(|m| refuse("option_values", m))?;
        declared.insert(
            format!("variation{}", n + 1),
            json!({
                "name": axis.name,
                "hasImage": false,
                "customize": axis.custom,
                "options": { "option": options },
            }),
        );
    }
    Ok(Some(Value::Object(declared)))
}

/// The distinct values of axis `n`, in the order the variants use them.
fn axis_options(draft: &ListingDraft, n: usize) -> Result<Vec<&str>, String> {
    let mut options: Vec<&str> = Vec::new();
    for value in draft.variants.iter().filter_map(|v| v.option_values.get(n)) {
        let chars = value.chars().count();
        if value.trim().is_empty() || chars > MAX_OPTION_VALUE {
            return Err(format!(
                "option value \"{value}\" has {chars} characters; Lazada wants 1 to {MAX_OPTION_VALUE}"
            ));
        }
        if !options.contains(&value.as_str()) {
            options.push(value);
        }
    }
    if options.len() > MAX_OPTIONS {
        return Err(format!(
            "{} values for one option; Lazada takes at most {MAX_OPTIONS}",
            options.len()
        ));
    }
    Ok(options)
}

/// The listing a create's answer describes: its `item_id` and each SKU's
/// `sku_id` (`product-api/createproduct.json`), with the draft's price and
/// stock. `None` if the answer leaves one of the draft's SKUs out.
fn created_listing(draft: &ListingDraft, created: &dto::Created) -> Option<RemoteListing> {
    let variants = draft
        .variants
        .iter()
        .map(|variant| {
            let sku = created
                .sku_list
                .iter()
                .find(|s| s.seller_sku == variant.sku)?;
            Some(RemoteVariant {
                sku: variant.sku.clone(),
                variant_id: sku.sku_id.clone(),
                price: variant.price,
                stock: variant.stock,
                ..RemoteVariant::default()
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(RemoteListing {
        listing_id: created.item_id.clone(),
        listing_sku: None,
        status: created.item_status.clone(),
        title: draft.title.clone(),
        variants,
    })
}

/// The SKU ids a create with `AssociatedSku` answered, with the price and
/// stock the SKUs were created with.
fn adopt_created(known: &mut RemoteListing, chunk: &[&VariantDraft], created: dto::Created) {
    for sku in created.sku_list {
        let Some(variant) = chunk.iter().find(|v| v.sku == sku.seller_sku) else {
            continue;
        };
        if known.variant(&sku.seller_sku).is_none() {
            known.variants.push(RemoteVariant {
                sku: sku.seller_sku,
                variant_id: sku.sku_id,
                price: variant.price,
                stock: variant.stock,
                ..RemoteVariant::default()
            });
        }
    }
}

/// `Request.Product` adding `variants` to the product carrying `anchor`:
/// `AssociatedSku`, the new SKUs and the variation declared with every value
/// (a product with custom sale props must declare the new SKUs' values:
/// guide `custom-sales-attributes.md`, UpdateProduct case 1), as the product
/// keeps its own category, name, attributes and images.
fn associate_payload(
    draft: &ListingDraft,
    anchor: &str,
    variants: &[&VariantDraft],
) -> Result<Value, ConnectorError> {
    let skus: Vec<Value> = variants.iter().map(|v| new_sku(draft, v)).collect();
    let mut product = json!({
        "AssociatedSku": anchor,
        "Skus": { "Sku": skus },
    });
    if let Some(declared) = variation(draft)? {
        product["variation"] = declared;
    }
    Ok(json!({ "Request": { "Product": product } }))
}

/// `saleProp`: each axis's sale-prop name with the variant's value.
fn sale_props(draft: &ListingDraft, variant: &VariantDraft) -> serde_json::Map<String, Value> {
    axes(draft)
        .into_iter()
        .zip(&variant.option_values)
        .map(|(axis, value)| (axis.name, json!(value)))
        .collect()
}

/// What every SKU entry carries: SellerSku, package, sale props.
fn sku_entry(draft: &ListingDraft, variant: &VariantDraft) -> Value {
    let mut sku = json!({
        "SellerSku": variant.sku,
        "package_weight": format!("{:.2}", draft.weight_g as f64 / 1000.0),
    });
    if let Some([length, width, height]) = draft.dimensions_cm {
        sku["package_length"] = json!(length.to_string());
        sku["package_width"] = json!(width.to_string());
        sku["package_height"] = json!(height.to_string());
    }
    let sale_props = sale_props(draft, variant);
    if !sale_props.is_empty() {
        sku["saleProp"] = Value::Object(sale_props);
    }
    sku
}

/// A SKU Lazada does not hold yet: it starts with the draft's price and stock.
fn new_sku(draft: &ListingDraft, variant: &VariantDraft) -> Value {
    let mut sku = sku_entry(draft, variant);
    sku["price"] = json!(variant.price.to_string());
    sku["quantity"] = json!(variant.stock.to_string());
    sku
}

/// `Attributes`: name, description, brand and the mapping's attributes.
/// The brand goes as `brand_id` when it is an id (GetBrandByPages), else as
/// the `brand` name ("No Brand"): the guide `create-a-product.md` calls the
/// name deprecated, yet every sample of `product-api/createproduct.json`
/// still sends it.
fn product_attributes(draft: &ListingDraft) -> Value {
    let mut attributes = json!({
        "name": draft.title,
        "description": draft.description,
    });
    if let Some(brand) = draft
        .brand
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        let key = if brand.bytes().all(|b| b.is_ascii_digit()) {
            "brand_id"
        } else {
            "brand"
        };
        attributes[key] = json!(brand);
    }
    for (name, value) in &draft.attributes {
        if !name.starts_with(SALE_PROP_KEY) {
            attributes[name.as_str()] = json!(value);
        }
    }
    attributes
}

/// `Request.Product` for create (no `existing`) or update. An update carries
/// only SKUs the product holds: new ones join it through `AssociatedSku`, and
/// price and stock of existing ones go through their own calls.
fn product_payload(
    draft: &ListingDraft,
    existing: Option<(&str, &RemoteListing)>,
) -> Result<Value, ConnectorError> {
    let skus: Vec<Value> = draft
        .variants
        .iter()
        .filter_map(|variant| match existing {
            None => Some(new_sku(draft, variant)),
            Some((_, listing)) => {
                let remote = listing.variant(&variant.sku)?;
                let mut sku = sku_entry(draft, variant);
                sku["SkuId"] = json!(remote.variant_id);
                sku["Status"] = json!(if draft.listed { "active" } else { "inactive" });
                Some(sku)
            }
        })
        .collect();
    let mut product = json!({
        "PrimaryCategory": draft.category_id,
        "Images": { "Image": draft.images },
        "Attributes": product_attributes(draft),
        "Skus": { "Sku": skus },
    });
    if let Some(declared) = variation(draft)? {
        product["variation"] = declared;
    }
    if let Some((item_id, _)) = existing {
        product["ItemId"] = json!(item_id);
    }
    Ok(json!({ "Request": { "Product": product } }))
}

#[async_trait]
impl Refresher for Lazada {
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenPair, ConnectorError> {
        let tokens: dto::Tokens = self
            .call(
                &ep::TOKEN_REFRESH,
                Method::POST,
                None,
                &[("refresh_token", refresh_token.expose_secret().to_string())],
                top_level,
            )
            .await?;
        Ok(self.pair(tokens))
    }
}

#[async_trait]
impl Connector for Lazada {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            stock_batch: SKUS_PER_CALL,
            price_batch: SKUS_PER_CALL,
            batch_scope: BatchScope::AcrossListings,
            webhooks: true,
            max_title_chars: 255,
            max_variants: SKUS_PER_CALL,
            // No maximum window is documented; offsets stop at 5,000 instead.
            order_window: Duration::from_secs(u64::MAX / 4),
            order_detail_batch: ORDERS_PER_CALL,
        }
    }

    fn default_limits(&self) -> Limits {
        LazadaConfig::default_limits()
    }

    async fn refresh_credentials(&self) -> Result<(), ConnectorError> {
        self.tokens.refresh_now(self).await
    }

    async fn upload_image(&self, name: &str, bytes: Vec<u8>) -> Result<String, ConnectorError> {
        let endpoint = &ep::IMAGE_UPLOAD;
        let token = self.tokens.access(self).await?;
        let answer: dto::ImageAnswer = self
            .http
            .call(
                endpoint,
                || {
                    // As the official Python SDK sends it (`requests.post(url,
                    // params, files=…)`): the signed parameters as text fields
                    // of the multipart body, the file (not signed) as `image`.
                    let mut form = reqwest::multipart::Form::new();
                    for (key, value) in self.signed_params(endpoint, Some(&token), &[]) {
                        form = form.text(key, value);
                    }
                    let part =
                        reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string());
                    Ok(self
                        .http
                        .client()
                        .post(self.url(endpoint))
                        .multipart(form.part("image", part)))
                },
                data,
            )
            .await?;
        Ok(answer.image.url)
    }

    async fn upsert_listing(
        &self,
        draft: &ListingDraft,
        existing: Option<&RemoteListing>,
    ) -> Result<RemoteListing, ConnectorError> {
        match existing {
            Some(existing) => self.update(draft, existing).await,
            None => self.create(draft).await,
        }
    }

    /// `/category/attributes/get`, once per category for the life of the
    /// client; see `mapping_required` for what is left out.
    async fn required_attributes(
        &self,
        category_id: &str,
    ) -> Result<Vec<AttributeSpec>, ConnectorError> {
        if category_id.is_empty() || !category_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConnectorError::Rejected {
                code: "chosync_category_id".into(),
                field: Some("category_id".into()),
                message: format!("\"{category_id}\" is not a Lazada category id (a number)"),
            });
        }
        let known = self
            .required
            .lock()
            .ok()
            .and_then(|cache| cache.get(category_id).cloned());
        if let Some(known) = known {
            return Ok(known);
        }
        // `data` may be null for a category without attributes.
        let attributes: Option<Vec<dto::CategoryAttribute>> = self
            .seller(
                &ep::CATEGORY_ATTRIBUTES,
                Method::GET,
                &[("primary_category_id", category_id.to_string())],
                data,
            )
            .await?;
        let required = mapping_required(attributes.unwrap_or_default());
        if let Ok(mut cache) = self.required.lock() {
            cache.insert(category_id.to_string(), required.clone());
        }
        Ok(required)
    }

    async fn find_listing_by_sku(
        &self,
        sku: &str,
    ) -> Result<Option<RemoteListing>, ConnectorError> {
        let list = serde_json::to_string(&[sku]).unwrap_or_default();
        let page: dto::Products = self
            .seller(
                &ep::PRODUCTS_GET,
                Method::GET,
                &[
                    ("filter", "all".into()),
                    ("sku_seller_list", list),
                    ("limit", "10".into()),
                ],
                data,
            )
            .await?;
        Ok(page
            .products
            .into_iter()
            .map(remote)
            .find(|l| l.carries(sku)))
    }

    /// Sets what buyers can buy: `/product/stock/sellable/update` makes
    /// Lazada's sellable quantity exactly the allotted one, whatever unpaid
    /// (withheld) or paid (occupied) orders hold.
    async fn set_stock(&self, items: &[StockSet]) -> Vec<ItemOutcome> {
        let entries = items
            .iter()
            .map(|s| {
                let entry = json!({
                    "ItemId": s.at.listing_id,
                    "SkuId": s.at.variant_id,
                    "SellerSku": s.sku,
                    "SellableQuantity": s.quantity.max(0).to_string(),
                });
                (s.sku.as_str(), entry)
            })
            .collect();
        self.batched(&ep::SELLABLE_UPDATE, entries).await
    }

    async fn set_price(&self, items: &[PriceSet]) -> Vec<ItemOutcome> {
        let entries = items
            .iter()
            .map(|p| {
                let entry = json!({
                    "ItemId": p.at.listing_id,
                    "SkuId": p.at.variant_id,
                    "SellerSku": p.sku,
                    "Price": p.price.to_string(),
                });
                (p.sku.as_str(), entry)
            })
            .collect();
        self.batched(&ep::PRICE_QUANTITY_UPDATE, entries).await
    }

    /// Pages by update time as the order walk does: `update_after` moves to
    /// the second of the last product's `updated_time` (epoch milliseconds;
    /// the parameter takes whole seconds), the offset steps past products
    /// updated in that second. The cursor is `update_after|offset`.
    async fn list_remote_listings(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<RemoteListing>, ConnectorError> {
        let (after, offset) = match cursor.and_then(|c| c.split_once('|')) {
            Some((after, offset)) => (
                parse_time(after)
                    .ok_or_else(|| ConnectorError::Transient(format!("bad cursor {after}")))?,
                offset.parse::<i64>().unwrap_or(0),
            ),
            None => (chrono::DateTime::UNIX_EPOCH, 0),
        };
        let page: dto::Products = self
            .seller(
                &ep::PRODUCTS_GET,
                Method::GET,
                &[
                    ("filter", "all".into()),
                    ("update_after", format_time(after)),
                    ("limit", PRODUCT_PAGE.to_string()),
                    ("offset", offset.to_string()),
                ],
                data,
            )
            .await?;
        let got = page.products.len() as i64;
        let times: Vec<_> = page
            .products
            .iter()
            .map(|p| p.updated().map(whole_second))
            .collect();
        let items = page.products.into_iter().map(remote).collect();
        if got < PRODUCT_PAGE {
            return Ok(Page { items, next: None });
        }
        let last = times.last().copied().flatten().ok_or_else(|| {
            ConnectorError::Transient("a product's updated_time could not be read".into())
        })?;
        let at_last = times.iter().filter(|t| **t == Some(last)).count() as i64;
        let (after, offset) = if last > after {
            (last, at_last)
        } else {
            (after, offset + got)
        };
        if offset > MAX_PRODUCT_OFFSET {
            return Err(ConnectorError::Rejected {
                code: "chosync_product_window".into(),
                field: None,
                message: format!(
                    "more than {MAX_PRODUCT_OFFSET} products were updated at {}",
                    format_time(after)
                ),
            });
        }
        Ok(Page {
            items,
            next: Some(format!("{}|{offset}", format_time(after))),
        })
    }

    /// Walks the window oldest update first, moving `update_after` to the
    /// last `updated_at` after every page: an order updated during the walk
    /// cannot shift the rows and hide another. The offset only steps past
    /// orders sharing that second, and Lazada stops it at 5,000.
    async fn list_orders(&self, window: OrderWindow) -> Result<Vec<OrderRef>, ConnectorError> {
        let before = format_time(window.to);
        let mut after = window.from;
        let mut offset = 0;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        loop {
            let page = self
                .orders_page(&format_time(after), &before, offset)
                .await?;
            let got = page.orders.len() as i64;
            let times: Vec<_> = page
                .orders
                .iter()
                .map(|o| parse_time(&o.updated_at).map(whole_second))
                .collect();
            for order in page.orders {
                let id = id_text(&order.order_id);
                if seen.insert(id.clone()) {
                    out.push(OrderRef {
                        updated_at: parse_time(&order.updated_at).map(whole_second),
                        order_id: id,
                        status: order.statuses.join(","),
                    });
                }
            }
            if got < ORDER_PAGE {
                return Ok(out);
            }
            let last = times.last().copied().flatten().ok_or_else(|| {
                ConnectorError::Transient("an order's updated_at could not be read".into())
            })?;
            let at_last = times.iter().filter(|t| **t == Some(last)).count() as i64;
            (after, offset) = if last > after {
                (last, at_last)
            } else {
                (after, offset + got)
            };
            if offset > MAX_ORDER_OFFSET {
                return Err(ConnectorError::Rejected {
                    code: "chosync_order_window".into(),
                    field: None,
                    message: format!(
                        "more than {MAX_ORDER_OFFSET} orders were updated at {}; Lazada cannot page past them",
                        format_time(after)
                    ),
                });
            }
        }
    }

    /// Items of up to 50 orders per call. Lazada has no quantity: each order
    /// item is one unit, kept as its own line with its own status.
    async fn get_orders(&self, ids: &[String]) -> Result<Vec<Order>, ConnectorError> {
        let mut out = Vec::new();
        for batch in ids.chunks(ORDERS_PER_CALL) {
            let list = format!("[{}]", batch.join(","));
            let orders: Vec<dto::OrderItems> = self
                .seller(
                    &ep::ORDER_ITEMS_GET,
                    Method::GET,
                    &[("order_ids", list)],
                    data,
                )
                .await?;
            for order in orders {
                let lines: Vec<OrderLine> = order
                    .order_items
                    .iter()
                    .map(|item| OrderLine {
                        line_id: id_text(&item.order_item_id),
                        sku: item.sku.clone(),
                        quantity: 1,
                        cancelled_quantity: 0,
                        state: state_of(&item.status),
                    })
                    .collect();
                let times: Vec<_> = order
                    .order_items
                    .iter()
                    .flat_map(|i| [parse_time(&i.created_at), parse_time(&i.updated_at)])
                    .flatten()
                    .collect();
                let states: Vec<_> = lines.iter().map(|l| l.state).collect();
                let mut statuses: Vec<&str> = order
                    .order_items
                    .iter()
                    .map(|i| i.status.as_str())
                    .collect();
                statuses.sort();
                statuses.dedup();
                out.push(Order {
                    order_id: id_text(&order.order_id),
                    platform_status: statuses.join(","),
                    state: order_state(&states),
                    created_at: times.iter().min().copied().unwrap_or_default(),
                    updated_at: times.iter().max().copied().unwrap_or_default(),
                    lines,
                });
            }
        }
        Ok(out)
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<WebhookHint, ConnectorError> {
        let given = headers
            .get(reqwest::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let secret = self.config.app_secret.expose_secret();
        if !sign::verify_push(secret, &self.config.app_key, raw_body, given) {
            return Err(ConnectorError::Unauthorized(
                "push signature does not match".into(),
            ));
        }
        let push: dto::Push =
            serde_json::from_slice(raw_body).map_err(|_| ConnectorError::Rejected {
                code: "bad_push".into(),
                field: None,
                message: "push body is not Lazada's push JSON".into(),
            })?;
        Ok(hint(&push))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_supplies_the_mandatory_attributes_the_draft_does_not_fill() {
        let answer = json!([
            { "name": "name", "label": "Name", "is_mandatory": 1, "attribute_type": "normal" },
            { "name": "brand", "label": "Brand", "is_mandatory": "1" },
            { "name": "SellerSku", "is_mandatory": 1, "attribute_type": "sku" },
            { "name": "package_content", "label": "What's in the box", "is_mandatory": 1, "attribute_type": "sku" },
            { "name": "color_family", "label": "Color Family", "is_mandatory": 1, "is_sale_prop": 1 },
            { "name": "warranty_type", "label": "Loại bảo hành", "is_mandatory": "1", "is_sale_prop": "0" },
            { "name": "shelf_life", "label": null, "is_mandatory": true },
            { "name": "short_description", "label": "Highlights", "is_mandatory": 0 },
            { "name": "model", "label": "Model" },
            { "label": "nameless", "is_mandatory": 1 }
        ]);
        let attributes: Vec<dto::CategoryAttribute> =
            serde_json::from_value(answer).expect("tolerant decoding");
        let ids: Vec<(String, String)> = mapping_required(attributes)
            .into_iter()
            .map(|a| (a.id, a.name))
            .collect();
        assert_eq!(
            ids,
            [
                ("package_content", "What's in the box"),
                ("warranty_type", "Loại bảo hành"),
                ("shelf_life", "shelf_life"),
            ]
            .map(|(id, name)| (id.to_string(), name.to_string()))
        );
    }

    fn draft(option_names: &[&str], values: &[&[&str]]) -> ListingDraft {
        ListingDraft {
            product_key: "P".into(),
            title: "t".into(),
            description: "d".into(),
            category_id: "1".into(),
            brand: Some("No Brand".into()),
            attributes: vec![],
            images: vec![],
            weight_g: 100,
            dimensions_cm: None,
            logistics: vec![],
            option_names: option_names.iter().map(|n| n.to_string()).collect(),
            variants: values
                .iter()
                .enumerate()
                .map(|(n, values)| VariantDraft {
                    sku: format!("S{n}"),
                    option_values: values.iter().map(|v| v.to_string()).collect(),
                    price: 1,
                    stock: 1,
                })
                .collect(),
            listed: true,
        }
    }

    #[test]
    fn options_are_declared_as_the_guide_shows_and_refused_beyond_its_limits() {
        let mut two = draft(
            &["Màu", "Khối lượng"],
            &[&["Đỏ", "1 kg"], &["Xanh", "1 kg"]],
        );
        two.attributes
            .push(("saleProp:Màu".into(), "color_family".into()));
        assert_eq!(
            variation(&two).expect("within limits"),
            Some(json!({
                "variation1": { "name": "color_family", "hasImage": false, "customize": false, "options": { "option": ["Đỏ", "Xanh"] } },
                "variation2": { "name": "Khối lượng", "hasImage": false, "customize": true, "options": { "option": ["1 kg"] } },
            }))
        );
        let payload = product_payload(&two, None).expect("payload");
        let product = &payload["Request"]["Product"];
        assert_eq!(product["Attributes"]["brand"], "No Brand");
        assert!(product["Attributes"].get("saleProp:Màu").is_none());
        assert_eq!(
            product["Skus"]["Sku"][1]["saleProp"],
            json!({ "color_family": "Xanh", "Khối lượng": "1 kg" })
        );
        assert_eq!(variation(&draft(&[], &[&[]])).expect("none"), None);
        let values: Vec<String> = (0..51).map(|n| format!("{n} g")).collect();
        let rows: Vec<Vec<&str>> = values.iter().map(|v| vec![v.as_str()]).collect();
        let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
        let refused = |draft: &ListingDraft| match variation(draft) {
            Err(ConnectorError::Rejected { code, field, .. }) => Some((code, field)),
            _ => None,
        };
        let field = |f: &str| Some(("chosync_variation".to_string(), Some(f.to_string())));
        assert_eq!(
            refused(&draft(&["Khối lượng"], &rows)),
            field("option_values")
        );
        assert_eq!(
            refused(&draft(&["Khối lượng tịnh gói"], &[&["1 kg"]])),
            field("option_names")
        );
        assert_eq!(
            refused(&draft(&["Khối lượng"], &[&["một bao hai mươi lăm ký"]])),
            field("option_values")
        );
        assert_eq!(
            refused(&draft(&["A", "B", "C"], &[&["1", "2", "3"]])),
            field("option_names")
        );
        let mut numeric = draft(&[], &[&[]]);
        numeric.brand = Some("94125".into());
        let payload = product_payload(&numeric, None).expect("payload");
        assert_eq!(
            payload["Request"]["Product"]["Attributes"]["brand_id"],
            "94125"
        );
    }

    #[test]
    fn the_documented_push_samples_become_hints() {
        let push = |body: &str| hint(&serde_json::from_str::<dto::Push>(body).expect("push"));
        // webhook-api-reverse-order.md: ids as numbers.
        let reverse = r#"{"seller_id":"12345","message_type":10,"data":{"reverse_order_id":658960600102006,
            "reverse_status":"RTM_INIT","trade_order_id":416557324702006,"extraParams":{},
            "trade_order_line_id":416557324802006,"buyer_id":100112802006,"seller_id":1000143772,
            "reverse_order_line_id":663790000102006,"status_update_time":1626767698},
            "timestamp":1627889609,"site":"lazada_sg"}"#;
        assert_eq!(
            push(reverse),
            WebhookHint::OrdersChanged {
                order_ids: vec!["416557324702006".into()]
            }
        );
        // webhook-api-authorization-token-expiration-alert.md
        let alert = r#"{"seller_id":"null","message_type":8,"data":{"app_key":"115527",
            "auth_expiry_time":1627542238,"seller_id":"1000165972"},"timestamp":1627416758,"site":"lazada_ph"}"#;
        assert_eq!(
            push(alert),
            WebhookHint::TokenExpiring {
                expires_at: chrono::DateTime::from_timestamp(1_627_542_238, 0)
            }
        );
        // webhook-api-trade-order-notifications.md, a return.
        let returned = r#"{"seller_id":"1000114855","message_type":0,"data":{"order_status":"returned",
            "reverse_order_id":"501977696648153","reverse_order_line_id":"502491640048153",
            "status_update_time":1603703663,"trade_order_id":"252883361348153",
            "trade_order_line_id":"252883361948153"},"timestamp":1603715010436,"site":"lazada_vn"}"#;
        assert_eq!(
            push(returned),
            WebhookHint::OrdersChanged {
                order_ids: vec!["252883361348153".into()]
            }
        );
        assert_eq!(
            push(r#"{"message_type":3,"data":{"item_id":1}}"#),
            WebhookHint::Other { code: "3".into() }
        );
        assert_eq!(
            push(r#"{"message_type":0,"data":{}}"#),
            WebhookHint::Other { code: "0".into() }
        );
    }
}
