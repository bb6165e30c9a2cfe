//! The witnesses of the tenants' logs (`--witness URL#VKEY`, `--witness-quorum
//! K`): who they are, and what they vouched for. Every served checkpoint
//! carries the stored cosignatures of these witnesses for its size, and is
//! `witnessed` once a quorum of them cosigned it. (Submitting checkpoints to
//! them is [`super::witness_submissions`].)

use std::collections::HashMap;

use sea_orm::ConnectionTrait;

use super::ledger::SignedCheckpoint;
use crate::domain::ids::TenantId;
use crate::error::Result;
use crate::ledger::Checkpoint;
use crate::ledger::cosignature::CosignatureVerifier;
use crate::store::witnesses as stored;

/// One witness: where checkpoints are submitted, and its cosigner key.
#[derive(Clone, Debug)]
pub struct Witness {
    /// `<submission prefix>/add-checkpoint`.
    pub add_checkpoint_url: String,
    pub key: CosignatureVerifier,
}

/// The configured witnesses and how many of them make a checkpoint witnessed.
#[derive(Clone, Debug, Default)]
pub struct WitnessSet {
    witnesses: Vec<Witness>,
    quorum: usize,
}

impl WitnessSet {
    /// Reads `--witness` entries (`URL#VERIFIER_KEY`, split at the first `#`)
    /// and `--witness-quorum` (default: every witness).
    pub fn parse(entries: &[String], quorum: Option<usize>) -> Result<Self, String> {
        let mut witnesses: Vec<Witness> = Vec::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let (url, key) = entry.split_once('#').ok_or_else(|| {
                format!("--witness `{entry}`: expected URL#VERIFIER_KEY (the witness's submission prefix and key)")
            })?;
            let parsed = reqwest::Url::parse(url).map_err(|e| format!("--witness `{entry}`: bad URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(format!("--witness `{entry}`: the URL must be http:// or https:// with a host"));
            }
            let key = CosignatureVerifier::from_verifier_key(key).map_err(|e| format!("--witness `{entry}`: {e}"))?;
            if witnesses.iter().any(|w| w.key.label() == key.label()) {
                return Err(format!("--witness: the key {} is given twice", key.label()));
            }
            let add_checkpoint_url = format!("{}/add-checkpoint", url.trim_end_matches('/'));
            witnesses.push(Witness { add_checkpoint_url, key });
        }
        let quorum = match quorum {
            None => witnesses.len(),
            Some(_) if witnesses.is_empty() => return Err("--witness-quorum needs at least one --witness".into()),
            Some(k) if k == 0 || k > witnesses.len() => {
                return Err(format!(
                    "--witness-quorum must be from 1 to the {} witnesses given, not {k}",
                    witnesses.len()
                ));
            }
            Some(k) => k,
        };
        Ok(WitnessSet { witnesses, quorum })
    }

    pub fn witnesses(&self) -> &[Witness] {
        &self.witnesses
    }

    pub fn is_empty(&self) -> bool {
        self.witnesses.is_empty()
    }

    /// How many cosignatures make a checkpoint witnessed.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// Adds to each checkpoint the stored cosignatures of these witnesses for
    /// its size that verify (one statement for all of them), and says whether
    /// they reach the quorum. Without witnesses, nothing is read.
    pub async fn attach(
        &self,
        db: &impl ConnectionTrait,
        tenant: TenantId,
        checkpoints: &mut [SignedCheckpoint],
    ) -> Result<()> {
        if self.witnesses.is_empty() || checkpoints.is_empty() {
            return Ok(());
        }
        let sizes: Vec<u64> = checkpoints.iter().map(|c| c.size).collect();
        let mut stored: HashMap<(u64, String), String> = stored::cosignatures(db, tenant, &sizes)
            .await?
            .into_iter()
            .map(|row| ((row.size as u64, row.witness), row.signature))
            .collect();
        for checkpoint in checkpoints {
            let text =
                Checkpoint { origin: checkpoint.origin.clone(), size: checkpoint.size, root: checkpoint.root }.body();
            let lines: Vec<String> = self
                .witnesses
                .iter()
                .filter_map(|w| {
                    stored
                        .remove(&(checkpoint.size, w.key.label()))
                        .filter(|line| w.key.verify_line(&text, line).is_ok())
                })
                .collect();
            checkpoint.note.extend(lines.iter().map(String::as_str));
            checkpoint.witnessed = lines.len() >= self.quorum;
            checkpoint.cosignatures = lines;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::cosignature::Cosigner;

    #[test]
    fn witnesses_are_read_from_url_and_key() {
        let (a, _) = Cosigner::generate("a.example").unwrap();
        let (b, _) = Cosigner::generate("b.example").unwrap();
        let entries = vec![
            format!("https://a.example/witness/#{}", a.verifier_key()),
            format!("http://127.0.0.1:7380#{}", b.verifier_key()),
        ];
        let set = WitnessSet::parse(&entries, None).unwrap();
        assert_eq!(set.quorum(), 2);
        assert_eq!(set.witnesses()[0].add_checkpoint_url, "https://a.example/witness/add-checkpoint");
        assert_eq!(set.witnesses()[1].add_checkpoint_url, "http://127.0.0.1:7380/add-checkpoint");
        assert_eq!(WitnessSet::parse(&entries, Some(1)).unwrap().quorum(), 1);
        assert!(WitnessSet::parse(&[], None).unwrap().is_empty());

        for (bad, quorum) in [
            (vec![format!("https://a.example{}", a.verifier_key())], None),
            (vec![format!("ftp://a.example#{}", a.verifier_key())], None),
            (vec![format!("a.example#{}", a.verifier_key())], None),
            (vec!["https://a.example#a.example+00000000+AA==".to_string()], None),
            (vec![entries[0].clone(), entries[0].replace("a.example/witness", "c.example")], None),
            (entries.clone(), Some(0)),
            (entries.clone(), Some(3)),
            (vec![], Some(1)),
        ] {
            assert!(WitnessSet::parse(&bad, quorum).is_err(), "{bad:?} {quorum:?}");
        }
    }
}
