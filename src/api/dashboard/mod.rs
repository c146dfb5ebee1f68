//! The dashboard at `/`: server-rendered pages (maud escapes every text by
//! construction), Vietnamese by default with an English switch, a little
//! plain JS for the live log. It calls the same domain functions as the CLI
//! and the API.
//!
//! Sign-in keeps the token in an HttpOnly, SameSite=Strict cookie; every
//! form carries a token derived from it (and a cross-site `Origin` is
//! refused), so another site can neither read nor forge a write.

mod forms;
mod log;
mod pages;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use sha2::{Digest, Sha256};

use super::ApiState;
use crate::access::{Caller, Role, authenticate};

/// The cookie holding the signed-in token.
const SESSION: &str = "chosync_session";
/// The cookie holding the chosen language.
const LANGUAGE: &str = "chosync_lang";

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/login", get(forms::login_page).post(forms::login))
        .route("/logout", post(forms::logout))
        .route("/language/{lang}", get(forms::language))
        .route("/products", get(pages::products))
        .route("/explain/{sku}", get(pages::explain))
        .route("/push-again/{channel}/{sku}", post(forms::push_again))
        .route("/log", get(log::page))
        .route("/log/stream", get(log::stream))
        .route("/orders", get(pages::orders))
        .route("/stock", get(pages::stock))
        .route("/stock/{sku}/adjust", post(forms::adjust))
        .route("/alerts", get(pages::alerts))
        .route("/alerts/{id}/ack", post(forms::acknowledge))
        .route(
            "/upload",
            get(forms::upload_page)
                .post(forms::upload)
                .layer(DefaultBodyLimit::max(super::v1::UPLOAD_LIMIT_BYTES)),
        )
        .route("/static/dashboard.js", get(script))
        .route("/static/dashboard.css", get(style))
        .with_state(state)
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("dashboard.js"),
    )
        .into_response()
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("dashboard.css"),
    )
        .into_response()
}

/// Vietnamese (the default) or English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    fn code(self) -> &'static str {
        match self {
            Self::Vi => "vi",
            Self::En => "en",
        }
    }

    /// The text in this language.
    pub fn t(self, vi: &'static str, en: &'static str) -> &'static str {
        match self {
            Self::Vi => vi,
            Self::En => en,
        }
    }
}

/// A signed-in operator's request: who, in which language, with the form
/// token their writes must carry.
pub struct Session {
    pub caller: Caller,
    pub lang: Lang,
    pub csrf: String,
    pub zone: chrono_tz::Tz,
}

impl Session {
    pub fn may_write(&self) -> bool {
        self.caller.role >= Role::Operator
    }

    /// A time in the configured time zone.
    pub fn time(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%d/%m/%Y %H:%M:%S")
            .to_string()
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn lang_of(headers: &HeaderMap) -> Lang {
    match cookie(headers, LANGUAGE) {
        Some("en") => Lang::En,
        _ => Lang::Vi,
    }
}

/// The form token of a session: derived from its bearer token, so it needs
/// no storage and changes with the token.
fn csrf_of(token: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"chosync dashboard form\0");
    digest.update(token.as_bytes());
    hex::encode(digest.finalize())
}

/// Not signed in: to the sign-in page (or 401 for the live log's stream).
pub struct SignIn;

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        Redirect::to("/login").into_response()
    }
}

impl FromRequestParts<ApiState> for Session {
    type Rejection = SignIn;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, SignIn> {
        let token = cookie(&parts.headers, SESSION).ok_or(SignIn)?;
        let caller = authenticate(state.store.as_ref(), token)
            .await
            .map_err(|err| {
                tracing::warn!(%err, "dashboard: the store did not answer");
                SignIn
            })?
            .ok_or(SignIn)?;
        Ok(Session {
            caller,
            lang: lang_of(&parts.headers),
            csrf: csrf_of(token),
            zone: state.settings.schedule.timezone.tz(),
        })
    }
}

/// `1.234.000 ₫`
pub fn money(vnd: i64) -> String {
    let digits = vnd.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(c);
    }
    format!("{}{grouped} ₫", if vnd < 0 { "-" } else { "" })
}

/// Every page's `<head>`: the sign-in page's too.
pub fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) }
            link rel="stylesheet" href="/static/dashboard.css";
            script src="/static/dashboard.js" defer {}
        }
    }
}

/// Every page: the header with the navigation and the language switch.
pub fn layout(session: &Session, title: &str, flash: Option<&str>, body: Markup) -> Markup {
    let l = session.lang;
    let nav = [
        ("nav-overview", "/", l.t("Tổng quan", "Overview")),
        ("nav-products", "/products", l.t("Sản phẩm", "Products")),
        ("nav-log", "/log", l.t("Nhật ký đồng bộ", "Sync log")),
        ("nav-orders", "/orders", l.t("Đơn hàng", "Orders")),
        ("nav-stock", "/stock", l.t("Tồn kho", "Stock")),
        ("nav-alerts", "/alerts", l.t("Cảnh báo", "Alerts")),
        (
            "nav-upload",
            "/upload",
            l.t("Tải danh mục", "Upload catalogue"),
        ),
    ];
    html! {
        (DOCTYPE)
        html lang=(l.code()) {
            (head(&format!("{title} · chosync")))
            body {
                header {
                    strong.brand { "chosync" }
                    nav { @for (id, href, label) in nav { a id=(id) href=(href) { (label) } } }
                    span.who { (session.caller.name) " · " (session.caller.role.as_str()) }
                    a #lang-vi href="/language/vi" { "Tiếng Việt" }
                    a #lang-en href="/language/en" { "English" }
                    form.inline method="post" action="/logout" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button { (l.t("Đăng xuất", "Sign out")) }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(flash) = flash { p.flash { (flash) } }
                    (body)
                }
            }
        }
    }
}

/// A page answering an error (forbidden, not found) in the dashboard's look.
pub fn problem(session: &Session, status: StatusCode, message: &str) -> Response {
    let title = session.lang.t("Không thực hiện được", "Not done");
    (
        status,
        layout(session, title, None, html! { p.error { (message) } }),
    )
        .into_response()
}

/// A write's `Origin`, when the browser sent one, must be this site.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest == host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_with_dots() {
        assert_eq!(money(1_234_000), "1.234.000 ₫");
        assert_eq!(money(85_000), "85.000 ₫");
        assert_eq!(money(999), "999 ₫");
        assert_eq!(money(0), "0 ₫");
    }

    #[test]
    fn a_cross_site_origin_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:8080".parse().expect("host"));
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().expect("o"));
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "https://evil.example".parse().expect("o"));
        assert!(!same_origin(&headers));
    }
}
