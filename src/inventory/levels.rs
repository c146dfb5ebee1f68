//! One SKU's stock, with the movements that made it.

use serde::Serialize;

use crate::store::{StockMovement, StockRow, Store, StoreError};

/// Movements shown with a SKU's levels.
const RECENT_MOVEMENTS: i64 = 20;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SkuStock {
    pub movements: Vec<StockMovement>,
    pub stock: StockRow,
}

pub async fn sku_stock(store: &dyn Store, sku: &str) -> Result<SkuStock, StoreError> {
    let stock = store
        .stock(Some(sku))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::UnknownSku(sku.to_string()))?;
    Ok(SkuStock {
        movements: store.movements(sku, RECENT_MOVEMENTS).await?,
        stock,
    })
}
