//! Keys of the crypto-shredding (API.md Part 3, "Erasure that keeps every
//! proof valid"): each actor's random data key, which seals the personal
//! values of its events with AES-256-GCM, and the server's master key, which
//! wraps the data keys where they are stored.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::ids::ActorId;

const NONCE_BYTES: usize = 12;
/// What a master key file holds before the key's base64.
const FILE_PREFIX: &str = "auditgraph-data-key:v1:";

/// A 256-bit AES-GCM key.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(…)")
    }
}

impl DataKey {
    /// A new random key.
    pub fn generate() -> DataKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        DataKey(bytes)
    }

    fn from_slice(bytes: &[u8]) -> Option<DataKey> {
        <[u8; 32]>::try_from(bytes).ok().map(DataKey)
    }

    /// `nonce ‖ ciphertext` of `plaintext`, bound to `associated`.
    pub fn seal(&self, associated: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = Aes256Gcm::new(&self.0.into())
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: associated })
            .expect("AES-GCM seals any message shorter than 64 GiB");
        [nonce.as_slice(), &sealed].concat()
    }

    /// The plaintext of `nonce ‖ ciphertext`, or `None` when it was not
    /// sealed by this key with this associated data (or was altered).
    pub fn open(&self, associated: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let nonce: [u8; NONCE_BYTES] = sealed.get(..NONCE_BYTES)?.try_into().ok()?;
        let ciphertext = &sealed[NONCE_BYTES..];
        Aes256Gcm::new(&self.0.into()).decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: associated }).ok()
    }
}

/// The server's master key: it wraps every actor's data key, bound to the
/// actor's ID, so a wrapped key copied to another actor does not open.
#[derive(Clone, Debug)]
pub struct MasterKey(DataKey);

impl MasterKey {
    pub fn generate() -> MasterKey {
        MasterKey(DataKey::generate())
    }

    /// The key as a master key file holds it (one line).
    pub fn to_file_text(&self) -> String {
        format!("{FILE_PREFIX}{}\n", STANDARD.encode(&self.0.0))
    }

    /// Reads a master key file's text.
    pub fn from_file_text(text: &str) -> Option<MasterKey> {
        let encoded = text.trim().strip_prefix(FILE_PREFIX)?;
        DataKey::from_slice(&STANDARD.decode(encoded).ok()?).map(MasterKey)
    }

    /// Names the key without revealing it: what the database keeps to
    /// refuse, at start, a master key other than the one its data keys were
    /// wrapped by.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::new().chain_update(b"auditgraph master key\0").chain_update(&self.0.0).finalize();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `actor`'s data key, wrapped for storage (base64).
    pub fn wrap(&self, actor: ActorId, key: &DataKey) -> String {
        STANDARD.encode(self.0.seal(actor.to_string().as_bytes(), &key.0))
    }

    /// Unwraps `actor`'s stored data key; `None` if it was wrapped by another
    /// master key, for another actor, or altered.
    pub fn unwrap_key(&self, actor: ActorId, wrapped: &str) -> Option<DataKey> {
        let sealed = STANDARD.decode(wrapped).ok()?;
        DataKey::from_slice(&self.0.open(actor.to_string().as_bytes(), &sealed)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_open_only_with_their_key_and_associated_data() {
        let key = DataKey::generate();
        let sealed = key.seal(b"evt_1\0metadata.email", b"\"a@b.c\"");
        assert_eq!(key.open(b"evt_1\0metadata.email", &sealed).as_deref(), Some(b"\"a@b.c\"".as_slice()));
        assert_eq!(key.open(b"evt_2\0metadata.email", &sealed), None);
        assert_eq!(DataKey::generate().open(b"evt_1\0metadata.email", &sealed), None);
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(b"evt_1\0metadata.email", &altered), None);
        assert_eq!(key.open(b"", b"short"), None);
    }

    #[test]
    fn wrapped_keys_unwrap_for_their_actor_only() {
        let master = MasterKey::generate();
        let (a, b) = (ActorId(uuid::Uuid::from_u128(1)), ActorId(uuid::Uuid::from_u128(2)));
        let key = DataKey::generate();
        let wrapped = master.wrap(a, &key);
        let unwrapped = master.unwrap_key(a, &wrapped).unwrap();
        assert_eq!(unwrapped.0, key.0);
        assert!(master.unwrap_key(b, &wrapped).is_none());
        assert!(MasterKey::generate().unwrap_key(a, &wrapped).is_none());
    }

    #[test]
    fn master_key_files_round_trip() {
        let master = MasterKey::generate();
        let read = MasterKey::from_file_text(&master.to_file_text()).unwrap();
        assert_eq!(read.fingerprint(), master.fingerprint());
        assert_ne!(MasterKey::generate().fingerprint(), master.fingerprint());
        assert!(MasterKey::from_file_text("auditgraph-data-key:v1:AAAA").is_none());
        assert!(MasterKey::from_file_text("hello").is_none());
    }
}
