//! `auditgraph witness`: a witness (`c2sp.org/tlog-witness`) for auditgraph
//! servers or any C2SP log. It cosigns a log's checkpoint only if it is
//! consistent with the last one it cosigned for that log, and remembers that
//! one across restarts. It serves
//!
//! - `POST /add-checkpoint`: the submission API;
//! - `GET /<hex SHA-256 of the origin>/checkpoint`: the latest checkpoint it
//!   cosigned for a log, with the log's signature and its cosignature (the
//!   spec's monitoring API).

pub mod add_checkpoint;
pub mod logs;
pub mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

use crate::domain::clock::{Clock as _, SystemClock};
use crate::ledger::cosignature::Cosigner;
use add_checkpoint::{Refusal, TEXT, Witness};

/// The largest request body: 63 proof lines and a checkpoint with well over
/// the 16 signatures (post-quantum ones included) a note must be allowed.
const MAX_BODY: usize = 256 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(clap::Args, Debug, Clone)]
pub struct WitnessArgs {
    /// The witness's private key (`auditgraph keygen --witness` writes one).
    #[arg(long, env = "AUDITGRAPH_WITNESS_KEY")]
    pub key: PathBuf,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, env = "AUDITGRAPH_WITNESS_LISTEN", default_value = "127.0.0.1:7380")]
    pub listen: SocketAddr,
    /// A log to cosign, `ORIGIN=VERIFIER_KEY` (split at the first `=`;
    /// repeatable, several keys per origin allowed; the environment variable
    /// takes entries separated by spaces).
    #[arg(long = "log", env = "AUDITGRAPH_WITNESS_LOG", value_delimiter = ' ', required = true)]
    pub logs: Vec<String>,
    /// Where the witness keeps what it cosigned (created when missing).
    #[arg(long, env = "AUDITGRAPH_WITNESS_STATE", default_value = "witness-state.json")]
    pub state: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Builds the witness from its arguments: reads its key, its logs and its state.
pub fn open(args: &WitnessArgs) -> Result<Witness, WitnessError> {
    let text = std::fs::read_to_string(&args.key)
        .map_err(|e| WitnessError::Usage(format!("cannot read --key {}: {e}", args.key.display())))?;
    let cosigner = Cosigner::from_private_key(&text)
        .map_err(|e| WitnessError::Usage(format!("--key {}: {e}", args.key.display())))?;
    let logs = logs::parse(&args.logs).map_err(WitnessError::Usage)?;
    let state = state::State::open(&args.state)?;
    Ok(Witness { cosigner, logs, state })
}

/// The witness's routes.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add))
        .route("/{origin_hash}/checkpoint", get(latest))
        .with_state(witness)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
}

/// Serves until SIGINT or SIGTERM.
pub async fn run(args: WitnessArgs) -> Result<(), WitnessError> {
    let witness = Arc::new(open(&args)?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| WitnessError::Bind { addr: args.listen, source })?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, key = %witness.cosigner.verifier_key(), logs = witness.logs.len(), "witness serving");
    eprintln!("auditgraph witness {} listening on http://{addr}", witness.cosigner.verifier_key());
    axum::serve(listener, router(witness)).with_graceful_shutdown(crate::signals::shutdown()).await?;
    Ok(())
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response()
}

async fn add(AxumState(witness): AxumState<Arc<Witness>>, body: Bytes) -> Response {
    let now = SystemClock.now().timestamp().max(1) as u64;
    match witness.add_checkpoint(&body, now).await {
        Ok(cosignature) => text(StatusCode::OK, TEXT, cosignature),
        Err(refusal) => {
            match &refusal {
                Refusal::Internal(detail) => tracing::error!(error = %detail, "add-checkpoint failed"),
                other => tracing::info!(status = other.status().as_u16(), refusal = ?other, "add-checkpoint refused"),
            }
            let (content_type, body) = refusal.body();
            text(refusal.status(), content_type, body)
        }
    }
}

async fn latest(AxumState(witness): AxumState<Arc<Witness>>, Path(origin_hash): Path<String>) -> Response {
    let found = witness.logs.keys().find(|origin| hex(&Sha256::digest(origin.as_bytes())) == origin_hash);
    match found.and_then(|origin| witness.state.get(origin)) {
        Some(cosigned) => text(StatusCode::OK, TEXT, cosigned.note),
        None => text(StatusCode::NOT_FOUND, TEXT, "this witness has cosigned no checkpoint of that log\n".into()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
