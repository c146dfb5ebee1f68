//! A configured channel as a live connector, with its platform's
//! authorization steps.

use std::path::Path;
use std::sync::Arc;

use chosync_connector::clock::Clock;
use chosync_connector::credentials::{Ahead, CredentialStore, Expiry};
use chosync_connector::dto::WebhookHint;
use chosync_connector::events::EventSink;
use chosync_connector::http::HttpConfig;
use chosync_connector::{Connector, ConnectorError, Limits};
use chosync_lazada::{Lazada, LazadaConfig};
use chosync_sendo::{Sendo, SendoConfig};
use chosync_shopee::{Shopee, ShopeeConfig};
use chosync_spreadsheet::{Spreadsheet, SpreadsheetConfig};
use chosync_voso::{Voso, VosoConfig};

use super::{ChannelSettings, PlatformKind};

/// What building a connector needs besides the channel's own settings.
pub struct Context {
    pub credentials: Arc<dyn CredentialStore>,
    pub events: Arc<dyn EventSink>,
    pub clock: Arc<dyn Clock>,
    pub allow_plaintext_secrets: bool,
    /// Where relative paths of the config are taken from (mappings, folders).
    pub config_dir: std::path::PathBuf,
}

pub enum ChannelClient {
    Shopee(Shopee),
    Lazada(Lazada),
    Sendo(Sendo),
    Voso(Voso),
    Spreadsheet(Spreadsheet),
}

fn limits(channel: &ChannelSettings, defaults: Limits) -> Limits {
    channel.rate.iter().fold(
        defaults,
        |limits, (bucket, rate)| match std::num::NonZeroU32::new(*rate) {
            Some(rate) => limits.with_rate(bucket, rate),
            None => limits,
        },
    )
}

fn missing(channel: &ChannelSettings, key: &str) -> String {
    format!(
        "channels.{}.{key}: is required for this platform",
        channel.id
    )
}

