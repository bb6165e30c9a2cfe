//! Witness cosignatures: `cosignature/v1` (`c2sp.org/tlog-cosignature`),
//! timestamped Ed25519 signatures over a checkpoint, carried as signed-note
//! signature lines (signature type 0x04).
//!
//! The signed-note crate parses notes and lines and computes key IDs; the
//! cosignature's own message (`cosignature/v1\ntime <t>\n` + checkpoint text)
//! and the timestamp in front of the signature are this module's.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use signed_note::{Note, NoteError, Signature, VerificationError, Verifier, Verifiers};

use super::{LedgerError, Result};

/// The signature type of timestamped Ed25519 cosignatures.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// The signature type of plain Ed25519 note keys (accepted for a witness's own key).
const ALG_ED25519: u8 = 0x01;
/// A cosignature: an 8-byte big-endian timestamp, then the 64-byte Ed25519 signature.
const SIGNATURE_LEN: usize = 8 + 64;

/// The message a `cosignature/v1` signs: the header line, the time line, then
/// the checkpoint note's text (every line, extension lines included).
pub fn signed_message(timestamp: u64, checkpoint_text: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}").into_bytes()
}

fn malformed(what: &str, why: impl fmt::Display) -> LedgerError {
    LedgerError::Malformed(format!("malformed {what}: {why}"))
}

fn check_name(name: &str) -> Result<()> {
    if !signed_note::is_key_name_valid(name) {
        return Err(LedgerError::Malformed(format!(
            "a key name must be non-empty, without spaces or '+', not {name:?}"
        )));
    }
    Ok(())
}

/// The key ID of a cosigner: SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4].
fn key_id(name: &str, public: &VerifyingKey) -> u32 {
    signed_note::key_id(name, &[&[ALG_COSIGNATURE_V1], public.as_bytes().as_slice()].concat())
}

/// A witness's signing key.
#[derive(Clone)]
pub struct Cosigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl Cosigner {
    /// A new key named `name`, from the operating system's random source.
    /// Returns it and its private key text
    /// (`PRIVATE+KEY+<name>+<hex id>+<base64(0x04 ‖ seed)>`), to keep secret.
    pub fn generate(name: &str) -> Result<(Self, String)> {
        Self::from_seed(name, &super::random_seed()?)
    }

    pub(crate) fn from_seed(name: &str, seed: &[u8; 32]) -> Result<(Self, String)> {
        check_name(name)?;
        let key = SigningKey::from_bytes(seed);
        let id = key_id(name, &key.verifying_key());
        let text =
            format!("PRIVATE+KEY+{name}+{id:08x}+{}", BASE64.encode([&[ALG_COSIGNATURE_V1], seed.as_slice()].concat()));
        Ok((Self { name: name.to_string(), id, key }, text))
    }

    /// Reads a private key text: a cosigner key (type 0x04, as
    /// [`Cosigner::generate`] writes it) or a plain Ed25519 note key (type
    /// 0x01, as Go's `note.GenerateKey` writes it), whose key then cosigns.
    /// The ID in the text must be the one its type gives.
    pub fn from_private_key(text: &str) -> Result<Self> {
        let what = "cosigner private key";
        // `PRIVATE+KEY+<name>+<id>+<key>`: the base64 may hold '+' too.
        let mut parts = text.trim().splitn(5, '+');
        let (Some("PRIVATE"), Some("KEY"), Some(name), Some(id), Some(key)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed(what, "expected PRIVATE+KEY+<name>+<hex id>+<base64 key>"));
        };
        check_name(name)?;
        let key = BASE64.decode(key).map_err(|err| malformed(what, err))?;
        let (alg, seed) = key.split_first().ok_or_else(|| malformed(what, "no key data"))?;
        let seed: &[u8; 32] = seed.try_into().map_err(|_| malformed(what, "an Ed25519 seed has 32 bytes"))?;
        let signing = SigningKey::from_bytes(seed);
        let public = signing.verifying_key();
        let expected = match *alg {
            ALG_COSIGNATURE_V1 => key_id(name, &public),
            ALG_ED25519 => signed_note::key_id(name, &[&[ALG_ED25519], public.as_bytes().as_slice()].concat()),
            other => return Err(malformed(what, format!("signature type {other:#04x} is not Ed25519"))),
        };
        if id.len() != 8 || u32::from_str_radix(id, 16).ok() != Some(expected) {
            return Err(malformed(what, "the key ID does not match the key"));
        }
        Ok(Self { name: name.to_string(), id: key_id(name, &public), key: signing })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// `<name>+<hex id>+<base64(0x04 ‖ public key)>`: what logs and clients are configured with.
    pub fn verifier_key(&self) -> String {
        let public = [&[ALG_COSIGNATURE_V1], self.key.verifying_key().as_bytes().as_slice()].concat();
        format!("{}+{:08x}+{}", self.name, self.id, BASE64.encode(public))
    }

