//! Standard Webhooks signing: secrets `whsec_` + base64 of the key, generated from the OS's
//! random source or checked when given; `v1,` + base64 HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}`. Pure but for the random bytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use plantd_contracts::DomainError;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// The signature scheme's tag in `webhook-signature`.
pub const SIGNATURE_VERSION: &str = "v1";
/// Bytes of a generated key.
const KEY_BYTES: usize = 32;
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 64;

/// A new secret: `whsec_` + base64 of 32 random bytes.
pub fn generate_secret() -> String {
    let mut key = [0u8; KEY_BYTES];
    OsRng.fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The HMAC key of a secret, or why the secret is not one (field `secret`).
pub fn key_of(secret: &str) -> Result<Vec<u8>, DomainError> {
    let invalid = |m: &str| DomainError::invalid("secret", m);
    let encoded = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| invalid("must start with whsec_"))?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| invalid("after whsec_ comes base64 (standard alphabet, padded)"))?;
    if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
        return Err(invalid("the key must be 24 to 64 bytes (base64-decoded)"));
    }
    Ok(key)
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length: this never fails.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!("{SIGNATURE_VERSION},{}", STANDARD.encode(tag))
}

/// The secret as shown after create: its prefix and four characters.
pub fn mask(secret: &str) -> String {
    let shown: String = secret.chars().take(SECRET_PREFIX.len() + 4).collect();
    format!("{shown}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_valid_keys() {
        let secret = generate_secret();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(key_of(&secret).map(|k| k.len()), Ok(32));
        assert!(key_of("whsec_c2hvcnQ=").is_err());
        assert!(key_of("nope").is_err());
    }

    #[test]
    fn the_signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let key = key_of("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_or_default();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
