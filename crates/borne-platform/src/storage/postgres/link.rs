//! How the platform reaches PostgreSQL: `sslmode` and `sslrootcert` in the database address,
//! read as libpq reads them, honoured with rustls.
//!
//! - `verify-full`: TLS, the server's certificate chained to `sslrootcert` and naming the host;
//! - `verify-ca`: TLS, the chain checked, not the name;
//! - `require`: TLS, the certificate not checked (libpq's meaning; with `sslrootcert`, as
//!   `verify-ca`), which only defeats a passive listener;
//! - `disable`: in clear, when asked for.
//!
//! Without `sslmode`, a server on this machine (a Unix socket, `localhost`, a loopback address)
//! is reached in clear, and any other host as `verify-full`: comments, password hashes and ID
//! tokens never cross a network in clear unless the operator wrote `sslmode=disable`. `allow`
//! and `prefer`, which fall back to clear text without a word, are refused for a remote host.

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

/// What the link to the server is, once the address is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Clear,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Clear => "disable",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }
}

/// The driver's configuration, the TLS connector and the mode.
pub struct Link {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub mode: Mode,
}

/// Reads a database address (`postgres://…?sslmode=…&sslrootcert=…`, or libpq's
/// `key=value` form). The error is the operator's, in French.
pub fn parse(address: &str) -> Result<Link, String> {
    let (rest, sslmode, root) = take_tls_options(address.trim())?;
    let mut config: tokio_postgres::Config =
        rest.parse().map_err(|e| format!("adresse de base de données invalide ({e}) ; attendu postgres://…"))?;
    let local = is_local(&config);
    let remote = || {
        config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mode = match sslmode.as_deref() {
        None if local => Mode::Clear,
        None | Some("verify-full") => Mode::VerifyFull,
        Some("disable") => Mode::Clear,
        Some("allow" | "prefer") if local => Mode::Clear,
        Some(mode @ ("allow" | "prefer")) => {
            return Err(format!(
                "sslmode={mode} passerait en clair sans le dire vers {} : choisissez verify-full (conseillé), \
                 verify-ca, require ou, en connaissance de cause, disable",
                remote()
            ));
        }
        Some("require") if root.is_some() => Mode::VerifyCa,
        Some("require") => Mode::Require,
        Some("verify-ca") => Mode::VerifyCa,
        Some(other) => {
            return Err(format!(
                "sslmode={other} inconnu : disable, require, verify-ca ou verify-full (conseillé hors de cette machine)"
            ));
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        Mode::Clear | Mode::Require => Arc::new(Lenient { provider: provider.clone(), chain: None }),
        Mode::VerifyCa | Mode::VerifyFull => {
            let Some(root) = root else {
                let why = if sslmode.is_none() {
                    format!("la base {} n'est pas sur cette machine : le lien doit être chiffré et vérifié. ", remote())
                } else {
                    String::new()
                };
                return Err(format!(
                    "{why}Ajoutez sslmode=verify-full&sslrootcert=/chemin/ca.pem à l'adresse (l'autorité qui a signé \
                     le certificat du serveur), ou sslmode=disable pour accepter un lien en clair"
                ));
            };
            let mut roots = rustls::RootCertStore::empty();
            let certificates = CertificateDer::pem_file_iter(&root)
                .map_err(|e| format!("sslrootcert {} illisible : {e}", root.display()))?;
            for certificate in certificates {
                let certificate =
                    certificate.map_err(|e| format!("sslrootcert {} : certificat illisible ({e})", root.display()))?;
                roots
                    .add(certificate)
                    .map_err(|e| format!("sslrootcert {} : certificat refusé ({e})", root.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("sslrootcert {} ne contient aucun certificat PEM", root.display()));
            }
            let chain = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| format!("sslrootcert {} : {e}", root.display()))?;
            if mode == Mode::VerifyFull {
                chain
            } else {
                Arc::new(Lenient { provider: provider.clone(), chain: Some(chain) })
            }
        }
    };
    config.ssl_mode(if mode == Mode::Clear { SslMode::Disable } else { SslMode::Require });
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Link { config, tls: MakeRustlsConnect::new(tls), mode })
}

/// The address without `sslmode` and `sslrootcert` (the driver knows neither `verify-*` nor
/// root certificates), and their values.
fn take_tls_options(address: &str) -> Result<(String, Option<String>, Option<PathBuf>), String> {
    let mut sslmode = None;
    let mut root = None;
    let mut take = |key: &str, value: String| -> bool {
        match key {
            "sslmode" => sslmode = Some(value),
            "sslrootcert" => root = Some(PathBuf::from(value)),
            _ => return false,
        }
        true
    };
    let rest = if address.starts_with("postgres://") || address.starts_with("postgresql://") {
        match address.split_once('?') {
            None => address.to_string(),
            Some((base, query)) => {
                let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .filter(|(k, v)| !take(k, v.clone()))
                    .collect();
                if kept.is_empty() {
                    base.to_string()
                } else {
                    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish();
                    format!("{base}?{query}")
                }
            }
        }
    } else {
        address
            .split_whitespace()
            .filter(|pair| match pair.split_once('=') {
                Some((k, v)) => !take(k.trim(), v.trim_matches('\'').to_string()),
                None => true,
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    if root.as_ref().is_some_and(|p: &PathBuf| p.as_os_str().is_empty()) {
        return Err("sslrootcert vide : le chemin du certificat de l'autorité est attendu".into());
    }
    Ok((rest, sslmode, root))
}

/// Whether every host of the address is this machine: a Unix socket, `localhost`, a loopback
/// address (and every `hostaddr` too). No host at all is the local socket.
fn is_local(config: &tokio_postgres::Config) -> bool {
    let hosts = config.get_hosts().iter().all(|h| match h {
        Host::Unix(_) => true,
        Host::Tcp(name) => name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
    });
    hosts && config.get_hostaddrs().iter().all(|ip| ip.is_loopback())
}

/// `require` (no `chain`: any certificate) and `verify-ca` (the chain checked, not the name:
/// rustls checks the name after the chain, so a name error means the chain was sound). Either
/// way the handshake's signatures are checked against the certificate presented.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(NotValidForName | NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_server_may_be_in_clear_a_remote_one_is_verified() {
        for local in [
            "postgres://borne@127.0.0.1:5432/borne",
            "postgres://borne@localhost/borne",
            "postgres://borne@[::1]/borne",
            "host=/run/postgresql dbname=borne",
        ] {
            assert_eq!(parse(local).map(|l| l.mode).unwrap(), Mode::Clear, "{local}");
        }
        let error = parse("postgres://borne@db.interne.gouv.fr/borne").err().unwrap();
        assert!(error.contains("db.interne.gouv.fr") && error.contains("sslmode=verify-full"), "{error}");
        let error = parse("postgres://borne@10.0.0.5/borne?sslmode=prefer").err().unwrap();
        assert!(error.contains("sslmode=prefer"), "{error}");
        assert!(parse("postgres://borne@10.0.0.5/borne?sslmode=verify-full").is_err(), "a CA is needed");
        assert!(parse("postgres://borne@10.0.0.5/borne?sslmode=bogus").err().unwrap().contains("bogus"));
        let asked = parse("postgres://borne@10.0.0.5/borne?sslmode=disable&application_name=borne").unwrap();
        assert_eq!(asked.mode, Mode::Clear);
        assert_eq!(asked.config.get_application_name(), Some("borne"), "other options are kept");
        assert_eq!(parse("host=10.0.0.5 sslmode=require dbname=borne").unwrap().mode, Mode::Require);
        let missing = parse("postgres://borne@10.0.0.5/borne?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem");
        assert!(missing.err().unwrap().contains("/nonexistent/ca.pem"));
    }
}
