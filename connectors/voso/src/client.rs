//! The Voso connector over the assumed contract of the README: bearer tokens
//! from key + secret (no refresh token: a new login ahead of expiry, single
//! flight, one more on an expired answer), JSON calls, stock and prices by
//! seller SKU in batches of 50, orders by update time in 7-day windows with
//! cursor paging, pushes signed with the shop's secret.

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
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::dto::{self, BatchAnswer, OrderDetail, OrderPage, Product, ProductPage};
use crate::mapping::{classify, decode, product_write, remote_listing, token_refused};
use crate::orders::state_of;
use crate::sign;

/// Stock and price calls carry at most 50 items.
pub const ITEMS_PER_BATCH: usize = 50;
/// An order-list call spans at most 7 days of update time.
pub const ORDER_WINDOW_DAYS: i64 = 7;
const PRODUCT_PAGE: u64 = 50;

mod ep {
    use chosync_connector::EndpointClass::*;
    use chosync_connector::http::{Endpoint, endpoint as e};

    // A login may be repeated: it only issues another token.
    pub const TOKEN: Endpoint = e("/v1/auth/token", Auth, true);
    pub const PRODUCTS: Endpoint = e("/v1/products", Catalogue, true);
    pub const PRODUCT_CREATE: Endpoint = e("/v1/products", Catalogue, false);
    pub const PRODUCT_UPDATE: Endpoint = e("/v1/products/{id}", Catalogue, true);
    pub const SKU: Endpoint = e("/v1/skus/{sku}", Catalogue, true);
    pub const STOCK: Endpoint = e("/v1/stock", Inventory, true);
    pub const PRICES: Endpoint = e("/v1/prices", Inventory, true);
    pub const ORDERS: Endpoint = e("/v1/orders", Orders, true);
    pub const ORDER: Endpoint = e("/v1/orders/{id}", Orders, true);
}

/// One Voso shop as a chosync channel.
#[derive(Clone)]
pub struct VosoConfig {
    pub channel: String,
    /// e.g. `https://api.voso.example` (no published host exists).
    pub base_url: String,
    pub key: String,
    pub secret: SecretString,
    pub limits: Limits,
    pub http: HttpConfig,
}

impl VosoConfig {
    /// Below the assumed 10 calls/s per shop: the platform counts in its own
    /// one-second windows and a call's arrival wobbles with the network.
    pub fn default_limits() -> Limits {
        Limits::shared("shop", NonZeroU32::new(9).unwrap_or(NonZeroU32::MIN))
    }
}

pub struct Voso {
    config: VosoConfig,
    http: Http,
    tokens: Tokens,
    clock: Arc<dyn Clock>,
}

