//! Shopee.
