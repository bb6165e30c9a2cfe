//! Signed checkpoints: C2SP signed notes (`c2sp.org/signed-note`) with
//! Ed25519 keys in the text forms `golang.org/x/mod/sumdb/note` reads and
//! writes, around C2SP tlog checkpoints (`c2sp.org/tlog-checkpoint`).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use signed_note::{
    Note, NoteError, Signer as _, StandardSigner, StandardVerifier, VerificationError, Verifier, Verifiers,
};

use super::{Hash, LedgerError, Result, encode_hash};

/// The algorithm byte that starts an Ed25519 key in note key texts.
const ALG_ED25519: u8 = 1;

/// A note signing key: signs texts as `<name>`, with key ID [`NoteSigner::key_id`].
#[derive(Clone)]
pub struct NoteSigner {
    signer: StandardSigner,
    verifier_key: String,
}

impl NoteSigner {
    /// A new key named `name`, from the operating system's random source.
    /// Returns the signer and its private key text
    /// (`PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>`), to keep secret.
    pub fn generate(name: &str) -> Result<(Self, String)> {
        Self::from_seed(name, &super::random_seed()?)
    }

    fn from_seed(name: &str, seed: &[u8; 32]) -> Result<(Self, String)> {
        if !signed_note::is_key_name_valid(name) {
            return Err(LedgerError::Malformed(format!(
                "a key name must be non-empty, without spaces or '+', not {name:?}"
            )));
        }
        let public = ed25519_dalek::SigningKey::from_bytes(seed).verifying_key();
        let id = signed_note::key_id(name, &[&[ALG_ED25519], public.as_bytes().as_slice()].concat());
        let private = [&[ALG_ED25519], seed.as_slice()].concat();
        let text = format!("PRIVATE+KEY+{name}+{id:08x}+{}", BASE64.encode(private));
        Ok((Self::from_private_key(&text)?, text))
    }

    /// Reads a private key text, as [`NoteSigner::generate`] and Go's
    /// `note.GenerateKey` write it (surrounding whitespace, such as a key
    /// file's final newline, is ignored).
    pub fn from_private_key(text: &str) -> Result<Self> {
        let text = text.trim();
        let malformed = |why: &str| LedgerError::Malformed(format!("malformed note private key: {why}"));
        let signer = StandardSigner::new(text).map_err(|err| malformed(&err.to_string()))?;
        // The crate checked the format and the key ID; the verifier key needs
        // the public key, which it keeps to itself.
        // (`PRIVATE+KEY+<name>+<id>+<key>`: base64 may hold '+' too.)
        let key = text.splitn(5, '+').nth(4).ok_or_else(|| malformed("no key data"))?;
        let key = BASE64.decode(key).map_err(|err| malformed(&err.to_string()))?;
        let seed = key.get(1..).ok_or_else(|| malformed("no key data"))?;
        let signing = ed25519_dalek::SigningKey::try_from(seed).map_err(|err| malformed(&err.to_string()))?;
        let verifier_key = signed_note::new_ed25519_verifier_key(signer.name(), &signing.verifying_key());
        Ok(Self { signer, verifier_key })
    }

    pub fn name(&self) -> &str {
        self.signer.name()
    }

    pub fn key_id(&self) -> u32 {
        self.signer.key_id()
    }

    /// The public key text, `<name>+<8 hex digit id>+<base64(0x01 ‖ public key)>`,
    /// that verifiers are configured with.
    pub fn verifier_key(&self) -> String {
        self.verifier_key.clone()
    }

    /// The signed note: `text`, a blank line, and `— <name> <base64(key id ‖
    /// signature)>`. The text must end with a newline and hold no control
    /// character other than newlines.
    pub fn sign(&self, text: &str) -> Result<String> {
        let mut note = Note::new(text.as_bytes(), &[]).map_err(|_| {
            LedgerError::Malformed("a note text must end with a newline and hold no other control character".into())
        })?;
        note.add_sigs(&[&self.signer]).map_err(|err| LedgerError::BadSignature(err.to_string()))?;
        String::from_utf8(note.to_bytes()).map_err(|err| LedgerError::Malformed(err.to_string()))
    }

    /// Signs a checkpoint: the note whose text is [`Checkpoint::body`].
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> Result<String> {
        checkpoint.check_origin()?;
        self.sign(&checkpoint.body())
    }
}

impl fmt::Debug for NoteSigner {
    /// Names the key, never shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSigner({}+{:08x})", self.name(), self.key_id())
    }
}

/// Checks notes against one verifier key.
#[derive(Clone)]
pub struct NoteVerifier {
    verifier: StandardVerifier,
}

