//! Typed configuration: `config/chosync.toml` (or `--config FILE`), overridden by
//! environment variables `CHOSYNC__SECTION__KEY`, overridden by command-line flags.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::channels::{ChannelSettings, duplicate_ids};
use crate::inventory::allocation::AllocationSettings;
use crate::store::ChannelRegistration;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub secrets: SecretsSettings,
    pub sync: SyncSettings,
    pub orders: OrderSettings,
    pub server: ServerSettings,
    /// What every channel's schedules share: the time zone they are read in.
    pub schedule: crate::schedule::ScheduleSettings,
    /// How channels share a SKU's stock.
    pub allocation: AllocationSettings,
    /// Where open alerts are delivered, and how often.
    pub alerts: crate::alerts::AlertSettings,
    /// Allows channel secrets written inline (the demo only).
    pub allow_plaintext_secrets: bool,
    pub channels: Vec<ChannelSettings>,
    /// Where relative paths (mapping files) are resolved: the config file's folder.
    #[serde(skip)]
    pub config_dir: std::path::PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSettings {
    /// Holds the key that seals channel tokens, unless CHOSYNC_SECRET_KEY is set;
    /// created (owner-only) on first use.
    pub key_file: std::path::PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSettings {
    /// Sync log rows (and finished runs) older than this many days are pruned.
    pub log_retention_days: u32,
    /// A pass holds its channel's lease this long, renewed while it runs; a
    /// pass that died holds the channel no longer than this.
    pub lease_seconds: u32,
}

/// The order poll (each channel's `schedule.orders`): the backstop to the
/// platforms' pushes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderSettings {
    /// Each poll reaches back this far before the last one ended, so an
    /// order the platform indexed late is still found (recording is idempotent).
    pub overlap_seconds: u32,
    /// A channel's first poll reads the orders updated this far back.
    pub lookback_hours: u32,
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self {
            overlap_seconds: 300,
            lookback_hours: 72,
        }
    }
}

/// `chosync run`'s listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address of the webhooks, `/healthz` and `/readyz`.
    pub listen: String,
    /// On SIGTERM or Ctrl-C, work in flight gets this long to finish.
    pub shutdown_seconds: u32,
    /// Changes waited for before a channel's push, so that a burst goes out
    /// in the platform's batches (at most 250).
    pub debounce_ms: u32,
    /// Where `/metrics` is served on a listener of its own; unset, it is
    /// served on `listen`.
    pub admin_listen: Option<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            shutdown_seconds: 20,
            debounce_ms: 100,
            admin_listen: None,
        }
    }
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            log_retention_days: 30,
            lease_seconds: 60,
        }
    }
}

impl Default for SecretsSettings {
    fn default() -> Self {
        Self {
            key_file: "chosync.key".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://FILE` (created on first use) or `postgres://…`.
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A tracing filter: `info`, `chosync=debug,sqlx=warn`, …
    pub level: String,
    pub format: LogFormat,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://chosync.db".to_string(),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".to_string(),
            format: LogFormat::Pretty,
        }
    }
}

/// A setting that is present but wrong: which key, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingProblem {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for SettingProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("config file {0} does not exist")]
    Missing(String),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<SettingProblem>),
}

