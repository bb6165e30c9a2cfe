//! `GET /graphql/ws`: subscriptions over WebSocket (`graphql-transport-ws` and
//! `graphql-ws`). The key comes from the `connection_init` payload or from the
//! upgrade request's headers. The server pings every keepalive interval and
//! drops a client that stays silent for three, so vanished clients free their
//! subscriptions; each key may hold a bounded number of connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;

use super::AppState;
use crate::auth::{self, TENANT_HEADER};
use crate::domain::ids::ApiKeyId;
use crate::error::Error;
use crate::graphql::{Caller, Loaders};

/// Open WebSocket connections per API key, bounded.
pub struct Connections {
    limit: usize,
    open: Mutex<HashMap<ApiKeyId, usize>>,
}

/// One counted connection; uncounted when dropped with the connection's data.
pub struct ConnectionSlot {
    connections: Arc<Connections>,
    key: ApiKeyId,
}

impl Connections {
    pub fn new(limit: usize) -> Self {
        Self { limit, open: Mutex::new(HashMap::new()) }
    }

    fn acquire(self: &Arc<Self>, key: ApiKeyId) -> Result<ConnectionSlot, Error> {
        let mut open = self.open.lock().unwrap();
        let count = open.entry(key).or_default();
        if *count >= self.limit {
            return Err(Error::RateLimited(format!(
                "this API key already holds {} WebSocket connections, the most allowed; close one first",
                self.limit
            )));
        }
        *count += 1;
        Ok(ConnectionSlot { connections: self.clone(), key })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().unwrap();
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// A header-like entry of the `connection_init` payload, at its top level or
/// under `headers`, matched case-insensitively.
fn payload_entry<'a>(payload: &'a Value, name: &str) -> Option<&'a str> {
    let find = |map: &'a serde_json::Map<String, Value>| {
        map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str())
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
    let header_tenant = headers.get(TENANT_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    // A bad key on the upgrade request is refused before upgrading.
    if header_secret.is_some()
        && let Err(err) = app.services.auth.authenticate(header_secret.as_deref(), header_tenant.as_deref()).await
    {
        return (StatusCode::UNAUTHORIZED, err.to_string()).into_response();
    }
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // Clients send small protocol messages: small buffers keep an idle
        // connection cheap, and a bound on messages keeps input bounded.
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .max_message_size(1024 * 1024)
        .on_upgrade(move |socket| serve(socket, app, protocol, header_secret, header_tenant))
}

async fn serve(
    socket: WebSocket,
    app: AppState,
    protocol: GraphQLProtocol,
    header_secret: Option<String>,
    header_tenant: Option<String>,
) {
    let keepalive = app.settings.ws_keepalive;
    let (mut to_client, from_client) = socket.split();
    // Anything the client sends (pongs included) proves it is still there.
    let last_heard = Arc::new(Mutex::new(Instant::now()));
    let heard = last_heard.clone();
    let from_client = from_client.inspect(move |_| *heard.lock().unwrap() = Instant::now());
    let (outgoing, mut outgoing_rx) = futures_channel::mpsc::channel::<Message>(16);

    let services = app.services.clone();
    let connections = app.ws_connections.clone();
    let graphql = GraphQLWebSocket::new_with_pair(outgoing, from_client, app.schema.clone(), protocol)
        .on_connection_init(move |payload| async move {
            let secret = payload_secret(&payload).or(header_secret);
            let tenant = payload_entry(&payload, TENANT_HEADER).map(str::to_string).or(header_tenant);
            let caller = services.auth.authenticate(secret.as_deref(), tenant.as_deref()).await?;
            let Some(requester) = caller else {
                return Err(async_graphql::Error::new(
                    "an API key is required: send {\"Authorization\": \"Bearer <key>\"} in the connection_init payload",
                ));
            };
            let slot = connections.acquire(requester.key_id)?;
            let mut data = Data::default();
            data.insert(Caller(Some(requester)));
            data.insert(Loaders::new(&services.store));
            data.insert(slot);
            Ok(data)
        })
        .serve();

    let writer = async move {
        let mut ping = tokio::time::interval(keepalive);
        ping.tick().await;
        loop {
            tokio::select! {
                message = outgoing_rx.next() => match message {
                    Some(message) => {
                        if to_client.send(message).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
                _ = ping.tick() => {
                    let silent = last_heard.lock().unwrap().elapsed();
                    if silent > keepalive * 3 || to_client.send(Message::Ping(Default::default())).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), to_client.close()).await;
    };
    // When the protocol ends, its sender drops and the writer flushes what is
    // left (a close frame, say); when the client is gone, the protocol is
    // dropped and its subscriptions with it.
    tokio::pin!(graphql, writer);
    tokio::select! {
        _ = &mut graphql => writer.await,
        _ = &mut writer => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_the_key_in_the_payload() {
        assert_eq!(payload_secret(&json!({"Authorization": "Bearer agk_a"})).as_deref(), Some("agk_a"));
        assert_eq!(payload_secret(&json!({"headers": {"x-api-key": "agk_b"}})).as_deref(), Some("agk_b"));
        assert_eq!(payload_secret(&json!({"authorization": "Basic x"})), None);
        assert_eq!(payload_secret(&json!(null)), None);
    }

    #[test]
    fn bounds_connections_per_key() {
        let connections = Arc::new(Connections::new(2));
        let key = ApiKeyId::generate();
        let a = connections.acquire(key).unwrap();
        let _b = connections.acquire(key).unwrap();
        assert!(connections.acquire(key).is_err());
        assert!(connections.acquire(ApiKeyId::generate()).is_ok());
        drop(a);
        assert!(connections.acquire(key).is_ok());
    }
}
