//! Channels: one shop on one platform, as `[[channels]]` in the config says,
//! with its credentials (by reference), rate overrides, rules and mapping;
//! and what any shell does with configured channels, answered as data.

pub mod check;
pub mod client;
pub mod connect;
mod error;
pub mod explain;
pub mod mapping;
pub mod prepare;
pub mod rules;
pub mod status;
pub mod tokens;

pub use error::ChannelError;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::settings::SettingProblem;
use mapping::Mapping;
use rules::{PriceRule, StockRule};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlatformKind {
    Shopee,
    Lazada,
    Sendo,
    Voso,
    /// A marketplace without an API: a bulk sheet written into a folder,
    /// order exports read from an inbox.
    Spreadsheet,
}

impl PlatformKind {
    /// The rate-limit buckets whose rates `rate` may override.
    pub fn buckets(self) -> Vec<&'static str> {
        let limits = match self {
            Self::Shopee => chosync_shopee::ShopeeConfig::default_limits(),
            Self::Lazada => chosync_lazada::LazadaConfig::default_limits(),
            Self::Sendo => chosync_sendo::SendoConfig::default_limits(),
            Self::Voso => chosync_voso::VosoConfig::default_limits(),
            Self::Spreadsheet => return Vec::new(),
        };
        limits.buckets.iter().map(|b| b.name).collect()
    }

    /// Whether the platform's pushes carry no signature, so a secret in the
    /// push URL is what tells them from a forger's (Sendo).
    pub fn unsigned_pushes(self) -> bool {
        matches!(self, Self::Sendo)
    }

    /// Whether chosync holds tokens for the platform (all but files).
    pub fn has_tokens(self) -> bool {
        !matches!(self, Self::Spreadsheet)
    }
}

/// A secret named, never written: `{ env = "SHOPEE_PARTNER_KEY" }` or
/// `{ file = "/etc/chosync/shopee.key" }`; inline text only with
/// `allow_plaintext_secrets = true` (the demo).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SecretRef {
    Env { env: String },
    File { file: PathBuf },
    Inline(String),
}

impl std::fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env { env } => write!(f, "env {env}"),
            Self::File { file } => write!(f, "file {}", file.display()),
            Self::Inline(_) => write!(f, "inline (hidden)"),
        }
    }
}

