//! The web console and the GraphiQL page, served from assets compiled into the
//! binary (`console/dist`, built from `console/src`). Pages carry a
//! Content-Security-Policy that allows this origin only: no inline script, no
//! request to any other origin. Assets are named by content hash and cached
//! for good; pages are revalidated.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rust_embed::{EmbeddedFile, RustEmbed};

use super::AppState;

#[derive(RustEmbed)]
#[folder = "console/dist/"]
struct Assets;

/// Which page: each gets its own policy.
#[derive(Clone, Copy)]
enum Page {
    Console,
    GraphiQL,
}

impl Page {
    fn file(self) -> &'static str {
        match self {
            Page::Console => "console.html",
            Page::GraphiQL => "graphiql.html",
        }
    }

    /// `'self'` covers `ws:`/`wss:` on this host too (CSP Level 3), so the live
    /// tail and GraphiQL's subscriptions need nothing more. GraphiQL's
    /// stylesheet embeds its fonts and icons as `data:` URLs.
    fn policy(self, frame_ancestors: &str) -> String {
        let extra = match self {
            Page::Console => "",
            Page::GraphiQL => " font-src 'self' data:; img-src 'self' data:;",
        };
        format!(
            "default-src 'self';{extra} object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
        )
    }
}

/// `frame-ancestors`: this origin and the origins the operator trusts with CORS,
/// so a product listed there can embed the console with a viewer token.
fn frame_ancestors(app: &AppState) -> String {
    std::iter::once("'self'")
        .chain(app.settings.cors_origins.iter().map(String::as_str).filter(|o| !o.contains([';', ',', ' '])))
        .collect::<Vec<_>>()
        .join(" ")
}

fn etag(file: &EmbeddedFile) -> String {
    let hash = file.metadata.sha256_hash();
    format!("\"{}\"", hash[..16].iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("woff2") => "font/woff2",
        Some("svg") => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    }
}

/// An embedded file, or 304 when the browser holds this version.
fn serve(name: &str, cache: &'static str, request: &HeaderMap) -> Option<Response> {
    let file = Assets::get(name)?;
    let tag = etag(&file);
    let fresh = request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == tag);
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, file.data.into_owned()).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(tag) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, tag);
    }
    Some(response)
}

fn page(app: &AppState, page: Page, request: &HeaderMap) -> Response {
    let Some(mut response) = serve(page.file(), "no-cache", request) else {
        return (StatusCode::NOT_FOUND, "the console was not built into this binary").into_response();
    };
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&page.policy(&frame_ancestors(app))) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `GET /`: the console.
pub async fn root() -> Redirect {
    Redirect::temporary("/console")
}

/// `GET /console`: the console's page (its filters live in the query string,
/// an embedding page's viewer token in the fragment).
pub async fn console(State(app): State<AppState>, request: HeaderMap) -> Response {
    page(&app, Page::Console, &request)
}

/// The GraphiQL page, for `GET /graphql` from a browser.
pub fn graphiql(app: &AppState, request: &HeaderMap) -> Response {
    page(app, Page::GraphiQL, request)
}

/// `GET /console/assets/{name}`: scripts and styles, named by content hash.
pub async fn asset(Path(name): Path<String>, request: HeaderMap) -> Response {
    serve(&format!("assets/{name}"), "public, max-age=31536000, immutable", &request)
        .unwrap_or_else(|| (StatusCode::NOT_FOUND, "no such asset").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_pages_and_their_assets_are_embedded() {
        for page in [Page::Console, Page::GraphiQL] {
            let html = Assets::get(page.file()).expect("built page");
            let html = std::str::from_utf8(&html.data).unwrap();
            assert!(!html.contains("%SCRIPT%") && !html.contains("<script>"), "{html}");
            for reference in html.split('"').filter(|s| s.starts_with("/console/assets/")) {
                assert!(Assets::get(&reference["/console/".len()..]).is_some(), "{reference} is missing");
            }
        }
    }

    #[test]
    fn policies_allow_this_origin_only() {
        let policy = Page::Console.policy("'self' https://app.example");
        assert!(policy.starts_with("default-src 'self';"));
        assert!(!policy.contains("unsafe") && !policy.contains('*'));
        assert!(policy.ends_with("frame-ancestors 'self' https://app.example"));
    }
}
