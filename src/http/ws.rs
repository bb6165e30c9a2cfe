//! `GET /graphql/ws`: subscriptions over WebSocket (`graphql-transport-ws` and
//! `graphql-ws`). The key comes from the `connection_init` payload or from the
//! upgrade request's headers. The server pings every keepalive interval and
//! drops a client that stays silent for three, so vanished clients free their
//! subscriptions; each key may hold a bounded number of connections.
//!
//! A socket is held to what an HTTP request is held to: `connection_init` must
//! come within `--ws-init-timeout-secs` (else close 4408), a refused one closes
//! with 4403, and every operation is admitted on its own (see
//! [`crate::graphql::operation_gate`]), at most `--ws-max-operations` at once.
//! When the key is revoked (here, at once; on another replica, found within
//! half of `--auth-cache-ms`) its operations end with `UNAUTHENTICATED` and
//! the socket closes with 4403.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::watch;
use tracing::Instrument;

use super::AppState;
use super::rate_limit::RateLimiter;
use crate::auth::{self, Authenticator, TENANT_HEADER};
use crate::domain::ids::ApiKeyId;
use crate::error::Error;
use crate::graphql::operation_gate::{Gate, OperationGate, revoked_error};
use crate::http::status::status_of;
use crate::service::Services;
use crate::service::session::Session;

/// Close codes of `graphql-transport-ws`.
const UNAUTHORIZED: u16 = 4401;
const FORBIDDEN: u16 = 4403;
const INIT_TIMEOUT: u16 = 4408;
/// What async-graphql closes with for an operation sent before the handshake.
const HANDSHAKE_INCOMPLETE: u16 = 1011;
/// How long a revoked socket waits for its operations to send their last word.
const REVOKED_GRACE: Duration = Duration::from_secs(1);

/// Open WebSocket connections per API key, bounded; each open socket can be
/// told that its key was revoked.
pub struct Connections {
    limit: usize,
    open: Mutex<HashMap<ApiKeyId, HashMap<u64, watch::Sender<bool>>>>,
    next_socket: AtomicU64,
    sweeping: AtomicBool,
}

/// One counted connection; uncounted when dropped with the connection's data.
pub struct ConnectionSlot {
    connections: Arc<Connections>,
    key: ApiKeyId,
    socket: u64,
}

