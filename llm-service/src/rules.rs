//! The rule-based writer: the built-in default and the fallback of the LLM.
//!
//! One explanation per failure kind and per event kind, in English and Russian, built only
//! from the evidence (never from the page body, which is untrusted). The match on
//! [`FailureKind`] has no catch-all arm, so a new kind does not compile until it is explained.

use chrono::{DateTime, Utc};
use common::messages::{
    CheckResult, FailureKind, IncidentEvent, IncidentEventKind, IncidentReport, Phase, ReportClaim, TargetStatus,
};

use crate::facts::Facts;
use crate::language::Language;

/// The `source` of rule reports.
pub const SOURCE: &str = "rules";

/// Picks the English or the Russian text; both are `format!` strings over the same names.
macro_rules! tr {
    ($lang:expr, $en:literal, $ru:literal) => {
        match $lang {
            Language::En => format!($en),
            Language::Ru => format!($ru),
        }
    };
}

/// The four parts of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Text {
    summary: String,
    cause: String,
    impact: String,
    actions: Vec<String>,
}

/// Writes the report of `event` in `lang`, stamped `now`.
pub fn write(event: &IncidentEvent, lang: Language, now: DateTime<Utc>) -> IncidentReport {
    let facts = Facts::of(event);
    let text = match event.kind {
        IncidentEventKind::Opened => opened(&facts, lang),
        IncidentEventKind::Resolved => resolved(&facts, lang),
        IncidentEventKind::CertExpiring => cert_expiring(&facts, lang),
        IncidentEventKind::Flapping => flapping(&facts, lang),
        IncidentEventKind::ProbeDegraded => probe_degraded(&facts, lang),
    };
    let mut claims = Vec::new();
    let rests_on = if facts.failing_ids.is_empty() {
        facts.evidence_ids.iter().copied().collect()
    } else {
        facts.failing_ids.clone()
    };
    if !rests_on.is_empty() {
        claims.push(ReportClaim {
            text: text.summary.clone(),
            result_ids: rests_on,
        });
    }
    if event.kind == IncidentEventKind::Opened
        && let Some((latency, baseline)) = facts.slowdown()
    {
        let baseline = baseline.round();
        let mut ids = facts.failing_ids.clone();
        ids.extend(event.evidence.last_good.as_ref().map(|r| r.result_id));
        claims.push(ReportClaim {
            text: tr!(
                lang,
                "The checks took up to {latency} ms against a usual {baseline} ms.",
                "Проверки длились до {latency} мс при обычных {baseline} мс."
            ),
            result_ids: ids,
        });
    }
    IncidentReport {
        incident_id: event.incident_id,
        event_kind: event.kind,
        language: lang.tag().to_owned(),
        summary: text.summary,
        probable_cause: text.cause,
        impact: text.impact,
        recommended_actions: text.actions,
        source: SOURCE.to_owned(),
        claims,
        generated_at: now,
    }
}

// ---------------------------------------------------------------------------------------------
// Shared phrases
// ---------------------------------------------------------------------------------------------

/// "Shop is down" / "Сервис «Shop» недоступен", after the event's state.
fn headline(f: &Facts<'_>, lang: Language) -> String {
    let name = &f.name;
    match f.state() {
        TargetStatus::Degraded => tr!(lang, "{name} is degraded", "Сервис «{name}» работает с ухудшениями"),
        TargetStatus::Down => tr!(lang, "{name} is down", "Сервис «{name}» недоступен"),
        _ => tr!(lang, "{name} has a problem", "У сервиса «{name}» проблема"),
    }
}

/// Who is affected when the target does not answer, plus the regions that saw it.
fn unreachable_impact(f: &Facts<'_>, lang: Language) -> String {
    let address = &f.address;
    let base = tr!(
        lang,
        "Nobody can use {address}: every request fails.",
        "Адрес {address} недоступен для всех: каждый запрос завершается ошибкой."
    );
    with_regions(base, f, lang)
}

fn with_regions(base: String, f: &Facts<'_>, lang: Language) -> String {
    let regions = &f.event.regions;
    if regions.is_empty() {
        return base;
    }
    let list = regions.join(", ");
    let seen = tr!(lang, "Seen from: {list}.", "Замечено из регионов: {list}.");
    format!("{base} {seen}")
}

fn port_of(f: &Facts<'_>) -> String {
    f.port.map(|p| p.to_string()).unwrap_or_else(|| "?".into())
}

fn ip_of(r: Option<&CheckResult>) -> Option<String> {
    r.and_then(|r| r.resolved_ip.or_else(|| r.hops.last().and_then(|h| h.resolved_ip)))
        .map(|ip| ip.to_string())
}

fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// "3 days" / "3 дня".
fn days(n: i64, lang: Language) -> String {
    match lang {
        Language::En if n.abs() == 1 => format!("{n} day"),
        Language::En => format!("{n} days"),
        Language::Ru => format!("{n} {}", ru_plural(n, "день", "дня", "дней")),
    }
}

fn ru_plural<'s>(n: i64, one: &'s str, few: &'s str, many: &'s str) -> &'s str {
    let n = n.unsigned_abs();
    match (n % 10, n % 100) {
        (1, r) if r != 11 => one,
        (2..=4, r) if !(12..=14).contains(&r) => few,
        _ => many,
    }
}

/// A duration in words: "2 h 5 min", "45 s", "3 d 4 h".
pub fn duration(secs: i64, lang: Language) -> String {
    let secs = secs.max(0);
    let (d, h, m, s) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    let (ud, uh, um, us) = match lang {
        Language::En => ("d", "h", "min", "s"),
        Language::Ru => ("д", "ч", "мин", "с"),
    };
    let parts: Vec<String> = if d > 0 {
        vec![format!("{d} {ud}"), format!("{h} {uh}")]
    } else if h > 0 {
        vec![format!("{h} {uh}"), format!("{m} {um}")]
    } else if m > 0 {
        vec![format!("{m} {um}"), format!("{s} {us}")]
    } else {
        vec![format!("{s} {us}")]
    };
    parts
        .into_iter()
        .filter(|p| !p.starts_with("0 ") || secs == 0)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The reason phrase of a status code, in English (it is what servers send).
fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

fn status_text(code: u16) -> String {
    match reason(code) {
        "" => code.to_string(),
        r => format!("{code} {r}"),
    }
}

/// A failure kind in a few words.
pub fn kind_phrase(kind: FailureKind, lang: Language) -> &'static str {
    use FailureKind as K;
    let (en, ru) = match kind {
        K::DnsNxdomain => ("the name does not exist (NXDOMAIN)", "имя не существует (NXDOMAIN)"),
        K::DnsServfail => ("DNS server failure (SERVFAIL)", "сбой DNS-сервера (SERVFAIL)"),
        K::DnsTimeout => ("DNS timeout", "DNS не ответил вовремя"),
        K::DnsNoRecords => ("no DNS records", "нет DNS-записей"),
        K::DnsUnexpectedAnswer => ("unexpected DNS answer", "неожиданный ответ DNS"),
        K::DnsError => ("DNS error", "ошибка DNS"),
        K::ConnectRefused => ("connection refused", "соединение отклонено"),
        K::ConnectTimeout => ("connection timeout", "истекло время соединения"),
        K::ConnectError => ("connection error", "ошибка соединения"),
        K::TlsExpired => ("expired certificate", "сертификат истёк"),
        K::TlsNotYetValid => ("certificate not valid yet", "сертификат ещё не действует"),
        K::TlsUntrusted => ("untrusted certificate", "недоверенный сертификат"),
        K::TlsHostname => ("certificate for another name", "сертификат на другое имя"),
        K::TlsExpiring => ("certificate about to expire", "сертификат скоро истекает"),
        K::TlsHandshake => ("TLS handshake failure", "сбой TLS-рукопожатия"),
        K::HttpStatus => ("unexpected HTTP status", "неожиданный код ответа HTTP"),
        K::HttpProtocol => ("HTTP protocol error", "нарушение протокола HTTP"),
        K::AssertionFailed => ("wrong response content", "неверное содержимое ответа"),
        K::RedirectLoop => ("redirect loop", "петля перенаправлений"),
        K::TooManyRedirects => ("too many redirects", "слишком много перенаправлений"),
        K::InsecureRedirect => ("redirect through plain http", "перенаправление через http"),
        K::UnexpectedFinalUrl => ("unexpected final URL", "неожиданный конечный адрес"),
        K::SlowResponse => ("slow response", "медленный ответ"),
        K::BannerMismatch => ("unexpected banner", "неожиданный баннер"),
        K::Timeout => ("timeout", "превышено время ожидания"),
        K::BlockedAddress => ("blocked address", "запрещённый адрес"),
        K::Internal => ("check could not run", "проверка не выполнилась"),
        K::Other => ("other failure", "другой сбой"),
    };
    match lang {
        Language::En => en,
        Language::Ru => ru,
    }
}

