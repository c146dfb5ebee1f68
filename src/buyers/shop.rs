//! One marketplace sandbox running in process and the channel on it, as a
//! buyer and a measurement see it: what a buyer can buy, placing and
//! cancelling orders, the sandbox's call counters.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use chosync_connector::sandbox::{Platform as _, Stats};

pub struct Shop {
    /// The channel's id in the configuration.
    pub id: String,
    pub sandbox: Sandbox,
    /// The stock rule's buffer (`stock = { buffer = N }`).
    pub buffer: i64,
    /// Calls per second chosync makes at most on the buckets orders use
    /// (its limiter's spacing included).
    pub rates: BTreeMap<&'static str, f64>,
}

pub enum Sandbox {
    Shopee(chosync_shopee::sandbox::Running),
    Lazada(chosync_lazada::sandbox::Running),
    Sendo(chosync_sendo::sandbox::Running),
    Voso(chosync_voso::sandbox::Running),
    /// A spreadsheet channel: what it shows is its bulk sheet's file.
    Sheet(SheetFile),
}

/// A spreadsheet channel's bulk sheet as a buyer would see the marketplace
/// it is uploaded to: read again whenever the file changes.
pub struct SheetFile {
    layout: chosync_spreadsheet::SheetLayout,
    path: PathBuf,
    read: Mutex<Option<(SystemTime, HashMap<String, i64>)>>,
}

impl SheetFile {
    pub fn new(layout: chosync_spreadsheet::SheetLayout, folder: &Path) -> Self {
        Self {
            path: folder.join(&layout.file),
            layout,
            read: Mutex::new(None),
        }
    }

    /// Stock of `sku` in the sheet (0 when not on sale); `None` when the
    /// sheet has no row for it or cannot be read.
    fn buyable(&self, sku: &str) -> Option<i64> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()?;
        let mut read = self.read.lock().ok()?;
        if read.as_ref().map(|(at, _)| *at) != Some(modified) {
            let rows = chosync_spreadsheet::read_sheet(&self.layout, &self.path).ok()?;
            let stock = rows
                .into_iter()
                .map(|r| {
                    let shown = if r.listed == Some(true) {
                        r.stock.unwrap_or(0)
                    } else {
                        0
                    };
                    (r.sku, shown)
                })
                .collect();
            *read = Some((modified, stock));
        }
        read.as_ref()?.1.get(sku).copied()
    }
}

impl Shop {
    pub fn shopee(id: &str, running: chosync_shopee::sandbox::Running, buffer: i64) -> Self {
        Self {
            id: id.to_string(),
            sandbox: Sandbox::Shopee(running),
            buffer,
            rates: rates(chosync_shopee::ShopeeConfig::default_limits()),
        }
    }

    pub fn lazada(id: &str, running: chosync_lazada::sandbox::Running, buffer: i64) -> Self {
        Self {
            id: id.to_string(),
            sandbox: Sandbox::Lazada(running),
            buffer,
            rates: rates(chosync_lazada::LazadaConfig::default_limits()),
        }
    }

    pub fn sendo(id: &str, running: chosync_sendo::sandbox::Running, buffer: i64) -> Self {
        Self {
            id: id.to_string(),
            sandbox: Sandbox::Sendo(running),
            buffer,
            rates: rates(chosync_sendo::SendoConfig::default_limits()),
        }
    }

    pub fn voso(id: &str, running: chosync_voso::sandbox::Running, buffer: i64) -> Self {
        Self {
            id: id.to_string(),
            sandbox: Sandbox::Voso(running),
            buffer,
            rates: rates(chosync_voso::VosoConfig::default_limits()),
        }
    }

    pub fn sheet(id: &str, sheet: SheetFile, buffer: i64) -> Self {
        Self {
            id: id.to_string(),
            sandbox: Sandbox::Sheet(sheet),
            buffer,
            rates: BTreeMap::new(),
        }
    }

    /// Whether buyers order here (a spreadsheet channel's orders come as
    /// files the seller exports).
    pub fn takes_orders(&self) -> bool {
        !matches!(self.sandbox, Sandbox::Sheet(_))
    }

    pub fn stats(&self) -> Stats {
        match &self.sandbox {
            Sandbox::Shopee(r) => r.sandbox.kit().stats(),
            Sandbox::Lazada(r) => r.sandbox.kit().stats(),
            Sandbox::Sendo(r) => r.sandbox.kit().stats(),
            Sandbox::Voso(r) => r.sandbox.kit().stats(),
            Sandbox::Sheet(_) => Stats::default(),
        }
    }

    /// What a buyer can buy of `sku` here now; `None` when it is not listed.
    pub fn buyable(&self, sku: &str) -> Option<i64> {
        match &self.sandbox {
            Sandbox::Shopee(r) => r.sandbox.buyable(sku),
            Sandbox::Lazada(r) => r.sandbox.buyable(sku),
            Sandbox::Sendo(r) => r.sandbox.buyable(sku),
            Sandbox::Voso(r) => r.sandbox.buyable(sku),
            Sandbox::Sheet(sheet) => sheet.buyable(sku),
        }
    }

