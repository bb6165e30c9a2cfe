//! The web console and GraphiQL in a real Chromium (Debian's `chromium`),
//! driven over the DevTools protocol: sign-in, the newest events, filters,
//! the drawer, endless scrolling, keyboard navigation, the live tail, viewer
//! tokens, the histogram and top values, the alert rules page, and that no
//! request ever leaves the server's origin.
//!
//! Without Chromium these tests fail, saying how to install it, unless
//! `AUDITGRAPH_SKIP_BROWSER=1`. `AUDITGRAPH_UPDATE_SCREENSHOT=1` rewrites the
//! README's screenshot, `docs/console.png`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::emulation::{MediaFeature, SetDeviceMetricsOverrideParams};
use chromiumoxide::cdp::browser_protocol::log::EventEntryAdded;
use chromiumoxide::cdp::browser_protocol::network::{EventRequestWillBeSent, EventWebSocketCreated};
use chromiumoxide::cdp::js_protocol::runtime::{EventConsoleApiCalled, EventExceptionThrown};
use chromiumoxide::page::{Page, ScreenshotParams};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, event};

const SKIP_VAR: &str = "AUDITGRAPH_SKIP_BROWSER";

/// A Chromium for one test, on a fresh profile, killed when dropped.
struct Chromium {
    browser: Browser,
    handler: tokio::task::JoinHandle<()>,
    profile: PathBuf,
}

fn executable() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("AUDITGRAPH_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

impl Chromium {
    /// `None` (the test is skipped) only when Chromium is missing and the
    /// developer asked to skip; a missing Chromium otherwise fails loudly.
    async fn launch() -> Option<Chromium> {
        let Some(executable) = executable() else {
            if std::env::var(SKIP_VAR).is_ok_and(|v| v == "1") {
                eprintln!("SKIPPED: no Chromium found and {SKIP_VAR}=1: the browser tests did not run");
                return None;
            }
            panic!(
                "\n\nThe browser tests need Chromium, and none was found on PATH.\n\
                 Install it with `apt-get update && apt-get install -y chromium` (or set AUDITGRAPH_CHROMIUM \
                 to a Chrome or Chromium binary),\nor skip these tests knowingly with {SKIP_VAR}=1.\n\n"
            );
        };
        let profile = std::env::temp_dir().join(format!("auditgraph-chromium-{}", uuid::Uuid::new_v4().simple()));
        let config = BrowserConfig::builder()
            .chrome_executable(executable)
            .disable_default_args()
            .no_sandbox()
            .user_data_dir(&profile)
            .window_size(1280, 800)
            .viewport(None)
            .args([
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-dev-shm-usage",
            ])
            .build()
            .expect("browser config");
        let (browser, mut handler) = Browser::launch(config).await.expect("Chromium starts");
        // Messages this protocol version does not know are not fatal.
        let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Some(Chromium { browser, handler, profile })
    }

    /// A new tab that records every request it makes and every error it logs.
    async fn tab(&self) -> Tab {
        let page = self.browser.new_page("about:blank").await.expect("new tab");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let mut sent = page.event_listener::<EventRequestWillBeSent>().await.unwrap();
        let mut sockets = page.event_listener::<EventWebSocketCreated>().await.unwrap();
        let mut logged = page.event_listener::<EventEntryAdded>().await.unwrap();
        let mut console = page.event_listener::<EventConsoleApiCalled>().await.unwrap();
        let mut thrown = page.event_listener::<EventExceptionThrown>().await.unwrap();
        page.enable_log().await.unwrap();
        let (r, e) = (requests.clone(), errors.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(ev) = sent.next() => r.lock().unwrap().push(ev.request.url.clone()),
                    Some(ev) = sockets.next() => r.lock().unwrap().push(ev.url.clone()),
                    Some(ev) = logged.next() => {
                        if format!("{:?}", ev.entry.level).contains("Error") {
                            e.lock().unwrap().push(ev.entry.text.clone());
                        }
                    }
                    Some(ev) = console.next() => {
                        if format!("{:?}", ev.r#type).contains("Error") {
                            e.lock().unwrap().push(format!("{:?}", ev.args.iter().map(|a| a.value.clone()).collect::<Vec<_>>()));
                        }
                    }
                    Some(ev) = thrown.next() => e.lock().unwrap().push(format!("{:?}", ev.exception_details)),
                    else => break,
                }
            }
        });
        // Local times in the table read the same wherever the tests run.
        page.emulate_timezone(chromiumoxide::cdp::browser_protocol::emulation::SetTimezoneOverrideParams::new("UTC"))
            .await
            .unwrap();
        Tab { page, requests, errors }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        if let Some(child) = self.browser.get_mut_child() {
            let child = child.as_mut_inner();
            let _ = child.start_kill();
            // Chromium writes to its profile until it has exited: removing the
            // profile before then left it behind in the temp dir.
            let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        self.handler.abort();
        // Its helper processes outlive it by a moment, and may write again.
        for _ in 0..50 {
            let _ = std::fs::remove_dir_all(&self.profile);
            std::thread::sleep(std::time::Duration::from_millis(20));
            if !self.profile.exists() {
                break;
            }
        }
    }
}

