//! One HTTP/1.1 request on a connection of its own, and its response: the client side of
//! RFC 9112 that a check needs, and nothing else.
//!
//! A check sends `Connection: close` and never reuses the connection, so the client needs no
//! connection state, no pool, no background task and no channels: the request goes out in one
//! write, the head is parsed by `httparse`, and the body is framed by hand (no body, a
//! `Content-Length`, `chunked`, or until the server closes), up to a cap. A general-purpose
//! client (hyper) spends more CPU per request on its machinery than on this exchange, and a
//! pinger makes tens of thousands of such requests a minute.

use std::fmt;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest response head accepted (status line and headers).
pub const MAX_HEAD: usize = 64 * 1024;
/// Most response headers accepted.
const MAX_HEADERS: usize = 128;
/// Most interim (1xx) responses skipped before the final one.
const MAX_INTERIM: usize = 8;

/// Why an exchange failed.
#[derive(Debug)]
pub enum Error {
    /// The connection ended before a complete response head arrived; `got` bytes had come.
    Closed { got: usize },
    /// The response head is not valid HTTP/1.x.
    Invalid(String),
    /// Reading or writing failed.
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed { got: 0 } => f.write_str("the connection closed before any byte of a response"),
            Error::Closed { got } => write!(f, "the connection closed after {got} bytes of the response head"),
            Error::Invalid(why) => f.write_str(why),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// A final response head.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    /// `"HTTP/1.1"` or `"HTTP/1.0"`.
    pub version: &'static str,
    pub headers: HeaderMap,
    framing: Framing,
}

/// How the body of a response is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What one request sends.
pub struct Request<'a> {
    pub method: &'a Method,
    /// Path and query.
    pub target: &'a str,
    /// Sent as `host` unless `headers` name one.
    pub host: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// One exchange in progress: the connection and the bytes read but not yet used.
