//! The suite as the README's main command starts it: `scripts/start.sh` (every binary a
//! separate process), on a throwaway vhost, PostgreSQL database, ClickHouse database, run
//! directory and ports of its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bus::testing::TestBroker;
use common::testing::{TestClickHouse, TestPg};
use secrecy::ExposeSecret;

pub const SERVICES: [&str; 5] = ["backend", "pinger", "archiver", "llm-service", "notifier"];

pub struct Suite {
    pub root: PathBuf,
    pub run_dir: PathBuf,
    pub env: BTreeMap<String, String>,
    pub api: String,
    _broker: TestBroker,
    _pg: TestPg,
    _clickhouse: TestClickHouse,
}

impl Suite {
    /// Starts the whole suite with `extra` settings on top of the test's own infrastructure.
    pub async fn start(extra: &[(&str, String)]) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .unwrap();
        let broker = TestBroker::new().await;
        let pg = TestPg::empty().await;
        let clickhouse = TestClickHouse::new().await;
        let run_dir = std::env::temp_dir().join(format!("pingtower-acceptance-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&run_dir).unwrap();

        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_owned(), v);
        };
        set("PINGTOWER_RUN_DIR", run_dir.display().to_string());
        // The first start generates the secrets key into this file, as it would into ./.env.
        set("PINGTOWER_ENV_FILE", run_dir.join(".env").display().to_string());
        set(
            "PINGTOWER_BUILD_PROFILE",
            std::env::var("PINGTOWER_ACCEPTANCE_PROFILE").unwrap_or_else(|_| "debug".into()),
        );
        set("PINGTOWER_SKIP_WEB", "1".into());
        let listeners = [
            "PINGTOWER_API_ADDR",
            "PINGTOWER_OPS_ADDR",
            "PINGTOWER_PINGER_ADDR",
            "PINGTOWER_ARCHIVER_ADDR",
            "PINGTOWER_LLM_ADDR",
            "PINGTOWER_NOTIFIER_ADDR",
        ];
        // The services are other processes, started (and restarted on the same address) by
        // scripts/start.sh, which takes fixed addresses: this test cannot hold their ports.
        let ports = common::testing::ports_for_other_processes(listeners.len());
        let api_port = ports[0];
        for (var, port) in listeners.into_iter().zip(ports) {
            set(var, format!("127.0.0.1:{port}"));
        }
        set("PINGTOWER_AMQP_URL", broker.config.amqp_url.expose_secret().to_owned());
        set(
            "PINGTOWER_DATABASE_URL",
            pg.config.database_url.expose_secret().to_owned(),
        );
        set("PINGTOWER_CLICKHOUSE_DATABASE", clickhouse.config.database.clone());
        set("PINGTOWER_ALLOW_PRIVATE_TARGETS", "true".into());
        set("PINGTOWER_PUBLIC_URL", format!("http://127.0.0.1:{api_port}"));
        set("RUST_LOG", "info".into());
        // Each alert on its own and at once; the digest's test turns the window on.
        set("PINGTOWER_NOTIFIER_DIGEST_WINDOW", "0s".into());
        for (k, v) in extra {
            set(k, v.clone());
        }

        let suite = Self {
            api: format!("http://127.0.0.1:{api_port}"),
            root,
            run_dir,
            env,
            _broker: broker,
            _pg: pg,
            _clickhouse: clickhouse,
        };
        suite
            .script(&["scripts/start.sh"])
            .expect("scripts/start.sh starts the suite");
        suite
    }

    fn script(&self, args: &[&str]) -> Result<(), String> {
        let out = Command::new("bash")
            .args(args)
            .current_dir(&self.root)
            .env_remove("RUST_LOG")
            .envs(&self.env)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{text}");
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{args:?} failed:\n{text}\n{}", self.logs()))
        }
    }

    /// The pid scripts/start.sh recorded for `service`.
    pub fn pid(&self, service: &str) -> u32 {
        let pids = std::fs::read_to_string(self.run_dir.join("pids")).unwrap();
        pids.lines()
            .find_map(|l| {
                let mut parts = l.split_whitespace();
                let pid = parts.next()?;
                (parts.next()? == service).then(|| pid.parse().ok())?
            })
            .unwrap_or_else(|| panic!("{service} has a pid in {pids}"))
    }

    /// `kill -9` the service, then start it again as `scripts/start.sh --only` does.
    pub fn kill_and_restart(&self, service: &str) {
        let pid = self.pid(service);
        let status = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        assert!(status.success(), "kill -9 {service} ({pid})");
        self.restart(service);
    }

    pub fn restart(&self, service: &str) {
        self.script(&["scripts/start.sh", "--only", service])
            .unwrap_or_else(|e| panic!("{service} restarts: {e}"));
    }

    /// Restarts `service` with some settings changed.
    pub fn restart_with(&mut self, service: &str, changes: &[(&str, Option<String>)]) {
        for (k, v) in changes {
            match v {
                Some(v) => self.env.insert((*k).to_owned(), v.clone()),
                None => self.env.remove(*k),
            };
        }
        self.restart(service);
    }

    /// Every service's whole log.
    pub fn all_logs(&self) -> String {
        SERVICES
            .iter()
            .map(|s| std::fs::read_to_string(self.run_dir.join("logs").join(format!("{s}.log"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The tail of every service's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for s in SERVICES {
            let log = std::fs::read_to_string(self.run_dir.join("logs").join(format!("{s}.log"))).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            out.push_str(&format!("--- {s} ---\n"));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Suite {
    fn drop(&mut self) {
        let _ = self.script(&["scripts/stop.sh"]);
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.run_dir);
        } else {
            eprintln!("acceptance: logs kept in {}", self.run_dir.display());
        }
    }
}

/// Polls `f` every 200 ms until it returns Some, or panics after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