impl Voso {
    pub fn new(
        config: VosoConfig,
        credentials: Arc<dyn CredentialStore>,
        events: Arc<dyn EventSink>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        let http = Http::new(&config.channel, &config.limits, events, config.http)?;
        let tokens = Tokens::new(&config.channel, credentials, clock.clone())
            .with_margin(chrono::Duration::minutes(5));
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

    /// Logs in with key + secret: a fresh token.
    async fn login(&self) -> Result<TokenPair, ConnectorError> {
        let url = self.url(ep::TOKEN.path);
        let body = json!({ "key": self.config.key, "secret": self.config.secret.expose_secret() });
        let answer: dto::TokenAnswer = self
            .http
            .call(
                &ep::TOKEN,
                || Ok(self.http.client().post(&url).json(&body)),
                decode,
            )
            .await?;
        Ok(TokenPair {
            access_token: SecretString::from(answer.access_token),
            // No refresh token in this contract: the key and secret log in again.
            refresh_token: SecretString::from(String::new()),
            access_expires_at: self.clock.now() + chrono::Duration::seconds(answer.expires_in),
            refresh_expires_at: None,
        })
    }

    /// Logs in once if no token was ever stored for the channel.
    async fn ensure_logged_in(&self) -> Result<(), ConnectorError> {
        self.tokens.install_first(|| self.login()).await
    }

    /// One authorized call: a token (logged in ahead of expiry), and one new
    /// login if the platform answers that it has expired.
    async fn authorized<T: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<serde_json::Value>,
    ) -> Result<T, ConnectorError> {
        self.ensure_logged_in().await?;
        let url = self.url(path);
        self.tokens
            .with_access(self, token_refused, |token| {
                let (url, body, method) = (&url, &body, &method);
                async move {
                    self.http
                        .call(
                            endpoint,
                            || {
                                let mut request = self
                                    .http
                                    .client()
                                    .request(method.clone(), url)
                                    .bearer_auth(token.expose_secret())
                                    .query(query);
                                if let Some(body) = body {
                                    request = request.json(body);
                                }
                                Ok(request)
                            },
                            decode,
                        )
                        .await
                }
            })
            .await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        self.authorized(endpoint, reqwest::Method::GET, path, query, None)
            .await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> Result<T, ConnectorError> {
        self.authorized(endpoint, method, path, &[], Some(body))
            .await
    }

    async fn find(&self, sku: &str) -> Result<Option<RemoteListing>, ConnectorError> {
        let path = format!("/v1/skus/{}", path_segment(sku));
        match self.get::<Product>(&ep::SKU, &path, &[]).await {
            Ok(product) => Ok(Some(remote_listing(product))),
            Err(ConnectorError::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Sends `items` (sku, value) in calls of 50 to `endpoint`; one outcome per input.
    async fn batched(
        &self,
        endpoint: &Endpoint,
        field: &'static str,
        items: &[(&str, i64)],
    ) -> Vec<ItemOutcome> {
        let last = last_per_key(items.iter().map(|(sku, _)| *sku));
        let unique: Vec<(&str, i64)> = last.iter().map(|(sku, i)| (*sku, items[*i].1)).collect();
        let mut outcomes = BatchOutcomes::default();
        for chunk in unique.chunks(ITEMS_PER_BATCH) {
            let body = json!({
                "items": chunk
                    .iter()
                    .map(|(sku, value)| json!({ "sku": sku, field: value }))
                    .collect::<Vec<_>>()
            });
            let answer: Result<BatchAnswer, ConnectorError> = self
                .send(endpoint, reqwest::Method::POST, endpoint.path, body)
                .await;
            outcomes.record(
                chunk.iter().map(|(sku, _)| sku.to_string()),
                &answer,
                |answer, sku| item_outcome(answer, sku),
            );
        }
        outcomes.per_input(items.iter().map(|(sku, _)| (*sku, sku.to_string())))
    }

    async fn order_page(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        cursor: Option<&str>,
    ) -> Result<OrderPage, ConnectorError> {
        let mut query = vec![
            ("updated_from", from.to_rfc3339()),
            ("updated_to", to.to_rfc3339()),
        ];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_string()));
        }
        self.get(&ep::ORDERS, ep::ORDERS.path, &query).await
    }
}

/// One item's outcome read from a batch answer.
fn item_outcome(answer: &BatchAnswer, sku: &str) -> Result<(), ConnectorError> {
    match answer.results.iter().find(|r| r.sku == sku) {
        Some(result) if result.ok => Ok(()),
        Some(result) => Err(classify(
            &result.error.clone().unwrap_or_else(|| dto::ErrorBody {
                code: "refused".into(),
                message: "refused without a reason".into(),
                field: None,
            }),
            None,
        )),
        None => Err(ConnectorError::Ambiguous(
            "the answer has no result for this SKU".into(),
        )),
    }
}

/// A SKU as one path segment (seller SKUs may hold `/` or spaces).
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[async_trait]
impl Refresher for Voso {
    /// No refresh token: a new login with key + secret.
    async fn refresh(&self, _: &SecretString) -> Result<TokenPair, ConnectorError> {
        self.login().await
    }
}

#[async_trait]
impl Connector for Voso {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            stock_batch: ITEMS_PER_BATCH,
            price_batch: ITEMS_PER_BATCH,
            batch_scope: BatchScope::AcrossListings,
            webhooks: true,
            max_title_chars: 255,
            max_variants: 50,
            order_window: Duration::from_secs(ORDER_WINDOW_DAYS as u64 * 86_400),
            order_detail_batch: 1,
        }
    }

    fn default_limits(&self) -> Limits {
        VosoConfig::default_limits()
    }

    async fn refresh_credentials(&self) -> Result<(), ConnectorError> {
        let fresh = self.login().await?;
        self.tokens.install(fresh).await
    }

    async fn upload_image(&self, _name: &str, _bytes: Vec<u8>) -> Result<String, ConnectorError> {
        Err(ConnectorError::Rejected {
            code: "unsupported".into(),
            field: Some("images".into()),
            message: "the assumed Voso contract takes image URLs, not uploads".into(),
        })
    }

    async fn upsert_listing(
        &self,
        draft: &ListingDraft,
        existing: Option<&RemoteListing>,
    ) -> Result<RemoteListing, ConnectorError> {
        let body =
            serde_json::to_value(product_write(draft)).map_err(|_| ConnectorError::Rejected {
                code: "unencodable".into(),
                field: None,
                message: "the draft could not be written as JSON".into(),
            })?;
        if let Some(existing) = existing {
            let path = format!("/v1/products/{}", path_segment(&existing.listing_id));
            let product: Product = self
                .send(&ep::PRODUCT_UPDATE, reqwest::Method::PUT, &path, body)
                .await?;
            return Ok(remote_listing(product));
        }
        match self
            .send::<Product>(
                &ep::PRODUCT_CREATE,
                reqwest::Method::POST,
                ep::PRODUCT_CREATE.path,
                body,
            )
            .await
        {
            Ok(product) => Ok(remote_listing(product)),
            Err(ConnectorError::Ambiguous(lost)) => {
                // The create may have happened: what Voso holds settles it.
                let Some(first) = draft.variants.first() else {
                    return Err(ConnectorError::Ambiguous(lost));
                };
                let found = lost_write::look_up(
                    || self.find(&first.sku),
                    |held| held.filter(|l: &RemoteListing| l.carries(&first.sku)),
                )
                .await?;
                match found {
                    Some(listing) => {
                        tracing::info!(channel = %self.config.channel, sku = %first.sku, listing = %listing.listing_id, "lost create adopted");
                        Ok(listing)
                    }
                    None => Err(ConnectorError::Ambiguous(lost)),
                }
            }
            Err(other) => Err(other),
        }
    }

    async fn required_attributes(
        &self,
        _category_id: &str,
    ) -> Result<Vec<AttributeSpec>, ConnectorError> {
        // The assumed contract has no category attributes.
        Ok(Vec::new())
    }

    async fn find_listing_by_sku(
        &self,
        sku: &str,
    ) -> Result<Option<RemoteListing>, ConnectorError> {
        self.find(sku).await
    }

    async fn set_stock(&self, items: &[StockSet]) -> Vec<ItemOutcome> {
        let items: Vec<(&str, i64)> = items.iter().map(|i| (i.sku.as_str(), i.quantity)).collect();
        self.batched(&ep::STOCK, "stock", &items).await
    }

    async fn set_price(&self, items: &[PriceSet]) -> Vec<ItemOutcome> {
        let items: Vec<(&str, i64)> = items.iter().map(|i| (i.sku.as_str(), i.price)).collect();
        self.batched(&ep::PRICES, "price", &items).await
    }

    async fn list_remote_listings(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<RemoteListing>, ConnectorError> {
        let page = match cursor {
            None => 1,
            Some(text) => text.parse::<u64>().map_err(|_| ConnectorError::Rejected {
                code: "bad_cursor".into(),
                field: Some("cursor".into()),
                message: "not a page number".into(),
            })?,
        };
        let answer: ProductPage = self
            .get(
                &ep::PRODUCTS,
                ep::PRODUCTS.path,
                &[
                    ("page", page.to_string()),
                    ("page_size", PRODUCT_PAGE.to_string()),
                ],
            )
            .await?;
        let seen = answer.page.saturating_mul(answer.page_size);
        let next = (!answer.items.is_empty() && seen < answer.total)
            .then(|| (answer.page.saturating_add(1)).to_string());
        Ok(Page {
            items: answer.items.into_iter().map(remote_listing).collect(),
            next,
        })
    }

    async fn list_orders(&self, window: OrderWindow) -> Result<Vec<OrderRef>, ConnectorError> {
        let mut found = Vec::new();
        let mut from = window.from;
        while from < window.to {
            let to = (from + chrono::Duration::days(ORDER_WINDOW_DAYS)).min(window.to);
            let mut cursor: Option<String> = None;
            loop {
                let page = self.order_page(from, to, cursor.as_deref()).await?;
                found.extend(page.items.into_iter().map(|o| OrderRef {
                    order_id: o.id,
                    status: o.status,
                    updated_at: o.updated_at,
                }));
                match page.next_cursor.filter(|c| !c.is_empty()) {
                    Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                    _ => break,
                }
            }
            from = to;
        }
        Ok(found)
    }

    async fn get_orders(&self, ids: &[String]) -> Result<Vec<Order>, ConnectorError> {
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            let path = format!("/v1/orders/{}", path_segment(id));
            // An order the platform does not know (a stale push's) is left
            // out, as a batch read leaves it out: it must not hold up the
            // orders named with it.
            let detail: OrderDetail = match self.get(&ep::ORDER, &path, &[]).await {
                Ok(detail) => detail,
                Err(ConnectorError::NotFound(_)) => {
                    tracing::warn!(channel = %self.config.channel, order = %id, "no such order: left out");
                    continue;
                }
                Err(err) => return Err(err),
            };
            let state = state_of(&detail.status);
            orders.push(Order {
                order_id: detail.id,
                platform_status: detail.status,
                state,
                created_at: detail.created_at,
                updated_at: detail.updated_at,
                lines: detail
                    .lines
                    .into_iter()
                    .map(|l| OrderLine {
                        line_id: l.id,
                        sku: l.sku,
                        quantity: l.quantity,
                        cancelled_quantity: 0,
                        state,
                    })
                    .collect(),
            });
        }
        Ok(orders)
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<WebhookHint, ConnectorError> {
        let refused = |why: &str| ConnectorError::Unauthorized(format!("push refused: {why}"));
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let timestamp = header(sign::TIMESTAMP_HEADER)
            .and_then(|t| t.trim().parse::<i64>().ok())
            .ok_or_else(|| refused("no readable timestamp"))?;
        let signature = header(sign::SIGNATURE_HEADER).ok_or_else(|| refused("no signature"))?;
        if (self.clock.now().timestamp() - timestamp).abs() > sign::TOLERANCE_SECS {
            return Err(refused("timestamp outside 5 minutes"));
        }
        if !sign::verify(
            self.config.secret.expose_secret().as_bytes(),
            timestamp,
            raw_body,
            signature,
        ) {
            return Err(refused("signature does not match"));
        }
        let push: dto::Push =
            serde_json::from_slice(raw_body).map_err(|_| ConnectorError::Rejected {
                code: "bad_push".into(),
                field: None,
                message: "unreadable push body".into(),
            })?;
        Ok(match (push.event.as_str(), push.order_id) {
            ("order.updated", Some(id)) => WebhookHint::OrdersChanged {
                order_ids: vec![id],
            },
            (other, _) => WebhookHint::Other {
                code: other.to_string(),
            },
        })
    }
}
