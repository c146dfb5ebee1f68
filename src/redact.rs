//! Keeps secrets out of what chosync prints.

/// A URL with any password replaced, for messages and logs.
pub fn url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => match raw.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => raw.to_string(),
        },
    }
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
        assert!(!super::url("garbage:s3cret@x").contains("s3cret"));
    }
}
