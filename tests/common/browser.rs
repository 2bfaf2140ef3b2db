//! Headless Chromium driven through ChromeDriver (WebDriver, with fantoccini): the Debian
//! packages `chromium` and `chromium-driver`, started by the test and stopped when dropped.

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use super::{free_port, INSTALL_HINT};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A ChromeDriver process and the Chromium session it drives.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// How the browser is started.
pub struct BrowserOptions {
    /// `Accept-Language` the browser sends.
    pub languages: &'static str,
    /// JavaScript on (a tablet) or off (an old copier panel).
    pub javascript: bool,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            languages: "en-US,en",
            javascript: true,
        }
    }
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium session.
    pub async fn start(options: BrowserOptions) -> Browser {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing (Debian packages chromium and chromium-driver); {INSTALL_HINT}"
            );
        }
        let port = free_port();
        // Its own process group: the Chromium it starts is killed with it, even when a test
        // panics before closing the session.
        let driver = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::Builder::new()
            .prefix("folio-chromium-")
            .tempdir()
            .unwrap();
        // The flags that work on this closed network (no background connections to Google).
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1024,768".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if !options.javascript {
            args.push("--blink-settings=scriptEnabled=false".to_owned());
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": args,
                "prefs": { "intl.accept_languages": options.languages },
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("cannot start headless Chromium: {e}"));
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// The text of the element with `id`.
    pub async fn text(&self, id: &str) -> String {
        self.element(Locator::Id(id)).await.text().await.unwrap()
    }

    /// The element `locator` finds; the page's HTML in the panic when none.
    pub async fn element(&self, locator: Locator<'_>) -> fantoccini::elements::Element {
        match self.client.find(locator).await {
            Ok(e) => e,
            Err(e) => panic!("{locator:?} not found: {e}\n{}", self.source().await),
        }
    }

    /// Whether an element with `id` is on the page.
    pub async fn has(&self, id: &str) -> bool {
        self.client.find(Locator::Id(id)).await.is_ok()
    }

    /// Types into the element with `id` (as a keyboard-wedge reader does, Enter included when
    /// the text ends with '\n').
    pub async fn type_into(&self, id: &str, text: &str) {
        let keys = match text.strip_suffix('\n') {
            Some(t) => format!("{t}{}", char::from(fantoccini::key::Key::Enter)),
            None => text.to_owned(),
        };
        self.element(Locator::Id(id))
            .await
            .send_keys(&keys)
            .await
            .unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.element(Locator::Css(css)).await.click().await.unwrap();
    }

    /// Saves a PNG of the page as `name`.png in `$FOLIO_TEST_SCREENSHOTS`, when it is set (to
    /// look at the pages, or refresh the pictures in docs/).
    pub async fn screenshot(&self, name: &str) {
        if let Ok(dir) = std::env::var("FOLIO_TEST_SCREENSHOTS") {
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
        }
    }

    /// Saves a PNG of the page as `target/screenshots/{name}.png` (to look at every page).
    pub async fn save_screenshot(&self, name: &str) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// The page's HTML (for failure messages).
    pub async fn source(&self) -> String {
        self.client.source().await.unwrap_or_default()
    }

    /// Waits until an element with `id` appears (a navigation finished).
    pub async fn wait_for(&self, id: &str, wait: Duration) {
        let deadline = Instant::now() + wait;
        while !self.has(id).await {
            assert!(
                Instant::now() < deadline,
                "#{id} did not appear:\n{}",
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element with `id` says `needle` (a form's answer replacing the page:
    /// the previous page's element of the same id must not be read half-way through).
    pub async fn wait_for_text(&self, id: &str, needle: &str, wait: Duration) {
        let deadline = Instant::now() + wait;
        loop {
            if let Ok(e) = self.client.find(Locator::Id(id)).await {
                if e.text().await.is_ok_and(|t| t.contains(needle)) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "#{id} never said {needle:?}:\n{}",
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and the browser processes it started. (`--`: util-linux
        // kill reads a bare negative number as an option.)
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
