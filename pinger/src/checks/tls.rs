//! TLS: one shared client configuration whose verifier lets every handshake finish (so the
//! certificate facts are always reported), a webpki verdict computed right after the
//! handshake, the certificate facts, and the TLS check of its own.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use common::messages::{Failure, FailureKind, Phase, TlsInfo, TlsSpec};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use x509_parser::extensions::GeneralName;

use crate::net::Net;
use crate::report::{Report, failure};

/// The pinger's TLS client: built once, shared by every check.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    verifier: Arc<WebPkiServerVerifier>,
    verdicts: Arc<Mutex<HashMap<[u8; 32], Verdict>>>,
}

/// A chain's webpki verdict and when it was reached.
type Verdict = (Instant, Result<(), rustls::Error>);

/// How long a chain's webpki verdict is reused for the same chain and name. Expiry is
/// judged afresh on every check, so only trust and name checks are cached.
const VERDICT_TTL: Duration = Duration::from_secs(60);
/// Cached verdicts kept at most (the cache is emptied when full).
const VERDICT_CAP: usize = 50_000;

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsClient")
    }
}

/// Accepts any certificate during the handshake (the handshake signature is still checked,
/// so the peer holds the key); the real verdict is computed afterwards with webpki.
#[derive(Debug)]
struct AcceptThenJudge {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptThenJudge {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    // rustls asks for both methods; each forwards to its own verifier.
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

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

impl TlsClient {
    /// Trusts the Mozilla roots plus every certificate of `extra_ca` (PEM), if given.
    pub fn new(extra_ca: Option<&Path>) -> anyhow::Result<Self> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = extra_ca {
            let mut added = 0;
            for cert in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("reading extra CA file {}", path.display()))?
            {
                let cert = cert.with_context(|| format!("parsing {}", path.display()))?;
                roots.add(cert).context("adding an extra CA")?;
                added += 1;
            }
            anyhow::ensure!(added > 0, "{} holds no certificate", path.display());
        }
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        // Classical key exchange first: a check needs no post-quantum secrecy, and the hybrid
        // share costs CPU on every handshake. The hybrid stays available for servers that
        // insist (they ask for it with a HelloRetryRequest).
        {
            use rustls::crypto::aws_lc_rs::kx_group;
            provider.kx_groups = vec![
                kx_group::X25519,
                kx_group::SECP256R1,
                kx_group::SECP384R1,
                kx_group::X25519MLKEM768,
            ];
        }
        // SHA-256 suites first: their hashing runs on SHA extensions, SHA-384's does not.
        provider.cipher_suites.sort_by_key(|s| {
            if format!("{:?}", s.suite()).contains("AES_128_GCM_SHA256") {
                0
            } else {
                1
            }
        });
        let provider = Arc::new(provider);
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .context("building the certificate verifier")?;
        let mut config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS versions")?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptThenJudge { provider }))
            .with_no_client_auth();
        // A fresh, full handshake every check: a resumed session would hide certificate changes.
        config.resumption = rustls::client::Resumption::disabled();
        // HTTP/2 when the server speaks it, HTTP/1.1 otherwise; each hop records which.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
            verifier,
            verdicts: Arc::default(),
        })
    }

    /// Handshakes over `tcp` as `server_name` (a name or an IP literal).
    pub async fn handshake(&self, tcp: TcpStream, server_name: &str) -> Result<TlsStream<TcpStream>, Failure> {
        let bare = server_name.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(bare.to_owned()).map_err(|e| {
            failure(
                FailureKind::TlsHandshake,
                Phase::Tls,
                format!("{server_name} is not a valid TLS server name: {e}"),
            )
        })?;
        self.connector.connect(name, tcp).await.map_err(|e| {
            failure(
                FailureKind::TlsHandshake,
                Phase::Tls,
                format!("TLS handshake with {server_name} failed: {e}"),
            )
        })
    }

    /// The certificate facts of a finished handshake and, when validation fails, the failure
    /// (expired, not yet valid, untrusted, wrong host). `None` facts: no certificate seen.
    pub fn inspect(&self, conn: &ClientConnection, server_name: &str) -> Option<(TlsInfo, Option<Failure>)> {
        let chain = conn.peer_certificates()?;
        let (leaf, intermediates) = chain.split_first()?;
        let bare = server_name.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(bare.to_owned()).ok()?;
        let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
        let verdict = self.verdict(leaf, intermediates, &name, bare, cert.validity().is_valid());
        let not_before = DateTime::<Utc>::from_timestamp(cert.validity().not_before.timestamp(), 0)?;
        let not_after = DateTime::<Utc>::from_timestamp(cert.validity().not_after.timestamp(), 0)?;
        let now = Utc::now();
        let days_left = (not_after - now).num_seconds().div_euclid(86_400);
        let mut sans = Vec::new();
        if let Ok(Some(ext)) = cert.subject_alternative_name() {
            for n in &ext.value.general_names {
                match n {
                    GeneralName::DNSName(d) => sans.push((*d).to_owned()),
                    GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            sans.push(std::net::Ipv4Addr::from(a).to_string());
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            sans.push(std::net::Ipv6Addr::from(a).to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        let hostname_matches = covers(&sans, bare);
        let fail = match &verdict {
            Ok(_) => None,
            Err(e) => Some(classify(e, server_name, not_after, not_before)),
        };
        let chain_valid = match &fail {
            None => true,
            Some(f) => f.kind == FailureKind::TlsHostname,
        };
        let info = TlsInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            sans,
            not_before,
            not_after,
            days_left,
            fingerprint_sha256: hex::encode(Sha256::digest(leaf.as_ref())),
            version: conn.protocol_version().map(|v| match v {
                rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
                rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
                other => format!("{other:?}"),
            }),
            cipher: conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())),
            chain_valid,
            hostname_matches,
            validation_error: verdict.as_ref().err().map(|e| e.to_string()),
        };
        Some((info, fail))
    }
}