impl Settings {
    /// Reads `file` (when given), then `CHOSYNC__…` variables, then checks the result.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::read(file).and_then(|settings| {
            let problems = settings.problems();
            if problems.is_empty() {
                Ok(settings)
            } else {
                Err(SettingsError::Invalid(problems))
            }
        })
    }

    /// Reads the settings without judging them (`check-config` lists the problems).
    pub fn read(file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(SettingsError::Missing(file.display().to_string()));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("CHOSYNC__").split("__"));
        let settings: Settings = figment.extract().map_err(|errors| {
            SettingsError::Invalid(
                errors
                    .into_iter()
                    .map(|e| SettingProblem {
                        key: if e.path.is_empty() {
                            "(file)".to_string()
                        } else {
                            e.path.join(".")
                        },
                        message: describe_figment(&e),
                    })
                    .collect(),
            )
        })?;
        let mut settings = settings;
        settings.config_dir = crate::channels::client::config_dir(file);
        Ok(settings)
    }

    pub fn channel(&self, id: &str) -> Option<&ChannelSettings> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The configured channels as the store registers them; the allocation
    /// (and every channel's weight) shapes what each shows, so it is hashed in.
    pub fn registrations(&self) -> Vec<ChannelRegistration> {
        let allocation = self.allocation.fingerprint(&self.channels);
        self.channels
            .iter()
            .map(|c| ChannelRegistration {
                id: c.id.clone(),
                enabled: c.enabled,
                config_hash: c.content_hash(&self.config_dir) + &allocation,
            })
            .collect()
    }

    /// What is wrong with the channels, the allocation and the alert
    /// targets: `check-config` reports these, while commands that do not
    /// sync (import, stock…) run regardless.
    pub fn channel_problems(&self) -> Vec<SettingProblem> {
        let mut out = duplicate_ids(&self.channels);
        out.extend(self.allocation.problems());
        out.extend(self.alerts.problems());
        for channel in &self.channels {
            out.extend(channel.problems(self.allow_plaintext_secrets, &self.config_dir));
        }
        out
    }

    /// Every rule a loaded configuration breaks (channels aside).
    pub fn problems(&self) -> Vec<SettingProblem> {
        let mut out = Vec::new();
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            out.push(SettingProblem {
                key: "database.url".into(),
                message: format!(
                    "\"{}\" is not a database URL; use sqlite://FILE or postgres://…",
                    crate::redact::url(url)
                ),
            });
        }
        if self.sync.log_retention_days == 0 {
            out.push(SettingProblem {
                key: "sync.log_retention_days".into(),
                message: "must be at least 1 (the sync log is what operators read)".into(),
            });
        }
        if !(3..=3600).contains(&self.sync.lease_seconds) {
            out.push(SettingProblem {
                key: "sync.lease_seconds".into(),
                message: "must be between 3 and 3600 (it is renewed every third of it)".into(),
            });
        }
        if self.orders.lookback_hours == 0 || self.orders.lookback_hours > 24 * 15 {
            out.push(SettingProblem {
                key: "orders.lookback_hours".into(),
                message: "must be between 1 and 360 (15 days)".into(),
            });
        }
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            out.push(SettingProblem {
                key: "server.listen".into(),
                message: format!(
                    "\"{}\" is not an address to listen on, e.g. 127.0.0.1:8080",
                    self.server.listen
                ),
            });
        }
        if let Some(admin) = &self.server.admin_listen
            && admin.parse::<std::net::SocketAddr>().is_err()
        {
            out.push(SettingProblem {
                key: "server.admin_listen".into(),
                message: format!("\"{admin}\" is not an address to listen on, e.g. 127.0.0.1:9090"),
            });
        }
        if self.server.admin_listen.as_ref() == Some(&self.server.listen) {
            out.push(SettingProblem {
                key: "server.admin_listen".into(),
                message: "must differ from server.listen (leave it out to serve /metrics there)"
                    .into(),
            });
        }
        if self.server.debounce_ms > 250 {
            out.push(SettingProblem {
                key: "server.debounce_ms".into(),
                message: "must be at most 250: an order must reach every channel fast".into(),
            });
        }
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            out.push(SettingProblem {
                key: "log.level".into(),
                message: format!("\"{}\" is not a log filter: {err}", self.log.level),
            });
        }
        out
    }
}

