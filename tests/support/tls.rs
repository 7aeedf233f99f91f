//! Test certificates (rcgen: a CA and the certificates it signs) and a bare TLS probe that
//! reports which certificate a listener presents.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{crypto, ClientConfig, ClientConnection, RootCertStore};

/// A CA that signs test certificates.
pub struct Ca {
    key: KeyPair,
    cert: rcgen::Certificate,
    pub pem: String,
}

/// A certificate and its key, as PEM, and the certificate as DER.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        let pem = cert.pem();
        Ca { key, cert, pem }
    }

    /// A certificate for `names` (DNS names or IP addresses) with common name `cn`.
    pub fn issue(&self, cn: &str, names: &[&str]) -> Issued {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("certificate");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// A server certificate for `localhost` and 127.0.0.1.
    pub fn server(&self) -> Issued {
        self.issue("plantd test server", &["localhost", "127.0.0.1"])
    }
}

/// Writes `issued` as `{name}.crt` and `{name}.key` in `dir`; returns their paths.
pub fn write(dir: &Path, name: &str, issued: &Issued) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, &issued.cert_pem).expect("write certificate");
    std::fs::write(&key, &issued.key_pem).expect("write key");
    (cert, key)
}

/// Completes a TLS handshake with `port` on 127.0.0.1 as `localhost`, trusting `cas`, and
/// returns the certificate the server presented (DER); `Err` if the handshake failed.
pub fn presented_certificate(port: u16, cas: &[&Ca]) -> Result<Vec<u8>, String> {
    let mut roots = RootCertStore::empty();
    for ca in cas {
        roots
            .add(CertificateDer::from(ca.cert.der().to_vec()))
            .expect("trust the CA");
    }
    let config = ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("server name");
    let mut tls = ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut socket = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    while tls.is_handshaking() {
        tls.complete_io(&mut socket).map_err(|e| e.to_string())?;
    }
    let der = tls
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.to_vec())
        .ok_or("no certificate presented")?;
    tls.send_close_notify();
    let _ = tls.complete_io(&mut socket);
    let _ = socket.flush();
    Ok(der)
}

/// rumqttc's TLS settings for a client that trusts `ca`.
pub fn client_tls(ca: &Ca) -> rumqttc::TlsConfiguration {
    rumqttc::TlsConfiguration::Simple {
        ca: ca.pem.clone().into_bytes(),
        alpn: None,
        client_auth: None,
    }
}
