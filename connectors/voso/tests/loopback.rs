//! Connector ↔ sandbox over loopback.
