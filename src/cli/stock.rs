//! `chosync stock`: levels of every SKU or of one with its movements, and
//! an operator's adjustment.

use super::{Failure, say};
use crate::inventory::{AdjustError, MAX_ADJUSTMENT, adjust as adjust_stock, sku_stock};
use crate::store::Store;

pub(super) async fn adjust(
    store: &dyn Store,
    sku: &str,
    delta: i64,
    reason: &str,
    json: bool,
) -> Result<(), Failure> {
    let row = adjust_stock(store, sku, delta, reason, "cli")
        .await
        .map_err(|err| {
            let line = match &err {
                AdjustError::NoReason => "error: --reason must not be empty".to_string(),
                AdjustError::Zero => "error: DELTA must not be 0".to_string(),
                AdjustError::TooLarge(delta) => format!(
                    "error: DELTA {delta} is too large; one adjustment moves at most {MAX_ADJUSTMENT} units"
                ),
                AdjustError::Store(err) => format!("error: {err}"),
            };
            Failure {
                code: if err.is_invalid_input() { super::INVALID } else { 1 },
                lines: vec![line],
            }
        })?;
    if json {
        say!("{}", serde_json::to_string_pretty(&row).unwrap_or_default());
    } else {
        say!(
            "{}: on hand {} ({delta:+}), reserved {}, available {}",
            row.sku,
            row.on_hand,
            row.reserved,
            row.available
        );
    }
    Ok(())
}

pub(super) async fn show(store: &dyn Store, sku: Option<&str>, json: bool) -> Result<(), Failure> {
    if let Some(sku) = sku {
        let detail = sku_stock(store, sku).await?;
        if json {
            say!(
                "{}",
                serde_json::to_string_pretty(&detail).unwrap_or_default()
            );
            return Ok(());
        }
        let row = &detail.stock;
        say!(
            "{} — {} {}",
            row.sku,
            row.name,
            row.option_values.join(" / ")
        );
        say!(
            "on hand {}, reserved {}, available {}",
            row.on_hand,
            row.reserved,
            row.available
        );
        if !detail.movements.is_empty() {
            say!("\nrecent movements:");
            for m in &detail.movements {
                say!(
                    "  {}  {:>+6}  {:<6}  {}  ({})",
                    m.created_at.format("%Y-%m-%d %H:%M:%S"),
                    m.delta,
                    m.kind.as_str(),
                    m.reason,
                    m.source
                );
            }
        }
        return Ok(());
    }
    let rows = store.stock(None).await?;
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(());
    }
    say!(
        "{:<24} {:<40} {:>8} {:>8} {:>9}",
        "SKU",
        "PRODUCT",
        "ON HAND",
        "RESERVED",
        "AVAILABLE"
    );
    for r in &rows {
        let mut label = r.name.clone();
        if !r.option_values.is_empty() {
            label = format!("{label} ({})", r.option_values.join(" / "));
        }
        let label: String = if label.chars().count() > 40 {
            label.chars().take(39).chain(['…']).collect()
        } else {
            label
        };
        say!(
            "{:<24} {:<40} {:>8} {:>8} {:>9}",
            r.sku,
            label,
            r.on_hand,
            r.reserved,
            r.available
        );
    }
    let total = store.summary().await?;
    say!(
        "{} products, {} SKUs, {} units on hand",
        total.products,
        total.skus,
        total.units_on_hand
    );
    Ok(())
}
