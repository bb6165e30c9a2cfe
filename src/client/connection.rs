//! A server as the client reaches it: its URLs, the key, and GraphQL over HTTP.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode, Url};
use serde_json::{Value, json};

use super::args::ServerArgs;
use super::error::{ClientError, ServerError, chain};
use crate::auth::TENANT_HEADER;

/// How long one query may take (a page of 500 events is far quicker).
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Connection {
    http: reqwest::Client,
    base: Url,
    key: String,
    tenant: Option<String>,
}

impl Connection {
    pub fn new(args: &ServerArgs) -> Result<Self, ClientError> {
        let mut base = Url::parse(args.url.trim())
            .map_err(|e| ClientError::Usage(format!("--url: `{}` is not a URL: {e}", args.url)))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::Usage(format!("--url: `{}` is not an http:// or https:// URL", args.url)));
        }
        // A server behind a path prefix (https://host/audit) keeps it.
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("auditgraph/", env!("CARGO_PKG_VERSION")))
            // A WebSocket is an HTTP/1.1 upgrade, whatever TLS could negotiate.
            .http1_only()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| ClientError::Usage(chain(&e)))?;
        Ok(Self { http, base, key: args.key.trim().to_string(), tenant: args.tenant.clone() })
    }

    /// `path` under the base URL.
    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    /// A request carrying the key (and the tenant, when one is named).
    pub fn request(&self, method: reqwest::Method, url: Url) -> RequestBuilder {
        let request = self.http.request(method, url).bearer_auth(&self.key);
        match &self.tenant {
            Some(tenant) => request.header(TENANT_HEADER, tenant),
            None => request,
        }
    }

    /// The key as a `connection_init` payload carries it.
    pub fn init_payload(&self) -> Value {
        let mut payload = json!({ "Authorization": format!("Bearer {}", self.key) });
        if let Some(tenant) = &self.tenant {
            payload[TENANT_HEADER] = json!(tenant);
        }
        payload
    }

    /// Runs a GraphQL query; its `data`, or the server's errors.
    pub async fn query(&self, query: &str, variables: Value) -> Result<Value, ClientError> {
        let url = self.url("graphql");
        let response = self
            .request(reqwest::Method::POST, url.clone())
            .timeout(QUERY_TIMEOUT)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.unreachable(&e))?;
        let body: Value = serde_json::from_str(&text).map_err(|_| {
            let shown: String = text.chars().take(200).collect();
            self.unexpected(format!("HTTP {status} with a body that is not GraphQL's JSON: {shown}"))
        })?;
        if let Some(errors) = ServerError::list(&body) {
            return Err(ClientError::Server(errors));
        }
        match body.get("data") {
            Some(data) if status == StatusCode::OK && data.is_object() => Ok(data.clone()),
            _ => Err(self.unexpected(format!("HTTP {status} without data or errors"))),
        }
    }

    pub fn unreachable(&self, err: &reqwest::Error) -> ClientError {
        ClientError::Unreachable { url: self.base.to_string(), reason: chain(err) }
    }

    pub fn unexpected(&self, reason: impl Into<String>) -> ClientError {
        ClientError::Unexpected { url: self.base.to_string(), reason: reason.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(url: &str) -> Result<Connection, ClientError> {
        Connection::new(&ServerArgs { url: url.into(), key: "agk_x".into(), tenant: None })
    }

    #[test]
    fn paths_go_under_the_base_url() {
        assert_eq!(
            connection("http://127.0.0.1:8080").unwrap().url("graphql").as_str(),
            "http://127.0.0.1:8080/graphql"
        );
        assert_eq!(connection("https://h/audit").unwrap().url("graphql/ws").as_str(), "https://h/audit/graphql/ws");
        assert_eq!(connection("https://h/audit/").unwrap().url("graphql").as_str(), "https://h/audit/graphql");
    }

    #[test]
    fn refuses_what_is_not_an_http_url() {
        for url in ["127.0.0.1:8080", "ftp://h/", "not a url"] {
            assert!(matches!(connection(url), Err(ClientError::Usage(m)) if m.starts_with("--url")), "{url}");
        }
    }
}