/// A value from the untrusted world (banner, validation error), shortened and on one line,
/// with credentials in URLs masked (reports reach chats and mailboxes).
fn quoted(s: &str) -> String {
    let one_line: String = crate::redact::mask_text(s)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    one_line.trim().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Opened
// ---------------------------------------------------------------------------------------------

fn opened(f: &Facts<'_>, lang: Language) -> Text {
    let Some(kind) = f.failure_kind() else {
        let head = headline(f, lang);
        return Text {
            summary: tr!(
                lang,
                "{head}: the checks fail, but they did not say why.",
                "{head}: проверки не проходят, причина не указана."
            ),
            cause: tr!(
                lang,
                "The check results carry no failure details.",
                "В результатах проверок нет сведений о причине."
            ),
            impact: unreachable_impact(f, lang),
            actions: vec![tr!(
                lang,
                "Open the target's latest check results and test it by hand.",
                "Откройте последние результаты проверок и проверьте сервис вручную."
            )],
        };
    };
    failure(f, kind, lang)
}

/// The explanation of one failure kind.
fn failure(f: &Facts<'_>, kind: FailureKind, lang: Language) -> Text {
    let head = headline(f, lang);
    let name = &f.name;
    let host = f.failing_host();
    let address = &f.address;
    let r = f.primary;
    let message = r
        .and_then(|r| r.failure.as_ref())
        .map(|x| quoted(&x.message))
        .unwrap_or_default();
    let resolver = r
        .and_then(|r| r.dns.as_ref())
        .map(|d| d.resolver.clone())
        .unwrap_or_else(|| "system".into());
    let tls = r.and_then(|r| r.tls.as_ref());
    match kind {
        FailureKind::DnsNxdomain => Text {
            summary: tr!(
                lang,
                "{head}: the name {host} does not exist (DNS answered NXDOMAIN).",
                "{head}: имя {host} не существует (DNS ответил NXDOMAIN)."
            ),
            cause: tr!(
                lang,
                "The DNS record of {host} was deleted or never existed, or the domain has expired and was taken out of the DNS.",
                "DNS-запись {host} удалена или никогда не существовала, либо срок регистрации домена истёк и он исключён из DNS."
            ),
            impact: tr!(
                lang,
                "Nobody can reach {address}: clients cannot even find its address.",
                "Никто не может открыть {address}: клиенты не могут даже узнать его адрес."
            ),
            actions: vec![
                tr!(
                    lang,
                    "Check that the domain is registered and paid up (whois).",
                    "Проверьте, что домен зарегистрирован и оплачен (whois)."
                ),
                tr!(
                    lang,
                    "Check the DNS zone for a record named {host} and restore it if it was deleted.",
                    "Проверьте в DNS-зоне запись {host} и восстановите её, если она удалена."
                ),
                tr!(
                    lang,
                    "If the monitored address has a typo, correct it.",
                    "Если в адресе проверки опечатка, исправьте её."
                ),
            ],
        },
        FailureKind::DnsServfail => Text {
            summary: tr!(
                lang,
                "{head}: DNS servers fail to answer for {host} (SERVFAIL).",
                "{head}: DNS-серверы не могут ответить на запрос {host} (SERVFAIL)."
            ),
            cause: tr!(
                lang,
                "The authoritative name servers of the domain are failing or misconfigured, or its DNSSEC signatures do not validate.",
                "Авторитетные DNS-серверы домена неисправны или неверно настроены, либо не проходит проверка подписей DNSSEC."
            ),
            impact: unreachable_impact(f, lang),
            actions: vec![
                tr!(
                    lang,
                    "Query the domain's name servers directly (dig +trace {host}) and check your DNS provider's status.",
                    "Запросите DNS-серверы домена напрямую (dig +trace {host}) и проверьте статус DNS-провайдера."
                ),
                tr!(
                    lang,
                    "If DNSSEC is on, check that the DS record at the registrar matches the zone's keys.",
                    "Если включён DNSSEC, проверьте, что DS-запись у регистратора соответствует ключам зоны."
                ),
            ],
        },
        FailureKind::DnsTimeout => Text {
            summary: tr!(
                lang,
                "{head}: no DNS server answered for {host} in time.",
                "{head}: DNS-серверы не ответили на запрос {host} вовремя."
            ),
            cause: tr!(
                lang,
                "The name servers asked (resolver: {resolver}) are down, overloaded or unreachable.",
                "Опрошенные DNS-серверы (резолвер: {resolver}) не работают, перегружены или недоступны."
            ),
            impact: unreachable_impact(f, lang),
            actions: vec![
                tr!(
                    lang,
                    "Query the domain's name servers directly (dig @<server> {host}) and check your DNS provider's status.",
                    "Запросите DNS-серверы домена напрямую (dig @<сервер> {host}) и проверьте статус DNS-провайдера."
                ),
                tr!(
                    lang,
                    "Check that a firewall does not block DNS (UDP and TCP port 53).",
                    "Проверьте, что межсетевой экран не блокирует DNS (порт 53, UDP и TCP)."
                ),
            ],
        },
        FailureKind::DnsNoRecords => Text {
            summary: tr!(
                lang,
                "{head}: the name {host} exists but has no record of the type checked.",
                "{head}: имя {host} существует, но записей проверяемого типа у него нет."
            ),
            cause: tr!(
                lang,
                "The record was removed from the zone or never added (for example an A record without its AAAA twin).",
                "Запись удалена из зоны или не была добавлена (например, есть A-запись, но нет AAAA)."
            ),
            impact: tr!(
                lang,
                "Clients that need this record cannot reach {address}.",
                "Клиенты, которым нужна эта запись, не могут обратиться к {address}."
            ),
            actions: vec![tr!(
                lang,
                "Add the missing record for {host} to the DNS zone.",
                "Добавьте недостающую запись для {host} в DNS-зону."
            )],
        },
        FailureKind::DnsUnexpectedAnswer => {
            let answers = r
                .and_then(|r| r.dns.as_ref())
                .map(|d| d.answers.iter().map(|a| a.value.clone()).collect::<Vec<_>>().join(", "))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "-".into());
            Text {
                summary: tr!(
                    lang,
                    "{head}: {host} resolves to {answers}, not to the expected answers.",
                    "{head}: {host} указывает на {answers}, а не на ожидаемые значения."
                ),
                cause: tr!(
                    lang,
                    "The DNS records were changed: a migration, a mistaken edit, or a hijacked DNS account.",
                    "DNS-записи изменены: переезд, ошибочная правка или взлом учётной записи DNS-провайдера."
                ),
                impact: tr!(
                    lang,
                    "Clients of {address} are sent to another server than intended.",
                    "Клиенты {address} попадают не на тот сервер, на который должны."
                ),
                actions: vec![
                    tr!(
                        lang,
                        "Compare the zone's records for {host} with the expected values and fix them.",
                        "Сравните записи {host} в зоне с ожидаемыми значениями и исправьте их."
                    ),
                    tr!(
                        lang,
                        "If nobody changed them on purpose, secure the DNS provider account (password, 2FA, audit log).",
                        "Если их никто не менял намеренно, защитите учётную запись DNS-провайдера (пароль, 2FA, журнал действий)."
                    ),
                ],
            }
        }
        FailureKind::DnsError => Text {
            summary: tr!(
                lang,
                "{head}: the DNS lookup of {host} failed ({message}).",
                "{head}: DNS-запрос {host} завершился ошибкой ({message})."
            ),
            cause: tr!(
                lang,
                "The DNS server refused the query or sent a malformed answer.",
                "DNS-сервер отказал в запросе или прислал некорректный ответ."
            ),
            impact: unreachable_impact(f, lang),
            actions: vec![tr!(
                lang,
                "Query the domain's name servers directly (dig +trace {host}) and check the zone's configuration.",
                "Запросите DNS-серверы домена напрямую (dig +trace {host}) и проверьте настройки зоны."
            )],
        },
        FailureKind::ConnectRefused => {
            let port = port_of(f);
            let at = ip_of(r).map(|ip| format!(" ({ip})")).unwrap_or_default();
            Text {
                summary: tr!(
                    lang,
                    "{head}: {host}{at} refuses connections on port {port}.",
                    "{head}: {host}{at} отклоняет соединения на порт {port}."
                ),
                cause: tr!(
                    lang,
                    "Nothing listens on port {port}: the service is stopped or crashed, or listens on another port or interface; or a firewall rejects the connection.",
                    "На порту {port} никто не принимает соединения: служба остановлена или упала, слушает другой порт или интерфейс, либо соединение отклоняет межсетевой экран."
                ),
                impact: unreachable_impact(f, lang),
                actions: vec![
                    tr!(
                        lang,
                        "Check that the service is running on the server and restart it (systemctl status, docker ps).",
                        "Проверьте, запущена ли служба на сервере, и перезапустите её (systemctl status, docker ps)."
                    ),
                    tr!(
                        lang,
                        "Check that it listens on port {port} on a public interface (ss -ltnp).",
                        "Проверьте, что она слушает порт {port} на внешнем интерфейсе (ss -ltnp)."
                    ),
                    tr!(
                        lang,
                        "Check the firewall rules for port {port}.",
                        "Проверьте правила межсетевого экрана для порта {port}."
                    ),
                ],
            }
        }
        FailureKind::ConnectTimeout => {
            let port = port_of(f);
            let at = ip_of(r).map(|ip| format!(" ({ip})")).unwrap_or_default();
            Text {
                summary: tr!(
                    lang,
                    "{head}: the connection to {host}{at} on port {port} timed out.",
                    "{head}: истекло время ожидания соединения с {host}{at} на порту {port}."
                ),
                cause: tr!(
                    lang,
                    "The server is off or unreachable, or a firewall or security group silently drops the packets.",
                    "Сервер выключен или недоступен по сети, либо межсетевой экран или группа безопасности молча отбрасывает пакеты."
                ),
                impact: unreachable_impact(f, lang),
                actions: vec![
                    tr!(
                        lang,
                        "Check that the server is up and reachable (ping, traceroute to {host}).",
                        "Проверьте, что сервер включён и доступен (ping, traceroute до {host})."
                    ),
                    tr!(
                        lang,
                        "Check the firewall and security group rules for port {port}.",
                        "Проверьте правила межсетевого экрана и групп безопасности для порта {port}."
                    ),
                ],
            }
        }
        FailureKind::ConnectError => Text {
            summary: tr!(
                lang,
                "{head}: the connection to {host} failed ({message}).",
                "{head}: не удалось установить соединение с {host} ({message})."
            ),
            cause: tr!(
                lang,
                "The network path to the server is broken (unreachable network or host), or the connection was reset.",
                "Сетевой путь до сервера нарушен (сеть или узел недоступны), либо соединение было сброшено."
            ),
            impact: unreachable_impact(f, lang),
            actions: vec![tr!(
                lang,
                "Check the server's network connectivity and routing (traceroute to {host}).",
                "Проверьте сетевую связность и маршрутизацию сервера (traceroute до {host})."
            )],
        },
        FailureKind::TlsExpired => {
            let (when, ago) = tls
                .map(|t| (date(t.not_after), days(-t.days_left, lang)))
                .unwrap_or_else(|| ("?".into(), "?".into()));
            Text {
                summary: tr!(
                    lang,
                    "{head}: the TLS certificate of {host} expired on {when} ({ago} ago).",
                    "{head}: TLS-сертификат {host} истёк {when} ({ago} назад)."
                ),
                cause: tr!(
                    lang,
                    "The certificate was not renewed in time: automatic renewal (ACME, certbot) failed or is not set up, or the renewed certificate was not installed and the server not reloaded.",
                    "Сертификат не продлили вовремя: автоматическое продление (ACME, certbot) сломалось или не настроено, либо новый сертификат не установлен и сервер не перезагружен."
                ),
                impact: tr!(
                    lang,
                    "Browsers show a security error on {address} and API clients refuse to connect.",
                    "Браузеры показывают на {address} ошибку безопасности, API-клиенты отказываются подключаться."
                ),
                actions: vec![
                    tr!(
                        lang,
                        "Renew the certificate of {host} and reload the web server.",
                        "Продлите сертификат {host} и перезагрузите веб-сервер."
                    ),
                    tr!(
                        lang,
                        "Find out why automatic renewal failed (renewal logs, cron or timer) so it does not happen again.",
                        "Выясните, почему не сработало автоматическое продление (журналы продления, cron или таймер), чтобы это не повторилось."
                    ),
                ],
            }
        }
        FailureKind::TlsNotYetValid => {
            let from = tls.map(|t| date(t.not_before)).unwrap_or_else(|| "?".into());
            Text {
                summary: tr!(
                    lang,
                    "{head}: the TLS certificate of {host} is not valid yet (valid from {from}).",
                    "{head}: TLS-сертификат {host} ещё не действует (действует с {from})."
                ),
                cause: tr!(
                    lang,
                    "A certificate dated in the future was installed, or a clock is wrong.",
                    "Установлен сертификат с датой начала в будущем, либо неверно идут часы."
                ),
                impact: tr!(
                    lang,
                    "Browsers show a security error on {address} and API clients refuse to connect.",
                    "Браузеры показывают на {address} ошибку безопасности, API-клиенты отказываются подключаться."
                ),
                actions: vec![
                    tr!(
                        lang,
                        "Install a currently valid certificate for {host}.",
                        "Установите для {host} сертификат, который действует уже сейчас."
                    ),
                    tr!(lang, "Check the server's clock (NTP).", "Проверьте часы сервера (NTP)."),
                ],
            }
        }
        FailureKind::TlsUntrusted => {
            let issuer = tls.map(|t| quoted(&t.issuer)).unwrap_or_else(|| "?".into());
            let why = tls
                .and_then(|t| t.validation_error.as_deref())
                .map(quoted)
                .unwrap_or_else(|| message.clone());
            Text {
                summary: tr!(
                    lang,
                    "{head}: the TLS certificate of {host} is not trusted ({why}).",
                    "{head}: TLS-сертификату {host} нет доверия ({why})."
                ),
                cause: tr!(
                    lang,
                    "The certificate (issuer: {issuer}) is self-signed or from an unknown authority, or the server does not send the intermediate certificates of the chain.",
                    "Сертификат (издатель: {issuer}) самоподписанный или выдан неизвестным центром сертификации, либо сервер не отдаёт промежуточные сертификаты цепочки."
                ),
                impact: tr!(
                    lang,
                    "Browsers show a security error on {address} and API clients refuse to connect.",
                    "Браузеры показывают на {address} ошибку безопасности, API-клиенты отказываются подключаться."
                ),
                actions: vec![
                    tr!(
                        lang,
                        "Install a certificate from a public authority with its full chain (fullchain.pem).",
                        "Установите сертификат публичного центра сертификации вместе с полной цепочкой (fullchain.pem)."
                    ),
                    tr!(
                        lang,
                        "Verify with: openssl s_client -connect {host}:443 -servername {host}",
                        "Проверьте командой: openssl s_client -connect {host}:443 -servername {host}"
                    ),
                ],
            }
        }
        FailureKind::TlsHostname => {
            let sans = tls
                .map(|t| t.sans.iter().map(|s| quoted(s)).collect::<Vec<_>>().join(", "))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "-".into());
            Text {
                summary: tr!(
                    lang,
                    "{head}: the TLS certificate presented for {host} does not cover that name; it is valid for {sans}.",
                    "{head}: TLS-сертификат, который отдаёт {host}, не покрывает это имя; он действует для {sans}."
                ),
                cause: tr!(
                    lang,
                    "The server sends the certificate of another site (a wrong virtual host or SNI setup), or the certificate was issued without this name.",
                    "Сервер отдаёт сертификат другого сайта (неверная настройка виртуального хоста или SNI), либо сертификат выпущен без этого имени."
                ),
                impact: tr!(
                    lang,
                    "Browsers show a security error on {address} and API clients refuse to connect.",
                    "Браузеры показывают на {address} ошибку безопасности, API-клиенты отказываются подключаться."
                ),
                actions: vec![
                    tr!(
                        lang,
                        "Issue a certificate that includes {host} among its names, or fix the server block that answers for {host}.",
                        "Выпустите сертификат, в именах которого есть {host}, или исправьте блок конфигурации сервера, отвечающий за {host}."
                    ),
                    tr!(
                        lang,
                        "Verify with: openssl s_client -connect {host}:443 -servername {host}",
                        "Проверьте командой: openssl s_client -connect {host}:443 -servername {host}"
                    ),
                ],
            }
        }
        FailureKind::TlsExpiring => {
            let (when, left) = tls
                .map(|t| (date(t.not_after), days(t.days_left, lang)))
                .unwrap_or_else(|| ("?".into(), "?".into()));
            Text {
                summary: tr!(
                    lang,
                    "{head}: the TLS certificate of {host} expires on {when}, in {left}.",
                    "{head}: TLS-сертификат {host} истекает {when}, через {left}."
                ),
                cause: tr!(
                    lang,
                    "The certificate has not been renewed yet; automatic renewal may be failing.",
                    "Сертификат ещё не продлён; возможно, автоматическое продление не работает."
                ),
                impact: tr!(
                    lang,
                    "Nothing is broken yet; from {when} visitors of {address} will get security errors.",
                    "Пока всё работает; с {when} посетители {address} будут видеть ошибку безопасности."
                ),
                actions: vec![
                    tr!(
                        lang,
                        "Renew the certificate of {host} before {when} and reload the web server.",
                        "Продлите сертификат {host} до {when} и перезагрузите веб-сервер."
                    ),
                    tr!(
                        lang,
                        "Check that automatic renewal works (a dry run of the renewal job).",
                        "Проверьте, что автоматическое продление работает (пробный запуск задания продления)."
                    ),
                ],
            }
        }
        FailureKind::TlsHandshake => Text {
            summary: tr!(
                lang,
                "{head}: the TLS handshake with {host} failed ({message}).",
                "{head}: не удалось установить TLS-соединение с {host} ({message})."
            ),
            cause: tr!(
                lang,
                "The server and clients share no protocol version or cipher, the server's TLS setup is broken, or the port does not speak TLS.",
                "У сервера и клиентов нет общей версии протокола или шифра, настройка TLS на сервере сломана, либо на этом порту не TLS."
            ),
            impact: unreachable_impact(f, lang),
            actions: vec![
                tr!(
                    lang,
                    "Check the server's TLS configuration (protocols, ciphers, certificate files) and its error log.",
                    "Проверьте настройки TLS на сервере (протоколы, шифры, файлы сертификата) и его журнал ошибок."
                ),
                tr!(
                    lang,
                    "Verify with: openssl s_client -connect {host}:443 -servername {host}",
                    "Проверьте командой: openssl s_client -connect {host}:443 -servername {host}"
                ),
            ],
        },
        FailureKind::HttpStatus => http_status(f, lang),
        FailureKind::HttpProtocol => Text {
            summary: tr!(
                lang,
                "{head}: the server at {host} broke the HTTP protocol ({message}).",
                "{head}: сервер {host} нарушил протокол HTTP ({message})."
            ),
            cause: tr!(
                lang,
                "The application crashed mid-response, a proxy in front of it is misconfigured, or the port serves something other than HTTP.",
                "Приложение упало посреди ответа, прокси перед ним неверно настроен, либо на порту работает не HTTP-сервер."
            ),
            impact: unreachable_impact(f, lang),
            actions: vec![tr!(
                lang,
                "Check the application and proxy error logs for crashes and reset connections.",
                "Проверьте журналы ошибок приложения и прокси на падения и сброшенные соединения."
            )],
        },
        FailureKind::AssertionFailed => {
            let code = r
                .and_then(|r| r.status_code)
                .map(status_text)
                .unwrap_or_else(|| "-".into());
            Text {
                summary: tr!(
                    lang,
                    "{head}: {address} answers {code}, but the response is not what it should be ({message}).",
                    "{head}: {address} отвечает {code}, но содержимое ответа не то, что ожидалось ({message})."
                ),
                cause: tr!(
                    lang,
                    "The application serves an error, maintenance or changed page with a success status, or its health endpoint reports a failing dependency.",
                    "Приложение отдаёт страницу ошибки, техобслуживания или изменённую страницу с успешным статусом, либо его проверка здоровья сообщает о сбое зависимости."
                ),
                impact: tr!(
                    lang,
                    "Users of {address} probably get wrong or missing content although the server answers.",
                    "Пользователи {address}, вероятно, получают неверное или неполное содержимое, хотя сервер отвечает."
                ),
                actions: vec![
                    tr!(
                        lang,
                        "Open {address} and compare the response with the check's expectations.",
                        "Откройте {address} и сравните ответ с ожиданиями проверки."
                    ),
                    tr!(
                        lang,
                        "If the page changed on purpose (a release), update the check's assertions.",
                        "Если страница изменилась намеренно (релиз), обновите условия проверки."
                    ),
                ],
            }
        }
        FailureKind::RedirectLoop => {
            let looped = r
                .and_then(|r| r.hops.last())
                .map(|h| quoted(h.location.as_deref().unwrap_or(&h.url)))
                .unwrap_or_else(|| address.clone());
            let n = r.map(|r| r.hops.len()).unwrap_or(0);
            Text {
                summary: tr!(
                    lang,
                    "{head}: its redirects go round in a loop (after {n} hops back to {looped}).",
                    "{head}: перенаправления идут по кругу (после {n} переходов снова {looped})."
                ),
                cause: tr!(
                    lang,
                    "Two redirect rules send requests to each other, typically http↔https or with↔without www, often behind a proxy that hides the original scheme.",
                    "Два правила перенаправления отсылают запросы друг к другу, обычно http↔https или с www↔без www, часто за прокси, скрывающим исходную схему."
                ),
                impact: tr!(
                    lang,
                    "Browsers stop with \"too many redirects\"; nobody can open {address}.",
                    "Браузеры останавливаются с ошибкой «слишком много перенаправлений»; {address} не открывается ни у кого."
                ),
                actions: vec![
                    tr!(
                        lang,
                        "Review the redirect rules of the web server, the proxy or CDN and the application for {host}.",
                        "Проверьте правила перенаправления веб-сервера, прокси или CDN и приложения для {host}."
                    ),
                    tr!(
                        lang,
                        "Follow the chain by hand: curl -sIL {address}",
                        "Пройдите цепочку вручную: curl -sIL {address}"
                    ),
                ],
            }
        }
        FailureKind::TooManyRedirects => {
            let n = r.map(|r| r.hops.len()).unwrap_or(0);
            Text {
                summary: tr!(
                    lang,
                    "{head}: {address} redirects more often than allowed ({n} hops) without reaching a page.",
                    "{head}: {address} перенаправляет больше допустимого ({n} переходов), так и не отдавая страницу."
                ),
                cause: tr!(
                    lang,
                    "A long or unbounded redirect chain: stacked redirect rules, or a rule that keeps adding to the URL.",
                    "Длинная или бесконечная цепочка перенаправлений: наложение правил или правило, которое всё время дописывает URL."
                ),
                impact: tr!(
                    lang,
                    "Browsers and clients give up before reaching the page at {address}.",
                    "Браузеры и клиенты сдаются, не дойдя до страницы {address}."
                ),
                actions: vec![tr!(
                    lang,
                    "Follow the chain by hand (curl -sIL {address}) and collapse it to a single redirect.",
                    "Пройдите цепочку вручную (curl -sIL {address}) и сократите её до одного перенаправления."
                )],
            }
        }
        FailureKind::InsecureRedirect => {
            let plain = r
                .and_then(|r| r.hops.iter().find(|h| h.url.starts_with("http://")))
                .map(|h| quoted(&h.url))
                .unwrap_or_else(|| message.clone());
            Text {
                summary: tr!(
                    lang,
                    "{head}: its redirect chain passes through plain http ({plain}).",
                    "{head}: цепочка перенаправлений проходит через незашифрованный http ({plain})."
                ),
                cause: tr!(
                    lang,
                    "A redirect rule or the application builds http:// links, often because a proxy in front does not tell it the request came over https.",
                    "Правило перенаправления или приложение формирует ссылки http://, часто потому, что прокси не сообщает ему, что запрос пришёл по https."
                ),
                impact: tr!(
                    lang,
                    "Requests to {address} travel unencrypted for one hop and can be read or altered.",
                    "Запросы к {address} на одном из переходов идут без шифрования, их можно прочитать или подменить."
                ),
                actions: vec![tr!(
                    lang,
                    "Make every redirect point to https:// (set X-Forwarded-Proto on the proxy, enable HSTS).",
                    "Сделайте так, чтобы все перенаправления вели на https:// (передавайте X-Forwarded-Proto с прокси, включите HSTS)."
                )],
            }
        }
        FailureKind::UnexpectedFinalUrl => {
            let ended = r
                .and_then(|r| r.hops.last())
                .map(|h| quoted(&h.url))
                .unwrap_or_else(|| "-".into());
            Text {
                summary: tr!(
                    lang,
                    "{head}: the redirect chain ends at {ended} instead of the expected address.",
                    "{head}: цепочка перенаправлений заканчивается на {ended}, а не на ожидаемом адресе."
                ),
                cause: tr!(
                    lang,
                    "A redirect rule changed (a release, a CDN or domain setting), or the site sends visitors to a login or error page.",
                    "Изменилось правило перенаправления (релиз, настройка CDN или домена), либо сайт отправляет посетителей на страницу входа или ошибки."
                ),
                impact: tr!(
                    lang,
                    "Visitors of {address} land on another page than intended.",
                    "Посетители {address} попадают не на ту страницу."
                ),
                actions: vec![tr!(
                    lang,
                    "Follow the chain by hand (curl -sIL {address}); fix the redirect, or update the expected final URL if the change is intended.",
                    "Пройдите цепочку вручную (curl -sIL {address}); исправьте перенаправление или обновите ожидаемый конечный адрес, если изменение намеренное."
                )],
            }
        }
        FailureKind::SlowResponse => {
            let took = r.map(|r| r.duration_ms).unwrap_or(0);
            let usual = f
                .event
                .evidence
                .baseline_latency_ms
                .map(|b| match lang {
                    Language::En => format!(" (usually {} ms)", b.round()),
                    Language::Ru => format!(" (обычно {} мс)", b.round()),
                })
                .unwrap_or_default();
            Text {
                summary: tr!(
                    lang,
                    "{head}: {address} is slow, the response took {took} ms{usual}.",
                    "{head}: {address} отвечает медленно, ответ занял {took} мс{usual}."
                ),
                cause: tr!(
                    lang,
                    "The server is overloaded or waits on a slow dependency (database, external API); a traffic spike or a slow release is likely.",
                    "Сервер перегружен или ждёт медленную зависимость (базу данных, внешний API); вероятны всплеск нагрузки или медленный релиз."
                ),
                impact: with_regions(
                    tr!(
                        lang,
                        "{address} still works, but users wait noticeably longer.",
                        "{address} работает, но пользователи заметно дольше ждут ответа."
                    ),
                    f,
                    lang,
                ),
                actions: vec![
                    tr!(
                        lang,
                        "Check the server's CPU, memory and database load, and recent releases.",
                        "Проверьте загрузку процессора, памяти и базы данных сервера, а также недавние релизы."
                    ),
                    tr!(
                        lang,
                        "Look at slow requests in the application's logs or traces.",
                        "Найдите медленные запросы в журналах или трассировках приложения."
                    ),
                ],
            }
        }
        FailureKind::BannerMismatch => {
            let banner = r
                .and_then(|r| r.banner.as_deref())
                .map(quoted)
                .unwrap_or_else(|| "-".into());
            let port = port_of(f);
            Text {
                summary: tr!(
                    lang,
                    "{head}: the service on {host}:{port} greets with an unexpected banner ({banner}).",
                    "{head}: служба на {host}:{port} приветствует неожиданным баннером ({banner})."
                ),
                cause: tr!(
                    lang,
                    "Another program now answers on the port, or the service was upgraded and changed its greeting.",
                    "На порту теперь отвечает другая программа, либо служба обновилась и изменила приветствие."
                ),
                impact: tr!(
                    lang,
                    "Clients expecting the usual service on {host}:{port} may fail.",
                    "Клиенты, которые ждут на {host}:{port} привычную службу, могут не работать."
                ),
                actions: vec![tr!(
                    lang,
                    "Check which process listens on port {port} (ss -ltnp) and update the expected banner if the change is intended.",
                    "Проверьте, какой процесс слушает порт {port} (ss -ltnp), и обновите ожидаемый баннер, если изменение намеренное."
                )],
            }
        }
        FailureKind::Timeout => {
            let took = r.map(|r| r.duration_ms).unwrap_or(0);
            let phase = r.and_then(|r| r.failure.as_ref()).map(|x| x.phase);
            let (cause, action) = match phase {
                Some(Phase::Ttfb) => (
                    tr!(
                        lang,
                        "The server accepted the connection but did not answer: the application hangs or waits on a slow dependency (database, external API).",
                        "Сервер принял соединение, но не ответил: приложение зависло или ждёт медленную зависимость (базу данных, внешний API)."
                    ),
                    tr!(
                        lang,
                        "Check the application's workers, its database and its recent logs for stuck requests.",
                        "Проверьте рабочие процессы приложения, его базу данных и свежие журналы на зависшие запросы."
                    ),
                ),
                Some(Phase::Transfer) => (
                    tr!(
                        lang,
                        "The response started but the body stalled: a slow or stuck backend, or a very large response.",
                        "Ответ начался, но передача тела остановилась: медленный или зависший бэкенд либо очень большой ответ."
                    ),
                    tr!(
                        lang,
                        "Check the application's and the proxy's logs for slow or aborted responses.",
                        "Проверьте журналы приложения и прокси на медленные или оборванные ответы."
                    ),
                ),
                _ => (
                    tr!(
                        lang,
                        "The server or the network path to it is too slow or stalled.",
                        "Сервер или сетевой путь до него слишком медленные или зависли."
                    ),
                    tr!(
                        lang,
                        "Check the server's load and connectivity.",
                        "Проверьте нагрузку и сетевую доступность сервера."
                    ),
                ),
            };
            Text {
                summary: tr!(
                    lang,
                    "{head}: {address} did not answer within the time limit ({took} ms).",
                    "{head}: {address} не ответил за отведённое время ({took} мс)."
                ),
                cause,
                impact: unreachable_impact(f, lang),
                actions: vec![action],
            }
        }
        FailureKind::BlockedAddress => {
            let ip = ip_of(r).unwrap_or_else(|| message.clone());
            Text {
                summary: tr!(
                    lang,
                    "{head}: {host} points to a private or reserved address ({ip}) that this PingTower may not check.",
                    "{head}: {host} указывает на частный или зарезервированный адрес ({ip}), проверять который этому PingTower запрещено."
                ),
                cause: tr!(
                    lang,
                    "The DNS record of {host} points into a private network, or the address is an internal one.",
                    "DNS-запись {host} указывает во внутреннюю сеть, либо адрес внутренний."
                ),
                impact: tr!(
                    lang,
                    "PingTower cannot see whether {address} works; public visitors probably cannot reach it either.",
                    "PingTower не может проверить, работает ли {address}; публичные посетители, вероятно, тоже не могут до него добраться."
                ),
                actions: vec![
                    tr!(lang, "Check the DNS records of {host}.", "Проверьте DNS-записи {host}."),
                    tr!(
                        lang,
                        "If the target is internal on purpose, ask the operator to allow private targets.",
                        "Если цель внутренняя намеренно, попросите администратора разрешить частные адреса."
                    ),
                ],
            }
        }
        FailureKind::Internal => Text {
            summary: tr!(
                lang,
                "The check of {name} could not run ({message}); the state of {name} is unknown.",
                "Проверку сервиса «{name}» не удалось выполнить ({message}); его состояние неизвестно."
            ),
            cause: tr!(
                lang,
                "The check's settings are invalid or the pinger had a fault; this says nothing about {name} itself.",
                "Настройки проверки некорректны или у агента проверки произошёл сбой; о самом сервисе «{name}» это ничего не говорит."
            ),
            impact: tr!(
                lang,
                "{name} is not being monitored until the check runs again.",
                "Сервис «{name}» не отслеживается, пока проверка снова не заработает."
            ),
            actions: vec![
                tr!(lang, "Review the check's settings.", "Проверьте настройки проверки."),
                tr!(
                    lang,
                    "If they are fine, tell the PingTower operator.",
                    "Если они в порядке, сообщите администратору PingTower."
                ),
            ],
        },
        FailureKind::Other => Text {
            summary: tr!(
                lang,
                "{head}: the check failed ({message}).",
                "{head}: проверка не прошла ({message})."
            ),
            cause: tr!(
                lang,
                "A failure this version of PingTower does not classify; the pinger's message above is the best description.",
                "Сбой, который эта версия PingTower не классифицирует; сообщение агента выше — лучшее его описание."
            ),
            impact: unreachable_impact(f, lang),
            actions: vec![tr!(
                lang,
                "Open {address} by hand and look at the latest check results.",
                "Откройте {address} вручную и посмотрите последние результаты проверок."
            )],
        },
    }
}

