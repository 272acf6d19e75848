//! Loopback servers and certificates for the pinger's tests and its benchmark: an HTTP(S)
//! server with scripted replies that counts connections, a test PKI (rcgen), and a DNS
//! server (hickory-proto messages over UDP and TCP).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_util::sync::{CancellationToken, DropGuard};

// -------------------------------------------------------------------------------------------
// PKI
// -------------------------------------------------------------------------------------------

/// A test certificate authority.
pub struct Pki {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// A file holding `ca_pem` (for PINGTOWER_PINGER_EXTRA_CA_FILE).
    pub ca_file: std::path::PathBuf,
    ecdsa: bool,
}

/// A leaf certificate and its key, ready for a server.
pub struct Leaf {
    /// Leaf then CA.
    pub chain: Vec<CertificateDer<'static>>,
    /// The key.
    pub key: PrivateKeyDer<'static>,
    /// The leaf certificate, PEM (for servers that read files).
    pub cert_pem: String,
    /// The key, PEM.
    pub key_pem: String,
}

impl Leaf {
    /// A rustls server configuration presenting this certificate.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .unwrap();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(cfg)
    }
}

fn keypair(ecdsa: bool) -> KeyPair {
    if ecdsa {
        KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
    } else {
        KeyPair::generate().unwrap()
    }
}

impl Pki {
    /// A fresh CA (ECDSA P-256 keys throughout).
    pub fn new() -> Self {
        let ecdsa = true;
        let key = keypair(ecdsa);
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "PingTower Test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(30);
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(&key).unwrap();
        let ca_pem = cert.pem();
        let ca_file = std::env::temp_dir().join(format!("pingtower-test-ca-{}.pem", uuid::Uuid::new_v4().simple()));
        std::fs::write(&ca_file, &ca_pem).unwrap();
        Self {
            issuer: Issuer::new(params, key),
            ca_pem,
            ca_file,
            ecdsa,
        }
    }

    /// A leaf for `sans` (names or IPs) valid from `from_days` to `until_days` relative to now.
    pub fn leaf_between(&self, sans: &[&str], from_days: i64, until_days: i64) -> Leaf {
        let key = keypair(self.ecdsa);
        let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, sans.first().copied().unwrap_or("test"));
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(from_days);
        params.not_after = now + time::Duration::days(until_days) + time::Duration::hours(1);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A leaf valid for a year.
    pub fn leaf(&self, sans: &[&str]) -> Leaf {
        self.leaf_between(sans, -1, 365)
    }

    /// A self-signed certificate (no CA) for `sans`.
    pub fn self_signed(sans: &[&str]) -> Leaf {
        let key = keypair(true);
        let params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        let cert = params.self_signed(&key).unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

// -------------------------------------------------------------------------------------------
// HTTP(S) server
// -------------------------------------------------------------------------------------------

/// What the server does with a request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with this status, headers and body.
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Wait, then answer 200.
    Slow(Duration),
    /// Promise 1000 body bytes, send 10, close.
    CloseMidBody,
}

impl Reply {
    /// A 200 with a body.
    pub fn ok(body: &str) -> Self {
        Reply::status(200, body)
    }
    /// A status with a body.
    pub fn status(status: u16, body: &str) -> Self {
        Reply::Status {
            status,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: body.as_bytes().to_vec(),
        }
    }
    /// A redirect.
    pub fn redirect(status: u16, location: &str) -> Self {
        Reply::Status {
            status,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }
}

/// Maps a request path to a reply.
pub type Router = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

/// A loopback HTTP(S) server; stops when dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    /// The last request received: head and body, as text.
    pub last_request: Arc<std::sync::Mutex<String>>,
    /// The address the last connection came from.
    pub last_peer: Arc<std::sync::Mutex<Option<SocketAddr>>>,
    _stop: DropGuard,
}

/// The next connection `listener` accepts, or None once `stop` is cancelled (a failed accept
/// is passed over).
pub async fn accept_until(listener: &TcpListener, stop: &CancellationToken) -> Option<(TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return None,
            a = listener.accept() => if let Ok(a) = a { return Some(a) },
        }
    }
}

impl TestServer {
    /// Plain HTTP on `ip:0`.
    pub async fn http(ip: &str, router: Router) -> Self {
        Self::start(ip, router, None).await
    }

