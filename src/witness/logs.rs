//! The logs a witness cosigns: each origin with the note verifier keys it
//! trusts for it (`--log ORIGIN=VKEY`, repeatable; an origin may have several
//! keys, e.g. while a log rotates its key).

use std::collections::BTreeMap;

use signed_note::{StandardVerifier, VerificationError, Verifier, Verifiers};

/// One log: its trusted keys, and the lock that serializes its submissions.
pub struct Log {
    keys: Vec<StandardVerifier>,
    /// Held from reading the log's state to writing the new one, so two
    /// racing submissions cannot both advance from the same old size.
    pub lock: tokio::sync::Mutex<()>,
}

impl Log {
    pub fn keys(&self) -> TrustedKeys<'_> {
        TrustedKeys(&self.keys)
    }
}

/// A log's keys, looked up by name and ID as the signed-note crate asks;
/// signatures by any other key are unknown, and ignored.
pub struct TrustedKeys<'a>(&'a [StandardVerifier]);

impl Verifiers for TrustedKeys<'_> {
    fn verifier(&self, name: &str, id: u32) -> Result<&dyn Verifier, VerificationError> {
        self.0
            .iter()
            .find(|key| key.name() == name && key.key_id() == id)
            .map(|key| key as &dyn Verifier)
            .ok_or_else(|| VerificationError::UnknownKey { name: name.to_string(), id })
    }
}

/// Reads `--log` values, `ORIGIN=VKEY`, split at the first `=` (a key's
/// base64 may end in `=`).
pub fn parse(values: &[String]) -> Result<BTreeMap<String, Log>, String> {
    let mut logs: BTreeMap<String, Vec<StandardVerifier>> = BTreeMap::new();
    for value in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        let (origin, key) =
            value.split_once('=').ok_or_else(|| format!("--log `{value}`: expected ORIGIN=VERIFIER_KEY"))?;
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(format!("--log `{value}`: the origin must be one non-empty line"));
        }
        let key = StandardVerifier::new(key.trim())
            .map_err(|e| format!("--log `{value}`: not an Ed25519 note verifier key ({e})"))?;
        let keys = logs.entry(origin.to_string()).or_default();
        if !keys.iter().any(|k| k.name() == key.name() && k.key_id() == key.key_id()) {
            keys.push(key);
        }
    }
    if logs.is_empty() {
        return Err("name at least one log to witness with --log ORIGIN=VERIFIER_KEY".into());
    }
    Ok(logs.into_iter().map(|(origin, keys)| (origin, Log { keys, lock: tokio::sync::Mutex::new(()) })).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::NoteSigner;

    #[test]
    fn logs_are_split_at_the_first_equals_sign() {
        let (a, _) = NoteSigner::generate("a.example/log").unwrap();
        let (b, _) = NoteSigner::generate("b.example").unwrap();
        let logs = parse(&[
            format!("a.example/log={}", a.verifier_key()),
            format!("a.example/log={}", b.verifier_key()),
            format!("a.example/log={}", a.verifier_key()),
            format!("x=y/z={}", b.verifier_key()),
        ]);
        // The origin ends at the first '=': `x`, whose key `y/z=…` does not parse.
        assert!(logs.is_err());
        let logs = parse(&[
            format!("a.example/log={}", a.verifier_key()),
            format!("a.example/log={}", b.verifier_key()),
            format!("a.example/log={}", a.verifier_key()),
        ])
        .unwrap();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs["a.example/log"].keys.len(), 2);
        for bad in [vec![], vec!["no-equals".to_string()], vec![format!("={}", a.verifier_key())], vec!["o=k".into()]] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }
}
