//! Open alerts delivered to webhook URLs (`[alerts]`, `[[alerts.deliver]]`):
//! a JSON POST per alert and target, at most once per interval, claimed in
//! the database so that of several replicas exactly one sends it, retried
//! on connection errors, time-outs and 5xx, and every attempt written to the
//! sync log (endpoint `alert.deliver`) — never the target's URL.

mod deliver;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use deliver::{Delivered, Retry, bounded, deliver_open};

use crate::channels::SecretRef;
use crate::settings::SettingProblem;
use crate::store::orders::AlertKind;

/// Every alert kind, as `kinds` names them.
pub const KINDS: [AlertKind; 7] = [
    AlertKind::Oversold,
    AlertKind::UnknownSku,
    AlertKind::Drift,
    AlertKind::OrderImportFailing,
    AlertKind::WebhookRefused,
    AlertKind::AuthorizationExpiring,
    AlertKind::TokenRefreshRefused,
];

/// Where open alerts go, and how often the same one may go again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// The same alert goes to a target at most once this often.
    pub interval_minutes: u32,
    /// Overrides `interval_minutes` (tests, or a demo).
    pub interval_seconds: Option<u32>,
    pub deliver: Vec<Target>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            interval_minutes: 60,
            interval_seconds: None,
            deliver: Vec::new(),
        }
    }
}

/// One webhook target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Names the target in the sync log and the database (never its URL);
    /// default `deliver-N`, N its place in the list from 1.
    #[serde(default)]
    pub name: Option<String>,
    /// Alert kinds sent there; `"*"`: all.
    pub kinds: Vec<String>,
    /// `"http://…"`, or `{ env = "…" }` / `{ file = "…" }` when the URL
    /// holds a secret.
    pub url: SecretRef,
}

impl AlertSettings {
    pub fn interval(&self) -> Duration {
        match self.interval_seconds {
            Some(seconds) => Duration::from_secs(seconds.into()),
            None => Duration::from_secs(u64::from(self.interval_minutes) * 60),
        }
    }

    /// What is wrong with the section, each with its key.
    pub fn problems(&self) -> Vec<SettingProblem> {
        let mut out = Vec::new();
        let mut problem = |key: String, message: String| out.push(SettingProblem { key, message });
        if self.interval_seconds.is_none() && self.interval_minutes == 0 {
            problem(
                "alerts.interval_minutes".into(),
                "must be at least 1".into(),
            );
        }
        if self.interval_seconds == Some(0) {
            problem(
                "alerts.interval_seconds".into(),
                "must be at least 1".into(),
            );
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, target) in self.deliver.iter().enumerate() {
            let key = |field: &str| format!("alerts.deliver[{i}].{field}");
            let name = target_name(i, target);
            if name.trim().is_empty() {
                problem(key("name"), "must not be empty".into());
            } else if !names.insert(name.clone()) {
                problem(
                    key("name"),
                    format!("\"{name}\" names another target too; names must be unique"),
                );
            }
            if target.kinds.is_empty() {
                problem(
                    key("kinds"),
                    "names no alert kind; use [\"*\"] for all".into(),
                );
            }
            for kind in &target.kinds {
                if kind != "*" && !KINDS.iter().any(|k| k.as_str() == kind) {
                    let known: Vec<&str> = KINDS.iter().map(|k| k.as_str()).collect();
                    problem(
                        key("kinds"),
                        format!(
                            "\"{kind}\" is not an alert kind; use \"*\" or one of {}",
                            known.join(", ")
                        ),
                    );
                }
            }
            if let Err(why) = resolve_url(&target.url) {
                problem(key("url"), why);
            }
        }
        out
    }

    /// The targets ready to send to; `Err` lists what is wrong (as
    /// `check-config` does).
    pub fn targets(&self) -> Result<Vec<ResolvedTarget>, Vec<SettingProblem>> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut out = Vec::new();
        for (i, target) in self.deliver.iter().enumerate() {
            let url = resolve_url(&target.url).map_err(|message| {
                vec![SettingProblem {
                    key: format!("alerts.deliver[{i}].url"),
                    message,
                }]
            })?;
            out.push(ResolvedTarget {
                name: target_name(i, target),
                all: target.kinds.iter().any(|k| k == "*"),
                kinds: target.kinds.clone(),
                url,
            });
        }
        Ok(out)
    }
}

fn target_name(i: usize, target: &Target) -> String {
    target
        .name
        .clone()
        .unwrap_or_else(|| format!("deliver-{}", i + 1))
}

/// A URL written in the file is not a secret; one named by `env` or `file`
/// may be. Either way it must be an http(s) URL. The message never shows
/// the URL.
fn resolve_url(url: &SecretRef) -> Result<SecretString, String> {
    let secret = url.resolve(true)?;
    match url::Url::parse(secret.expose_secret()) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
            Ok(secret)
        }
        Ok(_) => Err("is not an http:// or https:// URL".into()),
        Err(err) => Err(format!("is not a URL ({err})")),
    }
}

/// A target whose URL has been read.
#[derive(Clone)]
pub struct ResolvedTarget {
    pub name: String,
    all: bool,
    kinds: Vec<String>,
    pub url: SecretString,
}

impl std::fmt::Debug for ResolvedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedTarget")
            .field("name", &self.name)
            .field("kinds", &self.kinds)
            .finish_non_exhaustive()
    }
}

impl ResolvedTarget {
    /// Whether alerts of `kind` go to this target.
    pub fn takes(&self, kind: &str) -> bool {
        self.all || self.kinds.iter().any(|k| k == kind)
    }
}