    /// HTTPS on `ip:0` with `tls`.
    pub async fn https(ip: &str, router: Router, tls: Arc<rustls::ServerConfig>) -> Self {
        Self::start(ip, router, Some(tls)).await
    }

    /// A listener that only counts connections (and closes them).
    pub async fn counting(ip: &str) -> Self {
        Self::start(ip, Arc::new(|_: &str| Reply::ok("")), None).await
    }

    async fn start(ip: &str, router: Router, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let last_request = Arc::new(std::sync::Mutex::new(String::new()));
        let last_peer = Arc::new(std::sync::Mutex::new(None));
        let peer_slot = last_peer.clone();
        let stop = CancellationToken::new();
        let (count, token, last) = (connections.clone(), stop.clone(), last_request.clone());
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        tokio::spawn(async move {
            loop {
                let Some((stream, peer)) = accept_until(&listener, &token).await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                *peer_slot.lock().unwrap() = Some(peer);
                let router = router.clone();
                let acceptor = acceptor.clone();
                let token = token.clone();
                let last = last.clone();
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let serve = async move {
                        match acceptor {
                            Some(a) => {
                                if let Ok(s) = a.accept(stream).await {
                                    serve_one(s, &router, &last).await;
                                }
                            }
                            None => serve_one(stream, &router, &last).await,
                        }
                    };
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = serve => {}
                    }
                });
            }
        });
        Self {
            addr,
            connections,
            last_request,
            last_peer,
            _stop: stop.drop_guard(),
        }
    }

    /// `http://addr` or `https://addr` + path.
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Connections accepted so far.
    pub fn hits(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, router: &Router, last: &std::sync::Mutex<String>) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    // Drain a request body, if any.
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() - head_end < len {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    *last.lock().unwrap() = String::from_utf8_lossy(&buf).into_owned();
    let reply = router(&path);
    let (status, headers, body) = match reply {
        Reply::Status { status, headers, body } => (status, headers, body),
        Reply::Slow(d) => {
            tokio::time::sleep(d).await;
            (200, Vec::new(), b"slow".to_vec())
        }
        Reply::CloseMidBody => {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n0123456789")
                .await;
            let _ = s.flush().await;
            let _ = s.shutdown().await;
            return;
        }
    };
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    let _ = s.write_all(&bytes).await;
    let _ = s.flush().await;
    let _ = s.shutdown().await;
}

// -------------------------------------------------------------------------------------------
// DNS server
// -------------------------------------------------------------------------------------------

/// A tiny authoritative DNS server on loopback (UDP and TCP on the same port).
pub struct TestDns {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Queries answered.
    pub queries: Arc<AtomicUsize>,
    _stop: DropGuard,
}

/// The zone: records by (lowercase name with trailing dot, type). Names absent → NXDOMAIN;
/// `servfail.test.` → SERVFAIL; `silent.test.` → no answer at all.
#[derive(Default, Clone)]
pub struct Zone {
    records: HashMap<(String, RecordType), Vec<Record>>,
}

impl Zone {
    fn add(&mut self, name: &str, rtype: RecordType, data: RData) -> &mut Self {
        let n = Name::from_str(name).unwrap();
        self.records
            .entry((name.to_ascii_lowercase(), rtype))
            .or_default()
            .push(Record::from_rdata(n, 300, data));
        self
    }
    /// An A record.
    pub fn a(&mut self, name: &str, ip: &str) -> &mut Self {
        self.add(name, RecordType::A, RData::A(A(ip.parse().unwrap())))
    }
    /// An AAAA record.
    pub fn aaaa(&mut self, name: &str, ip: &str) -> &mut Self {
        self.add(name, RecordType::AAAA, RData::AAAA(AAAA(ip.parse().unwrap())))
    }
    /// A CNAME record.
    pub fn cname(&mut self, name: &str, target: &str) -> &mut Self {
        self.add(
            name,
            RecordType::CNAME,
            RData::CNAME(CNAME(Name::from_str(target).unwrap())),
        )
    }
    /// An MX record.
    pub fn mx(&mut self, name: &str, pref: u16, exchange: &str) -> &mut Self {
        self.add(
            name,
            RecordType::MX,
            RData::MX(MX::new(pref, Name::from_str(exchange).unwrap())),
        )
    }
    /// A TXT record.
    pub fn txt(&mut self, name: &str, text: &str) -> &mut Self {
        self.add(name, RecordType::TXT, RData::TXT(TXT::new(vec![text.to_owned()])))
    }