impl ChannelClient {
    /// The connector for `channel`; `shop_id` overrides the configured one
    /// (Shopee, when authorizing a shop the config does not name yet).
    pub fn build(
        channel: &ChannelSettings,
        context: &Context,
        shop_id: Option<i64>,
    ) -> Result<Self, String> {
        let secret = |key: &str, value: &Option<super::SecretRef>| {
            value
                .as_ref()
                .ok_or_else(|| missing(channel, key))?
                .resolve(context.allow_plaintext_secrets)
                .map_err(|why| format!("channels.{}.{key}: {why}", channel.id))
        };
        let built = match channel.platform {
            PlatformKind::Shopee => {
                let config = ShopeeConfig {
                    channel: channel.id.clone(),
                    base_url: channel.base_url.clone(),
                    partner_id: channel
                        .partner_id
                        .ok_or_else(|| missing(channel, "partner_id"))?,
                    partner_key: secret("partner_key", &channel.partner_key)?,
                    shop_id: shop_id
                        .or(channel.shop_id)
                        .ok_or_else(|| missing(channel, "shop_id"))?,
                    callback_url: channel.callback_url.clone(),
                    limits: limits(channel, ShopeeConfig::default_limits()),
                    http: HttpConfig::default(),
                    tier_wait: chosync_shopee::TIER_WAIT,
                };
                Shopee::new(
                    config,
                    context.credentials.clone(),
                    context.events.clone(),
                    context.clock.clone(),
                )
                .map(Self::Shopee)
            }
            PlatformKind::Lazada => {
                let config = LazadaConfig {
                    channel: channel.id.clone(),
                    base_url: channel.base_url.clone(),
                    auth_url: channel
                        .auth_url
                        .clone()
                        .ok_or_else(|| missing(channel, "auth_url"))?,
                    app_key: channel
                        .app_key
                        .clone()
                        .ok_or_else(|| missing(channel, "app_key"))?,
                    app_secret: secret("app_secret", &channel.app_secret)?,
                    limits: limits(channel, LazadaConfig::default_limits()),
                    http: HttpConfig::default(),
                };
                Lazada::new(
                    config,
                    context.credentials.clone(),
                    context.events.clone(),
                    context.clock.clone(),
                )
                .map(Self::Lazada)
            }
            PlatformKind::Sendo => {
                let config = SendoConfig {
                    channel: channel.id.clone(),
                    base_url: channel.base_url.clone(),
                    shop_key: channel
                        .shop_key
                        .clone()
                        .ok_or_else(|| missing(channel, "shop_key"))?,
                    secret_key: secret("secret_key", &channel.secret_key)?,
                    limits: limits(channel, SendoConfig::default_limits()),
                    http: HttpConfig::default(),
                };
                Sendo::new(
                    config,
                    context.credentials.clone(),
                    context.events.clone(),
                    context.clock.clone(),
                )
                .map(Self::Sendo)
            }
            PlatformKind::Voso => {
                let config = VosoConfig {
                    channel: channel.id.clone(),
                    base_url: channel.base_url.clone(),
                    key: channel
                        .app_key
                        .clone()
                        .ok_or_else(|| missing(channel, "app_key"))?,
                    secret: secret("app_secret", &channel.app_secret)?,
                    limits: limits(channel, VosoConfig::default_limits()),
                    http: HttpConfig::default(),
                };
                Voso::new(
                    config,
                    context.credentials.clone(),
                    context.events.clone(),
                    context.clock.clone(),
                )
                .map(Self::Voso)
            }
            PlatformKind::Spreadsheet => {
                let (folder, inbox) = channel
                    .folders(&context.config_dir)
                    .ok_or_else(|| missing(channel, "folder"))?;
                let mapping = channel.load_mapping(&context.config_dir)?;
                let layout = mapping.sheet.ok_or_else(|| {
                    format!(
                        "channels.{}.mapping: has no [sheet] table (the bulk sheet's file and columns)",
                        channel.id
                    )
                })?;
                let config = SpreadsheetConfig {
                    channel: channel.id.clone(),
                    folder,
                    inbox,
                    layout,
                    orders: mapping.orders,
                };
                Spreadsheet::new(config, context.events.clone(), context.clock.clone())
                    .map(Self::Spreadsheet)
            }
        };
        built.map_err(|e| format!("channel {}: {e}", channel.id))
    }

    pub fn connector(&self) -> &dyn Connector {
        match self {
            Self::Shopee(shopee) => shopee,
            Self::Lazada(lazada) => lazada,
            Self::Sendo(sendo) => sendo,
            Self::Voso(voso) => voso,
            Self::Spreadsheet(sheet) => sheet,
        }
    }

    /// Order ids of pushes the platform could not deliver (Shopee keeps
    /// them 3 days), with the mark that confirms them once recorded.
    pub async fn lost_order_hints(&self) -> Result<(Vec<String>, Option<i64>), ConnectorError> {
        match self {
            Self::Shopee(shopee) => {
                let lost = shopee.lost_pushes().await?;
                let ids = lost
                    .push_message_list
                    .iter()
                    .filter_map(|push| match push.hint() {
                        WebhookHint::OrdersChanged { order_ids } => Some(order_ids),
                        _ => None,
                    })
                    .flatten()
                    .collect();
                Ok((ids, lost.last_message_id))
            }
            // No lost-push store elsewhere: the poll is the backstop.
            Self::Lazada(_) | Self::Sendo(_) | Self::Voso(_) | Self::Spreadsheet(_) => {
                Ok((Vec::new(), None))
            }
        }
    }

    /// Marks the lost pushes up to `mark` as handled.
    pub async fn confirm_lost(&self, mark: i64) -> Result<(), ConnectorError> {
        match self {
            Self::Shopee(shopee) => shopee.confirm_pushes(mark).await,
            Self::Lazada(_) | Self::Sendo(_) | Self::Voso(_) | Self::Spreadsheet(_) => Ok(()),
        }
    }