struct Tab {
    page: Page,
    requests: Arc<Mutex<Vec<String>>>,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Tab {
    async fn open(&self, url: &str) {
        self.page.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    async fn eval<T: DeserializeOwned>(&self, js: &str) -> T {
        let result = self.page.evaluate(js).await.unwrap_or_else(|e| panic!("evaluate `{js}`: {e}"));
        result.into_value().unwrap_or_else(|e| panic!("the value of `{js}`: {e}"))
    }

    /// Waits until `js` is true, or fails naming `what`.
    async fn wait(&self, js: &str, what: &str) {
        // Generous: CI runs these beside the rest of the suite on two cores.
        for _ in 0..400 {
            if self.page.evaluate(js).await.ok().and_then(|r| r.into_value::<bool>().ok()) == Some(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let body: String = self.eval("document.body.innerText.slice(0, 2000)").await;
        let shot = std::env::temp_dir().join(format!("auditgraph-console-{}.png", uuid::Uuid::new_v4().simple()));
        let _ = self.page.save_screenshot(ScreenshotParams::builder().build(), &shot).await;
        panic!(
            "timed out waiting for {what} (`{js}`); errors: {:?}; screenshot: {}; page:\n{body}",
            self.errors.lock().unwrap(),
            shot.display()
        );
    }

    async fn click(&self, selector: &str) {
        self.page
            .find_element(selector)
            .await
            .unwrap_or_else(|e| panic!("find {selector}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {selector}: {e}"));
    }

    /// Types into the input `selector` (after clearing it), then presses Enter.
    async fn fill(&self, selector: &str, text: &str) {
        let input = self.page.find_element(selector).await.unwrap_or_else(|e| panic!("find {selector}: {e}"));
        input.click().await.unwrap();
        self.page.evaluate(format!("document.querySelector('{selector}').select()")).await.unwrap();
        input.press_key("Backspace").await.unwrap();
        if !text.is_empty() {
            input.type_str(text).await.unwrap();
        }
        input.press_key("Enter").await.unwrap();
    }

    /// Presses the left button at `from`, moves to `to` holding it, and lets go.
    async fn drag(&self, from: (f64, f64), to: (f64, f64)) {
        use chromiumoxide::cdp::browser_protocol::input::{
            DispatchMouseEventParams, DispatchMouseEventType, MouseButton,
        };
        let at = |(x, y): (f64, f64), kind: DispatchMouseEventType| {
            DispatchMouseEventParams::builder()
                .x(x)
                .y(y)
                .button(MouseButton::Left)
                .buttons(1)
                .click_count(1)
                .r#type(kind)
                .build()
                .unwrap()
        };
        self.page.move_mouse(chromiumoxide::layout::Point::new(from.0, from.1)).await.unwrap();
        self.page.execute(at(from, DispatchMouseEventType::MousePressed)).await.unwrap();
        self.page.execute(at(((from.0 + to.0) / 2.0, to.1), DispatchMouseEventType::MouseMoved)).await.unwrap();
        self.page.execute(at(to, DispatchMouseEventType::MouseMoved)).await.unwrap();
        self.page.execute(at(to, DispatchMouseEventType::MouseReleased)).await.unwrap();
    }

    async fn press(&self, key: &str) {
        self.page.find_element("body").await.unwrap().press_key(key).await.unwrap();
    }

    /// The IDs and actions of the table's rows, in order.
    async fn rows(&self) -> Vec<(String, String)> {
        self.eval::<Vec<(String, String)>>(
            "[...document.querySelectorAll('table.events tbody tr')].map(r => [r.dataset.id, r.querySelector('.c-action').textContent])",
        )
        .await
    }

    async fn wait_rows(&self, n: usize, what: &str) {
        self.wait(&format!("document.querySelectorAll('table.events tbody tr').length === {n}"), what).await
    }

    /// Fails if any request went anywhere but `origin`, or a page logged an error.
    fn assert_same_origin_only(&self, origin: &str) {
        let requests = self.requests.lock().unwrap();
        assert!(!requests.is_empty(), "no request was recorded");
        let ws_origin = origin.replacen("http", "ws", 1);
        let foreign: Vec<&String> = requests
            .iter()
            .filter(|url| {
                let same = url.starts_with(&format!("{origin}/")) || url.starts_with(&format!("{ws_origin}/"));
                // Inline data the page itself holds (GraphiQL's fonts) and the blank start page.
                !(same || url.starts_with("data:") || *url == "about:blank")
            })
            .collect();
        assert!(foreign.is_empty(), "requests to other origins: {foreign:?} (all: {requests:?})");
        let errors = self.errors.lock().unwrap();
        assert!(errors.is_empty(), "the page logged errors: {errors:?}");
    }
}

fn origin(app: &TestApp) -> String {
    format!("http://{}", app.addr)
}

/// Events of two kinds a minute apart, the newest a plan change with its diff.
async fn seed(app: &TestApp, key: &str, n: usize) {
    let start = chrono::Utc::now() - chrono::Duration::minutes(n as i64 + 5);
    let mut events: Vec<Value> = (0..n)
        .map(|i| {
            let mut e = event(if i % 2 == 0 { "workspace.update" } else { "session.create" });
            e["occurredAt"] = json!((start + chrono::Duration::minutes(i as i64)).to_rfc3339());
            e["summary"] = json!(format!("event number {i}"));
            e["resource"] = json!({ "type": "workspace", "externalId": format!("ws-{}", i % 3) });
            e
        })
        .collect();
    let mut change = event("billing.plan.change");
    change["occurredAt"] = json!((chrono::Utc::now() - chrono::Duration::minutes(2)).to_rfc3339());
    change["summary"] = json!("Ada moved to the pro plan");
    change["changes"] =
        json!([{ "field": "plan", "before": "free", "after": "pro" }, { "field": "seats", "before": 3, "after": 10 }]);
    change["metadata"] = json!({ "invoice": { "id": "inv_42", "lines": [1, 2] } });
    change["relatedResources"] = json!([{ "type": "account", "externalId": "acct-7", "name": "Ada's account" }]);
    change["request"] = json!({ "method": "POST", "path": "/v1/plan", "status": 200, "ipAddress": "10.0.0.1" });
    events.push(change);
    app.record(key, json!(events)).await;
}

/// The newest event IDs as the API lists them.
async fn newest(app: &TestApp, key: &str, filter: Value, n: usize) -> Vec<String> {
    let data = app
        .data(
            key,
            "query($f: AuditEventFilter, $n: Int) { auditEvents(filter: $f, first: $n) { nodes { id } } }",
            json!({ "f": filter, "n": n }),
        )
        .await;
    data["auditEvents"]["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()).collect()
}

const ROWS_LOADED: &str = "document.querySelectorAll('table.events tbody tr').length > 0";
const DRAWER_LOADED: &str = "!!document.querySelector('.drawer .drawer-body')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_in_filters_inspects_and_scrolls() {
    let Some(chromium) = Chromium::launch().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.key("audit.read,audit.write").await;
    seed(&app, &key, 56).await;
    let tab = chromium.tab().await;

    // Sign in through the form; the key stays in this tab's sessionStorage only.
    tab.open(&format!("{}/", origin(&app))).await;
    tab.wait("!!document.querySelector('input[name=secret]')", "the sign-in form").await;
    assert_eq!(tab.eval::<String>("location.pathname").await, "/console");
    tab.fill("input[name=secret]", &key).await;
    tab.wait(ROWS_LOADED, "the first rows").await;

    // The newest events, newest first: the first page of 50 as the API lists it.
    let ids: Vec<String> = tab.rows().await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, newest(&app, &key, json!({}), 50).await);
    assert_eq!(tab.eval::<String>("sessionStorage.getItem('auditgraph.credential')").await, key);
    assert_eq!(tab.eval::<usize>("localStorage.length").await, 0);
    let title: String = tab.eval("document.querySelector('tbody tr time').title").await;
    assert!(title.ends_with("Z (UTC)"), "UTC on hover: {title}");

    // Scrolling to the end loads the second page.
    tab.page.evaluate("document.querySelector('.table-wrap').scrollTop = 1e6").await.unwrap();
    tab.wait_rows(59, "the second page").await;
    let ids: Vec<String> = tab.rows().await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, newest(&app, &key, json!({}), 100).await);

    // An action prefix keeps only matching rows, and lands in the URL.
    tab.fill("input[name=action]", "session.").await;
    tab.wait("location.search === '?action=session.'", "the filter in the URL").await;
    tab.wait_rows(28, "the filtered rows").await;
    let rows = tab.rows().await;
    assert!(rows.iter().all(|(_, action)| action.starts_with("session.")), "{rows:?}");
    let filtered = newest(&app, &key, json!({ "action": { "prefix": "session." } }), 100).await;
    assert_eq!(rows.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), filtered);

    // The filter survives a reload: it lives in the URL.
    tab.page.reload().await.unwrap();
    tab.wait_rows(28, "the filter after a reload").await;
    assert_eq!(tab.eval::<String>("document.querySelector('input[name=action]').value").await, "session.");

    // Keyboard: j moves down, Enter opens, Escape closes.
    tab.press("j").await;
    tab.press("Enter").await;
    tab.wait(DRAWER_LOADED, "the drawer").await;
    let opened: String = tab.eval("document.querySelector('tr.open').dataset.id").await;
    assert_eq!(filtered.iter().position(|id| *id == opened), Some(1), "the second row is open");
    tab.press("Escape").await;
    tab.wait("!document.querySelector('.drawer')", "the drawer to close").await;

    // The plan change: its changes as a before/after diff, metadata, request, related resources.
    tab.fill("input[name=action]", "billing.").await;
    tab.wait_rows(1, "the plan change").await;
    tab.click("table.events tbody tr").await;
    tab.wait(DRAWER_LOADED, "the drawer").await;
    let diff: Vec<Vec<String>> = tab
        .eval("[...document.querySelectorAll('[data-testid=changes] tbody tr')].map(r => [...r.children].map(c => c.textContent.trim()))")
        .await;
    assert_eq!(diff, [["plan", "\"free\"", "\"pro\""], ["seats", "3", "10"]]);
    let drawer: String = tab.eval("document.querySelector('.drawer').innerText").await;
    for expected in ["Ada moved to the pro plan", "inv_42", "/v1/plan", "10.0.0.1", "account: Ada's account"] {
        assert!(drawer.contains(expected), "{expected} missing from the drawer:\n{drawer}");
    }
    // Without a ledger on this server, the drawer says so rather than failing.
    tab.wait(
        "!!document.querySelector('[data-testid=ledger-unavailable], [data-testid=verified]')",
        "the ledger check",
    )
    .await;

    // A related resource filters by it.
    tab.click("[data-testid=related] button").await;
    tab.wait("location.search.startsWith('?action=billing.&resource=res_')", "the resource filter").await;
    tab.wait_rows(1, "the related event").await;

    // Clearing shows everything again.
    tab.click(".filters button.link").await;
    tab.wait("location.search === '' && document.querySelectorAll('table.events tbody tr').length === 50", "all").await;
    tab.assert_same_origin_only(&origin(&app));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_tail_shows_new_events_and_counts_them_while_paused() {
    let Some(chromium) = Chromium::launch().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.key("audit.read,audit.write").await;
    seed(&app, &key, 3).await;
    let tab = chromium.tab().await;
    tab.open(&format!("{}/console#token={key}", origin(&app))).await;
    tab.wait(ROWS_LOADED, "the first rows").await;
    assert_eq!(tab.eval::<String>("location.hash").await, "", "the credential leaves the URL");

    tab.click("[data-testid=live]").await;
    tab.wait("document.querySelector('[data-testid=live]').dataset.state === 'on'", "the live tail").await;
    wait_for_subscribers(&app).await;
    app.record(&key, json!([event("live.first")])).await;
    tab.wait("document.querySelector('table.events tbody tr .c-action').textContent === 'live.first'", "the new event")
        .await;

    tab.click("[data-testid=pause]").await;
    tab.wait("!!document.querySelector('[data-testid=pending]')", "the pause").await;
    app.record(&key, json!([event("live.second"), event("live.third")])).await;
    tab.wait("document.querySelector('[data-testid=pending]').textContent === '2 new'", "the counter").await;
    assert_eq!(tab.rows().await[0].1, "live.first", "nothing is added while paused");

    tab.click("[data-testid=pause]").await;
    tab.wait("document.querySelector('table.events tbody tr .c-action').textContent === 'live.third'", "the resume")
        .await;
    let actions: Vec<String> = tab.rows().await.into_iter().take(3).map(|(_, a)| a).collect();
    assert_eq!(actions, ["live.third", "live.second", "live.first"]);
    tab.assert_same_origin_only(&origin(&app));
}

async fn wait_for_subscribers(app: &TestApp) {
    for _ in 0..500 {
        if app.metrics.subscriptions() >= 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the console's subscription never started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_token_sees_only_its_filter() {
    let Some(chromium) = Chromium::launch().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.key("audit.read,audit.write").await;
    seed(&app, &key, 20).await;
    let token = app.viewer_token(&key, json!({ "action": { "prefix": "workspace." } }), 600).await;
    let tab = chromium.tab().await;

    tab.open(&format!("{}/console#token={token}", origin(&app))).await;
    tab.wait(ROWS_LOADED, "the first rows").await;
    let rows = tab.rows().await;
    assert_eq!(rows.len(), 10, "{rows:?}");
    assert!(rows.iter().all(|(_, action)| action == "workspace.update"), "{rows:?}");
    let badge: String = tab.eval("document.querySelector('.badge.token').textContent").await;
    assert!(badge.starts_with("Viewer token"), "{badge}");
    assert_eq!(tab.eval::<String>("location.hash").await, "");
    assert_eq!(tab.eval::<usize>("localStorage.length").await, 0);

    // Its own filters narrow further, never wider.
    tab.fill("input[name=action]", "session.").await;
    tab.wait("!!document.querySelector('.empty')", "no rows").await;
    tab.fill("input[name=action]", "").await;
    tab.wait_rows(10, "the token's rows").await;

    tab.assert_same_origin_only(&origin(&app));

    // An unknown token lands on the sign-in form with the reason; so does one
    // that expires while the console is open, at its next request.
    let bad = chromium.tab().await;
    bad.open(&format!("{}/console#token=agv_unknown", origin(&app))).await;
    bad.wait("!!document.querySelector('.signin .error')", "the refusal").await;
    // Long enough to load under a busy CI, then wait out the rest.
    let expires = std::time::Instant::now() + Duration::from_secs(6);
    let brief = app.viewer_token(&key, json!({}), 6).await;
    let expiring = chromium.tab().await;
    expiring.open(&format!("{}/console#token={brief}", origin(&app))).await;
    expiring.wait(ROWS_LOADED, "the rows").await;
    tokio::time::sleep(expires.saturating_duration_since(std::time::Instant::now()) + Duration::from_millis(100)).await;
    expiring.fill("input[name=action]", "workspace.").await;
    expiring
        .wait("(document.querySelector('.signin .error')?.textContent || '').includes('expired')", "the sign-out")
        .await;
    assert!(expiring.eval::<bool>("sessionStorage.getItem('auditgraph.credential') === null").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_works_offline_without_persisting_headers() {
    let Some(chromium) = Chromium::launch().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.key("audit.read,audit.write").await;
    seed(&app, &key, 3).await;
    let tab = chromium.tab().await;

    // Signed in to the console, the same tab's GraphiQL gets the key in its Headers tab.
    tab.open(&format!("{}/console#token={key}", origin(&app))).await;
    tab.wait(ROWS_LOADED, "the console").await;
    tab.open(&format!("{}/graphql", origin(&app))).await;
    tab.wait("!!document.querySelector('.graphiql-container .CodeMirror')", "GraphiQL").await;
    tab.click(".graphiql-execute-button").await;
    tab.wait(
        "(document.querySelector('.result-window')?.innerText || '').includes('api_key.create')",
        "the query's result",
    )
    .await;

    // Subscriptions over /graphql/ws.
    tab.page
        .evaluate("document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('subscription { auditEventRecorded { action } }')")
        .await
        .unwrap();
    // GraphiQL reads the operation's name from the editor after a short pause.
    tokio::time::sleep(Duration::from_millis(800)).await;
    tab.click(".graphiql-execute-button").await;
    wait_for_subscribers(&app).await;
    app.record(&key, json!([event("graphiql.saw.this")])).await;
    tab.wait("(document.querySelector('.result-window')?.innerText || '').includes('graphiql.saw.this')", "the event")
        .await;

    let stored: String = tab.eval("JSON.stringify(localStorage)").await;
    assert!(!stored.contains(&key), "GraphiQL persisted the key: {stored}");
    assert!(!stored.contains("\\\"headers\\\""), "GraphiQL persisted headers: {stored}");
    tab.assert_same_origin_only(&origin(&app));

    // The page itself carries the policy.
    let response = app.client.get(app.url("/graphql")).header("Accept", "text/html").send().await.unwrap();
    let policy = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.starts_with("default-src 'self';") && !policy.contains("unsafe"), "{policy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_at_desktop_and_phone_width() {
    let Some(chromium) = Chromium::launch().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = auditgraph::demo::prepare(&app.store, 400).await.expect("demo data");
    let tab = chromium.tab().await;
    tab.page.execute(SetDeviceMetricsOverrideParams::new(1280, 800, 1.0, false)).await.unwrap();
    tab.open(&format!("{}/console#token={key}", origin(&app))).await;
    tab.wait(ROWS_LOADED, "the demo's events").await;

    // Light or dark, as the system says.
    let background = "getComputedStyle(document.body).backgroundColor";
    assert_eq!(tab.eval::<String>(background).await, "rgb(255, 255, 255)");
    let dark = |value: &str| MediaFeature { name: "prefers-color-scheme".into(), value: value.into() };
    tab.page.emulate_media_features(vec![dark("dark")]).await.unwrap();
    assert_eq!(tab.eval::<String>(background).await, "rgb(13, 17, 23)");
    tab.page.emulate_media_features(vec![dark("light")]).await.unwrap();

    // Open the newest update, which records what it changed, and show its diff.
    let opened: bool = tab
        .eval("(r => { r?.click(); return !!r; })([...document.querySelectorAll('table.events tbody tr')].find(r => /update$/.test(r.querySelector('.c-action').textContent)))")
        .await;
    assert!(opened, "the demo's newest page has an update");
    tab.wait("!!document.querySelector('[data-testid=changes]')", "the diff").await;
    tab.wait(
        "!!document.querySelector('[data-testid=ledger-unavailable], [data-testid=verified]')",
        "the ledger check",
    )
    .await;
    tab.page
        .evaluate("document.querySelector('[data-testid=changes]').scrollIntoView({block: 'center'})")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let png = tab.page.screenshot(ScreenshotParams::builder().build()).await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{} bytes", png.len());
    if std::env::var("AUDITGRAPH_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/console.png");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &png).unwrap();
    }

    // The filter narrows the demo's events to one action.
    tab.fill("input[name=action]", "runbook.update").await;
    tab.wait("location.search === '?action=runbook.update'", "the filter").await;
    tab.wait(
        "[...document.querySelectorAll('table.events tbody .c-action')].every(c => c.textContent === 'runbook.update')",
        "the updates",
    )
    .await;
    tab.click("table.events tbody tr").await;
    tab.wait("!!document.querySelector('.drawer .drawer-body')", "the drawer").await;

    // Phone width: nothing overflows sideways, the drawer takes the screen.
    tab.page.execute(SetDeviceMetricsOverrideParams::new(390, 844, 2.0, true)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (page_width, overflow, drawer): (f64, f64, f64) = tab
        .eval("[innerWidth, document.documentElement.scrollWidth - innerWidth, document.querySelector('.drawer').getBoundingClientRect().width]")
        .await;
    assert_eq!(page_width, 390.0);
    assert!(overflow <= 0.0, "the page scrolls sideways by {overflow} px");
    assert_eq!(drawer, 390.0);
    tab.press("Escape").await;
    let table: (f64, f64) =
        tab.eval("(w => [w.scrollWidth, w.clientWidth])(document.querySelector('.table-wrap'))").await;
    assert!(table.0 <= table.1, "the table is wider than the phone: {table:?}");
    tab.assert_same_origin_only(&origin(&app));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drawer_verifies_the_inclusion_proof() {
    let Some(chromium) = Chromium::launch().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.key("audit.read,audit.write").await;
    seed(&app, &key, 9).await;
    let token = app.viewer_token(&key, json!({ "action": { "prefix": "billing." } }), 600).await;
    for credential in [&key, &token] {
        let tab = chromium.tab().await;
        tab.open(&format!("{}/console?action=billing.#token={credential}", origin(&app))).await;
        tab.wait_rows(1, "the plan change").await;
        tab.click("table.events tbody tr").await;
        tab.wait("!!document.querySelector('[data-testid=verified], [data-testid=unverified], [data-testid=ledger-unavailable]')", "the check").await;
        let text: String = tab.eval("document.querySelector('.drawer').innerText").await;
        assert!(tab.eval::<bool>("!!document.querySelector('[data-testid=verified]')").await, "{text}");
        assert!(text.contains("Sequence"), "{text}");
        assert!(text.contains("No witnesses: only the log's own key vouches for this checkpoint."), "{text}");
        tab.assert_same_origin_only(&origin(&app));
    }
}

/// A later event that renames the actor does not rewrite who did an earlier
/// one: the row and the drawer show the actor as recorded with the event, and
/// the current profile apart, labelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_author_is_the_actor_as_recorded() {
    let Some(chromium) = Chromium::launch().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.key("audit.read,audit.write").await;
    let actor =
        |name: &str| json!({ "type": "USER", "externalId": "u-9", "displayName": name, "email": "jane@example.com" });
    app.record(&key, json!([{ "action": "payment.refund", "actor": actor("Jane Doe") }])).await;
    app.record(&key, json!([{ "action": "user.heartbeat", "actor": actor("Bob Innocent") }])).await;
    let tab = chromium.tab().await;
    tab.open(&format!("{}/console?action=payment.#token={key}", origin(&app))).await;
    tab.wait_rows(1, "the refund").await;
    let author: String = tab.eval("document.querySelector('tbody tr .c-actor').textContent.trim()").await;
    assert_eq!(author, "Jane Doe");
    tab.click("table.events tbody tr").await;
    tab.wait(DRAWER_LOADED, "the drawer").await;
    tab.wait("!!document.querySelector('[data-testid=current-profile]')", "the current profile").await;
    let who: String =
        tab.eval("document.querySelector('.drawer section:nth-of-type(2) button.link').textContent.trim()").await;
    assert_eq!(who, "Jane Doe");
    let current: String = tab.eval("document.querySelector('[data-testid=current-profile]').textContent").await;
    assert!(current.contains("Bob Innocent") && current.contains("(current)"), "{current}");
}

/// After `eraseActor`, an erased value is marked erased, in the list and the
/// drawer, never shown as an empty string; the proof still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erased_values_show_as_erased() {
    let Some(chromium) = Chromium::launch().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.key("audit.read,audit.write").await;
    let admin = app.key("admin").await;
    app.record(
        &key,
        json!([{ "action": "payment.refund", "actor": { "type": "USER", "externalId": "u-9", "displayName": "Jane Doe",
            "email": "jane@example.com" }, "request": { "ipAddress": "203.0.113.9" },
            "metadata": { "phone": "+1 555 0100", "plan": "pro" }, "personal": ["metadata.phone"] }]),
    )
    .await;
    let id = app
        .data(
            &key,
            "{ auditEvents(first: 1, filter: {action: {eq: \"payment.refund\"}}) { nodes { actor { id } } } }",
            json!({}),
        )
        .await["auditEvents"]["nodes"][0]["actor"]["id"]
        .clone();
    app.data(&admin, "mutation($id: ID!) { eraseActor(id: $id) { eventsAffected } }", json!({ "id": id })).await;
    let tab = chromium.tab().await;
    tab.open(&format!("{}/console?action=payment.#token={key}", origin(&app))).await;
    tab.wait_rows(1, "the refund").await;
    let author: String = tab.eval("document.querySelector('tbody tr .c-actor').textContent.trim()").await;
    assert_eq!(author, "u-9erased");
    tab.click("table.events tbody tr").await;
    tab.wait(DRAWER_LOADED, "the drawer").await;
    tab.wait("!!document.querySelector('[data-testid=verified], [data-testid=unverified], [data-testid=ledger-unavailable]')", "the check").await;
    let text: String = tab.eval("document.querySelector('.drawer').innerText").await;
    assert!(tab.eval::<bool>("!!document.querySelector('[data-testid=verified]')").await, "{text}");
    let erased: i64 = tab.eval("document.querySelectorAll('.drawer .erased').length").await;
    // Who, email, IP address, and the note naming the metadata path.
    assert_eq!(erased, 4, "{text}");
    assert!(text.contains("metadata.phone"), "{text}");
    assert!(!text.contains("jane@example.com") && !text.contains("203.0.113.9"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drawer_says_whether_the_checkpoint_is_witnessed() {
    let Some(chromium) = Chromium::launch().await else { return };
    // Two witnesses, one of which never runs: witnessed with a quorum of one.
    let setup = crate::witnessing::Setup::new(Backend::Sqlite, 2, Some(1)).await;
    let witness = setup.start(0);
    seed(&setup.app, &setup.key, 9).await;
    let size = crate::witnessing::ledger(&setup.app, &setup.key).await["size"].as_str().unwrap().parse().unwrap();
    setup.witnessed(size).await;
    // The log grows past the witnessed checkpoint while the witness is away:
    // the drawer checks against the newest witnessed one, which holds the event.
    drop(witness);
    setup.app.record(&setup.key, json!([event("billing.later")])).await;
    let tab = chromium.tab().await;
    tab.open(&format!("{}/console?action=billing.plan#token={}", origin(&setup.app), setup.key)).await;
    tab.wait_rows(1, "the plan change").await;
    tab.click("table.events tbody tr").await;
    tab.wait("!!document.querySelector('[data-testid=witnessing]')", "the witnesses").await;
    let text: String = tab.eval("document.querySelector('.drawer').innerText").await;
    assert!(tab.eval::<bool>("!!document.querySelector('[data-testid=verified]')").await, "{text}");
    assert!(text.contains("✓ Witnessed: cosigned by 1 of 2 witnesses (quorum 1)"), "{text}");
    assert!(text.contains(&format!("against the signed checkpoint of size {size}")), "{text}");
    tab.assert_same_origin_only(&origin(&setup.app));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_downloads_the_current_filter() {
    use chromiumoxide::cdp::browser_protocol::browser::{SetDownloadBehaviorBehavior, SetDownloadBehaviorParams};
    let Some(chromium) = Chromium::launch().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.key("audit.read,audit.write").await;
    seed(&app, &key, 9).await;
    let downloads = std::env::temp_dir().join(format!("auditgraph-downloads-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&downloads).unwrap();
    chromium
        .browser
        .execute(
            SetDownloadBehaviorParams::builder()
                .behavior(SetDownloadBehaviorBehavior::Allow)
                .download_path(downloads.display().to_string())
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let tab = chromium.tab().await;
    tab.open(&format!("{}/console?action=session.#token={key}", origin(&app))).await;
    tab.wait(ROWS_LOADED, "the rows").await;
    for (button, file) in [("export-ndjson", "audit-events.ndjson"), ("export-csv", "audit-events.csv")] {
        tab.click(&format!("[data-testid={button}]")).await;
        tab.wait(
            "(document.querySelector('[data-testid=notice]')?.textContent || '').startsWith('Exported')",
            "the export",
        )
        .await;
        let path = downloads.join(file);
        for _ in 0..100 {
            if path.is_file() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(text.contains("session.create") && !text.contains("workspace.update"), "{file}:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&downloads);
    tab.assert_same_origin_only(&origin(&app));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_bar_shows_removable_chips_and_explains_a_bad_query() {
    let Some(chromium) = Chromium::launch().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.key("audit.read,audit.write").await;
    seed(&app, &key, 9).await;
    let tab = chromium.tab().await;
    tab.open(&format!("{}/console#token={key}", origin(&app))).await;
    tab.wait(ROWS_LOADED, "the rows").await;
    tab.fill("input[name=query]", r#"action:workspace.* "event number""#).await;
    tab.wait_rows(5, "the workspace updates").await;
    let chips: Vec<String> = tab.eval("[...document.querySelectorAll('.chip')].map(c => c.dataset.field)").await;
    assert_eq!(chips, ["action", "search"]);
    assert!(tab.rows().await.iter().all(|(_, action)| action == "workspace.update"));
    tab.click(".chip[data-field=action] button").await;
    tab.wait_rows(9, "every numbered event").await;
    let chips: Vec<String> = tab.eval("[...document.querySelectorAll('.chip')].map(c => c.dataset.field)").await;
    assert_eq!(chips, ["search"]);
    tab.fill("input[name=query]", "action:(x").await;
    tab.wait("!!document.querySelector('[data-testid=query-error]')", "the explanation").await;
    let text: String = tab.eval("document.querySelector('[data-testid=query-error]').textContent").await;
    assert!(text.contains("at character 8"), "{text}");
    tab.assert_same_origin_only(&origin(&app));
}

/// Events in environment `demo` at known minutes (counts 3, 1, 5 and 2 ten to
/// six minutes ago) of three actions, two outcomes and two actors.
async fn seed_minutes(app: &TestApp, key: &str) -> [chrono::DateTime<chrono::Utc>; 4] {
    use chrono::{DurationRound, TimeDelta};
    let minute = chrono::Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap();
    let at = |ago: i64| minute - TimeDelta::minutes(ago);
    let plan: [(i64, &[(&str, &str, &str)]); 4] = [
        (10, &[("session.create", "SUCCESS", "u-1"); 3]),
        (9, &[("workspace.update", "FAILURE", "u-2")]),
        (
            7,
            &[
                ("session.create", "SUCCESS", "u-2"),
                ("session.create", "SUCCESS", "u-2"),
                ("session.create", "FAILURE", "u-2"),
                ("workspace.update", "SUCCESS", "u-2"),
                ("workspace.update", "SUCCESS", "u-2"),
            ],
        ),
        (6, &[("billing.plan.change", "SUCCESS", "u-1"); 2]),
    ];
    let mut events = Vec::new();
    for (ago, list) in plan {
        for (i, (action, outcome, actor)) in list.iter().enumerate() {
            let mut e = event(action);
            e["outcome"] = json!(outcome);
            e["environment"] = json!("demo");
            e["actor"] = json!({ "type": "USER", "externalId": actor, "displayName": format!("User {actor}") });
            e["occurredAt"] = json!(crate::helpers::rfc3339(at(ago) + TimeDelta::seconds(10 + i as i64)));
            events.push(e);
        }
    }
    app.record(key, json!(events)).await;
    [at(10), at(9), at(7), at(6)]
}

/// The histogram's bars (start, count) as the page draws them.
async fn bars(tab: &Tab) -> Vec<(i64, i64)> {
    let drawn: Vec<(String, i64)> = tab
        .eval("[...document.querySelectorAll('[data-testid=histogram] rect.bar')].map(r => [r.dataset.start, +r.dataset.count])")
        .await;
    drawn
        .into_iter()
        .map(|(start, count)| (chrono::DateTime::parse_from_rfc3339(&start).unwrap().timestamp(), count))
        .collect()
}

async fn histogram_and_facets_narrow_the_list(backend: Backend) {
    let Some(chromium) = Chromium::launch().await else { return };
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let minutes = seed_minutes(&app, &key).await;
    let tab = chromium.tab().await;
    // The histogram follows the query string: the server's own events (the key's creation) are not counted.
    let url = format!("{}/console?query=environment:demo#token={key}", origin(&app));
    tab.open(&url).await;
    tab.wait_rows(11, "every event").await;
    tab.wait("document.querySelectorAll('[data-testid=histogram] rect.bar').length === 4", "four bars").await;

    // Over all time (ten minutes), a bar per non-empty minute, as the API counts them.
    assert_eq!(
        tab.eval::<String>("document.querySelector('[data-testid=histogram]').dataset.interval").await,
        "MINUTE"
    );
    let drawn = bars(&tab).await;
    let expected: Vec<(i64, i64)> = minutes.iter().map(|m| m.timestamp()).zip([3, 1, 5, 2]).collect();
    assert_eq!(drawn, expected);
    let stats = app
        .data(
            &key,
            "{ auditEventStats(query: \"environment:demo\", interval: MINUTE) { total buckets { start count } } }",
            json!({}),
        )
        .await;
    let api: Vec<(i64, i64)> = stats["auditEventStats"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let start = chrono::DateTime::parse_from_rfc3339(b["start"].as_str().unwrap()).unwrap().timestamp();
            (start, b["count"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(drawn, api);
    assert_eq!(tab.eval::<String>("document.querySelector('[data-testid=histogram-total]').textContent").await, "11");
    // Taller bars for more events.
    let heights: Vec<f64> = tab
        .eval("[...document.querySelectorAll('[data-testid=histogram] rect.bar')].map(r => +r.getAttribute('height'))")
        .await;
    assert!(heights[2] > heights[0] && heights[0] > heights[3] && heights[3] > heights[1], "{heights:?}");

    // The top values beside it, with their counts; actors by name.
    let facet = |name: &str| {
        format!(
            "[...document.querySelectorAll('.facet[data-facet={name}] li')].map(li => li.textContent.replace(/\\s+/g, ' ').trim())"
        )
    };
    assert_eq!(
        tab.eval::<Vec<String>>(&facet("action")).await,
        ["session.create6", "workspace.update3", "billing.plan.change2"]
    );
    assert_eq!(tab.eval::<Vec<String>>(&facet("outcome")).await, ["success9", "failure2"]);
    assert_eq!(tab.eval::<Vec<String>>(&facet("actor")).await, ["User u-26", "User u-15"]);

    // A drag from the first bar to the second narrows the range to their minutes.
    let centre = |i: usize| {
        format!(
            "(() => {{ const r = document.querySelectorAll('[data-testid=histogram] rect.bar')[{i}].getBoundingClientRect(); \
             return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        )
    };
    let (first, second): ((f64, f64), (f64, f64)) = (tab.eval(&centre(0)).await, tab.eval(&centre(1)).await);
    tab.drag(first, second).await;
    tab.wait_rows(4, "the events of the first two minutes").await;
    tab.wait("document.querySelectorAll('[data-testid=histogram] rect.bar').length === 2", "two bars").await;
    assert_eq!(bars(&tab).await, [(minutes[0].timestamp(), 3), (minutes[1].timestamp(), 1)]);
    assert_eq!(
        tab.eval::<String>("document.querySelector('input[name=to]').value").await,
        minutes[2].checked_sub_signed(chrono::TimeDelta::minutes(1)).unwrap().format("%Y-%m-%dT%H:%M").to_string()
    );
    tab.open(&url).await;
    tab.wait_rows(11, "every event again").await;
    tab.wait("document.querySelectorAll('[data-testid=histogram] rect.bar').length === 4", "four bars again").await;

    // A click on the five-event bar narrows the range to that minute.
    tab.click("[data-testid=histogram] rect.bar[data-count='5']").await;
    tab.wait("location.search.includes('range=custom')", "the range in the URL").await;
    tab.wait_rows(5, "the events of that minute").await;
    tab.wait("document.querySelectorAll('[data-testid=histogram] rect.bar').length === 1", "one bar").await;
    assert_eq!(bars(&tab).await, [(minutes[2].timestamp(), 5)]);
    let from: String = tab.eval("document.querySelector('input[name=from]').value").await;
    assert_eq!(from, minutes[2].format("%Y-%m-%dT%H:%M").to_string());

    // A facet adds its value to the filter.
    tab.wait("!!document.querySelector('.facet[data-facet=action] button[data-value=\"session.create\"]')", "facet")
        .await;
    tab.wait(&format!("{}.join() === 'session.create3,workspace.update2'", facet("action")), "facets of the minute")
        .await;
    tab.click(".facet[data-facet=action] button[data-value=\"session.create\"]").await;
    tab.wait("new URLSearchParams(location.search).get('action') === 'session.create'", "the action filter").await;
    tab.wait_rows(3, "the session events of that minute").await;
    assert!(tab.rows().await.iter().all(|(_, action)| action == "session.create"));
    tab.click(".facet[data-facet=outcome] button[data-value=FAILURE]").await;
    tab.wait_rows(1, "the failed session event").await;
    assert_eq!(tab.eval::<String>("document.querySelector('select[name=outcome]').value").await, "FAILURE");
    tab.assert_same_origin_only(&origin(&app));
}

async fn alert_rules_page_lists_rules_and_when_they_fired(backend: Backend) {
    let Some(chromium) = Chromium::launch().await else { return };
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write,keys.manage").await;
    let create = "mutation($i: CreateAlertRuleInput!) { createAlertRule(input: $i) { id } }";
    let loud = json!({ "name": "Two failures", "query": "outcome:failure", "threshold": 2, "windowSeconds": 60 });
    let quiet = json!({ "name": "Many exports", "query": "action:export.*", "threshold": 1000 });
    let loud =
        app.data(&key, create, json!({ "i": loud })).await["createAlertRule"]["id"].as_str().unwrap().to_string();
    let quiet =
        app.data(&key, create, json!({ "i": quiet })).await["createAlertRule"]["id"].as_str().unwrap().to_string();
    let failure =
        json!({ "action": "session.login", "outcome": "FAILURE", "actor": { "type": "USER", "externalId": "u-1" } });
    app.record(&key, json!([failure.clone(), failure])).await;
    let rules = "{ alertRules { id name lastFiredAt } }";
    let mut fired = String::new();
    crate::helpers::eventually(Duration::from_secs(5), "the rule to fire", async || {
        let data = app.data(&key, rules, json!({})).await;
        let rule = data["alertRules"].as_array().unwrap().iter().find(|r| r["id"] == json!(loud)).cloned().unwrap();
        fired = rule["lastFiredAt"].as_str().unwrap_or_default().to_string();
        !fired.is_empty()
    })
    .await;

    let tab = chromium.tab().await;
    tab.open(&format!("{}/console#token={key}", origin(&app))).await;
    tab.wait(ROWS_LOADED, "the events").await;
    tab.click("[data-testid=nav-rules]").await;
    tab.wait("document.querySelectorAll('.rules-table tbody tr').length === 2", "the rules").await;
    assert_eq!(tab.eval::<String>("location.hash").await, "#alert-rules");
    let listed: Vec<(String, String, String)> = tab
        .eval(
            "[...document.querySelectorAll('.rules-table tbody tr')].map(r => [r.dataset.id, r.querySelector('.r-name').textContent, \
             r.querySelector('.r-fired time')?.dateTime ?? r.querySelector('.r-fired').textContent])",
        )
        .await;
    let mut listed = listed;
    listed.sort();
    let mut expected =
        vec![(loud, "Two failures".to_string(), fired), (quiet, "Many exports".to_string(), "never".to_string())];
    expected.sort();
    assert_eq!(listed, expected);
    // Back to the events.
    tab.click("[data-testid=nav-events]").await;
    tab.wait(ROWS_LOADED, "the events again").await;
    tab.assert_same_origin_only(&origin(&app));

    // A key that may not see rules is told so, and the page still works.
    let reader = app.key("audit.read").await;
    let tab = chromium.tab().await;
    tab.open(&format!("{}/console#token={reader}", origin(&app))).await;
    tab.wait(ROWS_LOADED, "the events").await;
    tab.click("[data-testid=nav-rules]").await;
    tab.wait("!!document.querySelector('[data-testid=rules-forbidden]')", "the explanation").await;
    tab.assert_same_origin_only(&origin(&app));
}

crate::helpers::backend_tests!(histogram_and_facets_narrow_the_list, alert_rules_page_lists_rules_and_when_they_fired);
