//! `chosync explain SKU`: one SKU on every channel, the first place an
//! operator looks when a marketplace shows something unexpected.

use super::{Failure, say};
use crate::channels::explain::{Explained, explain};
use crate::settings::Settings;
use crate::store::Store;

pub(super) async fn run(
    settings: &Settings,
    store: &dyn Store,
    sku: &str,
    json: bool,
) -> Result<(), Failure> {
    let explained = explain(settings, store, sku).await?;
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&explained).unwrap_or_default()
        );
    } else {
        print(&explained);
    }
    Ok(())
}

fn print(e: &Explained) {
    let options = if e.options.is_empty() {
        String::new()
    } else {
        format!(" · {}", e.options.join(" / "))
    };
    say!("{}  {} ({}){options}", e.sku, e.name, e.product_id);
    say!(
        "  catalogue: {} VND, on hand {}, reserved {}, {}",
        e.price,
        e.on_hand,
        e.reserved,
        e.status
    );
    for m in &e.movements {
        say!(
            "  ledger {}  {:>+6}  {:<7} {} ({})",
            m.created_at.format("%Y-%m-%d %H:%M:%S"),
            m.delta,
            m.kind.as_str(),
            m.reason,
            m.source
        );
    }
    for effect in &e.order_effects {
        say!(
            "  order  {}  {} {} on {} (order {}, line {})",
            effect.updated_at.format("%Y-%m-%d %H:%M:%S"),
            effect.effect,
            effect.quantity,
            effect.channel,
            effect.order_id,
            effect.line_id
        );
    }
    let shown = |v: Option<i64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
    for c in &e.channels {
        let enabled = if c.enabled { "" } else { " (disabled)" };
        say!("{}{enabled}:", c.channel);
        match &c.listing {
            None => say!("  not listed yet"),
            Some(l) => {
                let at = l
                    .listing_id
                    .as_deref()
                    .map_or_else(|| "not listed".to_string(), |id| format!("listing {id}"));
                let quarantined = if l.quarantined { ", quarantined" } else { "" };
                say!("  {at}: {}{quarantined}", l.status);
                if let Some(error) = &l.last_error {
                    say!("  last error: {error}");
                }
                if let Some(lock) = l.stock_lock {
                    say!(
                        "  stock locked: the platform holds {lock} for a promotion; never sent less"
                    );
                }
            }
        }
        let (price, stock) = c
            .listing
            .as_ref()
            .map_or((None, None), |l| (l.price, l.stock));
        say!(
            "  price {} VND (wanted {}), stock {} (wanted {})",
            shown(price),
            c.wanted_price,
            shown(stock),
            c.wanted_stock
        );
        for w in &c.work {
            say!(
                "  waiting: {} v{}, {} failed attempts, not before {}, caused by {}",
                w.aspect,
                w.version,
                w.attempts,
                w.not_before.format("%Y-%m-%d %H:%M:%S UTC"),
                w.cause
            );
        }
        for call in &c.recent_calls {
            say!(
                "  {}  {} {} {}",
                call.created_at.format("%Y-%m-%d %H:%M:%S"),
                call.call.action,
                call.call.outcome,
                call.call.message.as_deref().unwrap_or("")
            );
        }
    }
}