fn describe_figment(err: &figment::error::Error) -> String {
    let mut message = err.kind.to_string();
    if let Some(source) = &err.metadata.as_ref().and_then(|m| m.source.as_ref()) {
        message.push_str(&format!(" (from {source})"));
    } else if let Some(meta) = &err.metadata {
        message.push_str(&format!(" (from {})", meta.name));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new()
            .suffix(".toml")
            .tempfile()
            .expect("temp file");
        std::fs::write(file.path(), text).expect("write");
        file
    }

    #[test]
    fn the_documented_example_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/chosync.toml");
        let settings = Settings::load(Some(&path)).expect("example config loads");
        assert_eq!(settings.database.url, "sqlite://chosync.db");
    }

    #[test]
    fn a_misspelt_key_is_named() {
        let file = write("[database]\nurll = \"sqlite://x.db\"\n");
        let err = Settings::load(Some(file.path())).expect_err("unknown key");
        let text = err.to_string();
        assert!(
            text.starts_with("database.urll: unknown field: found `urll`"),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_time_zone_is_named_with_its_key() {
        let file = write("[schedule]\ntimezone = \"Asia/Saigon City\"\n");
        let err = Settings::load(Some(file.path())).expect_err("unknown zone");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "schedule.timezone: \"Asia/Saigon City\" is not an IANA time zone, e.g. \"Asia/Ho_Chi_Minh\""
            ),
            "{text}"
        );
        let file = write("[schedule]\ntimezone = \"Asia/Bangkok\"\n");
        let settings = Settings::load(Some(file.path())).expect("known zone");
        assert_eq!(settings.schedule.timezone.name(), "Asia/Bangkok");
        assert_eq!(
            Settings::default().schedule.timezone.name(),
            "Asia/Ho_Chi_Minh"
        );
    }

    #[test]
    fn a_wrong_admin_address_is_named() {
        let file = write("[server]\nadmin_listen = \"localhost\"\n");
        let err = Settings::load(Some(file.path())).expect_err("bad address");
        assert_eq!(
            err.to_string(),
            "server.admin_listen: \"localhost\" is not an address to listen on, e.g. 127.0.0.1:9090"
        );
        let file = write("[server]\nadmin_listen = \"127.0.0.1:9090\"\n");
        let settings = Settings::load(Some(file.path())).expect("admin address");
        assert_eq!(
            settings.server.admin_listen.as_deref(),
            Some("127.0.0.1:9090")
        );
        assert_eq!(Settings::default().server.admin_listen, None);
    }

    #[test]
    fn alert_targets_are_checked_with_their_keys() {
        let file = write(
            "[alerts]\ninterval_minutes = 0\n\
             [[alerts.deliver]]\nkinds = [\"oversold\", \"sold_out\"]\nurl = \"ftp://x\"\n\
             [[alerts.deliver]]\nname = \"deliver-1\"\nkinds = []\n\
             url = { env = \"CHOSYNC_TEST_UNSET_ALERT_URL\" }\n",
        );
        let settings = Settings::load(Some(file.path())).expect("read");
        let problems: Vec<String> = settings
            .channel_problems()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            [
                "alerts.interval_minutes: must be at least 1",
                "alerts.deliver[0].kinds: \"sold_out\" is not an alert kind; use \"*\" or one of oversold, unknown_sku, drift, order_import_failing, webhook_refused, authorization_expiring, token_refresh_refused",
                "alerts.deliver[0].url: is not an http:// or https:// URL",
                "alerts.deliver[1].name: \"deliver-1\" names another target too; names must be unique",
                "alerts.deliver[1].kinds: names no alert kind; use [\"*\"] for all",
                "alerts.deliver[1].url: environment variable CHOSYNC_TEST_UNSET_ALERT_URL is not set",
            ]
        );
        let file = write(
            "[alerts]\n[[alerts.deliver]]\nkinds = [\"*\"]\nurl = \"http://127.0.0.1:9000/hook\"\n",
        );
        let settings = Settings::load(Some(file.path())).expect("read");
        assert!(settings.channel_problems().is_empty());
        let targets = settings.alerts.targets().expect("targets");
        assert_eq!(targets[0].name, "deliver-1");
        assert!(targets[0].takes("drift"));
        assert_eq!(
            settings.alerts.interval(),
            std::time::Duration::from_secs(3600)
        );
    }

    #[test]
    fn a_wrong_value_is_named_with_its_key() {
        let file = write("[database]\nurl = \"mysql://x\"\n[log]\nformat = \"xml\"\n");
        let err = Settings::load(Some(file.path())).expect_err("bad values");
        let text = err.to_string();
        assert!(
            text.contains("log.format: unknown variant: found `xml`"),
            "{text}"
        );
    }
}
