//! A receiver standing in for chosync's webhook ingress: it keeps what the
//! sandboxes push, headers and raw body as they arrived.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A push as received: the `Authorization` header and the raw body.
pub type Delivered = (String, Vec<u8>);

pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Delivered>>>,
}

impl Receiver {
    /// Listens on 127.0.0.1 at `path`.
    pub async fn start(path: &str) -> Self {
        let received: Arc<Mutex<Vec<Delivered>>> = Arc::default();
        let sink = received.clone();
        let app = axum::Router::new().route(
            path,
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let sink = sink.clone();
                    async move {
                        let auth = headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        sink.lock().expect("lock").push((auth, body.to_vec()));
                        ""
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}{path}"),
            received,
        }
    }

    /// The first push, waiting up to a second for it.
    pub async fn first(&self) -> Delivered {
        for _ in 0..50 {
            if let Some(first) = self.received.lock().expect("lock").first().cloned() {
                return first;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no push arrived at {}", self.url);
    }

    /// The first `n` pushes, waiting up to two seconds for them.
    pub async fn first_n(&self, n: usize) -> Vec<Delivered> {
        for _ in 0..100 {
            let received = self.received.lock().expect("lock").clone();
            if received.len() >= n {
                return received.into_iter().take(n).collect();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {n} pushes arrived at {}", self.url);
    }
}
