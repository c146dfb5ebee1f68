//! Stock: an append-only ledger of movements; levels move only with a movement;
//! what each channel shows of them (allocation).

mod adjust;
pub mod allocation;
pub mod effects;
mod levels;
pub mod split;

use serde::Serialize;

pub use adjust::{AdjustError, MAX_ADJUSTMENT, adjust};
pub use levels::{SkuStock, sku_stock};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MovementKind {
    /// A stock count (import or stocktake) set the level: delta = counted − previous.
    Count,
    /// An operator's correction with a reason.
    Adjust,
    /// A stock cell changed in an exported sheet: delta = new − exported, so
    /// what moved in the ledger since the export (sales) stays.
    Change,
    /// An order's units left with the carrier: delta = −units shipped.
    Sale,
    /// Returned units put back on the shelf (`restock_returns`).
    Restock,
}

impl MovementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Adjust => "adjust",
            Self::Change => "change",
            Self::Sale => "sale",
            Self::Restock => "restock",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "count" => Some(Self::Count),
            "adjust" => Some(Self::Adjust),
            "change" => Some(Self::Change),
            "sale" => Some(Self::Sale),
            "restock" => Some(Self::Restock),
            _ => None,
        }
    }
}

/// A movement to record. `external_ref` makes it idempotent per `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMovement {
    pub sku: String,
    pub delta: i64,
    pub kind: MovementKind,
    pub reason: String,
    pub source: String,
    pub external_ref: Option<String>,
}
