//! The wall clock lives in `chosync_connector::clock`, shared with the connectors.

pub use chosync_connector::clock::{Clock, FixedClock, SystemClock};
