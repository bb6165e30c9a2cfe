//! One GraphQL subscription over `graphql-transport-ws`: the WebSocket
//! handshake on a connection reqwest opens and upgrades (so `https://` URLs,
//! proxies and TLS roots behave as for queries), `connection_init` with the
//! key, one `subscribe`, then its `next` payloads.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL};
use reqwest::header::{SEC_WEBSOCKET_VERSION, UPGRADE};
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};

use super::connection::Connection;
use super::error::{ClientError, ServerError};

const PROTOCOL: &str = "graphql-transport-ws";
/// The one operation this client runs on its socket.
const ID: &str = "1";
/// How long the server may take to acknowledge `connection_init`.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// Events are small; a bound keeps a misbehaving peer from growing memory.
const MAX_MESSAGE_BYTES: usize = 16 << 20;

pub struct Subscription {
    socket: WebSocketStream<reqwest::Upgraded>,
}

impl Subscription {
    /// Connects, authenticates and subscribes; the server then sends each
    /// event recorded from about now on.
    pub async fn start(connection: &Connection, query: &str, variables: Value) -> Result<Self, ClientError> {
        let socket = handshake(connection).await?;
        let mut subscription = Subscription { socket };
        subscription.send(json!({ "type": "connection_init", "payload": connection.init_payload() })).await?;
        let first = tokio::time::timeout(ACK_TIMEOUT, subscription.message())
            .await
            .map_err(|_| connection.unexpected("no connection_ack within 30 s"))??;
        if first["type"] != "connection_ack" {
            return Err(connection.unexpected(format!("`{first}` before connection_ack")));
        }
        let subscribe = json!({ "id": ID, "type": "subscribe", "payload": { "query": query, "variables": variables } });
        subscription.send(subscribe).await?;
        Ok(subscription)
    }

    /// The next result's `data`; `None` once the server completed the
    /// subscription. Errors the server sends end it with those errors.
    pub async fn next(&mut self) -> Result<Option<Value>, ClientError> {
        let message = self.message().await?;
        match message["type"].as_str() {
            Some("next") => match ServerError::list(&message["payload"]) {
                Some(errors) => Err(ClientError::Server(errors)),
                None => Ok(Some(message["payload"]["data"].clone())),
            },
            Some("error") => {
                let errors = message["payload"].as_array().map(|e| e.iter().map(ServerError::from_json).collect());
                Err(ClientError::Server(errors.unwrap_or_default()))
            }
            Some("complete") => Ok(None),
            _ => Err(ClientError::Closed { code: None, reason: format!("unexpected message {message}") }),
        }
    }

    /// Ends the subscription and closes the socket, politely but without
    /// waiting long for a peer that no longer answers.
    pub async fn stop(mut self) {
        let goodbye = async {
            self.send(json!({ "id": ID, "type": "complete" })).await?;
            self.socket.close(None).await.map_err(closed)
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), goodbye).await;
    }

    async fn send(&mut self, message: Value) -> Result<(), ClientError> {
        self.socket.send(Message::Text(message.to_string().into())).await.map_err(closed)
    }

    /// The next protocol message, answering the protocol's pings (tungstenite
    /// answers WebSocket pings itself while reading).
    async fn message(&mut self) -> Result<Value, ClientError> {
        loop {
            let frame = match self.socket.next().await {
                Some(Ok(frame)) => frame,
                Some(Err(err)) => return Err(closed(err)),
                None => return Err(ClientError::Closed { code: None, reason: String::new() }),
            };
            let text = match frame {
                Message::Text(text) => text,
                Message::Close(frame) => {
                    let (code, reason) =
                        frame.map(|f| (Some(u16::from(f.code)), f.reason.to_string())).unwrap_or_default();
                    return Err(ClientError::Closed { code, reason });
                }
                _ => continue,
            };
            let message: Value = serde_json::from_str(text.as_str())
                .map_err(|e| ClientError::Closed { code: None, reason: format!("a message that is not JSON: {e}") })?;
            match message["type"].as_str() {
                Some("ping") => self.send(json!({ "type": "pong" })).await?,
                Some("pong") => {}
                _ => return Ok(message),
            }
        }
    }
}

fn closed(err: tungstenite::Error) -> ClientError {
    ClientError::Closed { code: None, reason: err.to_string() }
}

/// The opening handshake of RFC 6455 as an HTTP/1.1 upgrade. A refused key
/// is answered before upgrading, with 401 and the reason.
async fn handshake(connection: &Connection) -> Result<WebSocketStream<reqwest::Upgraded>, ClientError> {
    let key = generate_key();
    let response = connection
        .request(reqwest::Method::GET, connection.url("graphql/ws"))
        .header(CONNECTION, "Upgrade")
        .header(UPGRADE, "websocket")
        .header(SEC_WEBSOCKET_VERSION, "13")
        .header(SEC_WEBSOCKET_KEY, &key)
        .header(SEC_WEBSOCKET_PROTOCOL, PROTOCOL)
        .send()
        .await
        .map_err(|e| connection.unreachable(&e))?;
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED {
        let reason = response.text().await.unwrap_or_default();
        let errors = serde_json::from_str(&reason).ok().and_then(|body: Value| ServerError::list(&body));
        return Err(ClientError::Server(
            errors.unwrap_or_else(|| vec![ServerError::new("UNAUTHENTICATED", reason.trim())]),
        ));
    }
    if status != StatusCode::SWITCHING_PROTOCOLS {
        let body: String = response.text().await.unwrap_or_default().chars().take(200).collect();
        return Err(connection.unexpected(format!("HTTP {status} to a WebSocket upgrade: {body}")));
    }
    let headers = response.headers();
    let accept = derive_accept_key(key.as_bytes());
    if headers.get(SEC_WEBSOCKET_ACCEPT) != Some(&HeaderValue::from_str(&accept).expect("base64 is a header value")) {
        return Err(connection.unexpected("a WebSocket upgrade with a wrong Sec-WebSocket-Accept"));
    }
    if headers.get(SEC_WEBSOCKET_PROTOCOL).and_then(|p| p.to_str().ok()) != Some(PROTOCOL) {
        return Err(connection.unexpected(format!("a WebSocket that does not speak {PROTOCOL}")));
    }
    let upgraded = response.upgrade().await.map_err(|e| connection.unreachable(&e))?;
    let config = WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE_BYTES));
    Ok(WebSocketStream::from_raw_socket(upgraded, Role::Client, Some(config)).await)
}