impl NoteVerifier {
    /// Reads a verifier key text, `<name>+<hex id>+<base64(0x01 ‖ public key)>`.
    pub fn from_verifier_key(text: &str) -> Result<Self> {
        let verifier = StandardVerifier::new(text.trim())
            .map_err(|err| LedgerError::Malformed(format!("malformed note verifier key: {err}")))?;
        Ok(Self { verifier })
    }

    pub fn name(&self) -> &str {
        self.verifier.name()
    }

    pub fn key_id(&self) -> u32 {
        self.verifier.key_id()
    }

    /// The text of a signed note that carries a valid signature by this key
    /// (signatures by other keys are ignored). A note without one, or with a
    /// bad signature under this key's name and ID, is an error.
    pub fn verify(&self, note: &str) -> Result<String> {
        let note = Note::from_bytes(note.as_bytes())
            .map_err(|err| LedgerError::Malformed(format!("not a signed note: {err}")))?;
        let key = format!("{}+{:08x}", self.name(), self.key_id());
        note.verify(self).map_err(|err| match err {
            NoteError::UnverifiedNote => LedgerError::BadSignature(format!("the note is not signed by {key}")),
            NoteError::InvalidSignature { .. } => {
                LedgerError::BadSignature(format!("the signature by {key} does not match the note"))
            }
            other => LedgerError::BadSignature(other.to_string()),
        })?;
        String::from_utf8(note.text().to_vec()).map_err(|err| LedgerError::Malformed(err.to_string()))
    }

    /// The checkpoint in a signed note that carries a valid signature by this key.
    pub fn verify_checkpoint(&self, note: &str) -> Result<Checkpoint> {
        Checkpoint::parse(&self.verify(note)?)
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifier({}+{:08x})", self.name(), self.key_id())
    }
}

/// The one key a [`NoteVerifier`] knows; any other key's signatures are
/// reported as unknown, which the note check skips.
impl Verifiers for NoteVerifier {
    fn verifier(&self, name: &str, id: u32) -> Result<&dyn Verifier, VerificationError> {
        if name == self.name() && id == self.key_id() {
            Ok(&self.verifier)
        } else {
            Err(VerificationError::UnknownKey { name: name.to_owned(), id })
        }
    }
}

