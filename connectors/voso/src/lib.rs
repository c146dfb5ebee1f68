//! A connector for an *assumed* "Voso-style" API: Voso publishes no seller
//! API, so the contract this crate speaks is written down in its README and
//! enforced by its sandbox. Bearer tokens from key + secret, page-based
//! product reads, stock and prices in batches of 50 SKUs with per-item
//! results, orders by update time with cursor paging, HMAC-signed pushes.

mod client;
pub mod dto;
pub mod mapping;
pub mod orders;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod sign;

pub use client::{ITEMS_PER_BATCH, ORDER_WINDOW_DAYS, Voso, VosoConfig};
