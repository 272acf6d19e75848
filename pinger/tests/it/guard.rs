//! The address guard: a corpus of URLs (and TCP/TLS/DNS targets) that all point at loopback,
//! private, link-local or metadata addresses in every encoding, refused with
//! `blocked_address` — while a listener on loopback records zero connections.

use std::sync::Arc;
use std::time::Duration;

use common::messages::{CheckSpec, DnsRecordType, DnsSpec, FailureKind, HttpSpec, Outcome, Phase, TcpSpec, TlsSpec};
use common::netguard::Guard;
use pinger::Engine;

use crate::helpers::*;

/// The production policy for a job without the private permission, on an installation that
/// allows private targets (`allow_private_targets`) or not, except that 127.0.0.2 (the
/// redirecting server) and 127.0.0.3 (the DNS server) are allowed as an operator could allow
/// an internal range. 127.0.0.1, where the canary listener waits, stays blocked.
fn guarded_engine_on(allow_private_targets: bool) -> Engine {
    let mut config = guard_config(allow_private_targets);
    config.allowed_ranges = vec!["127.0.0.2/32".parse().unwrap(), "127.0.0.3/32".parse().unwrap()];
    Engine::new(Guard::from_parts(&config, Vec::new()), None, None).unwrap()
}

/// [`guarded_engine_on`] an installation that refuses private targets.
fn guarded_engine() -> Engine {
    guarded_engine_on(false)
}

/// Both installations: private targets impossible, and possible but not for this owner.
const INSTALLATIONS: [bool; 2] = [false, true];

fn corpus(p: u16, redirector: u16) -> Vec<String> {
    let mut urls: Vec<String> = [
        // IPv4 loopback in every encoding.
        "http://127.0.0.1:{p}/",
        "http://127.0.0.1.:{p}/",
        "http://2130706433:{p}/",
        "http://0x7f000001:{p}/",
        "http://0X7F000001:{p}/",
        "http://017700000001:{p}/",
        "http://0x7f.0.0.1:{p}/",
        "http://0177.0.0.1:{p}/",
        "http://0177.0.0.01:{p}/",
        "http://127.1:{p}/",
        "http://127.0.1:{p}/",
        "http://0x7f.1:{p}/",
        "http://%31%32%37.0.0.1:{p}/",
        "https://127.0.0.1:{p}/",
        // IPv6 forms and IPv4 hidden in IPv6.
        "http://[::1]:{p}/",
        "http://[0:0:0:0:0:0:0:1]:{p}/",
        "http://[::ffff:127.0.0.1]:{p}/",
        "http://[::ffff:7f00:1]:{p}/",
        "http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/",
        "http://[::127.0.0.1]:{p}/",
        "http://[64:ff9b::127.0.0.1]:{p}/",
        "http://[2002:7f00:1::]:{p}/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]:{p}/",
        "http://[fc00::1]:{p}/",
        "http://[fd12:3456::1]:{p}/",
        "http://[::]:{p}/",
        // Unspecified, private, link-local, metadata, CGNAT, benchmarking, multicast.
        "http://0.0.0.0:{p}/",
        "http://0:{p}/",
        "http://10.0.0.1:{p}/",
        "http://172.16.0.1:{p}/",
        "http://192.168.1.1:{p}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1:{p}/",
        "http://198.18.0.1:{p}/",
        "http://224.0.0.1:{p}/",
        // Userinfo and fragment tricks.
        "http://user@127.0.0.1:{p}/",
        "http://user:pass@127.0.0.1:{p}/",
        "http://example.com@127.0.0.1:{p}/",
        "http://example.com:80@127.0.0.1:{p}/",
        "http://127.0.0.1:{p}#@example.com/",
        "http://127.0.0.1:{p}/?@example.com",
        // Names resolving to loopback (system resolver and the test's DNS server).
        "http://localhost:{p}/",
        "http://LOCALHOST:{p}/",
        "http://localhost.:{p}/",
        "http://app.localhost:{p}/",
        "http://evil.test:{p}/",
        "http://mixed.test:{p}/",
        "http://mapped.test:{p}/",
        // Redirects (the first hop is allowed) to forbidden addresses.
        "http://127.0.0.2:{r}/to-metadata",
        "http://127.0.0.2:{r}/to-loopback",
        "http://127.0.0.2:{r}/to-decimal",
        "http://127.0.0.2:{r}/to-mapped",
        "http://127.0.0.2:{r}/to-localhost",
    ]
    .iter()
    .map(|u| u.replace("{p}", &p.to_string()).replace("{r}", &redirector.to_string()))
    .collect();
    urls.dedup();
    urls
}

