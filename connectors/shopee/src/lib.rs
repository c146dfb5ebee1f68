//! Shopee Open Platform v2 for chosync, following `shared/marketplaces/shopee.md`:
//! signing, auth, media, listings with tier variations, stock and price in
//! batches of one item, orders in 15-day windows, pushes.

mod client;
pub mod dto;
pub mod mapping;
pub mod orders;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod sign;
mod variants;

pub use client::{IDS_PER_CALL, MODELS_PER_CALL, Shopee, ShopeeConfig, TIER_WAIT};
