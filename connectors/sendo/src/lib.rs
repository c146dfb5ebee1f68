//! Sendo's Open API for chosync, following `shared/marketplaces/sendo.md`:
//! login with the shop's key pair for an 8-hour bearer token (no refresh
//! token), the `{result, success, error, status_code}` envelope, products
//! created and updated whole through `POST /api/partner/product`, stock and
//! prices through `update-by-field-mask`, orders by status-change date in
//! windows of at most three days, and unsigned pushes read as hints.

pub mod auth;
mod client;
pub mod dto;
pub mod mapping;
pub mod orders;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use client::{PRODUCTS_PER_MASK_CALL, Sendo, SendoConfig};
