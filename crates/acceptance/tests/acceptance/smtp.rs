//! A real SMTP server on loopback: the notifier's own sink (`notifier/tests/smtp_sink.py`,
//! Python's aiosmtpd), which writes every message it receives to a directory.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct SmtpSink {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl SmtpSink {
    pub fn start(dir: PathBuf) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../notifier/tests/smtp_sink.py");
        // The sink runs until its stdin closes: piped, it ends with this process at the latest.
        let mut sink = Self {
            child: Command::new("python3")
                .args([script, &port.to_string(), dir.to_str().unwrap()])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .expect("python3 with aiosmtpd (scripts/test.sh installs it)"),
            port,
            dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sink;
            }
            if let Ok(Some(status)) = sink.child.try_wait() {
                panic!("the SMTP sink exited: {status}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the SMTP sink did not start on port {}", sink.port);
    }

    /// Every message received so far, as raw text, in arrival order.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(Result::ok)
            // The sink writes `<n>.json` after `<n>.eml`: a message is whole once both exist.
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml") && e.path().with_extension("json").exists())
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort();
        files
            .iter()
            .map(|(_, p)| std::fs::read_to_string(p).unwrap_or_default())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
