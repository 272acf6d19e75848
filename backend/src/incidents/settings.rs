//! The incident engine's settings, read from the environment (defaults in brackets):
//! `PINGTOWER_FLAP_TRANSITIONS` [5], `PINGTOWER_FLAP_WINDOW` [30m],
//! `PINGTOWER_CERT_WARN_DAYS` [30,14,7,1], `PINGTOWER_INCIDENT_BATCH` [500],
//! `PINGTOWER_INCIDENT_LEDGER_RETENTION` [48h], `PINGTOWER_INCIDENT_QUORUM` [majority; or
//! `all`, `any`, a number of regions].

use std::time::Duration;

/// How the engine runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    /// Health changes within `flap_window` above which a target is flapping.
    pub flap_transitions: usize,
    /// The flapping window.
    pub flap_window: Duration,
    /// Days before certificate expiry at which a warning is raised, once per certificate.
    pub cert_warn_days: Vec<u32>,
    /// Results applied per transaction at most.
    pub batch: usize,
    /// How long the result-id ledger remembers a result. Results that started longer ago are
    /// ignored (a redelivery that old is no news), so forgetting older ids is safe.
    pub ledger_retention: Duration,
    /// How many of a target's regions must see it down before it is down
    /// (`PINGTOWER_INCIDENT_QUORUM`): `majority` (the default: more than half, so one region's
    /// network trouble is not an outage), `all`, `any`, or a number N (at most all of the
    /// target's regions, so `3` on a two-region target means both). It applies to every
    /// target: targets have no quorum of their own (that would need a column or a spec field).
    pub quorum: super::machine::Quorum,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            flap_transitions: 5,
            flap_window: Duration::from_secs(30 * 60),
            cert_warn_days: vec![30, 14, 7, 1],
            batch: 500,
            ledger_retention: Duration::from_secs(48 * 3600),
            quorum: super::machine::Quorum::Majority,
        }
    }
}

impl EngineSettings {
    /// The defaults, overridden by the environment; an unreadable value is an error (the
    /// backend refuses to start), an empty one counts as unset.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`Self::from_env`] over any lookup (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        use anyhow::Context;
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let mut s = Self::default();
        if let Some(v) = get("PINGTOWER_FLAP_TRANSITIONS") {
            s.flap_transitions = v.trim().parse().context("PINGTOWER_FLAP_TRANSITIONS")?;
        }
        if let Some(v) = get("PINGTOWER_FLAP_WINDOW") {
            s.flap_window = humantime::parse_duration(v.trim()).context("PINGTOWER_FLAP_WINDOW")?;
        }
        if let Some(v) = get("PINGTOWER_CERT_WARN_DAYS") {
            let mut days = v
                .split(',')
                .filter(|d| !d.trim().is_empty())
                .map(|d| d.trim().parse::<u32>())
                .collect::<Result<Vec<_>, _>>()
                .context("PINGTOWER_CERT_WARN_DAYS")?;
            days.sort_unstable_by(|a, b| b.cmp(a));
            days.dedup();
            s.cert_warn_days = days;
        }
        if let Some(v) = get("PINGTOWER_INCIDENT_LEDGER_RETENTION") {
            s.ledger_retention = humantime::parse_duration(v.trim()).context("PINGTOWER_INCIDENT_LEDGER_RETENTION")?;
        }
        if let Some(v) = get("PINGTOWER_INCIDENT_QUORUM") {
            s.quorum = v
                .parse()
                .map_err(|e: String| anyhow::anyhow!(e))
                .context("PINGTOWER_INCIDENT_QUORUM")?;
        }
        if let Some(v) = get("PINGTOWER_INCIDENT_BATCH") {
            s.batch = v.trim().parse::<usize>().context("PINGTOWER_INCIDENT_BATCH")?.max(1);
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_and_read_the_environment() {
        assert_eq!(
            EngineSettings::from_lookup(|_| None).unwrap(),
            EngineSettings::default()
        );
        let s = EngineSettings::from_lookup(|k| match k {
            "PINGTOWER_CERT_WARN_DAYS" => Some("7, 30,1".into()),
            "PINGTOWER_FLAP_WINDOW" => Some("10m".into()),
            "PINGTOWER_INCIDENT_LEDGER_RETENTION" => Some("6h".into()),
            "PINGTOWER_INCIDENT_QUORUM" => Some("all".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.ledger_retention, Duration::from_secs(6 * 3600));
        assert_eq!(s.quorum, super::super::machine::Quorum::All);
        assert_eq!(s.cert_warn_days, vec![30, 7, 1]);
        assert_eq!(s.flap_window, Duration::from_secs(600));
        assert!(EngineSettings::from_lookup(|_| Some("x".into())).is_err());
        assert_eq!(
            EngineSettings::from_lookup(|_| Some(" ".into())).unwrap(),
            EngineSettings::default(),
            "empty values count as unset"
        );
    }

    #[test]
    fn the_quorum_is_a_word_or_a_number_of_regions() {
        use super::super::machine::Quorum;
        let quorum = |v: &str| {
            let v = v.to_owned();
            EngineSettings::from_lookup(move |k| (k == "PINGTOWER_INCIDENT_QUORUM").then(|| v.clone()))
                .map(|s| s.quorum)
        };
        assert_eq!(quorum("majority").unwrap(), Quorum::Majority);
        assert_eq!(quorum("ANY").unwrap(), Quorum::Any);
        assert_eq!(quorum("1").unwrap(), Quorum::AtLeast(1));
        assert_eq!(quorum(" 2 ").unwrap(), Quorum::AtLeast(2));
        assert_eq!(quorum(" ").unwrap(), Quorum::Majority, "empty counts as unset");
        for bad in ["0", "-1", "half"] {
            let e = quorum(bad).unwrap_err();
            assert!(format!("{e:#}").contains("PINGTOWER_INCIDENT_QUORUM"), "{bad:?}: {e:#}");
        }
    }
}
