//! A real SMTP server on loopback: Python's aiosmtpd (`smtp_sink.py`), which writes every
//! message it receives to a directory of its own. The protocol is spoken by aiosmtpd, the
//! mails are parsed by Python's `email` package; this side only reads the files.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The sink's script, run with `python3 -c`.
const SCRIPT: &str = include_str!("smtp_sink.py");

/// How long aiosmtpd may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// One received mail.
#[derive(Debug, Clone)]
pub struct Mail {
    /// As Python decoded it: `mail_from`, `rcpt_tos`, `content_type`, `headers` (pairs) and
    /// `parts` (`content_type`, `text`).
    pub decoded: Value,
    /// The raw message, as it came over the wire.
    pub raw: String,
}

impl Mail {
    /// The values of the header `name` (case-insensitive), decoded.
    pub fn header(&self, name: &str) -> Vec<String> {
        self.decoded["headers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h[0].as_str().is_some_and(|k| k.eq_ignore_ascii_case(name)))
            .filter_map(|h| h[1].as_str().map(str::to_owned))
            .collect()
    }

    /// The text of the first part of `content_type` (`text/plain`, `text/html`), or "".
    pub fn part(&self, content_type: &str) -> String {
        self.decoded["parts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["content_type"] == content_type)
            .and_then(|p| p["text"].as_str())
            .unwrap_or_default()
            .to_owned()
    }
}

/// The running SMTP server; stopped (and its directory removed) on drop.
pub struct SmtpSink {
    /// The port it listens on, on 127.0.0.1 (chosen and held by the server itself).
    pub port: u16,
    dir: PathBuf,
    _child: Child,
}

impl SmtpSink {
    /// Starts aiosmtpd (`python3` with `aiosmtpd`; `scripts/test.sh` installs it) and waits
    /// until it accepts connections.
    pub async fn start() -> Self {
        Self::spawn(&[]).await
    }

    /// Like [`start`](Self::start), but the server offers STARTTLS with the certificate chain
    /// and key of the PEM files `certificate` and `key`.
    pub async fn start_with_starttls(certificate: &std::path::Path, key: &std::path::Path) -> Self {
        Self::spawn(&[certificate, key]).await
    }

    async fn spawn(tls_files: &[&std::path::Path]) -> Self {
        let dir = std::env::temp_dir().join(format!("pingtower-smtp-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("the sink's directory is created");
        // The sink runs until its stdin closes: piped, it ends with this process at the latest.
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .arg(&dir)
            .args(tls_files)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let ready = tokio::time::timeout(START_TIMEOUT, lines.next_line()).await;
        let port = match &ready {
            Ok(Ok(Some(line))) => line.strip_prefix("READY ").and_then(|p| p.parse().ok()),
            _ => None,
        };
        let port = port.unwrap_or_else(|| panic!("the SMTP sink starts (is aiosmtpd installed?): {ready:?}"));
        Self {
            port,
            dir,
            _child: child,
        }
    }

    /// Every mail received so far, in arrival order.
    pub fn mails(&self) -> Vec<Mail> {
        let mut decoded: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .expect("the sink's directory reads")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        decoded.sort();
        decoded
            .into_iter()
            .filter_map(|path| {
                let decoded = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
                let raw = String::from_utf8_lossy(&std::fs::read(path.with_extension("eml")).ok()?).into_owned();
                Some(Mail { decoded, raw })
            })
            .collect()
    }

    /// Waits until at least `n` mails arrived, or panics after `timeout`; all of them.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} mails within {timeout:?}",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