/// An unexpected status code: 5xx, 4xx, anything else; with the slow-down when there was one.
fn http_status(f: &Facts<'_>, lang: Language) -> Text {
    let head = headline(f, lang);
    let address = &f.address;
    let code = f.primary.and_then(|r| r.status_code).unwrap_or(0);
    let status = status_text(code);
    let slow = f.slowdown();
    let summary = match slow {
        Some((latency, baseline)) if (500..600).contains(&code) => {
            let baseline = baseline.round();
            tr!(
                lang,
                "{head}: the server answers {status} after a slow-down: responses took {latency} ms against a usual {baseline} ms.",
                "{head}: сервер отвечает {status} после замедления: ответы занимали {latency} мс при обычных {baseline} мс."
            )
        }
        _ => tr!(
            lang,
            "{head}: the server answers {status}.",
            "{head}: сервер отвечает {status}."
        ),
    };
    let (cause, actions) = match code {
        500..=599 if slow.is_some() => (
            tr!(
                lang,
                "The application slowed down before it failed: it is most likely overloaded (a traffic spike, exhausted workers or database connections, a slow query) and now rejects requests.",
                "Приложение замедлилось, а затем начало отказывать: скорее всего, оно перегружено (всплеск нагрузки, исчерпаны рабочие процессы или соединения с базой, медленный запрос) и теперь отклоняет запросы."
            ),
            vec![
                tr!(
                    lang,
                    "Check the load of the application servers and the database (CPU, memory, connections, slow queries).",
                    "Проверьте нагрузку серверов приложения и базы данных (процессор, память, соединения, медленные запросы)."
                ),
                tr!(
                    lang,
                    "Scale out or restart the overloaded part; roll back a recent release if the slow-down started with it.",
                    "Добавьте мощности или перезапустите перегруженную часть; откатите недавний релиз, если замедление началось с него."
                ),
            ],
        ),
        502 => (
            tr!(
                lang,
                "The proxy or load balancer in front cannot get an answer from the application behind it: the application is down, crashed or listens elsewhere.",
                "Прокси или балансировщик не может получить ответ от приложения за ним: приложение остановлено, упало или слушает другой адрес."
            ),
            vec![
                tr!(
                    lang,
                    "Check that the application behind the proxy is running, and read its logs.",
                    "Проверьте, что приложение за прокси запущено, и посмотрите его журналы."
                ),
                tr!(
                    lang,
                    "Check the proxy's upstream address and its error log.",
                    "Проверьте адрес upstream в настройках прокси и его журнал ошибок."
                ),
            ],
        ),
        503 => (
            tr!(
                lang,
                "The service is unavailable: no healthy instance behind the load balancer, maintenance mode, or overload protection.",
                "Сервис недоступен: за балансировщиком нет исправных экземпляров, включён режим обслуживания или сработала защита от перегрузки."
            ),
            vec![
                tr!(
                    lang,
                    "Check the health of the instances behind the load balancer and restart failed ones.",
                    "Проверьте состояние экземпляров за балансировщиком и перезапустите неисправные."
                ),
                tr!(
                    lang,
                    "If a maintenance mode is on, make sure it was meant to be.",
                    "Если включён режим обслуживания, убедитесь, что так и задумано."
                ),
            ],
        ),
        504 => (
            tr!(
                lang,
                "The proxy gave up waiting for the application: the application or its database is too slow or hangs.",
                "Прокси не дождался ответа приложения: приложение или его база данных слишком медленные или зависли."
            ),
            vec![
                tr!(
                    lang,
                    "Look for slow or stuck requests in the application and the database.",
                    "Найдите медленные или зависшие запросы в приложении и базе данных."
                ),
                tr!(
                    lang,
                    "Check the load of the application servers.",
                    "Проверьте нагрузку серверов приложения."
                ),
            ],
        ),
        500..=599 => (
            tr!(
                lang,
                "The application fails while handling the request: an unhandled error, a failed dependency (database, cache) or a bad release.",
                "Приложение падает при обработке запроса: необработанная ошибка, сбой зависимости (база данных, кэш) или неудачный релиз."
            ),
            vec![
                tr!(
                    lang,
                    "Read the application's error log for the failing request.",
                    "Найдите ошибку в журнале приложения."
                ),
                tr!(
                    lang,
                    "Roll back the latest release if the errors started with it.",
                    "Откатите последний релиз, если ошибки начались с него."
                ),
            ],
        ),
        401 | 403 => (
            tr!(
                lang,
                "Access is denied: authentication changed, the credentials of the check expired, or a firewall or WAF blocks the requests.",
                "Доступ запрещён: изменилась аутентификация, истекли учётные данные проверки, либо запросы блокирует межсетевой экран или WAF."
            ),
            vec![
                tr!(
                    lang,
                    "Check the access rules and the WAF or firewall logs for blocked requests.",
                    "Проверьте правила доступа и журналы WAF или межсетевого экрана на заблокированные запросы."
                ),
                tr!(
                    lang,
                    "If the check sends credentials, make sure they are still valid.",
                    "Если проверка отправляет учётные данные, убедитесь, что они ещё действительны."
                ),
            ],
        ),
        404 | 410 => (
            tr!(
                lang,
                "The page is gone: it was moved or deleted, or a release or proxy change lost the route.",
                "Страницы больше нет: её перенесли или удалили, либо маршрут потерялся после релиза или изменения прокси."
            ),
            vec![
                tr!(
                    lang,
                    "Check that {address} still exists and that the latest release kept its route.",
                    "Проверьте, что {address} по-прежнему существует и последний релиз сохранил маршрут."
                ),
                tr!(
                    lang,
                    "If the page moved on purpose, redirect the old address or update the check.",
                    "Если страница перенесена намеренно, настройте перенаправление со старого адреса или обновите проверку."
                ),
            ],
        ),
        429 => (
            tr!(
                lang,
                "The server rate-limits the requests: a limit was lowered, or traffic from the checks' addresses is throttled.",
                "Сервер ограничивает частоту запросов: лимит снижен, либо запросы с адресов проверки урезаются."
            ),
            vec![tr!(
                lang,
                "Check the rate-limit settings and allow the monitoring's requests.",
                "Проверьте настройки ограничения частоты запросов и разрешите запросы мониторинга."
            )],
        ),
        400..=499 => (
            tr!(
                lang,
                "The server rejects the request as invalid: the application or its routing changed.",
                "Сервер отклоняет запрос как некорректный: изменилось приложение или его маршрутизация."
            ),
            vec![tr!(
                lang,
                "Compare the check's request with what the application now expects, and read its logs.",
                "Сравните запрос проверки с тем, что приложение ожидает теперь, и посмотрите его журналы."
            )],
        ),
        _ => (
            tr!(
                lang,
                "The status code {status} is not one of the codes the check expects: the application's behaviour changed.",
                "Код ответа {status} не входит в ожидаемые проверкой: поведение приложения изменилось."
            ),
            vec![tr!(
                lang,
                "Check whether the new answer is intended; fix the application or update the expected status codes.",
                "Выясните, намеренный ли это ответ; исправьте приложение или обновите ожидаемые коды ответа."
            )],
        ),
    };
    let impact = match code {
        500..=599 => unreachable_impact(f, lang),
        _ => with_regions(
            tr!(
                lang,
                "Visitors of {address} get the answer {status} instead of the page.",
                "Посетители {address} получают ответ {status} вместо страницы."
            ),
            f,
            lang,
        ),
    };
    Text {
        summary,
        cause,
        impact,
        actions,
    }
}