    fn answer(&self, query: &Message) -> Option<Message> {
        let q = query.queries.first()?;
        let name = q.name().to_ascii().to_ascii_lowercase();
        let mut reply = Message::response(query.metadata.id, OpCode::Query);
        reply.metadata.recursion_desired = query.metadata.recursion_desired;
        reply.metadata.recursion_available = true;
        reply.metadata.authoritative = true;
        reply.add_query(q.clone());
        if name == "silent.test." {
            return None;
        }
        if name == "servfail.test." {
            reply.metadata.response_code = ResponseCode::ServFail;
            return Some(reply);
        }
        let exists = self.records.keys().any(|(n, _)| *n == name);
        if !exists {
            reply.metadata.response_code = ResponseCode::NXDomain;
            return Some(reply);
        }
        // Follow a CNAME, as a recursive resolver would.
        let mut current = name.clone();
        for _ in 0..8 {
            if let Some(rs) = self.records.get(&(current.clone(), q.query_type())) {
                reply.add_answers(rs.iter().cloned());
                break;
            }
            match self.records.get(&(current.clone(), RecordType::CNAME)) {
                Some(rs) if q.query_type() != RecordType::CNAME => {
                    reply.add_answers(rs.iter().cloned());
                    if let RData::CNAME(c) = &rs[0].data {
                        current = c.0.to_ascii().to_ascii_lowercase();
                    }
                }
                _ => break,
            }
        }
        Some(reply)
    }
}

impl TestDns {
    /// Serves `zone` on 127.0.0.1 (UDP and TCP, same port).
    pub async fn start(zone: Zone) -> Self {
        Self::start_on("127.0.0.1", zone).await
    }

    /// Serves `zone` on `ip` (UDP and TCP, same port).
    pub async fn start_on(ip: &str, zone: Zone) -> Self {
        // The UDP port the kernel picks may already be taken for TCP (by an
        // ephemeral port of another test's connection): pick again then.
        let ip = ip.parse::<IpAddr>().unwrap();
        let mut attempt = 0;
        let (udp, tcp, addr) = loop {
            let udp = UdpSocket::bind((ip, 0)).await.unwrap();
            let addr = udp.local_addr().unwrap();
            match TcpListener::bind(addr).await {
                Ok(tcp) => break (udp, tcp, addr),
                Err(e) if attempt < 50 => {
                    attempt += 1;
                    eprintln!("test DNS: {addr} taken for TCP ({e}), picking another port");
                }
                Err(e) => panic!("test DNS: no port free for both UDP and TCP: {e}"),
            }
        };
        let queries = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let zone = Arc::new(zone);
        {
            let (zone, queries, token) = (zone.clone(), queries.clone(), stop.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    let (n, from) = tokio::select! {
                        _ = token.cancelled() => return,
                        r = udp.recv_from(&mut buf) => match r { Ok(x) => x, Err(_) => continue },
                    };
                    queries.fetch_add(1, Ordering::SeqCst);
                    if let Ok(q) = Message::from_vec(&buf[..n])
                        && let Some(reply) = zone.answer(&q)
                    {
                        let _ = udp.send_to(&reply.to_vec().unwrap(), from).await;
                    }
                }
            });
        }
        {
            let (zone, queries, token) = (zone.clone(), queries.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    let Some((mut s, _)) = accept_until(&tcp, &token).await else {
                        return;
                    };
                    let zone = zone.clone();
                    queries.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        let Ok(len) = s.read_u16().await else { return };
                        let mut buf = vec![0u8; len as usize];
                        if s.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        if let Ok(q) = Message::from_vec(&buf)
                            && let Some(reply) = zone.answer(&q)
                        {
                            let bytes = reply.to_vec().unwrap();
                            let _ = s.write_u16(bytes.len() as u16).await;
                            let _ = s.write_all(&bytes).await;
                        }
                    });
                }
            });
        }
        Self {
            addr,
            queries,
            _stop: stop.drop_guard(),
        }
    }

    /// The resolver spec pointing at this server.
    pub fn resolver(&self, tcp: bool) -> common::messages::Resolver {
        common::messages::Resolver {
            address: self.addr,
            protocol: if tcp {
                common::messages::DnsTransport::Tcp
            } else {
                common::messages::DnsTransport::Udp
            },
        }
    }
}
