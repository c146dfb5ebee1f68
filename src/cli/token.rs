//! `chosync token`: bearer tokens for the API and the dashboard. A token is
//! printed once, when made; only its hash is kept.

use secrecy::ExposeSecret;

use super::{Failure, say};
use crate::access::{Role, TokenError, create};
use crate::store::Store;
use crate::store::access::TokenRecord;

pub(super) async fn create_token(
    store: &dyn Store,
    name: &str,
    role: Role,
    json: bool,
) -> Result<(), Failure> {
    let made = create(store, name, role).await.map_err(|err| match err {
        TokenError::BadName => Failure::invalid(vec![format!("error: {err}")]),
        TokenError::Store(err) => err.into(),
    })?;
    let token = made.token.expose_secret();
    if json {
        say!(
            "{}",
            serde_json::json!({ "token": token, "record": made.record })
        );
    } else {
        say!("{token}");
        eprintln!(
            "token {} ({}, {}) made: it is shown this once; keep it where a password goes",
            made.record.id, made.record.name, made.record.role
        );
    }
    Ok(())
}

pub(super) async fn list(store: &dyn Store, json: bool) -> Result<(), Failure> {
    let tokens = store.tokens().await?;
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&tokens).unwrap_or_default()
        );
        return Ok(());
    }
    if tokens.is_empty() {
        say!("no tokens; make one with `chosync token create --role operator --name NAME`");
        return Ok(());
    }
    say!(
        "{:>4}  {:<24} {:<9} {:<17} {:<17} REVOKED",
        "ID",
        "NAME",
        "ROLE",
        "CREATED",
        "LAST USED"
    );
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
    };
    for t in &tokens {
        say!(
            "{:>4}  {:<24} {:<9} {:<17} {:<17} {}",
            t.id,
            t.name,
            t.role,
            when(Some(t.created_at)),
            when(t.last_used_at),
            when(t.revoked_at)
        );
    }
    Ok(())
}

pub(super) async fn revoke(store: &dyn Store, id: i64) -> Result<(), Failure> {
    let revoked: Option<TokenRecord> = store.revoke_token(id).await?;
    match revoked {
        None => Err(Failure::invalid(vec![format!("error: no token {id}")])),
        Some(t) => {
            say!(
                "token {} ({}) revoked: it opens nothing any more",
                t.id,
                t.name
            );
            Ok(())
        }
    }
}
