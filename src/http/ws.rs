//! `GET /graphql/ws`: subscriptions over WebSocket (`graphql-transport-ws` and
//! `graphql-ws`). The key comes from the `connection_init` payload or from the
//! upgrade request's headers.

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use crate::auth::{self, TENANT_HEADER};
use crate::graphql::{Caller, Loaders};

/// A header-like entry of the `connection_init` payload, at its top level or
/// under `headers`, matched case-insensitively.
fn payload_entry<'a>(payload: &'a Value, name: &str) -> Option<&'a str> {
    let find = |map: &'a serde_json::Map<String, Value>| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    };
    let map = payload.as_object()?;
    find(map).or_else(|| map.get("headers").and_then(Value::as_object).and_then(find))
}

/// The secret in a `connection_init` payload.
fn payload_secret(payload: &Value) -> Option<String> {
    if let Some(value) = payload_entry(payload, "authorization") {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string());
    }
    payload_entry(payload, "x-api-key").map(|v| v.trim().to_string())
}

pub async fn upgrade(
    State(app): State<AppState>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let header_secret = match auth::secret_from_headers(&headers) {
        Ok(secret) => secret.map(str::to_string),
        Err(err) => return (StatusCode::UNAUTHORIZED, err.to_string()).into_response(),
    };
    let header_tenant = headers
        .get(TENANT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // A bad key on the upgrade request is refused before upgrading.
    if header_secret.is_some()
        && let Err(err) = app
            .services
            .auth
            .authenticate(header_secret.as_deref(), header_tenant.as_deref())
            .await
    {
        return (StatusCode::UNAUTHORIZED, err.to_string()).into_response();
    }
    let keepalive = app.settings.ws_keepalive;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let services = app.services.clone();
            GraphQLWebSocket::new(socket, app.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let secret = payload_secret(&payload).or(header_secret);
                    let tenant = payload_entry(&payload, TENANT_HEADER).map(str::to_string).or(header_tenant);
                    let caller = services
                        .auth
                        .authenticate(secret.as_deref(), tenant.as_deref())
                        .await
                        .map_err(async_graphql::Error::from)?;
                    if caller.is_none() {
                        return Err(async_graphql::Error::new(
                            "an API key is required: send {\"Authorization\": \"Bearer <key>\"} in the connection_init payload",
                        ));
                    }
                    let mut data = Data::default();
                    data.insert(Caller(caller));
                    data.insert(Loaders::new(&services.store));
                    Ok(data)
                })
                .keepalive_timeout(keepalive)
                .serve()
                .await
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_the_key_in_the_payload() {
        assert_eq!(
            payload_secret(&json!({"Authorization": "Bearer agk_a"})).as_deref(),
            Some("agk_a")
        );
        assert_eq!(
            payload_secret(&json!({"headers": {"x-api-key": "agk_b"}})).as_deref(),
            Some("agk_b")
        );
        assert_eq!(payload_secret(&json!({"authorization": "Basic x"})), None);
        assert_eq!(payload_secret(&json!(null)), None);
    }
}