#[tokio::test]
async fn every_url_of_the_corpus_is_refused_as_blocked_address_and_nothing_connects() {
    // Arrange: the canary listener, a DNS server with rebinding names, a redirector.
    let canary = TestServer::counting("127.0.0.1").await;
    let p = canary.addr.port();
    let mut zone = Zone::default();
    zone.a("evil.test.", "127.0.0.1")
        .a("mixed.test.", "93.184.216.34")
        .a("mixed.test.", "127.0.0.1")
        .a("mapped.test.", "93.184.216.35")
        .aaaa("mapped.test.", "::ffff:127.0.0.1");
    let dns = TestDns::start_on("127.0.0.3", zone).await;
    let redirector = TestServer::http(
        "127.0.0.2",
        Arc::new(move |path: &str| match path {
            "/to-metadata" => Reply::redirect(302, "http://169.254.169.254/latest/meta-data/"),
            "/to-loopback" => Reply::redirect(301, &format!("http://127.0.0.1:{p}/")),
            "/to-decimal" => Reply::redirect(307, &format!("http://2130706433:{p}/")),
            "/to-mapped" => Reply::redirect(308, &format!("http://[::ffff:127.0.0.1]:{p}/")),
            _ => Reply::redirect(302, &format!("http://localhost:{p}/")),
        }),
    )
    .await;
    let urls = corpus(p, redirector.addr.port());
    assert!(urls.len() >= 40, "corpus has {} URLs", urls.len());

    // Act
    let mut wrong = Vec::new();
    for (url, installation) in urls.iter().flat_map(|u| INSTALLATIONS.map(|i| (u, i))) {
        let engine = guarded_engine_on(installation);
        let mut spec = HttpSpec::get(url);
        spec.timeout_ms = 3_000;
        if url.contains(".test:") {
            spec.resolver = Some(dns.resolver(false));
        }
        let report = run_http(&engine, spec).await;
        let f = report.verdict().1;
        if outcome(&report) != Outcome::Down || f.as_ref().map(|f| f.kind) != Some(FailureKind::BlockedAddress) {
            wrong.push(format!("{url} (private targets possible: {installation}): {f:?}"));
        }
        if url.contains("/to-") {
            assert_eq!(f.unwrap().phase, Phase::Redirect, "{url}");
        }
    }

    // Assert
    assert!(
        wrong.is_empty(),
        "not refused as blocked_address:\n{}",
        wrong.join("\n")
    );
    assert_eq!(canary.hits(), 0, "the loopback listener saw a connection");
    assert_eq!(redirector.hits(), 10, "the allowed first hops did run");
}

#[tokio::test]
async fn tcp_tls_and_dns_targets_are_guarded_too() {
    let canary = TestServer::counting("127.0.0.1").await;
    let p = canary.addr.port();
    let budget = Duration::from_secs(3);
    let mut specs: Vec<CheckSpec> = [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "localhost",
        "::ffff:127.0.0.1",
        "[::1]",
    ]
    .iter()
    .map(|h| {
        CheckSpec::Tcp(TcpSpec {
            host: h.to_string(),
            port: p,
            timeout_ms: 3_000,
            expected_banner: None,
        })
    })
    .collect();
    specs.push(CheckSpec::Tls(TlsSpec {
        host: "127.0.0.1".into(),
        port: p,
        sni: Some("example.com".into()),
        warn_days: 14,
        timeout_ms: 3_000,
        starttls: None,
    }));
    specs.push(CheckSpec::Dns(DnsSpec {
        name: "example.com".into(),
        record_type: DnsRecordType::A,
        resolver: Some(common::messages::Resolver {
            address: canary.addr,
            protocol: common::messages::DnsTransport::Tcp,
        }),
        expected_answers: Vec::new(),
        timeout_ms: 3_000,
    }));
    specs.push(CheckSpec::Tcp(TcpSpec {
        host: "127.0.0.1".into(),
        port: 5432,
        timeout_ms: 3_000,
        expected_banner: None,
    }));
    for installation in INSTALLATIONS {
        let engine = guarded_engine_on(installation);
        for spec in &specs {
            let report = engine.run(spec, budget).await;
            assert_eq!(
                kind(&report),
                Some(FailureKind::BlockedAddress),
                "{spec:?} (private targets possible: {installation}): {report:?}"
            );
        }
    }
    assert_eq!(canary.hits(), 0);
}