pub struct Exchange<S> {
    io: S,
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    pos: usize,
    /// The request was a HEAD: its response has no body, whatever its head says.
    head_request: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Exchange<S> {
    /// Sends `request` in one write: request line, `host`, the headers (a `Content-Length`
    /// or `Transfer-Encoding` among them is replaced by the body's own length), then the body.
    pub async fn send(mut io: S, request: &Request<'_>) -> Result<Self, Error> {
        fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        let (method, body) = (request.method, request.body);
        let mut out = Vec::with_capacity(512 + body.len());
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(request.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        if !request.headers.contains_key(HOST) {
            line(&mut out, b"host", request.host.as_bytes());
        }
        for (name, value) in request.headers {
            if name != CONTENT_LENGTH && name != TRANSFER_ENCODING {
                line(&mut out, name.as_str().as_bytes(), value.as_bytes());
            }
        }
        if !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
            line(&mut out, b"content-length", body.len().to_string().as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        io.write_all(&out).await?;
        io.flush().await?;
        Ok(Exchange {
            io,
            buf: Vec::new(),
            pos: 0,
            head_request: *method == Method::HEAD,
        })
    }

    /// Reads the final response head, skipping interim (1xx) responses.
    pub async fn head(&mut self) -> Result<Head, Error> {
        for _ in 0..=MAX_INTERIM {
            let head = self.one_head().await?;
            if (100..200).contains(&head.status) && head.status != 101 {
                continue;
            }
            return Ok(head);
        }
        Err(Error::Invalid(format!(
            "more than {MAX_INTERIM} interim (1xx) responses"
        )))
    }

    async fn one_head(&mut self) -> Result<Head, Error> {
        loop {
            if self.pos < self.buf.len() {
                let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut parsed = httparse::Response::new(&mut slots);
                match parsed.parse(&self.buf[self.pos..]) {
                    Ok(httparse::Status::Complete(len)) => {
                        let head = head_of(&parsed, self.head_request)?;
                        self.pos += len;
                        return Ok(head);
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(e) => return Err(Error::Invalid(format!("invalid response head: {e}"))),
                }
            }
            if self.buf.len() - self.pos >= MAX_HEAD {
                return Err(Error::Invalid(format!(
                    "the response head is over {} KiB",
                    MAX_HEAD / 1024
                )));
            }
            if self.fill().await? == 0 {
                return Err(Error::Closed {
                    got: self.buf.len() - self.pos,
                });
            }
        }
    }

    /// Reads more bytes after the unread ones; how many (0 at the end of the stream).
    async fn fill(&mut self) -> std::io::Result<usize> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(8 * 1024);
        }
        self.io.read_buf(&mut self.buf).await
    }

    /// Reads the body of `head`, up to `cap` bytes (the rest is left unread). On a failure
    /// the error comes with the bytes read so far.
    pub async fn body(&mut self, head: &Head, cap: usize) -> Result<Bytes, (Error, Vec<u8>)> {
        let mut body = Vec::new();
        let result = match head.framing {
            Framing::None => Ok(()),
            Framing::Length(n) => {
                let want = usize::try_from(n).unwrap_or(usize::MAX).min(cap);
                body.reserve_exact(want);
                self.exactly(want, &mut body).await
            }
            Framing::UntilClose => self.until_close(cap, &mut body).await,
            Framing::Chunked => self.chunked(cap, &mut body).await,
        };
        match result {
            Ok(()) => Ok(Bytes::from(body)),
            Err(e) => Err((e, body)),
        }
    }

    /// Moves up to `want` unread bytes into `out`; how many.
    fn take(&mut self, want: usize, out: &mut Vec<u8>) -> usize {
        let n = want.min(self.buf.len() - self.pos);
        out.extend_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        n
    }

    async fn exactly(&mut self, mut want: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        loop {
            want -= self.take(want, out);
            if want == 0 {
                return Ok(());
            }
            if self.fill().await? == 0 {
                return Err(Error::Invalid(format!(
                    "the body ended {want} bytes short of its length"
                )));
            }
        }
    }

    async fn until_close(&mut self, cap: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        loop {
            self.take(cap - out.len(), out);
            if out.len() >= cap || self.fill().await? == 0 {
                return Ok(());
            }
        }
    }

    async fn chunked(&mut self, cap: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        loop {
            let line = self.line().await?;
            let size = chunk_size(&line)?;
            if size == 0 {
                // Trailer fields, up to the empty line.
                while !self.line().await?.is_empty() {}
                return Ok(());
            }
            let room = cap - out.len();
            let keep = usize::try_from(size).unwrap_or(usize::MAX).min(room);
            self.exactly(keep, out).await?;
            if out.len() >= cap {
                return Ok(());
            }
            if !self.line().await?.is_empty() {
                return Err(Error::Invalid("a chunk is longer than its size".into()));
            }
        }
    }

    /// The next line (without its CRLF or LF) of a chunked body.
    async fn line(&mut self) -> Result<Vec<u8>, Error> {
        loop {
            let unread = &self.buf[self.pos..];
            if let Some(end) = unread.iter().position(|&b| b == b'\n') {
                let mut line = unread[..end].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.pos += end + 1;
                return Ok(line);
            }
            if unread.len() > 4096 {
                return Err(Error::Invalid("a chunk header or trailer line is over 4 KiB".into()));
            }
            if self.fill().await? == 0 {
                return Err(Error::Invalid("the chunked body ended before its last chunk".into()));
            }
        }
    }
}

/// The size of a chunk from its header line (`1a;ext=1` → 26).
fn chunk_size(line: &[u8]) -> Result<u64, Error> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    let digits = digits.trim_ascii();
    let invalid = || Error::Invalid(format!("invalid chunk size {:?}", String::from_utf8_lossy(line)));
    if digits.is_empty() || digits.len() > 15 {
        return Err(invalid());
    }
    let text = std::str::from_utf8(digits).map_err(|_| invalid())?;
    u64::from_str_radix(text, 16).map_err(|_| invalid())
}

/// The head of a parsed response, with the framing of its body.
fn head_of(parsed: &httparse::Response<'_, '_>, head_request: bool) -> Result<Head, Error> {
    let status = parsed.code.ok_or_else(|| Error::Invalid("no status code".into()))?;
    let version = if parsed.version == Some(0) {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    let mut length: Option<u64> = None;
    let mut chunked = None;
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| Error::Invalid(format!("invalid header name {:?}", h.name)))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| Error::Invalid(format!("invalid value of header {:?}", h.name)))?;
        if name == CONTENT_LENGTH {
            let text = value.to_str().unwrap_or_default();
            // A repeated Content-Length must repeat the same value (RFC 9110 §8.6).
            for part in text.split(',') {
                let n: u64 = part
                    .trim()
                    .parse()
                    .map_err(|_| Error::Invalid(format!("invalid content-length {text:?}")))?;
                if length.is_some_and(|l| l != n) {
                    return Err(Error::Invalid(format!("conflicting content-length values ({text:?})")));
                }
                length = Some(n);
            }
        } else if name == TRANSFER_ENCODING {
            let text = value.to_str().unwrap_or_default();
            let last = text.rsplit(',').next().unwrap_or_default().trim();
            chunked = Some(last.eq_ignore_ascii_case("chunked"));
        }
        headers.append(name, value);
    }
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::None
    } else if let Some(chunked) = chunked {
        if chunked { Framing::Chunked } else { Framing::UntilClose }
    } else if let Some(n) = length {
        if n == 0 { Framing::None } else { Framing::Length(n) }
    } else {
        Framing::UntilClose
    };
    Ok(Head {
        status,
        version,
        headers,
        framing,
    })
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// A server on loopback that reads one request head, answers `reply` in `pieces` (one
    /// write each) and closes; the request it read comes back through the handle.
    async fn serve(pieces: Vec<&'static [u8]>) -> (std::net::SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&chunk[..n]);
            }
            for p in pieces {
                if s.write_all(p).await.is_err() {
                    break;
                }
                s.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            request
        });
        (addr, task)
    }

    async fn fetch(method: Method, pieces: Vec<&'static [u8]>, cap: usize) -> (Result<(Head, Bytes), String>, Vec<u8>) {
        let (addr, server) = serve(pieces).await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("999"));
        let body: &[u8] = if method == Method::POST { b"{\"a\":1}" } else { b"" };
        let outcome = async {
            let request = Request {
                method: &method,
                target: "/p?q=1",
                host: "example.test",
                headers: &headers,
                body,
            };
            let mut x = Exchange::send(tcp, &request).await.map_err(|e| e.to_string())?;
            let head = x.head().await.map_err(|e| e.to_string())?;
            let body = x
                .body(&head, cap)
                .await
                .map_err(|(e, got)| format!("{e} after {}", got.len()))?;
            Ok((head, body))
        }
        .await;
        (outcome, server.await.unwrap())
    }

    #[tokio::test]
    async fn a_content_length_body_is_read_whole_and_the_request_is_well_formed() {
        let (out, request) = fetch(
            Method::POST,
            vec![
                b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhel",
                b"lo",
            ],
            1024,
        )
        .await;
        let (head, body) = out.unwrap();
        assert_eq!((head.status, head.version), (201, "HTTP/1.1"));
        assert_eq!(head.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(&body[..], b"hello");
        let request = String::from_utf8(request).unwrap();
        assert!(request.starts_with("POST /p?q=1 HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("host: example.test\r\n"), "{request}");
        assert!(
            request.contains("content-length: 7\r\n"),
            "the body's own length: {request}"
        );
        assert!(
            !request.contains("999"),
            "a caller's content-length is replaced: {request}"
        );
    }

    #[tokio::test]
    async fn a_chunked_body_with_extensions_and_trailers_is_decoded() {
        let (out, _) = fetch(
            Method::GET,
            vec![
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                b"5;name=v\r\nhello\r\n",
                b"1",
                b"0\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n",
            ],
            1 << 20,
        )
        .await;
        let (_, body) = out.unwrap();
        assert_eq!(body.len(), 5 + 0x10);
        assert!(body.starts_with(b"hello0123"));
    }

    #[tokio::test]
    async fn a_body_without_length_is_read_until_the_server_closes() {
        let (out, _) = fetch(Method::GET, vec![b"HTTP/1.0 200 OK\r\n\r\nfirst ", b"second"], 1024).await;
        let (head, body) = out.unwrap();
        assert_eq!(head.version, "HTTP/1.0");
        assert_eq!(&body[..], b"first second");
    }

    #[tokio::test]
    async fn interim_responses_are_skipped() {
        let (out, _) = fetch(
            Method::GET,
            vec![
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
                b"HTTP/1.1 204 No Content\r\n\r\n",
            ],
            1024,
        )
        .await;
        let (head, body) = out.unwrap();
        assert_eq!(head.status, 204);
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn a_head_request_reads_no_body_despite_its_length() {
        let (out, _) = fetch(
            Method::HEAD,
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"],
            1024,
        )
        .await;
        let (head, body) = out.unwrap();
        assert_eq!(head.status, 200);
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn bodies_stop_at_the_cap_however_they_are_framed() {
        let (out, _) = fetch(
            Method::GET,
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"],
            4,
        )
        .await;
        assert_eq!(&out.unwrap().1[..], b"0123");
        let (out, _) = fetch(
            Method::GET,
            vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"],
            4,
        )
        .await;
        assert_eq!(&out.unwrap().1[..], b"abcd");
        let (out, _) = fetch(Method::GET, vec![b"HTTP/1.1 200 OK\r\n\r\n0123456789"], 4).await;
        assert_eq!(&out.unwrap().1[..], b"0123");
    }

    #[tokio::test]
    async fn broken_responses_are_errors_that_say_what_broke() {
        let cases: Vec<(Vec<&'static [u8]>, &str)> = vec![
            (vec![], "before any byte"),
            (
                vec![b"HTTP/1.1 200 OK\r\nContent-"],
                "after 25 bytes of the response head",
            ),
            (vec![b"HTTP/1.1 2x0 OK\r\n\r\n"], "invalid response head"),
            (vec![b"SSH-2.0-OpenSSH_9.6\r\n"], "invalid response head"),
            (
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"],
                "conflicting content-length",
            ),
            (
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"],
                "invalid content-length",
            ),
            (
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"],
                "7 bytes short of its length after 3",
            ),
            (
                vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
                "invalid chunk size",
            ),
            (
                vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n"],
                "longer than its size",
            ),
            (
                vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab"],
                "short of its length after 2",
            ),
            (
                vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"],
                "before its last chunk after 3",
            ),
        ];
        for (pieces, expected) in cases {
            let (out, _) = fetch(Method::GET, pieces.clone(), 1024).await;
            let err = out
                .err()
                .unwrap_or_else(|| panic!("{pieces:?} was taken as a response"));
            assert!(err.contains(expected), "{pieces:?}: {err:?} does not say {expected:?}");
        }
    }

    #[tokio::test]
    async fn an_endless_head_is_refused_at_the_limit() {
        static LONG: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
            let mut v = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
            v.resize(MAX_HEAD + 100, b'a');
            v
        });
        static MANY: std::sync::LazyLock<Vec<u8>> =
            std::sync::LazyLock::new(|| [&b"HTTP/1.1 200 OK\r\n"[..], &b"X-A: 1\r\n".repeat(MAX_HEADERS + 1)].concat());
        let (out, _) = fetch(Method::GET, vec![&LONG[..]], 1024).await;
        assert!(out.as_ref().unwrap_err().contains("over 64 KiB"), "{out:?}");
        let (out, _) = fetch(Method::GET, vec![&MANY[..]], 1024).await;
        assert!(out.as_ref().unwrap_err().contains("too many headers"), "{out:?}");
    }
}
