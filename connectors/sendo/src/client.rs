//! The Sendo connector: one login per 8-hour token (single-flight, renewed an
//! hour ahead, once more on an expired-token answer), products written whole,
//! stock and prices through `update-by-field-mask` in calls of up to 50
//! products, orders by status-change day in windows of three days.

use std::collections::{BTreeMap, HashSet};
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
    AttributeSpec, ItemOutcome, ListingDraft, Order, OrderLine, OrderRef, OrderWindow, Page,
    PriceSet, RemoteListing, StockSet, WebhookHint,
};
use chosync_connector::events::EventSink;
use chosync_connector::http::{Endpoint, Http, HttpConfig};
use chosync_connector::lost_write;
use chosync_connector::{BatchScope, Capabilities, Connector, ConnectorError, Limits};
use chrono::DateTime;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth;
use crate::dto::{Login, OrderDetail, OrderPage, Product, ProductPage, Push};
use crate::mapping::{decode, product_body, remote_listing, token_refused};
use crate::orders::{day_windows, format_day, state_of, status_word};

/// Products per `update-by-field-mask` call: the document names no limit
/// (G: 50, as Lazada's stock calls).
pub const PRODUCTS_PER_MASK_CALL: usize = 50;
const PRODUCT_PAGE: i64 = 50;
const ORDER_PAGE: i64 = 50;
/// The order search refuses a status-change range over three days.
const WINDOW_DAYS: u64 = 3;
/// An expired page token restarts its window; this many times at most.
const WINDOW_RESTARTS: usize = 3;

mod ep {
    use chosync_connector::EndpointClass::*;
    use chosync_connector::http::{Endpoint, endpoint as e};

    // Logging in twice only issues a second token.
    pub const LOGIN: Endpoint = e("/login", Auth, true);
    pub const PRODUCT_CREATE: Endpoint = e("/api/partner/product", Catalogue, false);
    pub const PRODUCT_UPDATE: Endpoint = e("/api/partner/product", Catalogue, true);
    pub const PRODUCT_GET: Endpoint = e("/api/partner/product", Catalogue, true);
    pub const PRODUCT_SEARCH: Endpoint = e("/api/partner/product/search", Catalogue, true);
    pub const FIELD_MASK: Endpoint =
        e("/api/partner/product/update-by-field-mask", Inventory, true);
    pub const ORDER_SEARCH: Endpoint = e("/api/partner/salesorder/search", Orders, true);
    pub const ORDER_GET: Endpoint = e("/api/partner/salesorder", Orders, true);
}

/// One Sendo shop as a chosync channel (one key pair is one shop).
#[derive(Clone)]
pub struct SendoConfig {
    pub channel: String,
    /// e.g. `https://open.sendo.vn`.
    pub base_url: String,
    pub shop_key: String,
    pub secret_key: SecretString,
    pub limits: Limits,
    pub http: HttpConfig,
}

impl SendoConfig {
    /// Sendo publishes no quota but logins (5/s per IP): 2 calls/s per shop
    /// on every endpoint (`sendo.md` §3.5, G), which configuration may change.
    pub fn default_limits() -> Limits {
        Limits::shared("shop", NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN))
    }
}

pub struct Sendo {
    config: SendoConfig,
    http: Http,
    tokens: Tokens,
    clock: Arc<dyn Clock>,
}

/// One element of `update-by-field-mask`'s per-product answer (G: the
/// document shows none; the sandbox answers this).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MaskResult {
    id: i64,
    success: bool,
    message: Option<String>,
    property_name: Option<String>,
}

