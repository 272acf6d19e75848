//! A response body as the checks read it: its `Content-Encoding` undone by streaming
//! decoders (async-compression), up to a cap on the *decoded* bytes.
//!
//! Everything that judges a body (assertions, the excerpt, the LLM's evidence) reads what
//! this module returns, never the bytes on the wire.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_compression::tokio::bufread::{BrotliDecoder, DeflateDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder};
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use http::HeaderMap;
use http::header::CONTENT_ENCODING;
use http_body_util::BodyStream;
use hyper::body::Incoming;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt as _, BufReader, ReadBuf};
use tokio_util::io::StreamReader;

/// Most content codings stacked on one body (`gzip, br` is two).
pub const MAX_CODINGS: usize = 3;

/// Decoded bytes per compressed byte beyond which a body that reaches the cap is taken for a
/// decompression bomb rather than a large page. Text compresses about 3–20:1 in practice; a
/// run of zeros gzips about 1,000:1 and brotli or zstd go far beyond.
pub const BOMB_RATIO: usize = 100;

/// A content coding the pinger decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` (and its alias `x-gzip`).
    Gzip,
    /// `deflate`: zlib-wrapped as RFC 9110 says, or raw deflate as some servers send it.
    Deflate,
    /// `br`.
    Brotli,
    /// `zstd`.
    Zstd,
}

impl Coding {
    /// The coding's name in `Content-Encoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }
}