    /// The cosignature line (`— <name> <base64(key id ‖ timestamp ‖ signature)>\n`)
    /// over a checkpoint note's text, as of `timestamp` (POSIX seconds).
    pub fn cosign(&self, checkpoint_text: &str, timestamp: u64) -> Result<String> {
        if timestamp > i64::MAX as u64 {
            return Err(LedgerError::OutOfRange(format!("a cosignature timestamp of {timestamp} is too large")));
        }
        let signature = self.key.sign(&signed_message(timestamp, checkpoint_text));
        let bytes = [timestamp.to_be_bytes().as_slice(), &signature.to_bytes()].concat();
        let line = Signature::new(self.name.clone(), self.id, bytes).map_err(|err| malformed("key name", err))?;
        String::from_utf8(line.to_bytes()).map_err(|err| LedgerError::Malformed(err.to_string()))
    }
}

impl fmt::Debug for Cosigner {
    /// Names the key, never shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cosigner({}+{:08x})", self.name, self.id)
    }
}

/// Checks the cosignatures of one witness.
#[derive(Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
    text: String,
}

impl CosignatureVerifier {
    /// Reads a witness verifier key, `<name>+<hex id>+<base64(0x04 ‖ public key)>`.
    pub fn from_verifier_key(text: &str) -> Result<Self> {
        let what = "witness verifier key";
        let text = text.trim();
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed(what, "expected <name>+<hex id>+<base64 key>"));
        };
        check_name(name)?;
        let key = BASE64.decode(key).map_err(|err| malformed(what, err))?;
        let (alg, public) = key.split_first().ok_or_else(|| malformed(what, "no key data"))?;
        if *alg != ALG_COSIGNATURE_V1 {
            return Err(malformed(
                what,
                format!("signature type {alg:#04x} is not {ALG_COSIGNATURE_V1:#04x} (cosignature/v1)"),
            ));
        }
        let public: &[u8; 32] = public.try_into().map_err(|_| malformed(what, "an Ed25519 key has 32 bytes"))?;
        let key = VerifyingKey::from_bytes(public).map_err(|err| malformed(what, err))?;
        let expected = key_id(name, &key);
        if id.len() != 8 || u32::from_str_radix(id, 16).ok() != Some(expected) {
            return Err(malformed(what, "the key ID does not match the key"));
        }
        Ok(Self { name: name.to_string(), id: expected, key, text: text.to_string() })
    }

    /// The key's name: the witness's name in its signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<name>+<hex id>`: names the key in messages and in the store.
    pub fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }

    /// The verifier key text it was read from.
    pub fn verifier_key(&self) -> &str {
        &self.text
    }

    /// Checks one signature line against a checkpoint note's text; returns
    /// the cosignature's timestamp. A line by another key is an error too.
    pub fn verify_line(&self, checkpoint_text: &str, line: &str) -> Result<u64> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let signature = Signature::from_bytes(line.as_bytes())
            .map_err(|_| LedgerError::Malformed("not a note signature line".into()))?;
        if signature.name() != self.name || signature.id() != self.id {
            return Err(LedgerError::BadSignature(format!("the line is not signed by {}", self.label())));
        }
        self.check(checkpoint_text.as_bytes(), signature.signature())
            .ok_or_else(|| LedgerError::BadSignature(format!("the cosignature by {} does not verify", self.label())))
    }

    /// The timestamp, if `signature` (timestamp ‖ Ed25519 signature) signs `text`.
    fn check(&self, text: &[u8], signature: &[u8]) -> Option<u64> {
        let signature: &[u8; SIGNATURE_LEN] = signature.try_into().ok()?;
        let (timestamp, signature) = signature.split_at(8);
        let timestamp = u64::from_be_bytes(timestamp.try_into().ok()?);
        if timestamp > i64::MAX as u64 {
            return None;
        }
        let text = std::str::from_utf8(text).ok()?;
        let signature = ed25519_dalek::Signature::from_slice(signature).ok()?;
        self.key.verify(&signed_message(timestamp, text), &signature).ok()?;
        Some(timestamp)
    }
}