impl Sendo {
    pub fn new(
        config: SendoConfig,
        credentials: Arc<dyn CredentialStore>,
        events: Arc<dyn EventSink>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        let http = Http::new(&config.channel, &config.limits, events, config.http)?;
        let tokens =
            Tokens::new(&config.channel, credentials, clock.clone()).with_margin(auth::RENEW_AHEAD);
        Ok(Self {
            config,
            http,
            tokens,
            clock,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    /// Logs in now with the shop's keys and stores the token: how an operator
    /// connects the channel (there is no seller consent page) and checks the keys.
    pub async fn sign_in(&self) -> Result<(), ConnectorError> {
        let pair = self.login().await?;
        self.tokens.install(pair).await
    }

    /// When the channel's token runs out (`None`: never logged in).
    pub async fn token_expiry(&self) -> Result<Option<Expiry>, ConnectorError> {
        self.tokens.expiry().await
    }

    /// Logs in again when the token has less than `margin` left.
    pub async fn refresh_ahead(&self, margin: chrono::Duration) -> Result<Ahead, ConnectorError> {
        self.tokens.install_first(|| self.login()).await?;
        self.tokens.refresh_ahead(margin, self).await
    }

    /// Why the platform refused a login for good since last asked.
    pub fn take_refused_refresh(&self) -> Option<String> {
        self.tokens.take_refused_refresh()
    }

    async fn login(&self) -> Result<TokenPair, ConnectorError> {
        let url = self.url("/login");
        let body = json!({
            "shop_key": self.config.shop_key,
            "secret_key": self.config.secret_key.expose_secret(),
        });
        let login: Login = self
            .http
            .call(
                &ep::LOGIN,
                || Ok(self.http.client().post(&url).json(&body)),
                decode,
            )
            .await?;
        tracing::info!(channel = %self.config.channel, "logged in to Sendo");
        Ok(auth::pair(login, self.clock.now()))
    }

    /// Logs in once when the channel has no token yet.
    async fn logged_in(&self) -> Result<(), ConnectorError> {
        self.tokens.install_first(|| self.login()).await
    }

    /// One bearer call; an expired-token answer logs in again once.
    async fn api<T: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, ConnectorError> {
        self.logged_in().await?;
        let url = self.url(path);
        self.tokens
            .with_access(self, token_refused, |token| {
                let (url, method) = (url.clone(), method.clone());
                async move {
                    self.http
                        .call(
                            endpoint,
                            || {
                                let mut request = self
                                    .http
                                    .client()
                                    .request(method.clone(), &url)
                                    .header(
                                        AUTHORIZATION,
                                        format!("bearer {}", token.expose_secret()),
                                    )
                                    .query(query);
                                if let Some(body) = body {
                                    request = request.json(body);
                                }
                                Ok(request)
                            },
                            decode::<T>,
                        )
                        .await
                }
            })
            .await
    }

    async fn product(&self, query: (&str, &str)) -> Result<Option<Product>, ConnectorError> {
        match self
            .api::<Product>(
                &ep::PRODUCT_GET,
                Method::GET,
                "/api/partner/product",
                &[query],
                None,
            )
            .await
        {
            Ok(product) => Ok(Some(product)),
            Err(ConnectorError::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Sends field-mask elements (listing id, its SKUs, the element) in calls
    /// of up to 50 products; what became of each SKU.
    async fn masked(
        &self,
        elements: Vec<(String, Vec<String>, Result<Value, ConnectorError>)>,
    ) -> BatchOutcomes<String> {
        let mut outcomes = BatchOutcomes::default();
        let mut ready = Vec::new();
        for (listing, skus, element) in elements {
            match element {
                Ok(element) => ready.push((listing, skus, element)),
                Err(err) => outcomes.record(skus, &Err::<(), _>(err), |_, _| Ok(())),
            }
        }
        for chunk in ready.chunks(PRODUCTS_PER_MASK_CALL) {
            let body = Value::Array(chunk.iter().map(|(_, _, e)| e.clone()).collect());
            let answer = self
                .api::<Vec<MaskResult>>(
                    &ep::FIELD_MASK,
                    Method::POST,
                    "/api/partner/product/update-by-field-mask",
                    &[],
                    Some(&body),
                )
                .await;
            for (listing, skus, _) in chunk {
                outcomes.record(skus.iter().cloned(), &answer, |results, _| {
                    let result = results
                        .iter()
                        .find(|r| r.id.to_string() == *listing)
                        .ok_or_else(|| {
                            ConnectorError::Transient(format!("no answer for product {listing}"))
                        })?;
                    if result.success {
                        Ok(())
                    } else {
                        Err(ConnectorError::Rejected {
                            code: "field_mask".into(),
                            field: result.property_name.clone(),
                            message: result.message.clone().unwrap_or_default(),
                        })
                    }
                });
            }
        }
        outcomes
    }

    /// Whether a configured product still has stock in variants other than `skus`.
    async fn others_in_stock(
        &self,
        listing: &str,
        skus: &[String],
    ) -> Result<bool, ConnectorError> {
        let product = self
            .product(("id", listing))
            .await?
            .ok_or_else(|| ConnectorError::NotFound(format!("product {listing}")))?;
        Ok(product
            .variants
            .iter()
            .any(|v| !skus.contains(&v.variant_sku) && v.variant_quantity > 0))
    }

    fn order(detail: OrderDetail) -> Result<Order, ConnectorError> {
        let so = detail.sales_order;
        let state = state_of(so.order_status, so.payment_status, so.payment_method);
        let created = DateTime::from_timestamp(so.order_date_time_stamp, 0).ok_or_else(|| {
            ConnectorError::Transient(format!("order {} has no order date", so.order_number))
        })?;
        let updated = DateTime::from_timestamp(so.order_status_date_time_stamp, 0)
            .filter(|_| so.order_status_date_time_stamp > 0)
            .unwrap_or(created);
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let lines = detail
            .sku_details
            .into_iter()
            .map(|line| {
                let n = seen.entry(line.sku.clone()).or_default();
                *n += 1;
                let line_id = if *n == 1 {
                    line.sku.clone()
                } else {
                    format!("{}#{n}", line.sku)
                };
                OrderLine {
                    line_id,
                    sku: line.sku,
                    quantity: line.quantity,
                    cancelled_quantity: 0,
                    state,
                }
            })
            .collect();
        Ok(Order {
            order_id: so.order_number,
            platform_status: status_word(so.order_status),
            state,
            created_at: created,
            updated_at: updated,
            lines,
        })
    }
}

#[async_trait]
impl Refresher for Sendo {
    /// Sendo has no refresh token: a renewal is a new login.
    async fn refresh(&self, _: &SecretString) -> Result<TokenPair, ConnectorError> {
        self.login().await
    }
}

/// An order number as a path segment: Sendo's are digits (and letters).
fn order_segment(id: &str) -> Result<&str, ConnectorError> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(id)
    } else {
        Err(ConnectorError::NotFound(format!("order number {id:?}")))
    }
}

fn page_token_expired(err: &ConnectorError) -> bool {
    matches!(err, ConnectorError::Rejected { field: Some(f), .. } if f == "token")
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait]
impl Connector for Sendo {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            stock_batch: PRODUCTS_PER_MASK_CALL,
            price_batch: PRODUCTS_PER_MASK_CALL,
            batch_scope: BatchScope::AcrossListings,
            webhooks: true,
            // No limit is documented (G: 120).
            max_title_chars: 120,
            max_variants: 50,
            order_window: Duration::from_secs(WINDOW_DAYS * 24 * 3600),
            order_detail_batch: 1,
        }
    }

    fn default_limits(&self) -> Limits {
        SendoConfig::default_limits()
    }

    async fn refresh_credentials(&self) -> Result<(), ConnectorError> {
        if self.tokens.expiry().await?.is_none() {
            return self.logged_in().await;
        }
        self.tokens.refresh_now(self).await
    }

    async fn upload_image(&self, name: &str, _: Vec<u8>) -> Result<String, ConnectorError> {
        Err(ConnectorError::Rejected {
            code: "no_upload".into(),
            field: Some("images".into()),
            message: format!(
                "Sendo documents no image upload; {name} must be a public URL in the listing"
            ),
        })
    }

    async fn upsert_listing(
        &self,
        draft: &ListingDraft,
        existing: Option<&RemoteListing>,
    ) -> Result<RemoteListing, ConnectorError> {
        let id = match existing {
            Some(listing) => listing.listing_id.parse::<i64>().map_err(|_| {
                ConnectorError::NotFound(format!("Sendo product id {:?}", listing.listing_id))
            })?,
            None => 0,
        };
        let kept = |sku: &str| {
            existing
                .and_then(|l| l.variant(sku))
                .map(|v| (v.price, v.stock))
        };
        let body = product_body(draft, id, kept)?;
        let sku = body["sku"].as_str().unwrap_or_default().to_string();
        let endpoint = if id == 0 {
            &ep::PRODUCT_CREATE
        } else {
            &ep::PRODUCT_UPDATE
        };
        let written = self
            .api::<Value>(
                endpoint,
                Method::POST,
                "/api/partner/product",
                &[],
                Some(&body),
            )
            .await;
        let written_id = match written {
            Ok(result) => text(&result).or_else(|| text(&result["id"])),
            Err(ConnectorError::Ambiguous(lost)) if id == 0 => {
                let found =
                    lost_write::look_up(|| self.find_listing_by_sku(&sku), |found| found).await?;
                return found.ok_or(ConnectorError::Ambiguous(lost));
            }
            Err(err) => return Err(err),
        };
        let product = match written_id {
            Some(id) => self.product(("id", &id)).await?,
            None => self.product(("sku", &sku)).await?,
        };
        product.map(|p| remote_listing(&p)).ok_or_else(|| {
            ConnectorError::Transient(format!("product {sku} written but not found"))
        })
    }

    async fn required_attributes(
        &self,
        _category_id: &str,
    ) -> Result<Vec<AttributeSpec>, ConnectorError> {
        // The category attribute call is not read yet: the mapping's ids are
        // checked by Sendo when the product is written.
        Ok(Vec::new())
    }

    async fn find_listing_by_sku(
        &self,
        sku: &str,
    ) -> Result<Option<RemoteListing>, ConnectorError> {
        Ok(self
            .product(("sku", sku))
            .await?
            .map(|p| remote_listing(&p))
            .filter(|l| l.carries(sku)))
    }

    async fn set_stock(&self, items: &[StockSet]) -> Vec<ItemOutcome> {
        let last = last_per_key(items.iter().map(|i| i.sku.clone()));
        let mut by_listing: BTreeMap<String, Vec<&StockSet>> = BTreeMap::new();
        for index in last.values() {
            if let Some(item) = items.get(*index) {
                by_listing
                    .entry(item.at.listing_id.clone())
                    .or_default()
                    .push(item);
            }
        }
        let mut elements = Vec::new();
        for (listing, sets) in by_listing {
            let skus: Vec<String> = sets.iter().map(|s| s.sku.clone()).collect();
            let element = match listing.parse::<i64>() {
                Err(_) => Err(ConnectorError::NotFound(format!(
                    "Sendo product id {listing:?}"
                ))),
                Ok(id) if sets.iter().all(|s| s.at.variant_id.is_empty()) => {
                    let quantity = sets.iter().map(|s| s.quantity).max().unwrap_or(0);
                    Ok(json!({
                        "id": id,
                        "field_mask": ["stock_quantity", "stock_availability"],
                        "stock_quantity": quantity,
                        "stock_availability": quantity > 0,
                    }))
                }
                Ok(id) => {
                    let available = if sets.iter().any(|s| s.quantity > 0) {
                        Ok(true)
                    } else {
                        self.others_in_stock(&listing, &skus).await
                    };
                    available.map(|available| {
                        json!({
                            "id": id,
                            "field_mask": ["variants", "stock_availability"],
                            "stock_availability": available,
                            "variants": sets.iter().map(|s| json!({
                                "variant_sku": s.sku,
                                "field_mask": ["variant_quantity"],
                                "variant_quantity": s.quantity,
                            })).collect::<Vec<_>>(),
                        })
                    })
                }
            };
            elements.push((listing, skus, element));
        }
        let outcomes = self.masked(elements).await;
        outcomes.per_input(items.iter().map(|i| (i.sku.as_str(), i.sku.clone())))
    }

    async fn set_price(&self, items: &[PriceSet]) -> Vec<ItemOutcome> {
        let last = last_per_key(items.iter().map(|i| i.sku.clone()));
        let mut by_listing: BTreeMap<String, Vec<&PriceSet>> = BTreeMap::new();
        for index in last.values() {
            if let Some(item) = items.get(*index) {
                by_listing
                    .entry(item.at.listing_id.clone())
                    .or_default()
                    .push(item);
            }
        }
        let mut elements = Vec::new();
        for (listing, sets) in by_listing {
            let skus: Vec<String> = sets.iter().map(|s| s.sku.clone()).collect();
            let element = match listing.parse::<i64>() {
                Err(_) => Err(ConnectorError::NotFound(format!(
                    "Sendo product id {listing:?}"
                ))),
                Ok(id) if sets.iter().all(|s| s.at.variant_id.is_empty()) => Ok(json!({
                    "id": id,
                    "field_mask": ["price"],
                    "price": sets.iter().map(|s| s.price).max().unwrap_or(0),
                })),
                Ok(id) => Ok(json!({
                    "id": id,
                    "field_mask": ["variants"],
                    "variants": sets.iter().map(|s| json!({
                        "variant_sku": s.sku,
                        "field_mask": ["variant_price"],
                        "variant_price": s.price,
                    })).collect::<Vec<_>>(),
                })),
            };
            elements.push((listing, skus, element));
        }
        let outcomes = self.masked(elements).await;
        outcomes.per_input(items.iter().map(|i| (i.sku.as_str(), i.sku.clone())))
    }

    async fn list_remote_listings(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<RemoteListing>, ConnectorError> {
        let mut body = json!({ "page_size": PRODUCT_PAGE });
        if let Some(token) = cursor {
            body["token"] = json!(token);
        }
        let page: ProductPage = self
            .api(
                &ep::PRODUCT_SEARCH,
                Method::POST,
                "/api/partner/product/search",
                &[],
                Some(&body),
            )
            .await?;
        Ok(Page {
            items: page.data.iter().map(remote_listing).collect(),
            next: page.next_token.filter(|t| !t.is_empty()),
        })
    }

    async fn list_orders(&self, window: OrderWindow) -> Result<Vec<OrderRef>, ConnectorError> {
        let mut seen = HashSet::new();
        let mut refs = Vec::new();
        let (from, to) = (window.from.timestamp(), window.to.timestamp());
        for (first, last) in day_windows(window.from, window.to, WINDOW_DAYS) {
            let filters = json!({
                "page_size": ORDER_PAGE,
                "order_status_date_from": format_day(first),
                "order_status_date_to": format_day(last),
            });
            let mut token: Option<String> = None;
            let mut restarts = 0;
            loop {
                let body = match &token {
                    Some(token) => json!({ "page_size": ORDER_PAGE, "token": token }),
                    None => filters.clone(),
                };
                let page = self
                    .api::<OrderPage>(
                        &ep::ORDER_SEARCH,
                        Method::POST,
                        "/api/partner/salesorder/search",
                        &[],
                        Some(&body),
                    )
                    .await;
                let page = match page {
                    Ok(page) => page,
                    Err(err)
                        if token.is_some()
                            && page_token_expired(&err)
                            && restarts < WINDOW_RESTARTS =>
                    {
                        restarts += 1;
                        token = None;
                        continue;
                    }
                    Err(err) => return Err(err),
                };
                for detail in page.data {
                    let so = detail.sales_order;
                    let stamp = so.order_status_date_time_stamp;
                    let inside = stamp <= 0 || (from..=to).contains(&stamp);
                    if inside && seen.insert(so.order_number.clone()) {
                        refs.push(OrderRef {
                            order_id: so.order_number,
                            status: status_word(so.order_status),
                            updated_at: DateTime::from_timestamp(stamp, 0).filter(|_| stamp > 0),
                        });
                    }
                }
                match page.next_token.filter(|t| !t.is_empty()) {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
        }
        Ok(refs)
    }

    async fn get_orders(&self, ids: &[String]) -> Result<Vec<Order>, ConnectorError> {
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            // An order Sendo does not know (a stale or forged push's) is
            // left out, as a batch read leaves it out, not failed: it
            // must not hold up the orders named with it.
            let Ok(segment) = order_segment(id) else {
                tracing::warn!(channel = %self.config.channel, order = id, "not an order number: left out");
                continue;
            };
            let path = format!("/api/partner/salesorder/{segment}");
            match self
                .api::<OrderDetail>(&ep::ORDER_GET, Method::GET, &path, &[], None)
                .await
            {
                Ok(detail) => orders.push(Self::order(detail)?),
                Err(ConnectorError::NotFound(_)) => {
                    tracing::warn!(channel = %self.config.channel, order = id, "Sendo knows no such order: left out");
                }
                Err(err) => return Err(err),
            }
        }
        Ok(orders)
    }

    /// Sendo signs nothing: the daemon checks the URL's per-channel secret.
    /// Here the push is read, and one for another shop is refused.
    fn verify_webhook(
        &self,
        _headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<WebhookHint, ConnectorError> {
        let push: Push =
            serde_json::from_slice(raw_body).map_err(|_| ConnectorError::Rejected {
                code: "bad_push".into(),
                field: None,
                message: "not a Sendo push".into(),
            })?;
        if push.shop_key != self.config.shop_key {
            return Err(ConnectorError::Rejected {
                code: "shop_key".into(),
                field: Some("shop_key".into()),
                message: "a push for another shop".into(),
            });
        }
        let number = text(&push.data["order_number"])
            .or_else(|| text(&push.data["sales_order"]["order_number"]));
        match (push.kind.as_str(), number) {
            ("SALESORDER.CREATE" | "SALESORDER.UPDATE", Some(number)) => {
                Ok(WebhookHint::OrdersChanged {
                    order_ids: vec![number],
                })
            }
            (kind, _) => Ok(WebhookHint::Other { code: kind.into() }),
        }
    }
}
