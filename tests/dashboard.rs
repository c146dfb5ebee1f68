//! The dashboard over HTTP on both databases: sign-in by token into an
//! HttpOnly SameSite=Strict cookie, every page behind it, writes guarded by
//! the form token, the origin and the role, catalogue text escaped, the
//! language switch. (The browser story is `tests/browser.rs`.)

mod common;

use common::TestDb;
use common::api::Api;
use common::daemon::{Rig, SHOPEE};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::json;

const SKU: &str = "MD-500G";

struct Browser {
    base: String,
    http: reqwest::Client,
}

impl Browser {
    fn new(api: &Api) -> Self {
        Self {
            base: api.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    /// Signs in with `token`; the session cookie as set.
    async fn sign_in(&self, token: &str) -> (StatusCode, Option<String>, String) {
        let answer = self
            .http
            .post(format!("{}/login", self.base))
            .form(&[("token", token)])
            .send()
            .await
            .expect("login");
        let status = answer.status();
        let cookie = answer
            .headers()
            .get(SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (status, cookie, answer.text().await.expect("body"))
    }

    async fn page(&self, path: &str, cookies: &str) -> (StatusCode, String) {
        let answer = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, cookies)
            .send()
            .await
            .expect("page");
        (answer.status(), answer.text().await.expect("body"))
    }

    async fn post(
        &self,
        path: &str,
        cookies: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> StatusCode {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, cookies)
            .form(form);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request.send().await.expect("post").status()
    }
}

/// The form token a page carries.
fn csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    page[at..at + 64].to_string()
}

async fn signs_in_guards_writes_and_escapes(db: &TestDb) {
    let mut rig = Rig::new(db, 5).await;
    let daemon = rig.start();
    let api = Api::new(&rig).await;
    let browser = Browser::new(&api);

    let (status, _) = browser.page("/", "").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "signed out: to the sign-in page"
    );
    let (status, cookie, body) = browser.sign_in("chs_wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        cookie.is_none() && body.contains("class=\"error\""),
        "{body}"
    );
    let (status, cookie, _) = browser.sign_in(&api.operator).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = cookie.expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().expect("pair").to_string();

    for path in [
        "/",
        "/products",
        "/log",
        "/orders",
        "/stock",
        "/alerts",
        "/upload",
        &format!("/explain/{SKU}"),
    ] {
        let (status, page) = browser.page(path, &session).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            page.contains("<html lang=\"vi\">"),
            "{path}: Vietnamese by default"
        );
    }
    let (_, overview) = browser.page("/", &session).await;
    assert!(
        overview.contains(&format!("data-channel=\"{SHOPEE}\"")) && overview.contains("Kênh bán"),
        "{overview}"
    );

    // Catalogue text is shown as text.
    let name = "Trà <script>alert(1)</script><img src=x onerror=alert(2)>";
    let (status, created) = api
        .post("/api/v1/products", json!({
            "product_id": "XSS-1", "name": name,
            "description": "Trà búp hái tay trên đồi chè Bắc Kạn, sao khô bằng chảo gang theo cách truyền thống của bà con dân tộc.",
            "category": "Trà", "variants": [{ "sku": "XSS-1-100", "price": 85000, "stock": 3 }]
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, products) = browser.page("/products?q=xss", &session).await;
    assert!(
        !products.contains("<script>alert(1)") && !products.contains("<img src=x"),
        "escaped"
    );
    assert!(
        products.contains(
            "Trà &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
        ),
        "{products}"
    );
    assert!(
        products.contains("85.000 ₫"),
        "money as Vietnamese write it"
    );

    // Writes: form token, origin and role.
    let (_, stock) = browser.page("/stock", &session).await;
    let token = csrf(&stock);
    let before = rig.available(SKU).await;
    let adjust = format!("/stock/{SKU}/adjust");
    let status = browser
        .post(
            &adjust,
            &session,
            &[("csrf", "0"), ("delta", "5"), ("reason", "kiểm kho")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a forged form");
    let status = browser
        .post(
            &adjust,
            &session,
            &[("csrf", &token), ("delta", "5"), ("reason", "kiểm kho")],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another site's form");
    assert_eq!(rig.available(SKU).await, before, "nothing written");
    let status = browser
        .post(
            &adjust,
            &session,
            &[("csrf", &token), ("delta", "5"), ("reason", " ")],
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reason is required"
    );
    let status = browser
        .post(
            &adjust,
            &session,
            &[("csrf", &token), ("delta", "5"), ("reason", "kiểm kho")],
            Some(&api.base),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(rig.available(SKU).await, before + 5);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM audit_log WHERE actor = 'Lan' AND summary = 'adjusted MD-500G by +5: kiểm kho'").await,
        1
    );

    let (_, viewer_cookie, _) = browser.sign_in(&api.viewer).await;
    let viewer = viewer_cookie
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    let (_, stock) = browser.page("/stock", &viewer).await;
    assert!(
        !stock.contains("class=\"inline adjust\""),
        "no adjust forms for a viewer"
    );
    let (_, page) = browser.page("/", &viewer).await;
    let status = browser
        .post(
            &adjust,
            &viewer,
            &[
                ("csrf", &csrf(&page)),
                ("delta", "5"),
                ("reason", "kiểm kho"),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer only reads");
    assert_eq!(rig.available(SKU).await, before + 5);

    // A catalogue upload refused: its problems row by row, nothing written.
    let (_, upload) = browser.page("/upload", &session).await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf(&upload))
        .part(
            "file",
            reqwest::multipart::Part::bytes(
                "product_id,name,sku,price\nX-1,Trà,X-1-A,12.5\n"
                    .as_bytes()
                    .to_vec(),
            )
            .file_name("bang-gia.csv"),
        );
    let answer = browser
        .http
        .post(format!("{}/upload", browser.base))
        .header(COOKIE, &session)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(answer.status(), StatusCode::OK);
    let page = answer.text().await.expect("page");
    assert!(
        page.contains("id=\"problems\"") && page.contains("<td>2</td><td>D</td>"),
        "{page}"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM variants WHERE sku = 'X-1-A'")
            .await,
        0
    );

    // English.
    let switch = browser
        .http
        .get(format!("{}/language/en", browser.base))
        .header(COOKIE, &session)
        .header(reqwest::header::REFERER, format!("{}/stock", browser.base))
        .send()
        .await
        .expect("switch");
    assert_eq!(switch.headers()[LOCATION], "/stock");
    let lang = switch.headers()[SET_COOKIE]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    let (_, page) = browser.page("/", &format!("{session}; {lang}")).await;
    assert!(
        page.contains("<html lang=\"en\">") && page.contains("<h2>Channels</h2>"),
        "{page}"
    );
    daemon.stop().await;
}

on_both_engines!(signs_in_guards_writes_and_escapes);
