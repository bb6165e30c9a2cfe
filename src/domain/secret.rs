//! Secrets (API keys, viewer tokens): random, recognisable by their prefix,
//! and stored only as a hash.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

/// Every API key starts with this, so leaked keys are easy to recognise and scan for.
pub const SECRET_PREFIX: &str = "agk_";
/// Characters of the secret kept for display: the prefix and 8 more.
const DISPLAY_CHARS: usize = SECRET_PREFIX.len() + 8;

/// A new secret: shown once, then only its hash and display prefix are kept.
pub struct NewSecret {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

pub fn generate_secret() -> NewSecret {
    let secret = random_secret(SECRET_PREFIX);
    NewSecret { prefix: secret[..DISPLAY_CHARS].to_string(), hash: hash_secret(&secret), secret }
}

/// `prefix` and 256 random bits, base64url.
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256: secrets carry 256 random bits, so a slow password hash adds nothing.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hashed() {
        let a = generate_secret();
        let b = generate_secret();
        assert!(a.secret.starts_with(SECRET_PREFIX) && a.secret.len() == SECRET_PREFIX.len() + 43);
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(&a.prefix));
        assert_eq!(a.hash, hash_secret(&a.secret));
        assert_eq!(a.hash.len(), 64);
    }
}
