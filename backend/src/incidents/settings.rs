//! The incident engine's settings: command line and environment, like every other backend
//! setting (`backend --help` lists them).

use std::time::Duration;

use super::machine::Quorum;

/// How the engine runs.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct EngineSettings {
    /// Health changes within the flapping window above which a target is flapping (one
    /// `flapping` event, alerts held until it is stable).
    #[arg(long, env = "PINGTOWER_FLAP_TRANSITIONS", default_value_t = 5)]
    pub flap_transitions: usize,
    /// The flapping window.
    #[arg(long, env = "PINGTOWER_FLAP_WINDOW", default_value = "30m", value_parser = humantime::parse_duration)]
    pub flap_window: Duration,
    /// Days before certificate expiry at which a warning is raised, once per certificate and
    /// threshold (comma-separated).
    #[arg(
        long,
        env = "PINGTOWER_CERT_WARN_DAYS",
        default_value = "30,14,7,1",
        value_delimiter = ',',
        value_parser = parse_days
    )]
    pub cert_warn_days: Vec<u32>,
    /// Results applied per transaction at most.
    #[arg(long = "incident-batch", env = "PINGTOWER_INCIDENT_BATCH", default_value_t = 1000, value_parser = parse_batch)]
    pub batch: usize,
    /// How long the result-id ledger remembers a result. Results that started longer ago are
    /// ignored (a redelivery that old is no news), so forgetting older ids is safe.
    #[arg(
        long = "incident-ledger-retention",
        env = "PINGTOWER_INCIDENT_LEDGER_RETENTION",
        default_value = "48h",
        value_parser = humantime::parse_duration
    )]
    pub ledger_retention: Duration,
    /// How many of a target's regions must see it down before it is down: `majority` (more
    /// than half, so one region's network trouble is not an outage), `all`, `any`, or a number
    /// N (at most all of the target's regions, so `3` on a two-region target means both). It
    /// applies to every target.
    #[arg(
        long = "incident-quorum",
        env = "PINGTOWER_INCIDENT_QUORUM",
        default_value = "majority",
        value_parser = parse_quorum
    )]
    pub quorum: Quorum,
    /// How close together incidents of one organisation must open to be grouped by a shared
    /// cause (`correlate`); a later member joins an open group at any time. `0s` turns
    /// correlation off.
    #[arg(
        long = "correlation-window",
        env = "PINGTOWER_CORRELATION_WINDOW",
        default_value = "5m",
        value_parser = humantime::parse_duration
    )]
    pub correlation_window: Duration,
}

fn parse_days(s: &str) -> Result<u32, String> {
    s.trim().parse().map_err(|_| format!("{s:?} is not a number of days"))
}

fn parse_batch(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a batch size of at least 1")),
    }
}

fn parse_quorum(s: &str) -> Result<Quorum, String> {
    s.parse()
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            flap_transitions: 5,
            flap_window: Duration::from_secs(30 * 60),
            cert_warn_days: vec![30, 14, 7, 1],
            batch: 1000,
            ledger_retention: Duration::from_secs(48 * 3600),
            quorum: Quorum::Majority,
            correlation_window: Duration::from_secs(5 * 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        engine: EngineSettings,
    }

    fn parse(args: &[&str]) -> Result<EngineSettings, clap::Error> {
        Cli::try_parse_from(std::iter::once("backend").chain(args.iter().copied())).map(|c| c.engine)
    }

    #[test]
    fn settings_default_and_parse() {
        assert_eq!(parse(&[]).unwrap(), EngineSettings::default());
        let s = parse(&[
            "--cert-warn-days",
            "7, 30,1",
            "--flap-window",
            "10m",
            "--incident-ledger-retention",
            "6h",
            "--incident-quorum",
            "all",
            "--incident-batch",
            "50",
        ])
        .unwrap();
        assert_eq!(s.ledger_retention, Duration::from_secs(6 * 3600));
        assert_eq!(s.quorum, Quorum::All);
        assert_eq!(s.cert_warn_days, vec![7, 30, 1]);
        assert_eq!(s.flap_window, Duration::from_secs(600));
        assert_eq!(s.batch, 50);
        for bad in [
            &["--flap-transitions", "x"][..],
            &["--incident-batch", "0"],
            &["--cert-warn-days", "30,soon"],
            &["--flap-window", "forever"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_quorum_is_a_word_or_a_number_of_regions() {
        let quorum = |v: &str| parse(&[&format!("--incident-quorum={v}")]).map(|s| s.quorum);
        assert_eq!(quorum("majority").unwrap(), Quorum::Majority);
        assert_eq!(quorum("ANY").unwrap(), Quorum::Any);
        assert_eq!(quorum("1").unwrap(), Quorum::AtLeast(1));
        assert_eq!(quorum(" 2 ").unwrap(), Quorum::AtLeast(2));
        for bad in ["0", "-1", "half"] {
            let e = quorum(bad).unwrap_err().to_string();
            assert!(e.contains("incident-quorum"), "{bad:?}: {e}");
        }
    }
}
