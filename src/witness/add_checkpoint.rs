//! `add-checkpoint` (`c2sp.org/tlog-witness`): the checks, in the order the
//! spec gives them, each with its status; then the state is advanced and the
//! checkpoint cosigned.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use signed_note::{Note, NoteError};

use super::logs::Log;
use super::state::{Cosigned, State};
use crate::ledger::add_checkpoint::{AddCheckpoint, SIZE_MEDIA_TYPE, size_body};
use crate::ledger::cosignature::Cosigner;
use crate::ledger::{Checkpoint, verify_consistency};

/// Why a checkpoint was not cosigned.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the request is off the format, or its old size is above the checkpoint's.
    BadRequest(String),
    /// 403: no valid signature by a key trusted for the origin, or a bad one.
    Forbidden(String),
    /// 404: the origin is not a log this witness cosigns.
    UnknownLog(String),
    /// 409: the old size is not the size this witness cosigned last (which it names).
    Conflict(u64),
    /// 422: the consistency proof fails, or an empty tree's root is not the empty root.
    Inconsistent(String),
    /// 500: the state could not be written.
    Internal(String),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
            Refusal::UnknownLog(_) => StatusCode::NOT_FOUND,
            Refusal::Conflict(_) => StatusCode::CONFLICT,
            Refusal::Inconsistent(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The answer's media type and body: the size a conflict names, else
    /// what went wrong (an internal failure's detail is for the log only).
    pub fn body(&self) -> (&'static str, String) {
        match self {
            Refusal::Conflict(size) => (SIZE_MEDIA_TYPE, size_body(*size)),
            Refusal::Internal(_) => (TEXT, "internal error\n".into()),
            Refusal::BadRequest(why)
            | Refusal::Forbidden(why)
            | Refusal::UnknownLog(why)
            | Refusal::Inconsistent(why) => (TEXT, format!("{why}\n")),
        }
    }
}

/// The media type of every answer but a conflict's.
pub const TEXT: &str = "text/plain; charset=utf-8";

/// A witness: its key, the logs it cosigns, and what it cosigned last.
pub struct Witness {
    pub cosigner: Cosigner,
    pub logs: BTreeMap<String, Log>,
    pub state: State,
}

impl Witness {
    /// Checks a request and, if it holds, records the checkpoint and returns
    /// the cosignature line. `now` is the cosignature's time, in POSIX seconds.
    pub async fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<String, Refusal> {
        let request = AddCheckpoint::parse(body).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        let origin = request.note.split('\n').next().unwrap_or_default();
        let log = self.logs.get(origin).ok_or_else(|| Refusal::UnknownLog(format!("unknown log `{origin}`")))?;
        let note = Note::from_bytes(request.note.as_bytes())
            .map_err(|_| Refusal::BadRequest("the checkpoint is not a well-formed signed note".into()))?;
        let (signatures, _) = note.verify(&log.keys()).map_err(|err| {
            Refusal::Forbidden(match err {
                NoteError::UnverifiedNote => {
                    format!("the checkpoint carries no signature by a key trusted for `{origin}`")
                }
                NoteError::InvalidSignature { name, id } => format!("invalid signature by {name}+{id:08x}"),
                other => format!("invalid signature: {other}"),
            })
        })?;
        let text = String::from_utf8(note.text().to_vec()).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        let checkpoint = Checkpoint::parse(&text).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        if request.old_size > checkpoint.size {
            return Err(Refusal::BadRequest(format!(
                "the old size {} is above the checkpoint's size {}",
                request.old_size, checkpoint.size
            )));
        }

        let _serialized = log.lock.lock().await;
        let known = self.state.get(origin);
        let (known_size, known_root) = known.map_or((0, tlog_tiles::EMPTY_HASH.0), |c| (c.size, c.root));
        if request.old_size != known_size {
            return Err(Refusal::Conflict(known_size));
        }
        if checkpoint.size == 0 && checkpoint.root != tlog_tiles::EMPTY_HASH.0 {
            return Err(Refusal::Inconsistent("a checkpoint of size 0 must have the empty tree's root".into()));
        }
        verify_consistency(request.old_size, checkpoint.size, &request.proof, &known_root, &checkpoint.root)
            .map_err(|e| Refusal::Inconsistent(format!("bad consistency proof: {e}")))?;

        let cosignature = self.cosigner.cosign(&text, now).map_err(|e| Refusal::Internal(e.to_string()))?;
        let log_signatures: String =
            signatures.iter().map(|s| String::from_utf8_lossy(&s.to_bytes()).into_owned()).collect();
        let note = format!("{text}\n{log_signatures}{cosignature}");
        let cosigned = Cosigned { size: checkpoint.size, root: checkpoint.root, note };
        self.state.put(origin, cosigned).await.map_err(|e| Refusal::Internal(e.to_string()))?;
        Ok(cosignature)
    }
}
