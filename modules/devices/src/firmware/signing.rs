//! The key that signs firmware images (ed25519), kept in the data directory.
//!
//! What is signed is the image's raw 32-byte SHA-256 digest, not its hex text and not the
//! notice: a device hashes the bytes it downloaded and checks the notice's `signature`
//! against that digest with plantd's public key. Ed25519 signatures are deterministic, so
//! the signature of an image is the same whenever it is made.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use rand::RngCore;

/// The file name of the private key, inside the data directory.
pub const KEY_FILE: &str = "firmware-signing.key";

/// Reads the key at `path`, or makes one and writes it (mode 0600) when there is none.
/// Blocking. A file of the wrong size is an error, never replaced: replacing it would
/// orphan every device that trusts the old public key.
pub fn load_or_create(path: &Path) -> std::io::Result<SigningKey> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: not a 32-byte ed25519 key", path.display()),
                )
            })?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut seed);
            let mut options = std::fs::OpenOptions::new();
            // `create_new`: two starts racing cannot both write a key.
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path)?;
            file.write_all(&seed)?;
            file.sync_all()?;
            tracing::info!(file = %path.display(), "firmware signing key created");
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) => Err(e),
    }
}

/// The base64 (standard, padded) public key, as the API and the UI show it.
pub fn public_key_base64(key: &SigningKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes())
}

/// The base64 signature of an image given its hex SHA-256 (as stored). `None` if the hex
/// is not a SHA-256 (a damaged row): such an image is offered unsigned and refused.
pub fn sign_sha256(key: &SigningKey, sha256_hex: &str) -> Option<String> {
    let digest = hex::decode(sha256_hex).ok().filter(|d| d.len() == 32)?;
    Some(base64::engine::general_purpose::STANDARD.encode(key.sign(&digest).to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};

    #[test]
    fn the_key_is_made_once_owner_only_and_signs_the_digest() {
        let dir = std::env::temp_dir().join(format!("plantd-signing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(KEY_FILE);
        let first = load_or_create(&path).unwrap();
        let again = load_or_create(&path).unwrap();
        assert_eq!(
            first.to_bytes(),
            again.to_bytes(),
            "a second start keeps the key"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let digest = [7u8; 32];
        let signature = sign_sha256(&first, &hex::encode(digest)).unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(signature)
            .unwrap();
        let signature = Signature::from_slice(&bytes).unwrap();
        assert!(first.verifying_key().verify(&digest, &signature).is_ok());
        assert!(first
            .verifying_key()
            .verify(&[8u8; 32], &signature)
            .is_err());
        assert_eq!(sign_sha256(&first, "not hex"), None);
        // A truncated key file is refused, not silently replaced.
        std::fs::write(&path, [1u8; 5]).unwrap();
        assert!(load_or_create(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