impl fmt::Debug for CosignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignatureVerifier({})", self.label())
    }
}

/// So that the signed-note crate can check cosignatures in a note.
impl Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.check(msg, sig).is_some()
    }
}

/// A set of witness keys, looked up by name and ID as the signed-note crate asks.
struct Witnesses<'a>(&'a [CosignatureVerifier]);

impl Verifiers for Witnesses<'_> {
    fn verifier(&self, name: &str, id: u32) -> Result<&dyn Verifier, VerificationError> {
        self.0
            .iter()
            .find(|w| w.name == name && w.id == id)
            .map(|w| w as &dyn Verifier)
            .ok_or_else(|| VerificationError::UnknownKey { name: name.to_string(), id })
    }
}

/// The witnesses among `witnesses` whose valid cosignature `note` carries
/// (signatures by other keys are ignored). A signature line of one of these
/// witnesses that does not verify is an error: the note was tampered with.
pub fn cosigners<'a>(note: &str, witnesses: &'a [CosignatureVerifier]) -> Result<Vec<&'a CosignatureVerifier>> {
    let note =
        Note::from_bytes(note.as_bytes()).map_err(|err| LedgerError::Malformed(format!("not a signed note: {err}")))?;
    match note.verify(&Witnesses(witnesses)) {
        Ok((valid, _)) => {
            Ok(witnesses.iter().filter(|w| valid.iter().any(|s| s.name() == w.name && s.id() == w.id)).collect())
        }
        Err(NoteError::UnverifiedNote) => Ok(Vec::new()),
        Err(NoteError::InvalidSignature { name, id }) => {
            Err(LedgerError::BadSignature(format!("the cosignature by {name}+{id:08x} does not verify")))
        }
        Err(other) => Err(LedgerError::BadSignature(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Checkpoint, NoteSigner, NoteVerifier};
    use sha2::{Digest, Sha256};

    const TEXT: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    /// A check written from tlog-cosignature alone: the key ID, the 8-byte
    /// timestamp, and Ed25519 over the header, time line and text.
    fn independent_verify(vkey: &str, text: &str, line: &str) -> Option<u64> {
        let mut parts = vkey.splitn(3, '+');
        let (name, id_hex, key64) = (parts.next()?, parts.next()?, parts.next()?);
        let key = BASE64.decode(key64).ok()?;
        let id = Sha256::new().chain_update(name).chain_update("\n").chain_update(&key).finalize();
        if key[0] != 4 || format!("{:08x}", u32::from_be_bytes(id[..4].try_into().ok()?)) != id_hex {
            return None;
        }
        let rest = line.strip_prefix(&format!("\u{2014} {name} "))?.trim_end();
        let sig = BASE64.decode(rest).ok()?;
        if sig.len() != 4 + 8 + 64 || sig[..4] != id[..4] {
            return None;
        }
        let time = u64::from_be_bytes(sig[4..12].try_into().ok()?);
        let message = format!("cosignature/v1\ntime {time}\n{text}");
        let public = VerifyingKey::from_bytes(key[1..].try_into().ok()?).ok()?;
        public.verify(message.as_bytes(), &ed25519_dalek::Signature::from_slice(&sig[12..]).ok()?).ok()?;
        Some(time)
    }

    #[test]
    fn cosignatures_follow_the_spec() {
        let (witness, private) = Cosigner::from_seed("witness.example.com/w1", &[9; 32]).unwrap();
        let vkey = witness.verifier_key();
        assert!(private.starts_with(&format!("PRIVATE+KEY+witness.example.com/w1+{:08x}+BA", witness.key_id())));
        let mut parts = vkey.splitn(3, '+');
        let (name, id, public) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        assert_eq!(format!("{name}+{id}"), format!("witness.example.com/w1+{:08x}", witness.key_id()));
        assert_eq!(BASE64.decode(public).unwrap()[0], 0x04, "signature type 0x04");
        let line = witness.cosign(TEXT, 1679315147).unwrap();
        assert!(line.starts_with("\u{2014} witness.example.com/w1 ") && line.ends_with('\n'), "{line}");
        assert_eq!(independent_verify(&vkey, TEXT, &line), Some(1679315147));

        let verifier = CosignatureVerifier::from_verifier_key(&vkey).unwrap();
        assert_eq!(verifier.verify_line(TEXT, &line).unwrap(), 1679315147);
        assert_eq!(verifier.label(), format!("witness.example.com/w1+{:08x}", witness.key_id()));
        // Another text, another time, another key: refused.
        assert!(verifier.verify_line(&TEXT.replace("20852163", "20852164"), &line).is_err());
        let other = Cosigner::from_seed("witness.example.com/w1", &[8; 32]).unwrap().0;
        assert!(verifier.verify_line(TEXT, &other.cosign(TEXT, 1679315147).unwrap()).is_err());
        let bytes = BASE64.decode(line.trim_end().rsplit_once(' ').unwrap().1).unwrap();
        let mut later = bytes.clone();
        later[11] ^= 1;
        let retimed = format!("\u{2014} witness.example.com/w1 {}\n", BASE64.encode(later));
        assert!(verifier.verify_line(TEXT, &retimed).is_err());
        assert!(independent_verify(&vkey, TEXT, &retimed).is_none());
    }

    #[test]
    fn keys_round_trip_and_plain_note_keys_cosign() {
        let (generated, private) = Cosigner::generate("w.example").unwrap();
        let reread = Cosigner::from_private_key(&format!("{private}\n")).unwrap();
        assert_eq!(reread.verifier_key(), generated.verifier_key());
        assert!(!format!("{generated:?}").contains(&private[25..]));

        // A note key (type 0x01) cosigns under its 0x04 identity.
        let (_, note_private) = NoteSigner::generate("w.example").unwrap();
        let cosigner = Cosigner::from_private_key(&note_private).unwrap();
        let verifier = CosignatureVerifier::from_verifier_key(&cosigner.verifier_key()).unwrap();
        assert!(verifier.verify_line(TEXT, &cosigner.cosign(TEXT, 5).unwrap()).is_ok());
    }

    #[test]
    fn malformed_keys_are_refused() {
        let (w, private) = Cosigner::from_seed("w.example", &[1; 32]).unwrap();
        let vkey = w.verifier_key();
        let (note_signer, _) = NoteSigner::generate("w.example").unwrap();
        for key in [
            String::new(),
            "w.example+00000000".into(),
            vkey.replacen("+", "+0", 1),
            vkey.replacen("w.example", "w.exampl", 1),
            vkey[..vkey.len() - 2].to_string(),
            note_signer.verifier_key(),
            private.clone(),
        ] {
            assert!(CosignatureVerifier::from_verifier_key(&key).is_err(), "{key}");
        }
        for key in
            [String::new(), vkey.clone(), private.replacen("w.example", "w.exampl", 1), private.replace("KEY", "KEZ")]
        {
            assert!(Cosigner::from_private_key(&key).is_err(), "{key}");
        }
        assert!(Cosigner::from_seed("two words", &[1; 32]).is_err());
        assert!(w.cosign(TEXT, u64::MAX).is_err());
    }

    #[test]
    fn cosigners_of_a_note_are_those_whose_lines_verify() {
        let (log, _) = NoteSigner::generate("example.com/log").unwrap();
        let checkpoint = Checkpoint::new("example.com/log", 3, [7; 32]).unwrap();
        let note = log.sign_checkpoint(&checkpoint).unwrap();
        let (a, _) = Cosigner::from_seed("a.example", &[4; 32]).unwrap();
        let (b, _) = Cosigner::from_seed("b.example", &[5; 32]).unwrap();
        let (c, _) = Cosigner::from_seed("c.example", &[6; 32]).unwrap();
        let keys: Vec<CosignatureVerifier> =
            [&a, &b, &c].iter().map(|w| CosignatureVerifier::from_verifier_key(&w.verifier_key()).unwrap()).collect();
        let body = checkpoint.body();
        let cosigned = format!("{note}{}{}", a.cosign(&body, 10).unwrap(), c.cosign(&body, 11).unwrap());
        let found: Vec<&str> = cosigners(&cosigned, &keys).unwrap().iter().map(|w| w.name()).collect();
        assert_eq!(found, ["a.example", "c.example"]);
        assert!(cosigners(&note, &keys).unwrap().is_empty());
        // The log's own signature still verifies with the cosignatures added.
        let log_key = NoteVerifier::from_verifier_key(&log.verifier_key()).unwrap();
        assert_eq!(log_key.verify_checkpoint(&cosigned).unwrap(), checkpoint);
        // A cosignature for another checkpoint under a known key spoils the note.
        let forged = format!("{note}{}", a.cosign(&body.replace("\n3\n", "\n4\n"), 10).unwrap());
        assert!(matches!(cosigners(&forged, &keys), Err(LedgerError::BadSignature(_))));
    }
}
