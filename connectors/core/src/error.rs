//! How a failed platform call is to be handled, decided once, where it happened.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The platform asked us to slow down; wait at least `retry_after`.
    #[error("rate limited by the platform (retry after {retry_after:?})")]
    RateLimited { retry_after: Duration },
    /// A network failure, time-out on a safe call, or 5xx that may pass.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Credentials were refused: refresh once, then pause the channel.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The platform refused this item's data; permanent until the data changes.
    #[error("rejected ({code}{}): {message}", field.as_deref().map(|f| format!(", field {f}")).unwrap_or_default())]
    Rejected {
        code: String,
        field: Option<String>,
        message: String,
    },
    #[error("not found: {0}")]
    NotFound(String),
    /// A write whose outcome is unknown (time-out, unreadable answer): look the
    /// listing up before any retry, so it is adopted, never duplicated.
    #[error("outcome unknown: {0}")]
    Ambiguous(String),
}

impl ConnectorError {
    /// Whether the same call may simply be tried again (after a back-off).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient(_))
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limited",
            Self::Transient(_) => "transient",
            Self::Unauthorized(_) => "unauthorized",
            Self::Rejected { .. } => "rejected",
            Self::NotFound(_) => "not_found",
            Self::Ambiguous(_) => "ambiguous",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_and_transient_failures_are_retried() {
        assert!(
            ConnectorError::RateLimited {
                retry_after: Duration::from_secs(1)
            }
            .is_retryable()
        );
        assert!(ConnectorError::Transient("503".into()).is_retryable());
        assert!(!ConnectorError::Ambiguous("timeout".into()).is_retryable());
        assert!(!ConnectorError::Unauthorized("expired".into()).is_retryable());
    }

    #[test]
    fn a_rejection_names_its_field() {
        let err = ConnectorError::Rejected {
            code: "error_item_price".into(),
            field: Some("price".into()),
            message: "price too low".into(),
        };
        assert_eq!(
            err.to_string(),
            "rejected (error_item_price, field price): price too low"
        );
    }
}