/// A tree head: the log's origin line, its size and its root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// A checkpoint whose origin fits on its line: non-empty, no control characters.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Result<Self> {
        let checkpoint = Self { origin: origin.into(), size, root };
        checkpoint.check_origin()?;
        Ok(checkpoint)
    }

    /// The checkpoint note text: `<origin>\n<size>\n<base64 root>\n`.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, encode_hash(&self.root))
    }

    /// Reads a checkpoint note text (the text of a verified note). Extension
    /// lines after the third are allowed and ignored.
    pub fn parse(text: &str) -> Result<Self> {
        let parsed = tlog_tiles::Checkpoint::from_bytes(text.as_bytes()).map_err(|_| {
            LedgerError::Malformed("not a checkpoint: expected origin, size and base64 root lines".into())
        })?;
        Ok(Self { origin: parsed.origin().to_owned(), size: parsed.size(), root: parsed.hash().0 })
    }

    fn check_origin(&self) -> Result<()> {
        if self.origin.is_empty() || self.origin.chars().any(char::is_control) {
            return Err(LedgerError::Malformed(format!(
                "a checkpoint origin must be non-empty and on one line, not {:?}",
                self.origin
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Verifier as _;
    use sha2::{Digest, Sha256};

    // golang.org/x/mod/sumdb/note, example_test.go.
    const PETER_PRIVATE: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PETER_SIGNATURE: &str =
        "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    /// ExampleSign_add_signatures: the key Go's GenerateKey makes from a
    /// reader of zeros, signing the same text.
    const ENOCH_SIGNATURE: &str =
        "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    /// A note check written from the signed-note spec, apart from the module:
    /// the key ID from the verifier key, then Ed25519 over the text.
    fn independent_verify(verifier_key: &str, note: &str) -> bool {
        let mut parts = verifier_key.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key64)) = (parts.next(), parts.next(), parts.next()) else { return false };
        let Ok(key) = BASE64.decode(key64) else { return false };
        let id: [u8; 4] =
            Sha256::new().chain_update(name).chain_update("\n").chain_update(&key).finalize()[..4].try_into().unwrap();
        if format!("{:08x}", u32::from_be_bytes(id)) != id_hex || key.len() != 33 || key[0] != 1 {
            return false;
        }
        let public = ed25519_dalek::VerifyingKey::from_bytes(key[1..].try_into().unwrap()).unwrap();
        let Some((text, signatures)) = note.rsplit_once("\n\n") else { return false };
        let text = format!("{text}\n");
        signatures.lines().any(|line| {
            let Some((sig_name, sig64)) = line.strip_prefix("\u{2014} ").and_then(|rest| rest.split_once(' ')) else {
                return false;
            };
            let Ok(sig) = BASE64.decode(sig64) else { return false };
            sig_name == name
                && sig.len() == 68
                && sig[..4] == id
                && public.verify(text.as_bytes(), &ed25519_dalek::Signature::from_slice(&sig[4..]).unwrap()).is_ok()
        })
    }

    #[test]
    fn reproduces_go_note_example() {
        let signer = NoteSigner::from_private_key(PETER_PRIVATE).unwrap();
        assert_eq!(signer.name(), "PeterNeumann");
        assert_eq!(signer.key_id(), 0xc74f20a3);
        assert_eq!(signer.verifier_key(), PETER_VERIFIER);
        let note = signer.sign(TEXT).unwrap();
        assert_eq!(note, format!("{TEXT}\n{PETER_SIGNATURE}"));

        let verifier = NoteVerifier::from_verifier_key(PETER_VERIFIER).unwrap();
        assert_eq!(verifier.verify(&note).unwrap(), TEXT);
        assert!(independent_verify(PETER_VERIFIER, &note));
    }

    #[test]
    fn generation_from_a_seed_matches_go() {
        let (enoch, private) = NoteSigner::from_seed("EnochRoot", &[0; 32]).unwrap();
        assert_eq!(enoch.sign(TEXT).unwrap(), format!("{TEXT}\n{ENOCH_SIGNATURE}"));
        assert!(private.starts_with(&format!("PRIVATE+KEY+EnochRoot+{:08x}+", enoch.key_id())));
        assert_eq!(NoteSigner::from_private_key(&private).unwrap().verifier_key(), enoch.verifier_key());

        // A note signed by both keys verifies under either, each ignoring the other.
        let both = format!("{TEXT}\n{PETER_SIGNATURE}{ENOCH_SIGNATURE}");
        for key in [PETER_VERIFIER, &enoch.verifier_key()] {
            assert_eq!(NoteVerifier::from_verifier_key(key).unwrap().verify(&both).unwrap(), TEXT);
            assert!(independent_verify(key, &both));
        }
    }

    #[test]
    fn generated_keys_round_trip_and_verify_independently() {
        let (signer, private) = NoteSigner::generate("audit.example.com/log").unwrap();
        let (other, _) = NoteSigner::generate("audit.example.com/log").unwrap();
        assert_ne!(signer.verifier_key(), other.verifier_key());
        let reread = NoteSigner::from_private_key(&format!("{private}\n")).unwrap();
        assert_eq!((reread.name(), reread.key_id()), (signer.name(), signer.key_id()));
        assert_eq!(reread.verifier_key(), signer.verifier_key());
        assert!(signer.verifier_key().starts_with(&format!("audit.example.com/log+{:08x}+", signer.key_id())));

        let note = signer.sign("hello\nworld\n").unwrap();
        assert_eq!(reread.sign("hello\nworld\n").unwrap(), note, "Ed25519 is deterministic");
        assert!(independent_verify(&signer.verifier_key(), &note));
        let verifier = NoteVerifier::from_verifier_key(&signer.verifier_key()).unwrap();
        assert_eq!(verifier.verify(&note).unwrap(), "hello\nworld\n");
        // Signed by another key of the same name: not ours.
        let foreign = other.sign("hello\nworld\n").unwrap();
        assert!(matches!(verifier.verify(&foreign), Err(LedgerError::BadSignature(_))));
        assert!(!independent_verify(&signer.verifier_key(), &foreign));
        assert!(!format!("{signer:?}").contains(&private[30..]));
    }

    #[test]
    fn tampered_notes_are_refused() {
        let verifier = NoteVerifier::from_verifier_key(PETER_VERIFIER).unwrap();
        let note = format!("{TEXT}\n{PETER_SIGNATURE}");
        let refused = |note: &str| verifier.verify(note).is_err() && !independent_verify(PETER_VERIFIER, note);
        // Every character of the text and of the signature's base64, changed.
        let signature_start = note.rfind(' ').unwrap() + 1;
        let signature_end = note.rfind('=').unwrap() - 1; // the last digit before '=' holds padding bits
        let positions = (0..TEXT.len()).chain(signature_start..signature_end);
        for at in positions {
            let mut bytes = note.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert!(refused(&tampered), "changed byte {at}");
        }
        assert!(refused(&note.replacen("PeterNeumann x08", "PeterNeumanm x08", 1)));
        assert!(refused(&note.replacen('\u{2014}', "-", 1)));
        assert!(refused(TEXT));
        assert!(refused(""));
        assert!(refused(&format!("{TEXT}\n{ENOCH_SIGNATURE}")));
    }

    #[test]
    fn note_texts_must_be_lines() {
        let signer = NoteSigner::from_private_key(PETER_PRIVATE).unwrap();
        for text in ["no final newline", "tab\there\n", "nul\0\n", "\r\n"] {
            assert!(matches!(signer.sign(text), Err(LedgerError::Malformed(_))), "{text:?}");
        }
    }

    #[test]
    fn key_names_follow_the_spec() {
        for name in ["", "a b", "a+b", "a\tb", "a\u{2003}b"] {
            assert!(matches!(NoteSigner::from_seed(name, &[7; 32]), Err(LedgerError::Malformed(_))), "{name:?}");
        }
        for name in ["a", "example.com/log", "PeterNeumann", "ünïcode"] {
            assert!(NoteSigner::from_seed(name, &[7; 32]).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn malformed_keys_are_refused() {
        for key in [
            "",
            "PRIVATE+KEY+PeterNeumann+c74f20a3",
            "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDF",
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            "PRIVATE+KEY+Peter Neumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKA==",
            PETER_VERIFIER,
        ] {
            assert!(matches!(NoteSigner::from_private_key(key), Err(LedgerError::Malformed(_))), "{key}");
        }
        for key in [
            "",
            "PeterNeumann+c74f20a3",
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
            "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            PETER_PRIVATE,
        ] {
            assert!(matches!(NoteVerifier::from_verifier_key(key), Err(LedgerError::Malformed(_))), "{key}");
        }
        assert!(NoteVerifier::from_verifier_key(&format!("{PETER_VERIFIER}\n")).is_ok());
    }

    #[test]
    fn checkpoints_round_trip_through_signed_notes() {
        let root = crate::ledger::leaf_hash(b"root");
        let checkpoint = Checkpoint::new("auditgraph/0190e5a4-7c00-7000-8000-000000000001", 923748, root).unwrap();
        let body = checkpoint.body();
        assert_eq!(body, format!("auditgraph/0190e5a4-7c00-7000-8000-000000000001\n923748\n{}\n", BASE64.encode(root)));
        assert_eq!(Checkpoint::parse(&body).unwrap(), checkpoint);

        let signer = NoteSigner::from_private_key(PETER_PRIVATE).unwrap();
        let note = signer.sign_checkpoint(&checkpoint).unwrap();
        assert!(note.starts_with(&format!("{body}\n\u{2014} PeterNeumann ")));
        let verifier = NoteVerifier::from_verifier_key(PETER_VERIFIER).unwrap();
        assert_eq!(verifier.verify_checkpoint(&note).unwrap(), checkpoint);
        assert!(independent_verify(PETER_VERIFIER, &note));
        let forged = note.replacen("923748", "923749", 1);
        assert!(verifier.verify_checkpoint(&forged).is_err());
    }

    #[test]
    fn checkpoint_parsing_follows_tlog_checkpoint() {
        let hash = BASE64.encode([7u8; 32]);
        let parsed = Checkpoint::parse(&format!("example.com/log\n0\n{hash}\nextension one\nextension two\n")).unwrap();
        assert_eq!(parsed, Checkpoint { origin: "example.com/log".into(), size: 0, root: [7; 32] });
        for text in [
            String::new(),
            format!("example.com/log\n5\n{hash}"),
            "example.com/log\n5\n".to_string(),
            format!("\n5\n{hash}\n"),
            format!("example.com/log\n05\n{hash}\n"),
            format!("example.com/log\n+5\n{hash}\n"),
            format!("example.com/log\n-5\n{hash}\n"),
            format!("example.com/log\nfive\n{hash}\n"),
            format!("example.com/log\n18446744073709551616\n{hash}\n"),
            format!("example.com/log\n5\n{}\n", BASE64.encode([7u8; 31])),
            format!("example.com/log\n5\n{}\n", &hash[1..]),
            format!("example.com/log\n5\n{hash}\n\n"),
        ] {
            assert!(matches!(Checkpoint::parse(&text), Err(LedgerError::Malformed(_))), "{text:?}");
        }
        assert!(Checkpoint::new("", 1, [0; 32]).is_err());
        assert!(Checkpoint::new("two\nlines", 1, [0; 32]).is_err());
        let signer = NoteSigner::from_private_key(PETER_PRIVATE).unwrap();
        let bad = Checkpoint { origin: "a\nb".into(), size: 1, root: [0; 32] };
        assert!(matches!(signer.sign_checkpoint(&bad), Err(LedgerError::Malformed(_))));
    }
}