    pub fn place(&self, sku: &str, quantity: i64) -> Result<String, String> {
        match &self.sandbox {
            Sandbox::Shopee(r) => r.sandbox.place_order(sku, quantity),
            Sandbox::Lazada(r) => r.sandbox.place_order(sku, quantity),
            Sandbox::Sendo(r) => r.sandbox.place_order(sku, quantity),
            Sandbox::Voso(r) => r.sandbox.place_order(sku, quantity),
            Sandbox::Sheet(_) => Err("a spreadsheet channel's orders come as files".into()),
        }
    }

    pub fn cancel(&self, order: &str) -> Result<(), String> {
        match &self.sandbox {
            Sandbox::Shopee(r) => r.sandbox.cancel_order(order, None),
            Sandbox::Lazada(r) => r.sandbox.cancel_order(order, None),
            Sandbox::Sendo(r) => r.sandbox.cancel_order(order, None),
            Sandbox::Voso(r) => r.sandbox.cancel_order(order, None),
            Sandbox::Sheet(_) => Err("a spreadsheet channel's orders come as files".into()),
        }
    }

    /// Sends the sandbox's pushes (order webhooks) to the daemon listening
    /// on `listen` from now on, at the channel's push URL.
    pub fn push_to(
        &self,
        settings: &crate::settings::Settings,
        listen: std::net::SocketAddr,
    ) -> Result<(), crate::channels::ChannelError> {
        let channel = crate::channels::prepare::find(settings, &self.id)?;
        let path = crate::channels::prepare::push_path(settings, channel)?;
        self.set_pushes(&format!("http://{listen}{path}"));
        Ok(())
    }

    /// Sends the sandbox's pushes (order webhooks) to `url` from now on.
    pub fn set_pushes(&self, url: &str) {
        match &self.sandbox {
            Sandbox::Shopee(r) => r.sandbox.kit().set_webhook_target(url),
            Sandbox::Lazada(r) => r.sandbox.kit().set_webhook_target(url),
            Sandbox::Sendo(r) => r.sandbox.kit().set_webhook_target(url),
            Sandbox::Voso(r) => r.sandbox.kit().set_webhook_target(url),
            Sandbox::Sheet(_) => {}
        }
    }

    /// The code the seller's authorization sends back; `None` where chosync
    /// logs in with the shop's keys (Sendo, Voso).
    pub fn authorization_code(&self) -> Option<&str> {
        match &self.sandbox {
            Sandbox::Shopee(r) => Some(&r.credentials.code),
            Sandbox::Lazada(r) => Some(&r.credentials.code),
            Sandbox::Sendo(_) | Sandbox::Voso(_) | Sandbox::Sheet(_) => None,
        }
    }

    /// Authorizes the channel as its seller would: the consent page's code
    /// exchanged, or a login with the shop's keys; `None`: nothing to
    /// authorize (a spreadsheet channel).
    pub async fn authorize(
        &self,
        settings: &crate::settings::Settings,
        store: &std::sync::Arc<dyn crate::store::Store>,
    ) -> Result<Option<crate::channels::connect::Authorized>, crate::channels::ChannelError> {
        use crate::channels::connect::{Connected, authorize, connect};
        match self.authorization_code() {
            Some(code) => authorize(settings, store, &self.id, code, None)
                .await
                .map(Some),
            None => match connect(settings, store, &self.id).await? {
                Connected::SignedIn { authorized, .. } => Ok(Some(authorized)),
                Connected::NoAuthorization => Ok(None),
                Connected::ConsentPage(_) => Err(crate::channels::ChannelError::Misconfigured(
                    format!("channel {} asks for the seller's consent", self.id),
                )),
            },
        }
    }

    /// What the channel should show with `sellable` units.
    pub fn wanted(&self, sellable: i64) -> i64 {
        (sellable - self.buffer).max(0)
    }

    /// Stops serving.
    pub fn stop(&self) {
        match &self.sandbox {
            Sandbox::Shopee(r) => r.task.abort(),
            Sandbox::Lazada(r) => r.task.abort(),
            Sandbox::Sendo(r) => r.task.abort(),
            Sandbox::Voso(r) => r.task.abort(),
            Sandbox::Sheet(_) => {}
        }
    }
}

fn rates(limits: chosync_connector::Limits) -> BTreeMap<&'static str, f64> {
    limits
        .buckets
        .iter()
        .map(|b| {
            (
                b.name,
                chosync_connector::limiter::effective_rate(b.per_second.get()),
            )
        })
        .collect()
}

/// Calls per endpoint made between two readings of a sandbox's counters.
pub fn calls_between(before: &Stats, after: &Stats) -> BTreeMap<String, u64> {
    after
        .calls
        .iter()
        .map(|(path, n)| {
            (
                path.clone(),
                n.saturating_sub(before.calls.get(path).copied().unwrap_or(0)),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}