/// The codings of a response in the order they were applied (`identity` dropped), or why
/// the body cannot be decoded.
pub fn codings(headers: &HeaderMap) -> Result<Vec<Coding>, String> {
    let mut out = Vec::new();
    for value in headers.get_all(CONTENT_ENCODING) {
        let text = value
            .to_str()
            .map_err(|_| "the Content-Encoding header is not text".to_owned())?;
        for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let coding = match token.to_ascii_lowercase().as_str() {
                "identity" => continue,
                "gzip" | "x-gzip" => Coding::Gzip,
                "deflate" => Coding::Deflate,
                "br" => Coding::Brotli,
                "zstd" => Coding::Zstd,
                _ => {
                    return Err(format!(
                        "the body is encoded as {token:?}, which the pinger cannot decode"
                    ));
                }
            };
            out.push(coding);
        }
    }
    if out.len() > MAX_CODINGS {
        return Err(format!(
            "the body has {} stacked content codings ({}); more than {MAX_CODINGS} are refused",
            out.len(),
            out.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(out)
}

/// A body read within the cap.
#[derive(Debug)]
pub struct Body {
    /// The decoded bytes, at most the cap.
    pub decoded: Bytes,
    /// Bytes received on the wire.
    pub raw: usize,
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The transfer broke; the bytes decoded until then come along.
    Broken {
        /// What broke.
        error: String,
        /// The server broke the body's framing (a bad chunk); otherwise the connection broke.
        framing: bool,
        /// Bytes received on the wire.
        raw: usize,
        /// What was decoded before.
        decoded: Vec<u8>,
    },
    /// The body is not valid in its content coding, or its coding is unknown.
    Undecodable {
        /// Why.
        error: String,
        /// What was decoded before.
        decoded: Vec<u8>,
    },
    /// The body decodes past the cap from a suspiciously small input.
    Bomb {
        /// Compressed bytes consumed to produce the cap's worth of decoded bytes.
        consumed: usize,
        /// The codings.
        codings: Vec<Coding>,
        /// The decoded bytes up to the cap.
        decoded: Vec<u8>,
    },
}

/// Reads `body` (of a response with `headers`), decoding its content codings, up to `cap`
/// decoded bytes; the rest is neither downloaded nor decoded. A body of more than `cap`
/// bytes is cut at the cap, except a compressed one that reaches the cap at more than
/// [`BOMB_RATIO`]:1, which is a [`BodyError::Bomb`].
pub async fn read(body: Incoming, headers: &HeaderMap, cap: usize) -> Result<Body, BodyError> {
    let codings = codings(headers).map_err(|error| BodyError::Undecodable {
        error,
        decoded: Vec::new(),
    })?;
    if codings.is_empty() {
        return read_plain(body, cap).await;
    }
    // Compressed input is cut at twice the cap: past that, it decodes to so little that the
    // rest is not worth downloading (a stream of empty deflate blocks, say).
    let raw_cap = 2 * cap;
    let received = Arc::new(AtomicUsize::new(0));
    let raw_capped = Arc::new(AtomicBool::new(false));
    let transport_error: Arc<Mutex<Option<(String, bool)>>> = Arc::default();
    let stream = {
        let (received, raw_capped, transport_error) = (received.clone(), raw_capped.clone(), transport_error.clone());
        BodyStream::new(body)
            .try_filter_map(|frame| futures::future::ready(Ok(frame.into_data().ok())))
            .map_err(move |e: hyper::Error| {
                let text = chain(&e);
                let slot = (text.clone(), is_framing(&e));
                *transport_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(slot);
                io::Error::other(text)
            })
            .take_while(move |item| {
                let before = match item {
                    Ok(data) => received.fetch_add(data.len(), Ordering::Relaxed),
                    Err(_) => 0,
                };
                let go = before < raw_cap;
                if !go {
                    raw_capped.store(true, Ordering::Relaxed);
                }
                futures::future::ready(go)
            })
    };
    let consumed = Arc::new(AtomicUsize::new(0));
    let wire = Consumed {
        inner: StreamReader::new(Box::pin(stream)),
        count: consumed.clone(),
    };
    // Applied in order, so undone in reverse; the innermost decoder reads the wire directly
    // and each further one reads the previous through a buffer.
    let mut undone = codings.iter().rev();
    let mut reader: Pin<Box<dyn AsyncRead + Send>> = match undone.next() {
        None => Box::pin(wire),
        Some(coding) => decoder(*coding, Box::pin(wire)),
    };
    for coding in undone {
        reader = decoder(*coding, Box::pin(BufReader::new(reader)));
    }
    let mut decoded = Vec::new();
    let read = reader.take(cap as u64 + 1).read_to_end(&mut decoded).await;
    let raw = received.load(Ordering::Relaxed);
    let consumed = consumed.load(Ordering::Relaxed);
    if let Err(e) = read {
        let broken = transport_error.lock().unwrap_or_else(|p| p.into_inner()).take();
        return match broken {
            Some((error, framing)) => Err(BodyError::Broken {
                error,
                framing,
                raw,
                decoded,
            }),
            // Compressed input cut at its cap ends mid-stream: what was decoded stands.
            None if raw_capped.load(Ordering::Relaxed) => Ok(Body {
                decoded: decoded.into(),
                raw,
            }),
            // A compressed body with no byte at all (an empty chunked body, say) is empty.
            None if raw == 0 => Ok(Body {
                decoded: Bytes::new(),
                raw,
            }),
            None => Err(BodyError::Undecodable {
                error: format!(
                    "the body is not valid {}: {e}",
                    codings.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", then ")
                ),
                decoded,
            }),
        };
    }
    if decoded.len() > cap {
        decoded.truncate(cap);
        if decoded.len() / consumed.max(1) > BOMB_RATIO {
            return Err(BodyError::Bomb {
                consumed,
                codings,
                decoded,
            });
        }
    }
    Ok(Body {
        decoded: decoded.into(),
        raw,
    })
}

/// A body without content coding: its frames up to `cap` bytes, with none of the decoding
/// machinery (most bodies are this, and a pinger reads tens of thousands a minute).
async fn read_plain(mut body: Incoming, cap: usize) -> Result<Body, BodyError> {
    use http_body_util::BodyExt as _;
    let mut decoded = Vec::new();
    let mut raw = 0;
    while decoded.len() < cap {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    raw += data.len();
                    decoded.extend_from_slice(&data[..data.len().min(cap - decoded.len())]);
                }
            }
            Some(Err(e)) => {
                return Err(BodyError::Broken {
                    error: chain(&e),
                    framing: is_framing(&e),
                    raw,
                    decoded,
                });
            }
        }
    }
    Ok(Body {
        decoded: decoded.into(),
        raw,
    })
}

