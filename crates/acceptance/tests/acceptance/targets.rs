//! Loopback servers the test controls: an HTTP service that can be switched up, down or
//! flapping; an HTTPS service whose certificate (from a CA made here) expires in 5 days; a
//! DNS server; a TCP listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// What the HTTP service answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Up = 0,
    Down = 1,
    /// Alternates 200 and 503, request by request.
    Flapping = 2,
    /// Accepts and closes at once, without an answer: what a broken network looks like.
    Unreachable = 3,
}

#[derive(Clone)]
pub struct HttpService {
    mode: Arc<AtomicU8>,
    hits: Arc<AtomicU64>,
    pub addr: SocketAddr,
}

impl HttpService {
    pub async fn start(ip: &str) -> Self {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(Mode::Up as u8));
        let hits = Arc::new(AtomicU64::new(0));
        let (m, h) = (mode.clone(), hits.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let (m, h) = (m.clone(), h.clone());
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    let n = h.fetch_add(1, Ordering::SeqCst);
                    let up = match m.load(Ordering::SeqCst) {
                        0 => true,
                        1 => false,
                        2 => n % 2 == 0,
                        _ => return,
                    };
                    let response = if up {
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                    } else {
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html\r\ncontent-length: 44\r\nconnection: close\r\n\r\n<h1>Service temporarily unavailable</h1>\n\n\n\n"
                    };
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { mode, hits, addr }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Requests answered (or dropped) so far: the checks the pinger made.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }
}

/// An HTTPS service for `localhost` with a certificate expiring in `days` days, and the PEM of
/// the CA that signed it (for the pinger to trust).
pub struct HttpsService {
    pub addr: SocketAddr,
    pub ca_pem: String,
}

impl HttpsService {
    pub async fn start(days: i64) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "PingTower acceptance CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let now = chrono::Utc::now();
        let not_before = now - chrono::Duration::days(30);
        let not_after = now + chrono::Duration::days(days);
        use chrono::Datelike;
        params.not_before = rcgen::date_time_ymd(not_before.year(), not_before.month() as u8, not_before.day() as u8);
        params.not_after = rcgen::date_time_ymd(not_after.year(), not_after.month() as u8, not_after.day() as u8);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();

        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut buf = [0u8; 4096];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Self { addr, ca_pem: ca.pem() }
    }

    pub fn url(&self) -> String {
        format!("https://localhost:{}/", self.addr.port())
    }
}

/// A DNS server answering every A question with 127.0.0.1 (UDP).
pub async fn dns_server() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(request) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut response = Message::response(request.metadata.id, request.metadata.op_code);
            response.metadata.authoritative = true;
            response.metadata.recursion_desired = request.metadata.recursion_desired;
            for query in &request.queries {
                response.add_query(query.clone());
                if query.query_type() == RecordType::A {
                    response.add_answer(Record::from_rdata(
                        query.name().clone(),
                        60,
                        RData::A(A::new(127, 0, 0, 1)),
                    ));
                }
            }
            if let Ok(bytes) = response.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}

/// A TCP service that accepts connections and greets.
pub async fn tcp_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.write_all(b"220 hello\r\n").await;
        }
    });
    addr
}
