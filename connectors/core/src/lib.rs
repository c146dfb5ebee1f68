//! The contract between chosync and a marketplace connector (DESIGN §4).
//!
//! A connector knows one platform's protocol and nothing of the database or
//! the scheduler. This crate holds what they all share: the `Connector` trait
//! and its DTOs, classified errors, the HTTP toolkit (limiter, signing per
//! attempt, classification, retries, attempt events), token handling, the
//! write patterns every platform needs (per-item outcomes of a batch, the
//! look-up after a lost create), and, with feature `sandbox`, the kit the
//! platform sandboxes are built from.

pub mod batch;
pub mod clock;
pub mod connector;
pub mod credentials;
pub mod dto;
mod error;
pub mod events;
pub mod http;
pub mod limiter;
pub mod lost_write;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use connector::{BatchScope, Bucket, Capabilities, Connector, EndpointClass, Limits};
pub use error::ConnectorError;