impl SecretRef {
    pub fn resolve(&self, allow_plaintext: bool) -> Result<SecretString, String> {
        let value = match self {
            Self::Env { env } => {
                std::env::var(env).map_err(|_| format!("environment variable {env} is not set"))?
            }
            Self::File { file } => std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?
                .trim()
                .to_string(),
            Self::Inline(_) if !allow_plaintext => {
                return Err("is written in clear text; use { env = \"…\" } or { file = \"…\" } (or set allow_plaintext_secrets = true for a demo)".into());
            }
            Self::Inline(text) => text.clone(),
        };
        if value.is_empty() {
            return Err("is empty".into());
        }
        Ok(value.into())
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSettings {
    /// Unique; used in the CLI, the API and logs (e.g. `shopee-huongngan`).
    pub id: String,
    pub platform: PlatformKind,
    /// The platform's API host.
    #[serde(default)]
    pub base_url: String,
    /// Lazada's auth host.
    #[serde(default)]
    pub auth_url: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `config/mappings/<channel>.toml`.
    #[serde(default)]
    pub mapping: Option<PathBuf>,
    #[serde(default)]
    pub price: PriceRule,
    #[serde(default)]
    pub stock: StockRule,
    /// When each kind of work runs here (see `crate::schedule`; the daemon
    /// does not fire these yet).
    #[serde(default)]
    pub schedule: crate::schedule::Schedules,
    /// Calls per second per rate bucket (Shopee: `shop`; Lazada: `inventory`,
    /// `other`; Sendo and Voso: `shop`).
    #[serde(default)]
    pub rate: BTreeMap<String, u32>,
    /// Returned units go back on the shelf by themselves (otherwise an
    /// operator restocks them with `chosync stock adjust`: they may be damaged).
    #[serde(default)]
    pub restock_returns: bool,
    /// Where the seller is sent back after consenting (registered with the platform).
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// The push callback URL as registered (Shopee signs pushes with it).
    #[serde(default)]
    pub callback_url: Option<String>,
    #[serde(default)]
    pub partner_id: Option<i64>,
    #[serde(default)]
    pub partner_key: Option<SecretRef>,
    #[serde(default)]
    pub shop_id: Option<i64>,
    /// Lazada's app key and secret; Voso's API key and secret.
    #[serde(default)]
    pub app_key: Option<String>,
    #[serde(default)]
    pub app_secret: Option<SecretRef>,
    /// Sendo: the shop's key and secret key, as its seller centre names them.
    #[serde(default)]
    pub shop_key: Option<String>,
    #[serde(default)]
    pub secret_key: Option<SecretRef>,
    /// Spreadsheet channels: the folder the bulk sheet is written into.
    #[serde(default)]
    pub folder: Option<PathBuf>,
    /// Spreadsheet channels: where order exports are dropped (default
    /// `<folder>/inbox`).
    #[serde(default)]
    pub inbox: Option<PathBuf>,
    /// Where the catalogue's image files are published, for platforms that
    /// take image URLs only (Sendo, Voso): `images/td-que.png` is sent as
    /// `<image_base_url>/td-que.png`.
    #[serde(default)]
    pub image_base_url: Option<String>,
}

impl ChannelSettings {
    fn key(&self, name: &str) -> String {
        format!("channels.{}.{name}", self.id)
    }

    /// Every problem of this channel, each with its key.
    pub fn problems(&self, allow_plaintext: bool, config_dir: &Path) -> Vec<SettingProblem> {
        let mut out = Vec::new();
        let mut problem = |key: &str, message: String| {
            out.push(SettingProblem {
                key: self.key(key),
                message,
            })
        };
        if !crate::catalogue::model::is_valid_identifier(&self.id) {
            problem("id", "must be printable ASCII without spaces".into());
        }
        if self.base_url.is_empty() && self.platform != PlatformKind::Spreadsheet {
            problem("base_url", "is required for this platform".into());
        }
        for (key, url) in [
            ("base_url", Some(&self.base_url).filter(|u| !u.is_empty())),
            ("auth_url", self.auth_url.as_ref()),
            ("image_base_url", self.image_base_url.as_ref()),
        ] {
            if let Some(url) = url
                && !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            {
                problem(key, format!("\"{url}\" is not an http(s) URL"));
            }
        }
        let required: Vec<(&str, bool)> = match self.platform {
            PlatformKind::Shopee => vec![
                ("partner_id", self.partner_id.is_some()),
                ("partner_key", self.partner_key.is_some()),
                ("shop_id", self.shop_id.is_some()),
            ],
            PlatformKind::Lazada => vec![
                ("app_key", self.app_key.is_some()),
                ("app_secret", self.app_secret.is_some()),
                ("auth_url", self.auth_url.is_some()),
            ],
            PlatformKind::Sendo => vec![
                ("shop_key", self.shop_key.is_some()),
                ("secret_key", self.secret_key.is_some()),
            ],
            PlatformKind::Voso => vec![
                ("app_key", self.app_key.is_some()),
                ("app_secret", self.app_secret.is_some()),
            ],
            PlatformKind::Spreadsheet => vec![("folder", self.folder.is_some())],
        };
        for (key, present) in required {
            if !present {
                problem(key, "is required for this platform".into());
            }
        }
        for (key, secret) in [
            ("partner_key", &self.partner_key),
            ("app_secret", &self.app_secret),
            ("secret_key", &self.secret_key),
        ] {
            if let Some(secret) = secret
                && let Err(why) = secret.resolve(allow_plaintext)
            {
                problem(key, why);
            }
        }
        let buckets = self.platform.buckets();
        for (bucket, rate) in &self.rate {
            if !buckets.contains(&bucket.as_str()) {
                problem(
                    &format!("rate.{bucket}"),
                    format!(
                        "is not a rate bucket of this platform (known: {})",
                        buckets.join(", ")
                    ),
                );
            } else if *rate == 0 {
                problem(
                    &format!("rate.{bucket}"),
                    "must be at least 1 call per second".into(),
                );
            }
        }
        for (key, message) in self
            .price
            .problems()
            .into_iter()
            .chain(self.stock.problems())
            .chain(self.schedule.problems())
        {
            problem(&key, message);
        }
        match &self.mapping {
            None if self.enabled => problem(
                "mapping",
                "is required to list products (config/mappings/<channel>.toml)".into(),
            ),
            None => {}
            Some(path) => match Mapping::load(&resolve(config_dir, path)) {
                Err(why) => problem("mapping", why),
                Ok(mapping) if self.platform == PlatformKind::Spreadsheet => {
                    let layouts = mapping.sheet_problems();
                    for (key, message) in layouts {
                        problem(&format!("mapping: {key}"), message);
                    }
                }
                Ok(_) => {}
            },
        }
        out
    }

    /// A spreadsheet channel's folders, relative paths taken from the
    /// config's folder: the sheet's, and the orders inbox.
    pub fn folders(&self, config_dir: &Path) -> Option<(PathBuf, PathBuf)> {
        let folder = resolve(config_dir, self.folder.as_ref()?);
        let inbox = match &self.inbox {
            Some(inbox) => resolve(config_dir, inbox),
            None => folder.join("inbox"),
        };
        Some((folder, inbox))
    }

    /// The mapping file, read (relative paths are relative to the config file).
    pub fn load_mapping(&self, config_dir: &Path) -> Result<Mapping, String> {
        match &self.mapping {
            Some(path) => Mapping::load(&resolve(config_dir, path)),
            None => Err(format!("channel {} has no mapping file", self.id)),
        }
    }
}

impl ChannelSettings {
    /// Fingerprint of everything that shapes what this channel is sent: the
    /// price and stock rules and the mapping file's text. When it changes the
    /// whole catalogue is re-pushed to the channel.
    pub fn content_hash(&self, config_dir: &Path) -> String {
        use sha2::{Digest, Sha256};
        let mapping = self
            .mapping
            .as_ref()
            .and_then(|path| std::fs::read(resolve(config_dir, path)).ok())
            .unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(format!("{:?}\n{:?}\n", self.price, self.stock));
        hasher.update(&mapping);
        hex::encode(hasher.finalize())
    }
}

fn resolve(dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}

/// Problems across channels: ids must be unique.
pub fn duplicate_ids(channels: &[ChannelSettings]) -> Vec<SettingProblem> {
    let mut seen = std::collections::HashSet::new();
    channels
        .iter()
        .filter(|c| !seen.insert(c.id.clone()))
        .map(|c| SettingProblem {
            key: format!("channels.{}.id", c.id),
            message: "is used by more than one channel".into(),
        })
        .collect()
}
