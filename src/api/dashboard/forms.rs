//! Sign-in and every write the dashboard makes: each checks the form
//! token, the origin and the role, calls the domain function the API calls,
//! and is audited.

use axum::extract::{Form, Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::{LANGUAGE, Lang, SESSION, Session, head, lang_of, layout, problem, same_origin};
use crate::access::authenticate;
use crate::api::ApiState;
use crate::api::v1::{record, upload_name, wake_all};
use crate::inventory::adjust as adjust_stock;

fn login_form(lang: Lang, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head("chosync"))
            body.login {
                main {
                    h1 { "chosync" }
                    p { (lang.t("Đăng nhập bằng mã truy cập (chosync token create).",
                                "Sign in with an access token (chosync token create).")) }
                    @if let Some(error) = error { p.error { (error) } }
                    form method="post" action="/login" {
                        label for="token" { (lang.t("Mã truy cập", "Access token")) }
                        input #token name="token" type="password" autocomplete="off" required;
                        button #login type="submit" { (lang.t("Đăng nhập", "Sign in")) }
                    }
                    p { a #lang-vi href="/language/vi" { "Tiếng Việt" } " · " a #lang-en href="/language/en" { "English" } }
                }
            }
        }
    }
}

pub(super) async fn login_page(headers: HeaderMap) -> Markup {
    login_form(lang_of(&headers), None)
}

#[derive(Deserialize)]
pub(super) struct Login {
    token: String,
}

