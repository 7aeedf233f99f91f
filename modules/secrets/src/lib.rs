//! Machine secrets (device passwords, API tokens, session ids): random bytes from the OS,
//! stored only as SHA-256 digests and compared in constant time. Such secrets carry at least
//! 128 random bits, so a fast digest is enough; argon2 is for human-chosen passwords only.
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes from the OS, hex-encoded.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn digest_matches(secret: &str, stored_digest: &str) -> bool {
    digest(secret)
        .as_bytes()
        .ct_eq(stored_digest.as_bytes())
        .into()
}

/// Two secrets given in the clear (e.g. a CSRF token), compared in constant time; an empty
/// one never matches.
pub fn same_secret(given: &str, expected: &str) -> bool {
    !given.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}