/// A decoder of `coding` over `inner`.
fn decoder(coding: Coding, inner: Pin<Box<dyn AsyncBufRead + Send>>) -> Pin<Box<dyn AsyncRead + Send>> {
    match coding {
        Coding::Gzip => {
            let mut d = GzipDecoder::new(inner);
            // Concatenated gzip members make one body, as in browsers and curl.
            d.multiple_members(true);
            Box::pin(d)
        }
        Coding::Deflate => Box::pin(Deflate::Sniffing(Some(inner))),
        Coding::Brotli => Box::pin(BrotliDecoder::new(inner)),
        Coding::Zstd => Box::pin(ZstdDecoder::new(inner)),
    }
}

/// `deflate` as sent: RFC 9110 means zlib-wrapped deflate, but some servers send raw
/// deflate. The first two bytes tell (a zlib header is a multiple of 31 with method 8).
enum Deflate {
    /// Waiting for the first bytes.
    Sniffing(Option<Pin<Box<dyn AsyncBufRead + Send>>>),
    /// zlib-wrapped.
    Zlib(ZlibDecoder<Pin<Box<dyn AsyncBufRead + Send>>>),
    /// Raw.
    Raw(DeflateDecoder<Pin<Box<dyn AsyncBufRead + Send>>>),
}

impl AsyncRead for Deflate {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match this {
                Deflate::Zlib(d) => return Pin::new(d).poll_read(cx, buf),
                Deflate::Raw(d) => return Pin::new(d).poll_read(cx, buf),
                Deflate::Sniffing(inner) => {
                    let reader = inner.as_mut().expect("present until replaced");
                    let head = match reader.as_mut().poll_fill_buf(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Ready(Ok(head)) => head,
                    };
                    // One byte cannot tell; an empty buffer is the end (and the decoder says so).
                    let zlib = match head {
                        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
                        _ => true,
                    };
                    let reader = inner.take().expect("present until replaced");
                    *this = if zlib {
                        Deflate::Zlib(ZlibDecoder::new(reader))
                    } else {
                        Deflate::Raw(DeflateDecoder::new(reader))
                    };
                }
            }
        }
    }
}

/// A buffered reader that counts the bytes its reader consumes: the compressed input a
/// decoder has actually used, for the bomb ratio.
struct Consumed<R> {
    inner: R,
    count: Arc<AtomicUsize>,
}

impl<R: AsyncBufRead + Unpin> AsyncRead for Consumed<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let available = match Pin::new(&mut self.inner).poll_fill_buf(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(a)) => a,
        };
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        self.as_mut().consume(n);
        Poll::Ready(Ok(()))
    }
}

impl<R: AsyncBufRead + Unpin> AsyncBufRead for Consumed<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().inner).poll_fill_buf(cx)
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.count.fetch_add(amt, Ordering::Relaxed);
        Pin::new(&mut self.inner).consume(amt);
    }
}

/// Whether a body error is the server's framing (invalid data) rather than the connection.
fn is_framing(e: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return matches!(io.kind(), io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput);
        }
        source = s.source();
    }
    false
}

/// An error and its causes, as one line.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CONTENT_ENCODING, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn codings_are_read_in_the_order_applied_across_header_lines_without_identity() {
        assert_eq!(codings(&headers(&[])), Ok(vec![]));
        assert_eq!(codings(&headers(&["identity"])), Ok(vec![]));
        assert_eq!(
            codings(&headers(&["x-gzip, Identity", "BR"])),
            Ok(vec![Coding::Gzip, Coding::Brotli])
        );
        assert_eq!(
            codings(&headers(&["deflate,zstd"])),
            Ok(vec![Coding::Deflate, Coding::Zstd])
        );
    }

    #[test]
    fn unknown_and_too_deeply_stacked_codings_are_refused_by_name() {
        let unknown = codings(&headers(&["gzip, compress"])).unwrap_err();
        assert!(unknown.contains("\"compress\""), "{unknown}");
        let deep = codings(&headers(&["gzip, br, zstd, gzip"])).unwrap_err();
        assert!(
            deep.contains("4 stacked content codings (gzip, br, zstd, gzip)"),
            "{deep}"
        );
    }
}
