//! The plaintext part of a STARTTLS upgrade (SMTP, IMAP, POP3), spoken on the TCP stream
//! before the TLS check's handshake.
//!
//! Hand-written on purpose: the mail crates that speak STARTTLS do their own TLS and keep the
//! stream, while the TLS check needs the raw, upgraded TCP stream back so that its own rustls
//! handshake (with the verifier that records the certificate's facts even when validation
//! fails) runs on it. The exchange is a few lines; the TLS itself stays rustls. Every reply
//! line is bounded ([`MAX_LINE`] bytes, [`MAX_LINES`] lines a reply) and every read and write
//! ends by the check's deadline. Any refusal is a [`FailureKind::TlsHandshake`] failure that
//! names the server's answer.

use common::messages::{Failure, FailureKind, Phase, Starttls};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::report::failure;

/// Longest reply line accepted, CRLF included.
pub const MAX_LINE: usize = 512;
/// Most lines accepted in one reply (a multi-line SMTP reply, IMAP untagged lines).
pub const MAX_LINES: usize = 50;
/// Characters of a server's answer quoted in a failure.
const QUOTED: usize = 200;

/// The name announced in SMTP's `EHLO` (a reserved name: the checker has no mail domain).
const EHLO_NAME: &str = "pingtower.invalid";

/// Speaks `proto`'s upgrade on `tcp` until the server is ready for the TLS handshake.
/// Nothing the server sends is left unread: data after its go-ahead is a failure (it would
/// otherwise be taken for the start of the TLS handshake).
pub async fn upgrade(tcp: &mut TcpStream, proto: Starttls, deadline: Instant) -> Result<(), Failure> {
    let mut conv = Conversation {
        reader: BufReader::new(tcp),
        deadline,
        proto,
    };
    match proto {
        Starttls::Smtp => smtp(&mut conv).await?,
        Starttls::Imap => imap(&mut conv).await?,
        Starttls::Pop3 => pop3(&mut conv).await?,
    }
    if !conv.reader.buffer().is_empty() {
        return Err(conv.fail("the server sent data after agreeing to STARTTLS"));
    }
    Ok(())
}

async fn smtp(c: &mut Conversation<'_>) -> Result<(), Failure> {
    let greeting = c.smtp_reply().await?;
    if greeting.0 != 220 {
        return Err(c.fail(format!("the greeting is not 220: {}", quote(&greeting.1.join(" / ")))));
    }
    c.send(&format!("EHLO {EHLO_NAME}\r\n")).await?;
    let (code, lines) = c.smtp_reply().await?;
    if code != 250 {
        return Err(c.fail(format!("EHLO was answered {code}: {}", quote(&lines.join(" / ")))));
    }
    let offered = lines.iter().skip(1).any(|l| {
        l.split_ascii_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("STARTTLS"))
    });
    if !offered {
        return Err(c.fail(format!(
            "the server does not offer STARTTLS (its EHLO reply: {})",
            quote(&lines.join(" / "))
        )));
    }
    c.send("STARTTLS\r\n").await?;
    let (code, lines) = c.smtp_reply().await?;
    if code != 220 {
        return Err(c.fail(format!("STARTTLS was answered {code}: {}", quote(&lines.join(" / ")))));
    }
    Ok(())
}

async fn imap(c: &mut Conversation<'_>) -> Result<(), Failure> {
    let greeting = c.line().await?;
    if !starts_with_ci(&greeting, "* OK") {
        return Err(c.fail(format!("the greeting is not `* OK`: {}", quote(&greeting))));
    }
    c.send("a1 STARTTLS\r\n").await?;
    for _ in 0..MAX_LINES {
        let line = c.line().await?;
        if line.starts_with("* ") {
            continue;
        }
        if starts_with_ci(&line, "a1 OK") {
            return Ok(());
        }
        return Err(c.fail(format!("STARTTLS was refused: {}", quote(&line))));
    }
    Err(c.fail(format!("no tagged answer to STARTTLS within {MAX_LINES} lines")))
}

async fn pop3(c: &mut Conversation<'_>) -> Result<(), Failure> {
    let greeting = c.line().await?;
    if !greeting.starts_with("+OK") {
        return Err(c.fail(format!("the greeting is not `+OK`: {}", quote(&greeting))));
    }
    c.send("STLS\r\n").await?;
    let answer = c.line().await?;
    if !answer.starts_with("+OK") {
        return Err(c.fail(format!("STLS was refused: {}", quote(&answer))));
    }
    Ok(())
}

/// The plaintext exchange: a buffered reader over the stream, bounded by the deadline.
struct Conversation<'a> {
    reader: BufReader<&'a mut TcpStream>,
    deadline: Instant,
    proto: Starttls,
}

impl Conversation<'_> {
    fn fail(&self, message: impl std::fmt::Display) -> Failure {
        failure(
            FailureKind::TlsHandshake,
            Phase::Tls,
            format!("{} STARTTLS: {message}", self.proto.as_str().to_ascii_uppercase()),
        )
    }

    async fn send(&mut self, command: &str) -> Result<(), Failure> {
        let write = self.reader.get_mut().write_all(command.as_bytes());
        match tokio::time::timeout_at(self.deadline, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.fail(format!("sending {}: {e}", command.trim_end()))),
            Err(_) => Err(self.fail(format!("sending {} took too long", command.trim_end()))),
        }
    }

    /// One reply line, without its line ending.
    async fn line(&mut self) -> Result<String, Failure> {
        let reader = &mut self.reader;
        let read = async move {
            let mut line = Vec::new();
            loop {
                let available = reader.fill_buf().await.map_err(|e| e.to_string())?;
                if available.is_empty() {
                    return Err("the server closed the connection".to_owned());
                }
                let (take, done) = match available.iter().position(|&b| b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (available.len(), false),
                };
                if line.len() + take > MAX_LINE {
                    return Err(format!("a reply line is longer than {MAX_LINE} bytes"));
                }
                line.extend_from_slice(&available[..take]);
                reader.consume(take);
                if done {
                    return Ok(line);
                }
            }
        };
        match tokio::time::timeout_at(self.deadline, read).await {
            Ok(Ok(line)) => Ok(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_owned()),
            Ok(Err(e)) => Err(self.fail(e)),
            Err(_) => Err(self.fail("the server did not answer in time")),
        }
    }

    /// A (possibly multi-line) SMTP reply: its code and its lines' texts.
    async fn smtp_reply(&mut self) -> Result<(u16, Vec<String>), Failure> {
        let mut texts = Vec::new();
        let mut code = None;
        for _ in 0..MAX_LINES {
            let line = self.line().await?;
            let bytes = line.as_bytes();
            let this: Option<u16> = line.get(..3).and_then(|c| c.parse().ok());
            let (Some(this), sep) = (this, bytes.get(3).copied()) else {
                return Err(self.fail(format!("not an SMTP reply: {}", quote(&line))));
            };
            if code.is_some_and(|c| c != this) || !matches!(sep, None | Some(b' ') | Some(b'-')) {
                return Err(self.fail(format!("not an SMTP reply: {}", quote(&line))));
            }
            code = Some(this);
            texts.push(line.get(4..).unwrap_or_default().to_owned());
            if sep != Some(b'-') {
                return Ok((this, texts));
            }
        }
        Err(self.fail(format!("an SMTP reply longer than {MAX_LINES} lines")))
    }
}

fn starts_with_ci(line: &str, prefix: &str) -> bool {
    line.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// The server's text for a failure message: printable, and at most [`QUOTED`] characters.
fn quote(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(QUOTED)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > QUOTED {
        out.push('…');
    }
    format!("{out:?}")
}
