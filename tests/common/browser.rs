//! Headless Chromium driven over WebDriver (`chromedriver` as a child
//! process, `fantoccini` as the client), for the dashboard's browser test.
//! Screenshots land in `target/browser-artifacts/<step>.png`.

use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a wait-for waits unless told otherwise.
pub const WAIT: Duration = Duration::from_secs(10);

/// Where screenshots and the processes' logs go.
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/browser-artifacts");
    dir
}

/// Empties `target/browser-artifacts`, so what it holds is this run's.
pub fn fresh_artifacts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("empty target/browser-artifacts");
    }
    artifacts();
}

/// Polls `probe` until it gives `Some`, or panics naming `what` once
/// `timeout` has passed.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// chromedriver and the headless Chromium it runs; both are killed when
/// this is dropped (chromedriver leads its own process group, Chromium's
/// processes are in it).
pub struct Browser {
    pub client: Client,
    _driver: DriverGuard,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium
    /// session. Without Chromium or chromedriver: under CI (`CI` set) a
    /// failure saying so; locally a note on stderr and `None`.
    pub async fn start() -> Option<Self> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|p| !Path::new(p).is_file())
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "the browser test needs {} (apt-get install chromium chromium-driver; .ci/run installs them)",
                missing.join(" and ")
            );
            if std::env::var_os("CI").is_some() {
                panic!("CI is set and {why}");
            }
            eprintln!("note: browser test not run: {why}");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(artifacts().join("chromedriver.log")).expect("log file");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        // Guarded from here on, so a failure below leaves no process behind.
        let guard = DriverGuard(Some(driver));
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        eventually("chromedriver to answer /status", WAIT, || {
            let http = http.clone();
            let status = format!("{url}/status");
            async move {
                let answer = http.get(status).send().await.ok()?;
                let body: Value = answer.json().await.ok()?;
                body["value"]["ready"].as_bool().filter(|ready| *ready)
            }
        })
        .await;
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    // The tests run as root, where Chromium's sandbox cannot start.
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let client = ClientBuilder::rustls()
            .expect("TLS roots for the WebDriver client")
            .capabilities(capabilities)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("a headless Chromium session from chromedriver: {e}"));
        Some(Self {
            client,
            _driver: guard,
        })
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.expect("current URL").into()
    }

    /// The element `css` selects, now (no waiting).
    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {}: {e}", self.url().await),
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
    }

    /// The element `css` selects, once there is one (within `WAIT`).
    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_for_within(css, WAIT).await
    }

    pub async fn wait_for_within(&self, css: &str, timeout: Duration) -> Element {
        let client = &self.client;
        eventually(css, timeout, || async move {
            client.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Replaces the text of the field `css` selects.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.expect("clear the field");
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// Runs `script` (a function body; `return` gives the value).
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("run {script}: {e}"))
    }

    /// The page's visible text.
    pub async fn body_text(&self) -> String {
        self.js("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .replace('\u{a0}', " ")
    }

    /// `<html lang>`.
    pub async fn lang(&self) -> String {
        self.js("return document.documentElement.lang")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Saves the page as `target/browser-artifacts/<step>.png`.
    pub async fn screenshot(&self, step: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = artifacts().join(format!("{step}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }
}

/// Kills the chromedriver this test started, and its process group (the
/// Chromium it ran), by the child's id.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut driver) = self.0.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", driver.id())])
                .status();
            let _ = driver.kill();
            let _ = driver.wait();
        }
    }
}

/// A `Stdio` for a child's output kept as an artifact.
pub fn artifact_log(name: &str) -> Stdio {
    Stdio::from(std::fs::File::create(artifacts().join(name)).expect("log file"))
}