#[tokio::test]
async fn non_http_schemes_are_refused_before_any_connection() {
    let canary = TestServer::counting("127.0.0.1").await;
    for url in [
        format!("gopher://127.0.0.1:{}/", canary.addr.port()),
        "file:///etc/passwd".to_owned(),
        format!("ftp://127.0.0.1:{}/", canary.addr.port()),
    ] {
        let report = get(&guarded_engine(), &url).await;
        assert_eq!(outcome(&report), Outcome::Down, "{url}");
        assert_eq!(report.verdict().1.unwrap().phase, Phase::Setup);
    }
    assert_eq!(canary.hits(), 0);
}

/// A pinger configuration of the local suite (broker, management API, PostgreSQL and
/// ClickHouse on their default loopback ports) on an installation allowing private targets.
fn suite_config() -> pinger::Config {
    pinger::Config {
        command: None,
        amqp: common::config::AmqpConfig {
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned().into(),
            regions: vec!["default".into()],
            management_url: "http://127.0.0.1:15672".parse().unwrap(),
        },
        http: common::config::HttpConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
        },
        guard: guard_config(true),
        pinger: pinger::PingerConfig::default(),
    }
}

#[tokio::test]
async fn an_owner_with_the_permission_reaches_loopback_but_never_the_suites_own_services() {
    // Arrange: the guard as the pinger builds it, and a loopback server that redirects to
    // the suite's services.
    let config = suite_config();
    let guard = Guard::new(&config.guard, &config.suite_endpoints(None)).await;
    let engine = Engine::new(guard, None, None).unwrap();
    let server = TestServer::http(
        "127.0.0.1",
        Arc::new(|path: &str| match path {
            "/to-clickhouse" => Reply::redirect(302, "http://127.0.0.1:8123/?query=SELECT%201"),
            "/to-postgres" => Reply::redirect(302, "http://localhost:5432/"),
            "/to-management" => Reply::redirect(302, "http://[::1]:15672/api/whoami"),
            _ => Reply::ok("fine"),
        }),
    )
    .await;
    let budget = Duration::from_secs(3);
    let http = |url: String| {
        let mut spec = HttpSpec::get(url);
        spec.timeout_ms = 3_000;
        CheckSpec::Http(spec)
    };

    // Act and assert: the test server is reached with the permission, refused without.
    let allowed = engine.run_as(&http(server.url("http", "/")), budget, true).await;
    assert_eq!(outcome(&allowed), Outcome::Up, "{allowed:?}");
    let refused = engine.run_as(&http(server.url("http", "/")), budget, false).await;
    assert_eq!(kind(&refused), Some(FailureKind::BlockedAddress), "{refused:?}");

    // The suite's own services are refused even with the permission, in every form.
    let mut specs: Vec<CheckSpec> = [
        "http://127.0.0.1:8123/?query=SELECT%20name%20FROM%20system.databases",
        "http://localhost:8123/",
        "http://[::1]:8123/",
        "http://127.1:8123/",
        "http://127.0.0.2:8123/",
        "http://127.0.0.1:15672/api/whoami",
        "http://guest:guest@localhost:15672/api/whoami",
        "http://127.0.0.1:5432/",
        "http://127.0.0.1:5672/",
    ]
    .into_iter()
    .map(|u| http(u.to_owned()))
    .collect();
    for path in ["/to-clickhouse", "/to-postgres", "/to-management"] {
        specs.push(http(server.url("http", path)));
    }
    for (host, port) in [
        ("127.0.0.1", 5432),
        ("localhost", 5432),
        ("[::1]", 8123),
        ("127.1", 15672),
    ] {
        specs.push(CheckSpec::Tcp(TcpSpec {
            host: host.into(),
            port,
            timeout_ms: 3_000,
            expected_banner: None,
        }));
    }
    let before = server.hits();
    for spec in &specs {
        let report = engine.run_as(spec, budget, true).await;
        let f = report.verdict().1;
        assert_eq!(
            f.as_ref().map(|f| f.kind),
            Some(FailureKind::BlockedAddress),
            "{spec:?}: {report:?}"
        );
        assert!(
            f.unwrap().message.contains("own services"),
            "{spec:?} is refused as one of the suite's services"
        );
    }
    assert_eq!(server.hits() - before, 3, "only the redirecting first hops ran");
}