pub(super) async fn login(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Form(form): Form<Login>,
) -> Response {
    let lang = lang_of(&headers);
    let token = form.token.trim();
    match authenticate(state.store.as_ref(), token).await {
        Ok(Some(_)) => {
            let cookie = format!("{SESSION}={token}; Path=/; HttpOnly; SameSite=Strict");
            let mut response = Redirect::to("/").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            login_form(
                lang,
                Some(lang.t(
                    "Mã truy cập không đúng hoặc đã bị thu hồi.",
                    "This token is wrong or revoked.",
                )),
            ),
        )
            .into_response(),
        Err(err) => {
            tracing::warn!(%err, "dashboard sign-in: the store did not answer");
            (StatusCode::SERVICE_UNAVAILABLE, login_form(lang, Some("…"))).into_response()
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Csrf {
    csrf: String,
}

pub(super) async fn logout(session: Session, Form(form): Form<Csrf>) -> Response {
    if form.csrf != session.csrf {
        return problem(&session, StatusCode::FORBIDDEN, "form token");
    }
    let mut response = Redirect::to("/login").into_response();
    let expired = format!("{SESSION}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

pub(super) async fn language(Path(lang): Path<String>, headers: HeaderMap) -> Response {
    let lang = if lang == "en" { "en" } else { "vi" };
    // Back where the switch was clicked, on this site only.
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
        .filter(|path| path.starts_with('/') && !path.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    let mut response = Redirect::to(&back).into_response();
    let cookie = format!("{LANGUAGE}={lang}; Path=/; SameSite=Strict; Max-Age=31536000");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Whether a write may go ahead: the form token, the origin, the role.
fn refusal(session: &Session, headers: &HeaderMap, csrf: &str) -> Option<Response> {
    let l = session.lang;
    if csrf != session.csrf || !same_origin(headers) {
        return Some(problem(
            session,
            StatusCode::FORBIDDEN,
            l.t(
                "Biểu mẫu đã hết hạn hoặc đến từ trang khác; hãy tải lại trang.",
                "This form expired or came from another site; reload the page.",
            ),
        ));
    }
    if !session.may_write() {
        return Some(problem(
            session,
            StatusCode::FORBIDDEN,
            l.t("Mã truy cập này chỉ được xem.", "This token may only read."),
        ));
    }
    None
}

/// A dashboard write done (it answers with a redirect), for the audit log.
async fn audit(state: &ApiState, session: &Session, path: &str, summary: String) {
    let (method, done) = (axum::http::Method::POST, StatusCode::SEE_OTHER);
    record(state, &session.caller, &method, path, done, &summary).await;
}

/// Pushes a held-back SKU again on one channel.
pub(super) async fn push_again(
    State(state): State<ApiState>,
    session: Session,
    headers: HeaderMap,
    Path((channel, sku)): Path<(String, String)>,
    Form(form): Form<Csrf>,
) -> Response {
    if let Some(refused) = refusal(&session, &headers, &form.csrf) {
        return refused;
    }
    if !state.settings.channels.iter().any(|c| c.id == channel) {
        return problem(&session, StatusCode::NOT_FOUND, &channel);
    }
    match state.store.retry_channel(&channel, Some(&sku)).await {
        Ok(_) => {
            state.workers.wake(&channel);
            audit(
                &state,
                &session,
                &format!("/push-again/{channel}/{sku}"),
                format!("push {sku} again on {channel}"),
            )
            .await;
            Redirect::to(&format!(
                "/explain/{}?pushed={}",
                urlencode(&sku),
                urlencode(&channel)
            ))
            .into_response()
        }
        Err(err) => problem(
            &session,
            StatusCode::INTERNAL_SERVER_ERROR,
            &err.to_string(),
        ),
    }
}

#[derive(Deserialize)]
pub(super) struct Adjust {
    csrf: String,
    delta: String,
    reason: String,
}

pub(super) async fn adjust(
    State(state): State<ApiState>,
    session: Session,
    headers: HeaderMap,
    Path(sku): Path<String>,
    Form(form): Form<Adjust>,
) -> Response {
    if let Some(refused) = refusal(&session, &headers, &form.csrf) {
        return refused;
    }
    let l = session.lang;
    let Ok(delta) = form.delta.trim().parse::<i64>() else {
        return problem(
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            l.t(
                "Số lượng điều chỉnh phải là số nguyên (ví dụ -2 hoặc 5).",
                "The adjustment must be a whole number (e.g. -2 or 5).",
            ),
        );
    };
    let source = format!("dashboard:{}", session.caller.name);
    match adjust_stock(state.store.as_ref(), &sku, delta, &form.reason, &source).await {
        Ok(_) => {
            wake_all(&state);
            audit(
                &state,
                &session,
                &format!("/stock/{sku}/adjust"),
                format!("adjusted {sku} by {delta:+}: {}", form.reason.trim()),
            )
            .await;
            Redirect::to(&format!("/stock?adjusted={}", urlencode(&sku))).into_response()
        }
        Err(err) => {
            let status = if err.is_invalid_input() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            problem(&session, status, &err.to_string())
        }
    }
}

pub(super) async fn acknowledge(
    State(state): State<ApiState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<Csrf>,
) -> Response {
    if let Some(refused) = refusal(&session, &headers, &form.csrf) {
        return refused;
    }
    match state
        .store
        .acknowledge_alert(id, &session.caller.name)
        .await
    {
        Ok(Some(_)) => {
            audit(
                &state,
                &session,
                &format!("/alerts/{id}/ack"),
                format!("acknowledged alert {id}"),
            )
            .await;
            Redirect::to("/alerts").into_response()
        }
        Ok(None) => problem(&session, StatusCode::NOT_FOUND, &format!("#{id}")),
        Err(err) => problem(
            &session,
            StatusCode::INTERNAL_SERVER_ERROR,
            &err.to_string(),
        ),
    }
}

fn upload_form(session: &Session) -> Markup {
    let l = session.lang;
    html! {
        form #upload method="post" action="/upload" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="file" name="file" accept=".csv,.xlsx" required;
            label { input type="checkbox" name="dry_run" value="1"; " " (l.t("Chỉ kiểm tra, không ghi", "Check only, write nothing")) }
            button #send type="submit" { (l.t("Tải lên", "Upload")) }
        }
    }
}

pub(super) async fn upload_page(session: Session) -> Markup {
    let title = session.lang.t("Tải danh mục", "Upload catalogue");
    layout(&session, title, None, upload_form(&session))
}

/// A catalogue file: imported whole, or refused with its problems row by row.
pub(super) async fn upload(
    State(state): State<ApiState>,
    session: Session,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let l = session.lang;
    let (mut csrf, mut dry_run, mut file) = (String::new(), false, None);
    while let Ok(Some(field)) = form.next_field().await {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("dry_run") => dry_run = true,
            Some("file") => {
                let name = field.file_name().unwrap_or("catalogue.csv").to_string();
                if let Ok(bytes) = field.bytes().await {
                    file = Some((name, bytes));
                }
            }
            _ => {}
        }
    }
    if let Some(refused) = refusal(&session, &headers, &csrf) {
        return refused;
    }
    let title = l.t("Tải danh mục", "Upload catalogue");
    let Some((name, bytes)) = file else {
        return problem(
            &session,
            StatusCode::BAD_REQUEST,
            l.t("Chưa chọn tệp.", "No file chosen."),
        );
    };
    let outcome =
        crate::api::v1::products::import_bytes(&state, &upload_name(&name), &bytes, dry_run).await;
    let body = match outcome {
        Ok(report) => {
            if !dry_run {
                wake_all(&state);
                audit(
                    &state,
                    &session,
                    "/upload",
                    format!("imported {name}: {} rows", report.rows),
                )
                .await;
            }
            html! {
                p.flash { (name) ": " (report.rows) " " (l.t("dòng", "rows")) " · "
                    (l.t("sản phẩm mới", "new products")) " " (report.products.created) " · "
                    (l.t("SKU mới", "new SKUs")) " " (report.skus.created) " · "
                    (l.t("SKU thay đổi", "SKUs changed")) " " (report.skus.updated)
                    @if dry_run { " — " (l.t("chỉ kiểm tra, chưa ghi gì", "checked only, nothing written")) } }
                (upload_form(&session))
            }
        }
        Err(crate::catalogue::import::ImportError::Invalid { problems, .. }) => html! {
            p.error { (name) ": " (problems.len()) " " (l.t("lỗi; không có gì được ghi.", "problem(s); nothing was imported.")) }
            table #problems {
                thead { tr { th { (l.t("Dòng", "Row")) } th { (l.t("Cột", "Column")) } th { (l.t("Lý do", "Reason")) } } }
                tbody { @for p in &problems { tr {
                    td { @if let Some(row) = p.row { (row) } }
                    td { @if let Some(column) = &p.column { (column) } }
                    td { (p.message) }
                } } }
            }
            (upload_form(&session))
        },
        Err(err) => {
            return problem(
                &session,
                StatusCode::INTERNAL_SERVER_ERROR,
                &err.to_string(),
            );
        }
    };
    layout(&session, title, None, body).into_response()
}

/// A path segment or query value, percent-encoded.
pub(super) fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
