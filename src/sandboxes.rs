//! The built-in marketplace sandboxes, as `chosync sandbox PLATFORM` runs them.

use std::num::NonZeroU32;

use anyhow::Context;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Platform {
    Shopee,
    Lazada,
    Sendo,
    Voso,
}

/// A sandbox serving in the background, and the line that announces it.
pub struct Started {
    /// `{"platform":…, "base_url":…, "credentials":{…}}` on one line.
    pub announcement: String,
    pub task: tokio::task::JoinHandle<()>,
}

pub async fn start(platform: Platform, port: u16, rate: u32, seed: u64) -> anyhow::Result<Started> {
    let rate = NonZeroU32::new(rate).context("--rate must be at least 1")?;
    match platform {
        Platform::Shopee => {
            let config = chosync_shopee::sandbox::SandboxConfig {
                seed,
                rate,
                ..Default::default()
            };
            let running = chosync_shopee::sandbox::ShopeeSandbox::start(config, port)
                .await
                .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
            let announcement = json!({
                "platform": "shopee",
                "base_url": running.base_url,
                "credentials": running.credentials,
            })
            .to_string();
            Ok(Started {
                announcement,
                task: running.task,
            })
        }
        Platform::Lazada => {
            // --rate sets the inventory quota; other APIs keep Lazada's lower one.
            let config = chosync_lazada::sandbox::SandboxConfig {
                seed,
                inventory_rate: rate,
                ..Default::default()
            };
            let running = chosync_lazada::sandbox::LazadaSandbox::start(config, port)
                .await
                .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
            let announcement = json!({
                "platform": "lazada",
                "base_url": running.base_url,
                "auth_url": running.auth_url,
                "credentials": running.credentials,
            })
            .to_string();
            Ok(Started {
                announcement,
                task: running.task,
            })
        }
        Platform::Sendo => {
            let config = chosync_sendo::sandbox::SandboxConfig {
                seed,
                rate,
                ..Default::default()
            };
            let (shop_key, secret_key) = (config.shop_key.clone(), config.secret_key.clone());
            let running = chosync_sendo::sandbox::SendoSandbox::start(config, port)
                .await
                .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
            let announcement = json!({
                "platform": "sendo",
                "base_url": running.base_url,
                "credentials": { "shop_key": shop_key, "secret_key": secret_key },
            })
            .to_string();
            Ok(Started {
                announcement,
                task: running.task,
            })
        }
        Platform::Voso => {
            let config = chosync_voso::sandbox::SandboxConfig {
                seed,
                rate,
                ..Default::default()
            };
            let (key, secret) = (config.key.clone(), config.secret.clone());
            let running = chosync_voso::sandbox::VosoSandbox::start(config, port)
                .await
                .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
            let announcement = json!({
                "platform": "voso",
                "base_url": running.base_url,
                "credentials": { "app_key": key, "app_secret": secret },
            })
            .to_string();
            Ok(Started {
                announcement,
                task: running.task,
            })
        }
    }
}
