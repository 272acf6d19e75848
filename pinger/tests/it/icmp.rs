//! ICMP checks against real sockets: loopback in this namespace, and a pair of network
//! namespaces joined by a veth link whose far end loses echo replies on purpose.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::messages::{CheckResult, CheckSpec, FailureKind, IcmpSpec, Outcome, Phase};

use crate::helpers::*;

/// An ICMP check of `host`: `count` echoes 20 ms apart.
fn spec(host: &str, count: u32) -> IcmpSpec {
    IcmpSpec {
        count,
        interval_ms: 20,
        ..IcmpSpec::new(host)
    }
}

async fn run(engine: &pinger::Engine, spec: IcmpSpec) -> pinger::report::Report {
    let spec = CheckSpec::Icmp(spec);
    let budget = Duration::from_millis(u64::from(spec.timeout_ms()));
    engine.run(&spec, budget).await
}

#[tokio::test]
async fn icmp_to_ipv4_and_ipv6_loopback_is_up_with_round_trips_and_no_loss() {
    for host in ["127.0.0.1", "::1", "localhost"] {
        // Act
        let report = run(&engine(), spec(host, 3)).await;

        // Assert
        assert_eq!(outcome(&report), Outcome::Up, "{host}: {report:?}");
        let icmp = report.icmp.as_ref().expect("ICMP facts");
        assert_eq!((icmp.sent, icmp.received), (3, 3), "{host}: {icmp:?}");
        assert_eq!(icmp.loss_percent, 0.0);
        assert!(
            icmp.echoes.iter().all(|e| e.rtt_ms.is_some_and(|r| r > 0.0)),
            "{icmp:?}"
        );
        let (min, avg, max) = (
            icmp.rtt_min_ms.unwrap(),
            icmp.rtt_avg_ms.unwrap(),
            icmp.rtt_max_ms.unwrap(),
        );
        assert!(0.0 < min && min <= avg && avg <= max, "{icmp:?}");
        assert!(["dgram", "raw"].contains(&icmp.socket.as_str()));
        assert!(report.resolved_ip.unwrap().is_loopback());
    }
}