// ---------------------------------------------------------------------------------------------
// Other events
// ---------------------------------------------------------------------------------------------

fn resolved(f: &Facts<'_>, lang: Language) -> Text {
    let name = &f.name;
    let address = &f.address;
    let ev = f.event;
    let end = ev.resolved_at.unwrap_or(ev.started_at);
    let lasted = duration((end - ev.started_at).num_seconds(), lang);
    let since = date(ev.started_at);
    let until = date(end);
    let kinds: Vec<&str> = f.failure_kinds().into_iter().map(|k| kind_phrase(k, lang)).collect();
    let cause = if kinds.is_empty() {
        tr!(
            lang,
            "The checks pass again; the failure behind the incident is described in its opening report.",
            "Проверки снова проходят; причина сбоя описана в отчёте об открытии инцидента."
        )
    } else {
        let kinds = kinds.join(", ");
        tr!(
            lang,
            "The incident was caused by: {kinds}. The checks pass again.",
            "Причина инцидента: {kinds}. Проверки снова проходят."
        )
    };
    Text {
        summary: tr!(
            lang,
            "{name} is back up after {lasted} (from {since} to {until}).",
            "Сервис «{name}» снова работает; сбой длился {lasted} (с {since} по {until})."
        ),
        cause,
        impact: tr!(
            lang,
            "{address} works again for everyone. It was unavailable or degraded for {lasted}.",
            "{address} снова доступен для всех. Он был недоступен или работал с ухудшениями {lasted}."
        ),
        actions: vec![
            tr!(
                lang,
                "Find out what caused the failure so it does not happen again.",
                "Выясните причину сбоя, чтобы он не повторился."
            ),
            tr!(
                lang,
                "Tell affected users that the service works again.",
                "Сообщите затронутым пользователям, что сервис снова работает."
            ),
        ],
    }
}