    /// Every order an import read was recorded: a spreadsheet channel moves
    /// the order files it read to `imported/` (read again after a crash
    /// before this, they change nothing: the ledger counts each line once).
    pub async fn orders_recorded(&self) -> Result<(), ConnectorError> {
        match self {
            Self::Spreadsheet(sheet) => sheet.archive_read().await.map(|_| ()),
            _ => Ok(()),
        }
    }

    /// The page a seller opens to let chosync manage the shop; `None` for
    /// platforms chosync logs into with the shop's keys (Sendo, Voso).
    pub fn auth_link(&self, redirect: &str) -> Option<Result<String, ConnectorError>> {
        match self {
            Self::Shopee(shopee) => Some(shopee.auth_link(redirect)),
            Self::Lazada(lazada) => Some(lazada.auth_link(redirect)),
            Self::Sendo(_) | Self::Voso(_) | Self::Spreadsheet(_) => None,
        }
    }

    /// Logs in with the shop's keys now (platforms without a consent page).
    pub async fn sign_in(&self) -> Result<(), ConnectorError> {
        match self {
            Self::Sendo(sendo) => sendo.sign_in().await,
            Self::Voso(voso) => voso.sign_in().await,
            Self::Spreadsheet(_) => Ok(()),
            Self::Shopee(_) | Self::Lazada(_) => Err(ConnectorError::Unauthorized(
                "this platform is authorized by the seller's consent: use `chosync channels connect` and `authorize`".into(),
            )),
        }
    }

    /// When the channel's tokens run out (`None`: not authorized yet).
    pub async fn token_expiry(&self) -> Result<Option<Expiry>, ConnectorError> {
        match self {
            Self::Shopee(shopee) => shopee.token_expiry().await,
            Self::Lazada(lazada) => lazada.token_expiry().await,
            Self::Sendo(sendo) => sendo.token_expiry().await,
            Self::Voso(voso) => voso.token_expiry().await,
            Self::Spreadsheet(_) => Ok(None),
        }
    }

    /// Refreshes the tokens when the access token has less than `margin` left.
    pub async fn refresh_ahead(&self, margin: chrono::Duration) -> Result<Ahead, ConnectorError> {
        match self {
            Self::Shopee(shopee) => shopee.refresh_ahead(margin).await,
            Self::Lazada(lazada) => lazada.refresh_ahead(margin).await,
            Self::Sendo(sendo) => sendo.refresh_ahead(margin).await,
            Self::Voso(voso) => voso.refresh_ahead(margin).await,
            Self::Spreadsheet(_) => Err(ConnectorError::Unauthorized(
                "a spreadsheet channel has no tokens".into(),
            )),
        }
    }

    /// Why the platform refused a refresh for good since last asked (a
    /// call's refresh, mid-pass).
    pub fn take_refused_refresh(&self) -> Option<String> {
        match self {
            Self::Shopee(shopee) => shopee.take_refused_refresh(),
            Self::Lazada(lazada) => lazada.take_refused_refresh(),
            Self::Sendo(sendo) => sendo.take_refused_refresh(),
            Self::Voso(voso) => voso.take_refused_refresh(),
            Self::Spreadsheet(_) => None,
        }
    }

    /// Exchanges the code the platform sent back; the tokens are stored sealed.
    pub async fn authorize(&self, code: &str) -> Result<(), ConnectorError> {
        match self {
            Self::Shopee(shopee) => shopee.authorize(code).await,
            Self::Lazada(lazada) => lazada.authorize(code).await,
            Self::Sendo(_) | Self::Voso(_) | Self::Spreadsheet(_) => self.sign_in().await,
        }
    }
}

/// Where relative paths in the config (mapping files) are resolved.
pub fn config_dir(config_file: Option<&Path>) -> std::path::PathBuf {
    config_file
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| std::path::PathBuf::from("."), Path::to_path_buf)
}
