//! Lazada Open Platform for chosync, following `shared/marketplaces/lazada.md`
//! and the Lazada documents named in the crate README: signing, auth on its
//! own host, image migration, products with declared sale properties,
//! sellable stock and prices in batches of 50 SKUs across products, orders by
//! update window, pushes.

mod client;
pub mod dto;
pub mod mapping;
pub mod orders;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod sign;

pub use client::{Lazada, LazadaConfig, MAX_ORDER_OFFSET, ORDERS_PER_CALL, SKUS_PER_CALL};