fn cert_expiring(f: &Facts<'_>, lang: Language) -> Text {
    let name = &f.name;
    let address = &f.address;
    let cert = f
        .event
        .evidence
        .certificate
        .as_ref()
        .or_else(|| f.primary.and_then(|r| r.tls.as_ref()));
    let host = f.host.clone().unwrap_or_else(|| address.clone());
    let (when, left, issuer) = cert
        .map(|c| (date(c.not_after), days(c.days_left, lang), quoted(&c.issuer)))
        .unwrap_or_else(|| ("?".into(), "?".into(), "?".into()));
    let threshold = f
        .event
        .evidence
        .threshold_days
        .map(|t| match lang {
            Language::En => format!(" (warning threshold: {t} days)"),
            Language::Ru => format!(" (порог предупреждения: {})", days(i64::from(t), lang)),
        })
        .unwrap_or_default();
    Text {
        summary: tr!(
            lang,
            "The TLS certificate of {name} ({host}) expires on {when}, in {left}{threshold}.",
            "TLS-сертификат сервиса «{name}» ({host}) истекает {when}, через {left}{threshold}."
        ),
        cause: tr!(
            lang,
            "The certificate (issuer: {issuer}) has not been renewed yet; automatic renewal may be failing.",
            "Сертификат (издатель: {issuer}) ещё не продлён; возможно, автоматическое продление не работает."
        ),
        impact: tr!(
            lang,
            "Nothing is broken yet; from {when} visitors of {address} will get security errors.",
            "Пока всё работает; с {when} посетители {address} будут видеть ошибку безопасности."
        ),
        actions: vec![
            tr!(
                lang,
                "Renew the certificate of {host} before {when} and reload the web server.",
                "Продлите сертификат {host} до {when} и перезагрузите веб-сервер."
            ),
            tr!(
                lang,
                "Check that automatic renewal works (a dry run of the renewal job).",
                "Проверьте, что автоматическое продление работает (пробный запуск задания продления)."
            ),
        ],
    }
}