#[tokio::test]
async fn the_pinger_service_enforces_each_jobs_permission_and_protects_the_suite() {
    // Arrange: a pinger on an installation allowing private targets, and a loopback server.
    let broker = bus::testing::TestBroker::new().await;
    let server = answering("fine").await;
    let service = Service::start(config(&broker)).await;
    let get = |url: String, allow_private: bool| {
        let mut j = job(CheckSpec::Http(HttpSpec::get(url)), 60);
        j.allow_private = allow_private;
        j
    };
    let without = get(server.url("http", "/"), false);
    let with = get(server.url("http", "/"), true);
    let clickhouse = get("http://127.0.0.1:8123/?query=SELECT%201".into(), true);
    let health = get(format!("http://{}/metrics", service.addr), true);

    // Act
    for j in [&without, &with, &clickhouse, &health] {
        broker.publish(&one_job(j.clone())).await;
    }
    let mut results = std::collections::HashMap::new();
    while results.len() < 4 {
        let r = next_result(&broker, "a result is published").await.payload;
        results.insert(r.job_id, r);
    }
    service.stop().await;

    // Assert
    let kind_of = |id| results[&id].failure.as_ref().map(|f| f.kind);
    assert_eq!(
        kind_of(without.job_id),
        Some(FailureKind::BlockedAddress),
        "no permission, no loopback"
    );
    assert_eq!(
        results[&with.job_id].outcome,
        Outcome::Up,
        "{:?}",
        results[&with.job_id]
    );
    assert_eq!(
        kind_of(clickhouse.job_id),
        Some(FailureKind::BlockedAddress),
        "the suite's ClickHouse"
    );
    assert_eq!(
        kind_of(health.job_id),
        Some(FailureKind::BlockedAddress),
        "the pinger's own health listener"
    );
    assert_eq!(server.hits(), 1, "only the permitted job reached the server");
}

#[tokio::test]
async fn a_job_without_the_permission_resolves_with_the_public_resolver_and_never_sees_an_internal_address() {
    use std::sync::atomic::Ordering;
    // Arrange: the operator's public resolver (a loopback DNS server here) knows internal
    // names too; the installation allows private targets, the job's owner may not use them.
    let canary = TestServer::counting("127.0.0.1").await;
    let mut zone = Zone::default();
    zone.a("public.test.", "93.184.216.34")
        .a("internal.corp.", "10.1.2.3")
        .aaaa("v6.corp.", "fd00::7")
        .a("host.corp.", "127.0.0.1");
    let dns = TestDns::start(zone).await;
    let engine = Engine::new(Guard::from_parts(&guard_config(true), Vec::new()), None, None)
        .unwrap()
        .with_public_resolver(Some(dns.resolver(false)));
    let budget = Duration::from_secs(3);
    let lookup = |name: &str, record_type| {
        CheckSpec::Dns(DnsSpec {
            name: name.into(),
            record_type,
            resolver: None,
            expected_answers: Vec::new(),
            timeout_ms: 3_000,
        })
    };

    // Act + assert: a public answer is reported, from the public resolver.
    let public = engine.run(&lookup("public.test", DnsRecordType::A), budget).await;
    assert_eq!(outcome(&public), Outcome::Up, "{public:?}");
    let info = public.dns.as_ref().unwrap();
    assert!(info.resolver.starts_with("public"), "{info:?}");
    assert_eq!(info.answers[0].value, "93.184.216.34");
    assert_eq!(dns.queries.load(Ordering::SeqCst), 1, "the public resolver was asked");

    // Internal answers fail as blocked_address, without the address in the result.
    for (name, record_type, address) in [
        ("internal.corp", DnsRecordType::A, "10.1.2.3"),
        ("v6.corp", DnsRecordType::Aaaa, "fd00::7"),
        ("host.corp", DnsRecordType::A, "127.0.0.1"),
    ] {
        let report = engine.run(&lookup(name, record_type), budget).await;
        let f = report.verdict().1.expect("refused");
        assert_eq!(f.kind, FailureKind::BlockedAddress, "{name}: {report:?}");
        let shown = format!("{} {:?}", f.message, report.dns.as_ref().map(|d| &d.answers));
        assert!(
            !shown.contains(address),
            "{name}: the internal address is not revealed: {shown}"
        );
    }

    // Names in other checks go to the public resolver too, and are guarded.
    let before = dns.queries.load(Ordering::SeqCst);
    let mut spec = HttpSpec::get(format!("http://host.corp:{}/", canary.addr.port()));
    spec.timeout_ms = 3_000;
    let http = run_http(&engine, spec).await;
    assert_eq!(kind(&http), Some(FailureKind::BlockedAddress), "{http:?}");
    assert!(
        dns.queries.load(Ordering::SeqCst) > before,
        "the public resolver was asked"
    );
    assert_eq!(canary.hits(), 0);
}
