//! `chosync orders`: the orders chosync has recorded, and one in full with
//! the stock effects of each line.

use super::{Failure, say};
use crate::store::Store;
use crate::store::orders::{OrderFilter, OrderRecord};
use chosync_connector::dto::OrderState;

/// Parses `--status`: one of the canonical states.
pub(super) fn state(text: &str) -> Result<OrderState, Failure> {
    OrderState::parse(text).ok_or_else(|| {
        let names: Vec<&str> = OrderState::ALL.iter().map(|s| s.as_str()).collect();
        Failure::invalid(vec![format!(
            "error: --status {text:?} is not an order state; use one of {}",
            names.join(", ")
        )])
    })
}

pub(super) async fn list(
    store: &dyn Store,
    filter: OrderFilter,
    json: bool,
) -> Result<(), Failure> {
    let orders = store.orders(&filter).await?;
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&orders).unwrap_or_default()
        );
        return Ok(());
    }
    if orders.is_empty() {
        say!("no orders recorded (the daemon or `chosync sync --kind orders` imports them)");
        return Ok(());
    }
    say!(
        "{:<22} {:<24} {:<14} {:<18} {:>5}  last seen",
        "channel",
        "order",
        "state",
        "platform status",
        "units"
    );
    for order in &orders {
        let units: i64 = order
            .lines
            .iter()
            .map(|l| l.quantity - l.cancelled_quantity)
            .sum();
        let waiting = if order.lines.iter().any(|l| l.waiting) {
            "  (lines waiting for their SKU)"
        } else {
            ""
        };
        say!(
            "{:<22} {:<24} {:<14} {:<18} {:>5}  {}{waiting}",
            order.channel,
            order.order_id,
            order.state.as_str(),
            order.platform_status,
            units,
            order.last_seen_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
    Ok(())
}

pub(super) async fn show(
    store: &dyn Store,
    channel: Option<&str>,
    id: &str,
    json: bool,
) -> Result<(), Failure> {
    let orders = store.order(channel, id).await?;
    if orders.is_empty() {
        return Err(Failure::invalid(vec![format!(
            "error: no order {id:?} is recorded{}",
            channel.map(|c| format!(" on {c}")).unwrap_or_default()
        )]));
    }
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&orders).unwrap_or_default()
        );
        return Ok(());
    }
    for order in &orders {
        print_order(order);
    }
    Ok(())
}

fn print_order(order: &OrderRecord) {
    say!("{} on {}", order.order_id, order.channel);
    say!(
        "  state {} (platform: {}), placed {}, platform update {}",
        order.state.as_str(),
        order.platform_status,
        order.placed_at.format("%Y-%m-%d %H:%M:%S"),
        order.platform_updated_at.format("%Y-%m-%d %H:%M:%S")
    );
    say!(
        "  first seen by {} at {}, last seen {}",
        order.seen_by,
        order.first_seen_at.format("%Y-%m-%d %H:%M:%S"),
        order.last_seen_at.format("%Y-%m-%d %H:%M:%S")
    );
    for line in &order.lines {
        let sku = if line.platform_sku == line.sku {
            line.sku.clone()
        } else {
            format!("{} (platform SKU {})", line.sku, line.platform_sku)
        };
        let effects: Vec<String> = line
            .effects
            .iter()
            .map(|(effect, units)| format!("{} {units}", effect.as_str()))
            .collect();
        let effects = if line.waiting {
            "waiting: the catalogue does not know this SKU".to_string()
        } else if effects.is_empty() {
            "no stock effect".to_string()
        } else {
            effects.join(", ")
        };
        say!(
            "  line {}: {} × {}{} [{}] — {}",
            line.line_id,
            line.quantity,
            sku,
            if line.cancelled_quantity > 0 {
                format!(" ({} cancelled)", line.cancelled_quantity)
            } else {
                String::new()
            },
            line.state.as_str(),
            effects
        );
    }
}