fn flapping(f: &Facts<'_>, lang: Language) -> Text {
    let name = &f.name;
    let address = &f.address;
    let kinds: Vec<&str> = f.failure_kinds().into_iter().map(|k| kind_phrase(k, lang)).collect();
    let seen = if kinds.is_empty() {
        String::new()
    } else {
        let kinds = kinds.join(", ");
        tr!(lang, " Failures seen: {kinds}.", " Замеченные сбои: {kinds}.")
    };
    Text {
        summary: tr!(
            lang,
            "{name} keeps switching between up and down; alerts are held until it is stable.",
            "Сервис «{name}» то работает, то нет; оповещения приостановлены, пока состояние не стабилизируется."
        ),
        cause: tr!(
            lang,
            "Intermittent failures: an overloaded server, one bad instance behind a load balancer, or an unstable network.{seen}",
            "Периодические сбои: перегруженный сервер, один неисправный экземпляр за балансировщиком или нестабильная сеть.{seen}"
        ),
        impact: with_regions(
            tr!(
                lang,
                "Some requests to {address} fail while others succeed.",
                "Часть запросов к {address} завершается ошибкой, часть проходит."
            ),
            f,
            lang,
        ),
        actions: vec![
            tr!(
                lang,
                "Check each instance behind the load balancer separately.",
                "Проверьте каждый экземпляр за балансировщиком по отдельности."
            ),
            tr!(
                lang,
                "Look at the server's load and the error logs around the failures.",
                "Посмотрите нагрузку сервера и журналы ошибок в моменты сбоев."
            ),
        ],
    }
}

