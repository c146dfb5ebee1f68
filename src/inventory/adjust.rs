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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::SystemClock;

    async fn adjusted(delta: i64, reason: &str) -> Result<StockRow, AdjustError> {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("chosync.db").display());
        let store = crate::store::open(&url, Arc::new(SystemClock))
            .await
            .expect("store");
        adjust(store.as_ref(), "MD-500G", delta, reason, "test").await
    }

    #[tokio::test]
    async fn an_adjustment_needs_a_reason_that_is_more_than_spaces() {
        let refused = adjusted(1, " \t ").await;
        assert!(matches!(refused, Err(AdjustError::NoReason)), "{refused:?}");
    }

    #[tokio::test]
    async fn an_adjustment_of_nothing_or_past_the_bound_is_refused_as_input() {
        let zero = adjusted(0, "stocktake").await.expect_err("refused");
        assert!(matches!(zero, AdjustError::Zero), "{zero:?}");
        let huge = adjusted(-1_000_000_001, "stocktake")
            .await
            .expect_err("refused");
        assert!(
            matches!(huge, AdjustError::TooLarge(-1_000_000_001)),
            "{huge:?}"
        );
        assert!(zero.is_invalid_input() && huge.is_invalid_input());
    }

    #[tokio::test]
    async fn an_adjustment_of_an_unknown_sku_is_invalid_input() {
        let err = adjusted(2, "found two more").await.expect_err("unknown");
        assert!(
            matches!(&err, AdjustError::Store(StoreError::UnknownSku(_))),
            "{err:?}"
        );
        assert!(err.is_invalid_input());
    }
}
