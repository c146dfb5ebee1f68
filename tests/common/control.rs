//! A sandbox's shared control API (`/_sandbox/...`) over loopback HTTP, as
//! the connector tests drive it.

use serde_json::Value;

pub struct Control {
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT`, where the control API is served.
    root: String,
}

impl Control {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            http: reqwest::Client::new(),
            root: format!("http://{addr}"),
        }
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        self.http
            .post(format!("{}{path}", self.root))
            .json(&body)
            .send()
            .await
            .expect("control call")
            .json()
            .await
            .expect("control JSON")
    }

    /// Sets the sandbox's faults (`{}` clears them).
    pub async fn faults(&self, faults: Value) {
        self.control("/_sandbox/faults", faults).await;
    }

    pub async fn inspect(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.root))
            .send()
            .await
            .expect(path)
            .json()
            .await
            .expect("JSON")
    }

    pub async fn stats(&self) -> Value {
        self.inspect("/_sandbox/stats").await
    }

    /// Calls the sandbox answered on `path`.
    pub async fn calls(&self, path: &str) -> u64 {
        self.stats().await["calls"][path].as_u64().unwrap_or(0)
    }
}