fn probe_degraded(f: &Facts<'_>, lang: Language) -> Text {
    let pinger = f.event.pinger_id.clone().unwrap_or_else(|| "?".into());
    let regions = if f.event.regions.is_empty() {
        "-".to_owned()
    } else {
        f.event.regions.join(", ")
    };
    Text {
        summary: tr!(
            lang,
            "Pinger {pinger} (region {regions}) lost its own network connectivity; its results are not counted until it recovers.",
            "Агент проверки {pinger} (регион {regions}) потерял собственную связь с сетью; его результаты не учитываются, пока связь не восстановится."
        ),
        cause: tr!(
            lang,
            "The pinger's connectivity checks (canaries) fail: its network, DNS resolver or host has a problem.",
            "Контрольные проверки связи агента не проходят: проблема в его сети, DNS-резолвере или на самом узле."
        ),
        impact: tr!(
            lang,
            "Monitored services are not affected; checks from region {regions} may be missing meanwhile.",
            "На отслеживаемые сервисы это не влияет; проверки из региона {regions} пока могут отсутствовать."
        ),
        actions: vec![
            tr!(
                lang,
                "Check the network, DNS and host of pinger {pinger}.",
                "Проверьте сеть, DNS и узел агента {pinger}."
            ),
            tr!(
                lang,
                "Run more than one pinger per region so a single one does not leave gaps.",
                "Запускайте в регионе больше одного агента, чтобы сбой одного не оставлял пробелов."
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally_in_both_languages() {
        assert_eq!(duration(45, Language::En), "45 s");
        assert_eq!(duration(7_500, Language::En), "2 h 5 min");
        assert_eq!(duration(3_600, Language::En), "1 h");
        assert_eq!(duration(90_000, Language::Ru), "1 д 1 ч");
        assert_eq!(duration(0, Language::Ru), "0 с");
    }

    #[test]
    fn russian_day_counts_agree_with_the_number() {
        assert_eq!(days(1, Language::Ru), "1 день");
        assert_eq!(days(3, Language::Ru), "3 дня");
        assert_eq!(days(11, Language::Ru), "11 дней");
        assert_eq!(days(21, Language::Ru), "21 день");
        assert_eq!(days(14, Language::Ru), "14 дней");
        assert_eq!(days(1, Language::En), "1 day");
    }

    #[test]
    fn rule_reports_do_not_echo_credentials_of_urls() {
        use common::messages::HttpHop;
        let mut event = common::samples::incident_event();
        event.target.as_mut().unwrap().address = "https://shop.example.com/health?api_key=SECRET123".into();
        let r = &mut event.evidence.results[0];
        r.failure.as_mut().unwrap().kind = FailureKind::TooManyRedirects;
        r.failure.as_mut().unwrap().message = "too many redirects: https://shop.example.com/a?token=TOKEN456".into();
        r.hops = vec![HttpHop {
            url: "https://shop.example.com/health?api_key=SECRET123".into(),
            status: Some(302),
            resolved_ip: None,
            location: Some("/a?token=TOKEN456".into()),
            http_version: None,
            timings: Default::default(),
        }];
        for lang in [Language::En, Language::Ru] {
            let report = write(&event, lang, chrono::Utc::now());
            let text = serde_json::to_string(&report).unwrap();
            assert!(text.contains("shop.example.com/health?api_key=***"), "{text}");
            assert!(!text.contains("SECRET123") && !text.contains("TOKEN456"), "{text}");
        }
    }
}
