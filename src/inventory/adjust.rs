//! An operator's correction of one SKU's stock, with a reason.

use super::{MovementKind, NewMovement};
use crate::store::{StockRow, Store, StoreError};

/// A bound far above any real stock count, so levels can never overflow.
pub const MAX_ADJUSTMENT: u64 = 1_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum AdjustError {
    #[error("an adjustment needs a reason")]
    NoReason,
    #[error("an adjustment of 0 moves nothing")]
    Zero,
    #[error(
        "an adjustment of {0} is too large; one adjustment moves at most {MAX_ADJUSTMENT} units"
    )]
    TooLarge(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdjustError {
    /// Whether the request itself is wrong (unknown SKU, stock below zero…).
    pub fn is_invalid_input(&self) -> bool {
        match self {
            Self::NoReason | Self::Zero | Self::TooLarge(_) => true,
            Self::Store(err) => matches!(
                err,
                StoreError::UnknownSku(_) | StoreError::NegativeStock { .. }
            ),
        }
    }
}

/// Moves the stock of `sku` by `delta` for `reason` (NFC, trimmed), recorded
/// as coming from `source`; returns the new levels.
pub async fn adjust(
    store: &dyn Store,
    sku: &str,
    delta: i64,
    reason: &str,
    source: &str,
) -> Result<StockRow, AdjustError> {
    let reason = crate::catalogue::text::clean(reason);
    if reason.is_empty() {
        return Err(AdjustError::NoReason);
    }
    if delta == 0 {
        return Err(AdjustError::Zero);
    }
    if delta.unsigned_abs() > MAX_ADJUSTMENT {
        return Err(AdjustError::TooLarge(delta));
    }
    let movement = NewMovement {
        sku: sku.to_string(),
        delta,
        kind: MovementKind::Adjust,
        reason,
        source: source.to_string(),
        external_ref: None,
    };
    Ok(store.record_movement(&movement).await?)
}