impl Connections {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            open: Mutex::new(HashMap::new()),
            next_socket: AtomicU64::new(0),
            sweeping: AtomicBool::new(false),
        }
    }

    /// Counts a socket of `key`, which `revoked` tells when the key is revoked.
    fn acquire(self: &Arc<Self>, key: ApiKeyId, revoked: watch::Sender<bool>) -> Result<ConnectionSlot, Error> {
        let mut open = self.open.lock().unwrap();
        let sockets = open.entry(key).or_default();
        if sockets.len() >= self.limit {
            return Err(Error::RateLimited(format!(
                "this API key already holds {} WebSocket connections, the most allowed; close one first",
                self.limit
            )));
        }
        let socket = self.next_socket.fetch_add(1, Ordering::Relaxed);
        sockets.insert(socket, revoked);
        Ok(ConnectionSlot { connections: self.clone(), key, socket })
    }

    /// Tells every open socket of `key` that it was revoked.
    fn revoke(&self, key: ApiKeyId) {
        if let Some(sockets) = self.open.lock().unwrap().get(&key) {
            for revoked in sockets.values() {
                revoked.send_replace(true);
            }
        }
    }

    fn open_keys(&self) -> Vec<ApiKeyId> {
        self.open.lock().unwrap().keys().copied().collect()
    }

    /// Starts, once, the task that ends the sockets of revoked keys: at once
    /// for a revocation made by this process, and within half the auth cache
    /// time for one made elsewhere (checked in one query for all open keys).
    fn watch_revocations(self: &Arc<Self>, auth: Arc<Authenticator>) {
        if self.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let connections: Weak<Connections> = Arc::downgrade(self);
        let every = (auth.ttl() / 2).clamp(Duration::from_millis(100), Duration::from_secs(30));
        let mut revocations = auth.revocations();
        tokio::spawn(async move {
            let mut sweep = tokio::time::interval(every);
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let key = tokio::select! {
                    revoked = revocations.recv() => match revoked {
                        Ok(key) => Some(key),
                        // Missed announcements: the next sweep finds those keys.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => None,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                    _ = sweep.tick() => None,
                };
                let Some(connections) = connections.upgrade() else { break };
                match key {
                    Some(key) => connections.revoke(key),
                    None => {
                        let keys = connections.open_keys();
                        drop(connections);
                        // Each one found is forgotten and announced, which ends its sockets.
                        if let Err(err) = auth.find_revoked(&keys).await {
                            tracing::warn!(error = %err, "could not check the keys of open WebSockets");
                        }
                    }
                }
            }
        });
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().unwrap();
        if let Some(sockets) = open.get_mut(&self.key) {
            sockets.remove(&self.socket);
            if sockets.is_empty() {
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

/// Admits the operations of one socket.
struct SocketGate {
    services: Services,
    rate_limiter: Option<Arc<RateLimiter>>,
    secret: String,
    tenant: Option<String>,
    revoked: watch::Receiver<bool>,
    operations: Arc<AtomicUsize>,
    max_operations: usize,
    timeout: Duration,
}

/// A running operation's place on its socket.
struct OperationPlace(Arc<AtomicUsize>);

impl Drop for OperationPlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[async_trait::async_trait]
impl OperationGate for SocketGate {
    async fn admit(&self) -> Result<Session, Error> {
        if *self.revoked.borrow() {
            return Err(revoked_error());
        }
        let requester = self
            .services
            .auth
            .authenticate(Some(&self.secret), self.tenant.as_deref())
            .await?
            .ok_or(Error::Unauthenticated("an API key is required"))?;
        if let Some(limiter) = &self.rate_limiter
            && let Err(wait) = limiter.check(requester.key_id, self.services.store.now())
        {
            let retry_after = wait.as_secs_f64().ceil().max(1.0) as u64;
            return Err(Error::RateLimited(format!("too many requests for this API key; retry in {retry_after} s")));
        }
        Ok(Session::new(&self.services, Some(requester)))
    }

    fn place(&self) -> Result<Box<dyn Send>, Error> {
        let taken = self.operations.fetch_add(1, Ordering::AcqRel);
        let place = OperationPlace(self.operations.clone());
        if taken >= self.max_operations {
            return Err(Error::RateLimited(format!(
                "this connection already runs {} operations, the most allowed; complete one first",
                self.max_operations
            )));
        }
        Ok(Box::new(place))
    }

    fn revoked(&self) -> BoxFuture<'static, ()> {
        let mut revoked = self.revoked.clone();
        Box::pin(async move {
            if revoked.wait_for(|r| *r).await.is_err() {
                // The socket is gone: nothing will be revoked any more.
                std::future::pending::<()>().await;
            }
        })
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }
}

pub async fn upgrade(
    State(app): State<AppState>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let header_secret = match auth::secret_from_headers(&headers) {
        Ok(secret) => secret.map(str::to_string),
        Err(err) => return (status_of(&err), err.to_string()).into_response(),
    };
    let header_tenant = headers.get(TENANT_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    // A bad key on the upgrade request is refused before upgrading.
    if header_secret.is_some()
        && let Err(err) = app.services.auth.authenticate(header_secret.as_deref(), header_tenant.as_deref()).await
    {
        return (status_of(&err), err.to_string()).into_response();
    }
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // Clients send small protocol messages: small buffers keep an idle
        // connection cheap, and a bound on messages keeps input bounded.
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .max_message_size(1024 * 1024)
        // The connection stays in the upgrade request's span: its log lines
        // and spans belong to that request's trace.
        .on_upgrade(move |socket| {
            serve(socket, app, protocol, header_secret, header_tenant).instrument(tracing::Span::current())
        })
}

/// What the connection handshake tells the writer.
#[derive(Default)]
struct Handshake {
    /// `connection_init` arrived.
    started: AtomicBool,
    /// Why it was refused, if it was.
    refused: Mutex<Option<String>>,
}

fn close(code: u16, reason: &str) -> Message {
    let mut reason = reason.to_string();
    // A close frame's reason holds at most 123 bytes.
    while reason.len() > 123 {
        reason.pop();
    }
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
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
    let handshake = Arc::new(Handshake::default());
    let (revoked_tx, mut revoked) = watch::channel(false);
    let gate_revoked = revoked.clone();
    let operations = Arc::new(AtomicUsize::new(0));

    let on_init = {
        let handshake = handshake.clone();
        let operations = operations.clone();
        let app = app.clone();
        move |payload: Value| async move {
            handshake.started.store(true, Ordering::Release);
            let refused = |err: async_graphql::Error| {
                *handshake.refused.lock().unwrap() = Some(err.message.clone());
                err
            };
            let secret = payload_secret(&payload).or(header_secret);
            let tenant = payload_entry(&payload, TENANT_HEADER).map(str::to_string).or(header_tenant);
            let services = &app.services;
            let caller = services
                .auth
                .authenticate(secret.as_deref(), tenant.as_deref())
                .await
                .map_err(|e| refused(e.into()))?;
            let (Some(requester), Some(secret)) = (caller, secret) else {
                return Err(refused(async_graphql::Error::new(
                    "an API key is required: send {\"Authorization\": \"Bearer <key>\"} in the connection_init payload",
                )));
            };
            let slot = app.ws_connections.acquire(requester.key_id, revoked_tx).map_err(|e| refused(e.into()))?;
            app.ws_connections.watch_revocations(services.auth.clone());
            let gate: Gate = Arc::new(SocketGate {
                services: services.clone(),
                rate_limiter: app.rate_limiter.clone(),
                secret,
                tenant,
                revoked: gate_revoked,
                operations,
                max_operations: app.settings.ws_max_operations,
                timeout: app.settings.request_timeout,
            });
            let mut data = Data::default();
            data.insert(gate);
            data.insert(slot);
            Ok(data)
        }
    };
    let graphql = GraphQLWebSocket::new_with_pair(outgoing, from_client, app.schema.clone(), protocol)
        .on_connection_init(on_init)
        .serve();

    let init_timeout = app.settings.ws_init_timeout;
    let writer = async move {
        let mut ping = tokio::time::interval(keepalive);
        ping.tick().await;
        let init_deadline = tokio::time::sleep(init_timeout);
        tokio::pin!(init_deadline);
        let mut revoked_at: Option<Instant> = None;
        let mut last_word = tokio::time::interval(Duration::from_millis(20));
        let farewell = loop {
            tokio::select! {
                message = outgoing_rx.next() => match message {
                    Some(Message::Close(frame)) => break Some(rewrite_close(frame, &handshake)),
                    Some(message) => {
                        if to_client.send(message).await.is_err() {
                            break None;
                        }
                    }
                    None => break handshake.refused.lock().unwrap().as_deref().map(|r| close(FORBIDDEN, r)),
                },
                _ = ping.tick() => {
                    let silent = last_heard.lock().unwrap().elapsed();
                    if silent > keepalive * 3 || to_client.send(Message::Ping(Default::default())).await.is_err() {
                        break None;
                    }
                }
                _ = &mut init_deadline, if !handshake.started.load(Ordering::Acquire) => {
                    break Some(close(INIT_TIMEOUT, "Connection initialisation timeout"));
                }
                Ok(()) = revoked.changed(), if revoked_at.is_none() => {
                    revoked_at = Some(Instant::now());
                }
                _ = last_word.tick(), if revoked_at.is_some() => {}
            }
            // A revoked key's operations send their `UNAUTHENTICATED` first.
            if let Some(at) = revoked_at
                && (operations.load(Ordering::Acquire) == 0 || at.elapsed() > REVOKED_GRACE)
            {
                while let Ok(message) = outgoing_rx.try_recv() {
                    if matches!(message, Message::Close(_)) || to_client.send(message).await.is_err() {
                        break;
                    }
                }
                break Some(close(FORBIDDEN, "the API key was revoked"));
            }
        };
        let closing = async {
            match farewell {
                Some(frame) => to_client.send(frame).await,
                None => to_client.close().await,
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), closing).await;
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

/// The close frame the protocol chose, with the codes of
/// `graphql-transport-ws`: a refused `connection_init` is 4403 (Forbidden),
/// an operation before the handshake 4401 (Unauthorized).
fn rewrite_close(frame: Option<CloseFrame>, handshake: &Handshake) -> Message {
    if let Some(reason) = handshake.refused.lock().unwrap().as_deref() {
        return close(FORBIDDEN, reason);
    }
    match frame {
        Some(frame) if frame.code == HANDSHAKE_INCOMPLETE => close(UNAUTHORIZED, "Unauthorized"),
        frame => Message::Close(frame),
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
        let signal = || watch::channel(false).0;
        let a = connections.acquire(key, signal()).unwrap();
        let _b = connections.acquire(key, signal()).unwrap();
        assert!(connections.acquire(key, signal()).is_err());
        assert!(connections.acquire(ApiKeyId::generate(), signal()).is_ok());
        drop(a);
        assert!(connections.acquire(key, signal()).is_ok());
    }

    #[test]
    fn tells_every_socket_of_a_revoked_key() {
        let connections = Arc::new(Connections::new(5));
        let (key, other) = (ApiKeyId::generate(), ApiKeyId::generate());
        let (tx1, rx1) = watch::channel(false);
        let (tx2, rx2) = watch::channel(false);
        let (tx3, rx3) = watch::channel(false);
        let _slots = [
            connections.acquire(key, tx1).unwrap(),
            connections.acquire(key, tx2).unwrap(),
            connections.acquire(other, tx3).unwrap(),
        ];
        connections.revoke(key);
        assert!(*rx1.borrow() && *rx2.borrow());
        assert!(!*rx3.borrow());
    }
}
