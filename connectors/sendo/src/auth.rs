//! Sendo's login (`sendo.md` §3.2): the shop's key pair buys an 8-hour bearer
//! token, and there is no refresh token: the same login is made again before
//! expiry. The token is kept in the channel's credential store like any other
//! platform's access token; its refresh-token slot stays empty.

use chosync_connector::credentials::TokenPair;
use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;

use crate::dto::Login;

/// A token's documented life.
pub const TOKEN_LIFE: Duration = Duration::hours(8);
/// Log in again this long before expiry (`sendo.md`: "refresh at ~7 h", G).
pub const RENEW_AHEAD: Duration = Duration::hours(1);

/// The pair chosync stores for a login answered at `now`: the answer's
/// `expires` when it is readable, else 8 hours from now.
pub fn pair(login: Login, now: DateTime<Utc>) -> TokenPair {
    let expires = login
        .expires
        .as_deref()
        .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
        .map(|e| e.to_utc())
        .filter(|e| *e > now && *e <= now + TOKEN_LIFE)
        .unwrap_or(now + TOKEN_LIFE);
    TokenPair {
        access_token: SecretString::from(login.token),
        refresh_token: SecretString::from(String::new()),
        access_expires_at: expires,
        refresh_expires_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_or_implausible_expiry_is_taken_as_eight_hours() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .expect("date")
            .to_utc();
        let login = |expires: Option<&str>| Login {
            token: "t".into(),
            expires: expires.map(String::from),
        };
        assert_eq!(pair(login(None), now).access_expires_at, now + TOKEN_LIFE);
        assert_eq!(
            pair(login(Some("2030-01-01T00:00:00Z")), now).access_expires_at,
            now + TOKEN_LIFE
        );
        assert_eq!(
            pair(login(Some("2026-12-01T07:00:00Z")), now).access_expires_at,
            now + Duration::hours(7)
        );
    }
}