impl TlsClient {
    /// The webpki verdict on a chain for a name, reused for [`VERDICT_TTL`] (a pinger checks
    /// the same certificates over and over; each verification costs a signature check).
    /// A chain that has expired since its verdict was cached is verified again.
    fn verdict(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        bare: &str,
        time_valid: bool,
    ) -> Result<(), rustls::Error> {
        let mut h = Sha256::new();
        h.update(bare.as_bytes());
        for c in std::iter::once(leaf).chain(intermediates) {
            h.update((c.len() as u64).to_be_bytes());
            h.update(c.as_ref());
        }
        let key: [u8; 32] = h.finalize().into();
        if time_valid
            && let Some((at, v)) = self.verdicts.lock().expect("not poisoned").get(&key)
            && at.elapsed() < VERDICT_TTL
        {
            return v.clone();
        }
        let v = self
            .verifier
            .verify_server_cert(leaf, intermediates, name, &[], UnixTime::now())
            .map(|_| ());
        let mut cache = self.verdicts.lock().expect("not poisoned");
        if cache.len() >= VERDICT_CAP {
            cache.clear();
        }
        cache.insert(key, (Instant::now(), v.clone()));
        v
    }
}

fn classify(e: &rustls::Error, host: &str, not_after: DateTime<Utc>, not_before: DateTime<Utc>) -> Failure {
    use CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => failure(
            FailureKind::TlsExpired,
            Phase::Tls,
            format!(
                "the certificate of {host} expired on {}",
                not_after.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => failure(
            FailureKind::TlsNotYetValid,
            Phase::Tls,
            format!(
                "the certificate of {host} is not valid before {}",
                not_before.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => failure(
            FailureKind::TlsHostname,
            Phase::Tls,
            format!("the certificate does not cover {host}"),
        ),
        other => failure(
            FailureKind::TlsUntrusted,
            Phase::Tls,
            format!("the certificate chain of {host} is not trusted: {other}"),
        ),
    }
}

/// Whether a SAN list covers `host` (exact, or a left-most `*.` wildcard over one label).
pub fn covers(sans: &[String], host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    sans.iter().any(|san| {
        let san = san.trim_end_matches('.').to_ascii_lowercase();
        if san == host {
            return true;
        }
        match san.strip_prefix("*.") {
            Some(rest) => host
                .split_once('.')
                .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
            None => false,
        }
    })
}

/// Judges TLS facts of an HTTPS hop or a TLS check: validation failures make the check down
/// (unless `verify` is off), a certificate expiring within `warn_days` makes it degraded.
pub fn judge(report: &mut Report, info: &TlsInfo, fail: Option<Failure>, verify: bool, warn_days: u32) {
    if let Some(f) = fail {
        if verify {
            report.fail(f);
        }
    } else if info.days_left < i64::from(warn_days) {
        report.degrade(failure(
            FailureKind::TlsExpiring,
            Phase::Tls,
            format!(
                "the certificate expires in {} days ({}), within the {warn_days}-day warning period",
                info.days_left,
                info.not_after.format("%Y-%m-%d")
            ),
        ));
    }
}

/// Runs a TLS check into `report`; a STARTTLS upgrade, if the spec asks for one, must end by
/// `starttls_deadline`.
pub async fn check(
    net: &Net,
    tls: &TlsClient,
    spec: &TlsSpec,
    starttls_deadline: tokio::time::Instant,
    report: &mut Report,
) {
    report.enter(Phase::Dns);
    let (addrs, _dns_ms) = match net.resolve(&spec.host, spec.port, None).await {
        Ok(r) => r,
        Err(f) => return report.fail(f),
    };
    report.enter(Phase::Connect);
    let (mut tcp, addr) = match net.connect(&addrs).await {
        Ok(c) => c,
        Err(f) => return report.fail(f),
    };
    report.resolved_ip = Some(addr.ip());
    report.enter(Phase::Tls);
    if let Some(proto) = spec.starttls
        && let Err(f) = super::starttls::upgrade(&mut tcp, proto, starttls_deadline).await
    {
        return report.fail(f);
    }
    let server_name = spec.sni.as_deref().unwrap_or(&spec.host);
    let stream = match tls.handshake(tcp, server_name).await {
        Ok(s) => s,
        Err(f) => return report.fail(f),
    };
    let (_, conn) = stream.get_ref();
    match tls.inspect(conn, server_name) {
        Some((info, fail)) => {
            judge(report, &info, fail, true, spec.warn_days);
            report.tls = Some(info);
        }
        None => report.fail(failure(
            FailureKind::TlsHandshake,
            Phase::Tls,
            "the server presented no certificate we could read",
        )),
    }
}
