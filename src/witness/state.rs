//! What a witness remembers of each log: the size and root of the checkpoint
//! it cosigned last, and that checkpoint with its cosignature. Kept in one
//! JSON file, replaced whole on every change (written to a temporary file in
//! the same directory, flushed to disk, renamed over the old one, and the
//! directory flushed), so a crash leaves the old state or the new one, never
//! a mix. A state file that cannot be read stops the witness from starting:
//! starting afresh would let a log roll back.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::ledger::{Hash, decode_hash, encode_hash};

/// The latest checkpoint a witness cosigned for one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    pub size: u64,
    pub root: Hash,
    /// The checkpoint with the log's verified signatures and the witness's cosignature.
    pub note: String,
}

#[derive(Serialize, Deserialize)]
struct LogRecord {
    size: u64,
    root: String,
    note: String,
}

#[derive(Serialize, Deserialize, Default)]
struct FileFormat {
    logs: BTreeMap<String, LogRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the witness state {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write the witness state {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// The state file and its contents as last written.
pub struct State {
    path: PathBuf,
    logs: Mutex<BTreeMap<String, Cosigned>>,
    /// One write at a time, so each write holds every log's latest record.
    writing: tokio::sync::Mutex<()>,
}

impl State {
    /// Reads the state at `path`; a missing file is a witness that has cosigned nothing yet.
    pub fn open(path: &Path) -> Result<State, StateError> {
        let read_error = |reason: String| StateError::Read { path: path.display().to_string(), reason };
        let logs = match std::fs::read(path) {
            Ok(bytes) => {
                let file: FileFormat = serde_json::from_slice(&bytes).map_err(|e| read_error(e.to_string()))?;
                file.logs
                    .into_iter()
                    .map(|(origin, record)| {
                        let root = decode_hash(&record.root)
                            .map_err(|e| read_error(format!("the root of `{origin}`: {e}")))?;
                        Ok((origin, Cosigned { size: record.size, root, note: record.note }))
                    })
                    .collect::<Result<_, StateError>>()?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(read_error(e.to_string())),
        };
        Ok(State { path: path.to_path_buf(), logs: Mutex::new(logs), writing: tokio::sync::Mutex::new(()) })
    }

    /// The latest cosigned checkpoint of `origin`, if any.
    pub fn get(&self, origin: &str) -> Option<Cosigned> {
        self.logs.lock().unwrap().get(origin).cloned()
    }

    /// Records `cosigned` for `origin`: on disk first, then in memory, so
    /// nothing is answered from a state that a crash could lose.
    pub async fn put(&self, origin: &str, cosigned: Cosigned) -> Result<(), StateError> {
        let _writing = self.writing.lock().await;
        let mut next = self.logs.lock().unwrap().clone();
        next.insert(origin.to_string(), cosigned);
        let file = FileFormat {
            logs: next
                .iter()
                .map(|(origin, c)| {
                    let record = LogRecord { size: c.size, root: encode_hash(&c.root), note: c.note.clone() };
                    (origin.clone(), record)
                })
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file).unwrap_or_default();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || replace(&path, &bytes))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|written| written)
            .map_err(|source| StateError::Write { path: self.path.display().to_string(), source })?;
        *self.logs.lock().unwrap() = next;
        Ok(())
    }
}

/// Replaces the file at `path` with `bytes` atomically and durably.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    // The rename itself is on disk only once the directory is.
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn state_survives_reopening_and_refuses_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let state = State::open(&path).unwrap();
        assert_eq!(state.get("a"), None);
        let a = Cosigned { size: 5, root: [1; 32], note: "a\n5\nroot\n\n— k sig\n".into() };
        let b = Cosigned { size: 9, root: [2; 32], note: "b".into() };
        state.put("a", a.clone()).await.unwrap();
        state.put("b", b.clone()).await.unwrap();
        let reopened = State::open(&path).unwrap();
        assert_eq!((reopened.get("a"), reopened.get("b")), (Some(a), Some(b)));
        // Only the state file is left behind: no temporary files.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        std::fs::write(&path, b"{\"logs\": {\"a\": {\"size\": 1}}}").unwrap();
        assert!(matches!(State::open(&path), Err(StateError::Read { .. })));
        std::fs::write(&path, b"{\"logs\": {\"a\": {\"size\": 1, \"root\": \"AAAA\", \"note\": \"\"}}}").unwrap();
        assert!(matches!(State::open(&path), Err(StateError::Read { .. })));
    }
}
