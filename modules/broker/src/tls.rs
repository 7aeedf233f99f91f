//! The broker's TLS: the server certificate and key (PEM files), read at start and again
//! on request (SIGHUP), held as ONE rustls acceptor that every new connection of the TLS
//! and secure WebSocket listeners shares. A reload builds a new acceptor and swaps it in;
//! a failed one keeps the old (logged, `plantd_tls_reloads_total{outcome="failed"}`).
//! Connections already open keep the certificate they started with.
//!
//! With `tls_client_ca_file`, a client may present a certificate (optional); rustls
//! verifies it, and the device ids its CN and DNS SANs name (`cert_names.rs`) go to the
//! policy layer as the connection's peer identity.
//!
//! Touches only the files it is given; the handshake itself runs in rumqttd's connection
//! task under the connect deadline (vendor patch 8), through [`TlsAcceptorCell::upgrade`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rumqttd::{StreamUpgrade, Upgraded};

use crate::cert_names;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{crypto, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// Where the broker's certificate and key are (both PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, the server's own certificate first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates of client certificates: when set, a client may present one, and a
    /// device whose id its CN or a DNS SAN names logs in without its secret.
    pub client_ca: Option<PathBuf>,
}

/// The acceptor in use, swapped whole by a reload.
pub struct TlsAcceptorCell {
    files: TlsFiles,
    current: RwLock<TlsAcceptor>,
}

impl TlsAcceptorCell {
    /// Reads the files; an error names the file and what is wrong with it.
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, String> {
        let acceptor = acceptor(&files)?;
        Ok(Arc::new(TlsAcceptorCell {
            files,
            current: RwLock::new(acceptor),
        }))
    }

    /// Reads the files again and, if they make a valid configuration, uses it for every
    /// new connection; otherwise keeps the old one. Counted either way.
    pub fn reload(&self) -> Result<(), String> {
        match acceptor(&self.files) {
            Ok(acceptor) => {
                match self.current.write() {
                    Ok(mut current) => *current = acceptor,
                    Err(poisoned) => *poisoned.into_inner() = acceptor,
                }
                metrics::counter!("plantd_tls_reloads_total", "outcome" => "ok").increment(1);
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                Ok(())
            }
            Err(e) => {
                metrics::counter!("plantd_tls_reloads_total", "outcome" => "failed").increment(1);
                tracing::error!(
                    error = %e,
                    "TLS certificate reload failed; the previous certificate stays in use"
                );
                Err(e)
            }
        }
    }

    fn acceptor(&self) -> TlsAcceptor {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The upgrade rumqttd runs in each new connection's task: a TLS handshake with the
    /// acceptor current at the accept.
    pub fn upgrade(self: &Arc<Self>) -> StreamUpgrade {
        let cell = self.clone();
        Arc::new(move |stream: TcpStream| {
            let acceptor = cell.acceptor();
            Box::pin(async move {
                let stream = acceptor.accept(stream).await?;
                // rustls verified a presented certificate against the client CA; the names
                // go to the policy layer, which matches them with the login.
                let names = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|cert| cert_names::device_ids(cert))
                    .filter(|names| !names.is_empty())
                    .map(|names| names.join(","));
                Ok(Upgraded {
                    stream: Box::new(stream),
                    tenant_id: None,
                    peer_identity: names,
                })
            })
        })
    }
}

fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, String> {
    let certs = certificates(&files.cert, "tls_cert_file")?;
    let key = private_key(&files.key)?;
    let provider = Arc::new(crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for ca in certificates(path, "tls_client_ca_file")? {
                roots
                    .add(ca)
                    .map_err(|e| format!("tls_client_ca_file {}: {e}", path.display()))?;
            }
            // Optional: devices without a certificate still log in with their secret.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("tls_client_ca_file {}: {e}", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| {
        format!(
            "tls_cert_file {} and tls_key_file {}: {e}",
            files.cert.display(),
            files.key.display()
        )
    })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read(path: &Path, setting: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{setting} {}: {e}", path.display()))
}

fn certificates(path: &Path, setting: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(path, setting)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{setting} {}: not PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{setting} {}: no CERTIFICATE in it",
            path.display()
        ));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read(path, "tls_key_file")?;
    // The parser's error is not shown: it could quote a line of the key.
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
        format!(
            "tls_key_file {}: no PEM private key (PKCS#8, PKCS#1 or SEC1) in it",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path, cert: &str, key: &str) -> TlsFiles {
        let files = TlsFiles {
            cert: dir.join("c.pem"),
            key: dir.join("k.pem"),
            client_ca: None,
        };
        std::fs::write(&files.cert, cert).expect("write");
        std::fs::write(&files.key, key).expect("write");
        files
    }

    #[test]
    fn bad_files_are_refused_naming_the_setting_and_never_quoting_the_key() {
        let dir = std::env::temp_dir().join(format!("plantd-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let missing = TlsFiles {
            cert: dir.join("absent.pem"),
            key: dir.join("absent.key"),
            client_ca: None,
        };
        let err = TlsAcceptorCell::load(missing).err().expect("missing");
        assert!(err.starts_with("tls_cert_file "), "{err}");

        let err = TlsAcceptorCell::load(files(&dir, "not pem", ""))
            .err()
            .expect("no certificate");
        assert!(err.contains("no CERTIFICATE"), "{err}");

        // A syntactically fine certificate block is enough to reach the key.
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let key = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n";
        let err = TlsAcceptorCell::load(files(&dir, cert, key))
            .err()
            .expect("no key");
        assert!(err.starts_with("tls_key_file "), "{err}");
        assert!(!err.contains("c2VjcmV0"), "the key is never quoted: {err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
