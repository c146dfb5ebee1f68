//! Keeps secrets out of what chosync prints.

/// A URL with any password (in the authority or the query) masked, for
/// messages and logs. What cannot be parsed is not shown at all.
pub fn url(raw: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(raw) else {
        return "(an unreadable URL)".to_string();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = ["pass", "secret", "token", "key"]
                    .iter()
                    .any(|word| k.to_ascii_lowercase().contains(word));
                (
                    k.into_owned(),
                    if secret { "***".into() } else { v.into_owned() },
                )
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_show() {
        assert_eq!(
            super::url("postgres://chosync:s3cret@db:5432/chosync"),
            "postgres://chosync:***@db:5432/chosync"
        );
        assert_eq!(super::url("sqlite://chosync.db"), "sqlite://chosync.db");
        assert!(!super::url("garbage s3cret@x").contains("s3cret"));
        assert_eq!(
            super::url("postgres://u@h/db?password=s3cret&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
    }
}