#[tokio::test]
async fn icmp_to_loopback_is_refused_without_the_private_permission() {
    for host in ["127.0.0.1", "::1"] {
        let report = run(&strict_engine(), spec(host, 1)).await;
        assert_eq!(outcome(&report), Outcome::Down);
        assert_eq!(kind(&report), Some(FailureKind::BlockedAddress), "{report:?}");
        assert!(report.icmp.is_none(), "no echo left: {report:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Network namespaces
// ---------------------------------------------------------------------------------------------

/// Two network namespaces joined by a veth pair, `10.199.0.1/30` (near) and `10.199.0.2/30`
/// (far); deleted, with their link, on drop. The names carry the process id and a counter,
/// so parallel runs do not collide; the addresses live only inside the namespaces.
struct Netns {
    near: String,
    far: String,
}

const NEAR_IP: &str = "10.199.0.1";
const FAR_IP: &str = "10.199.0.2";

fn sh(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("the command runs")
}

fn must(args: &[&str]) {
    let out = sh(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    /// The pair, or None (with the reason printed) when this host does not let us make
    /// network namespaces.
    fn new() -> Option<Netns> {
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!("{}{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let ns = Netns {
            near: format!("pt-icmp-{id}-a"),
            far: format!("pt-icmp-{id}-b"),
        };
        let made = sh(&["ip", "netns", "add", &ns.near]);
        if !made.status.success() {
            println!(
                "SKIP: cannot create a network namespace here ({})",
                String::from_utf8_lossy(&made.stderr).trim()
            );
            return None;
        }
        must(&["ip", "netns", "add", &ns.far]);
        // veth names are at most 15 bytes.
        let (a, b) = (format!("pa{id}"), format!("pb{id}"));
        must(&[
            "ip", "link", "add", &a, "netns", &ns.near, "type", "veth", "peer", "name", &b, "netns", &ns.far,
        ]);
        must(&["ip", "-n", &ns.near, "addr", "add", &format!("{NEAR_IP}/30"), "dev", &a]);
        must(&["ip", "-n", &ns.far, "addr", "add", &format!("{FAR_IP}/30"), "dev", &b]);
        for (n, dev) in [(&ns.near, &a), (&ns.far, &b)] {
            must(&["ip", "-n", n, "link", "set", dev, "up"]);
            must(&["ip", "-n", n, "link", "set", "lo", "up"]);
        }
        Some(ns)
    }

    /// Sets a sysctl inside `ns` (sysctls under net. are per namespace).
    fn sysctl(ns: &str, key: &str, value: &str) {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        must(&[
            "ip",
            "netns",
            "exec",
            ns,
            "sh",
            "-c",
            &format!("echo '{value}' > {path}"),
        ]);
    }

    /// Runs `pinger check --json --icmp …` inside the near namespace, behind `prefix` (e.g.
    /// `setpriv …`), with `env`.
    fn check(&self, prefix: &[&str], env: &[(&str, &str)], args: &[&str]) -> CheckResult {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.near])
            .args(prefix)
            .arg(env!("CARGO_BIN_EXE_pinger"))
            .args(["check", "--json", "--icmp"])
            .args(args)
            .env("PINGTOWER_ALLOW_PRIVATE_TARGETS", "true")
            .env_remove("PINGTOWER_PINGER_ICMP_SOCKET");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("pinger runs");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "pinger check printed no result ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of the veth pair, and with it the other end.
        for n in [&self.near, &self.far] {
            let _ = sh(&["ip", "netns", "del", n]);
        }
    }
}

#[test]
fn icmp_through_a_veth_link_is_up_then_degraded_by_rate_limited_replies_then_down_when_ignored() {
    let Some(ns) = Netns::new() else { return };
    let ten = [
        "--count",
        "10",
        "--interval",
        "20ms",
        "--echo-timeout",
        "300ms",
        "--degraded-loss",
        "20",
    ];

    // Act 1: a clean link.
    let clean = ns.check(&[], &[], &[&[FAR_IP][..], &ten[..]].concat());

    // Act 2: the far end answers a burst of echoes, then rate-limits its replies: echo replies
    // join the rate-limited ICMP types (mask bit 0) and one reply is allowed per 10 s after
    // the burst, so part of the ten requests go unanswered.
    Netns::sysctl(&ns.far, "net.ipv4.icmp_ratemask", "6169");
    Netns::sysctl(&ns.far, "net.ipv4.icmp_ratelimit", "10000");
    let lossy = ns.check(&[], &[], &[&[FAR_IP][..], &ten[..]].concat());

    // Act 3: the far end ignores every echo request.
    Netns::sysctl(&ns.far, "net.ipv4.icmp_echo_ignore_all", "1");
    let lost = ns.check(
        &[],
        &[],
        &[FAR_IP, "--count", "3", "--interval", "20ms", "--echo-timeout", "300ms"],
    );

    // Assert
    assert_eq!(clean.outcome, Outcome::Up, "{clean:?}");
    let i = clean.icmp.as_ref().unwrap();
    assert_eq!((i.sent, i.received, i.loss_percent), (10, 10, 0.0), "{i:?}");

    assert_eq!(lossy.outcome, Outcome::Degraded, "{lossy:?}");
    let i = lossy.icmp.as_ref().unwrap();
    assert!((20.0..=80.0).contains(&i.loss_percent), "{i:?}");
    let f = lossy.failure.as_ref().unwrap();
    assert_eq!((f.kind, f.phase), (FailureKind::PacketLoss, Phase::Validation), "{f:?}");
    assert!(f.message.contains("above 20 %"), "{}", f.message);

    assert_eq!(lost.outcome, Outcome::Down, "{lost:?}");
    let i = lost.icmp.as_ref().unwrap();
    assert_eq!((i.sent, i.received, i.loss_percent), (3, 0, 100.0), "{i:?}");
    assert!(i.rtt_avg_ms.is_none());
    let f = lost.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::PacketLoss, "{f:?}");
    assert!(f.message.contains("100 % loss"), "{}", f.message);
}

#[test]
fn the_socket_kind_follows_the_setting_and_the_host_s_permissions() {
    let Some(ns) = Netns::new() else { return };
    let args = ["127.0.0.1", "--count", "2", "--interval", "20ms"];
    let dgram = [("PINGTOWER_PINGER_ICMP_SOCKET", "dgram")];
    let raw = [("PINGTOWER_PINGER_ICMP_SOCKET", "raw")];
    // Root without CAP_NET_RAW: out of the bounding set, so no exec regains it.
    let no_net_raw = ["setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw", "--"];
    if !sh(&["setpriv", "--version"]).status.success() {
        println!("SKIP: setpriv (util-linux) is not installed");
        return;
    }

    // Act: a new namespace's ping_group_range is "1 0" (no group may open a datagram socket).
    let dgram_refused = ns.check(&[], &dgram, &args);
    let raw_allowed = ns.check(&[], &raw, &args);
    let raw_refused = ns.check(&no_net_raw, &raw, &args);
    let neither = ns.check(&no_net_raw, &[], &args);
    Netns::sysctl(&ns.near, "net.ipv4.ping_group_range", "0 2147483647");
    let dgram_allowed = ns.check(&no_net_raw, &dgram, &args);
    let auto_prefers_dgram = ns.check(&[], &[], &args);
    // The range covers ICMPv6 datagram sockets too; payloads at both bounds.
    let v6 =
        |payload: &str| ["::1", "--count", "2", "--interval", "20ms", "--payload-size", payload].map(str::to_owned);
    let dgram_v6_empty = ns.check(&no_net_raw, &dgram, &v6("0").each_ref().map(String::as_str));
    let dgram_v6_full = ns.check(&no_net_raw, &dgram, &v6("1400").each_ref().map(String::as_str));

    // Assert
    for (name, r) in [
        ("raw", &raw_allowed),
        ("dgram", &dgram_allowed),
        ("auto", &auto_prefers_dgram),
        ("dgram ::1, no payload", &dgram_v6_empty),
        ("dgram ::1, 1400 bytes", &dgram_v6_full),
    ] {
        assert_eq!(r.outcome, Outcome::Up, "{name}: {r:?}");
        assert_eq!(r.icmp.as_ref().unwrap().received, 2, "{name}: {r:?}");
    }
    assert_eq!(raw_allowed.icmp.as_ref().unwrap().socket, "raw");
    assert_eq!(dgram_allowed.icmp.as_ref().unwrap().socket, "dgram");
    assert_eq!(auto_prefers_dgram.icmp.as_ref().unwrap().socket, "dgram");
    assert_eq!(dgram_v6_full.icmp.as_ref().unwrap().socket, "dgram");
    assert_eq!(dgram_v6_full.resolved_ip, Some("::1".parse().unwrap()));

    for (name, r) in [("dgram", &dgram_refused), ("raw", &raw_refused), ("neither", &neither)] {
        assert_eq!(r.outcome, Outcome::Down, "{name}: {r:?}");
        let f = r.failure.as_ref().unwrap();
        assert_eq!(
            (f.kind, f.phase),
            (FailureKind::Internal, Phase::Setup),
            "{name}: {f:?}"
        );
        assert!(r.icmp.is_none(), "{name}: no echo left");
    }
    let m = |r: &CheckResult| r.failure.as_ref().unwrap().message.clone();
    assert!(m(&dgram_refused).contains("SOCK_DGRAM") && m(&dgram_refused).contains("ping_group_range"));
    assert!(!m(&dgram_refused).contains("SOCK_RAW"), "{}", m(&dgram_refused));
    assert!(m(&raw_refused).contains("SOCK_RAW") && m(&raw_refused).contains("CAP_NET_RAW"));
    let both = m(&neither);
    for part in [
        "SOCK_DGRAM",
        "SOCK_RAW",
        "allows neither",
        "net.ipv4.ping_group_range",
        "CAP_NET_RAW",
    ] {
        assert!(both.contains(part), "{part} in {both}");
    }
}

#[test]
fn pinger_check_icmp_prints_every_echo_and_the_summary() {
    // Act
    let out = Command::new(env!("CARGO_BIN_EXE_pinger"))
        .args(["check", "--icmp", "127.0.0.1", "--count", "2", "--interval", "20ms"])
        .env("PINGTOWER_ALLOW_PRIVATE_TARGETS", "true")
        .env_remove("PINGTOWER_PINGER_ICMP_SOCKET")
        .output()
        .unwrap();
    let too_many = Command::new(env!("CARGO_BIN_EXE_pinger"))
        .args(["check", "--icmp", "127.0.0.1", "--count", "11"])
        .output()
        .unwrap();

    // Assert
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ICMP 127.0.0.1: UP"), "{text}");
    assert!(
        text.contains("seq=0 from 127.0.0.1: rtt ") && text.contains("seq=1 from 127.0.0.1: rtt "),
        "{text}"
    );
    assert!(text.contains("2 sent, 2 received, 0 % loss"), "{text}");
    assert!(
        text.contains("rtt       min ") && text.contains(" / avg ") && text.contains(" / max "),
        "{text}"
    );
    assert!(!too_many.status.success());
    assert!(String::from_utf8_lossy(&too_many.stderr).contains("--count 11"));
}
