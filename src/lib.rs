//! chosync: one cooperative catalogue, kept in sync with every marketplace it sells on.

pub mod access;
pub mod alerts;
pub mod api;
pub mod bench;
pub mod buyers;
pub mod catalogue;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod daemon;
pub mod demo;
pub mod inventory;
pub mod metrics;
pub mod orders;
pub mod redact;
pub mod sandboxes;
pub mod schedule;
pub mod secrets;
pub mod settings;
pub mod store;
pub mod sync;
