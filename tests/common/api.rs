//! A client of the daemon's operator API, with a token of each role.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::daemon::Rig;

pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub operator: String,
    pub viewer: String,
}

impl Api {
    /// Makes an operator token ("Lan") and a viewer token ("Minh").
    pub async fn new(rig: &Rig) -> Self {
        use secrecy::ExposeSecret;
        let make = |name: &'static str, role| async move {
            chosync::access::create(rig.store.as_ref(), name, role)
                .await
                .expect("token")
                .token
                .expose_secret()
                .to_string()
        };
        Self {
            base: format!("http://{}", rig.addr),
            http: reqwest::Client::new(),
            operator: make("Lan", chosync::access::Role::Operator).await,
            viewer: make("Minh", chosync::access::Role::Viewer).await,
        }
    }

    /// A request with `token` (none: no Authorization header).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answer");
        let status = response.status();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(&self.viewer), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(&self.operator), Some(body))
            .await
    }
}

/// Asserts the API's error shape and returns its `details`.
pub fn error_of(status: StatusCode, body: &Value, wanted: StatusCode, code: &str) -> Value {
    assert_eq!(status, wanted, "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a message: {body}"
    );
    assert!(error.get("details").is_some(), "details present: {body}");
    error["details"].clone()
}
