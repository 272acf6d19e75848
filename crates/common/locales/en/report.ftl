# The rule reports of the llm-service (llm-service/src/rules.rs decides which message and
# with which facts). `$head` is a headline-* message; `$address`, `$host` and every quoted
# value arrive with credentials masked. Ids name the failure kind and the report part:
# -summary, -cause, -impact, -action-N.

## Shared phrases: the slow-down claim, headlines ($head), impacts

claim-slowdown = The checks took up to { $latency } ms against a usual { $baseline } ms.
headline-degraded = { $name } is degraded
headline-down = { $name } is down
headline-problem = { $name } has a problem
impact-unreachable = Nobody can use { $address }: every request fails.
impact-seen-from = { $impact } Seen from: { $regions }.

## Opened, the checks gave no reason

no-details-summary = { $head }: the checks fail, but they did not say why.
no-details-cause = The check results carry no failure details.
no-details-action-1 = Open the target's latest check results and test it by hand.

## DNS failures

dns-nxdomain-summary = { $head }: the name { $host } does not exist (DNS answered NXDOMAIN).
dns-nxdomain-cause = The DNS record of { $host } was deleted or never existed, or the domain has expired and was taken out of the DNS.
dns-nxdomain-impact = Nobody can reach { $address }: clients cannot even find its address.
dns-nxdomain-action-1 = Check that the domain is registered and paid up (whois).
dns-nxdomain-action-2 = Check the DNS zone for a record named { $host } and restore it if it was deleted.
dns-nxdomain-action-3 = If the monitored address has a typo, correct it.
dns-servfail-summary = { $head }: DNS servers fail to answer for { $host } (SERVFAIL).
dns-servfail-cause = The authoritative name servers of the domain are failing or misconfigured, or its DNSSEC signatures do not validate.
dns-servfail-action-1 = Query the domain's name servers directly (dig +trace { $host }) and check your DNS provider's status.
dns-servfail-action-2 = If DNSSEC is on, check that the DS record at the registrar matches the zone's keys.
dns-timeout-summary = { $head }: no DNS server answered for { $host } in time.
dns-timeout-cause = The name servers asked (resolver: { $resolver }) are down, overloaded or unreachable.
dns-timeout-action-1 = Query the domain's name servers directly (dig @<server> { $host }) and check your DNS provider's status.
dns-timeout-action-2 = Check that a firewall does not block DNS (UDP and TCP port 53).
dns-no-records-summary = { $head }: the name { $host } exists but has no record of the type checked.
dns-no-records-cause = The record was removed from the zone or never added (for example an A record without its AAAA twin).
dns-no-records-impact = Clients that need this record cannot reach { $address }.
dns-no-records-action-1 = Add the missing record for { $host } to the DNS zone.
dns-unexpected-answer-summary = { $head }: { $host } resolves to { $answers }, not to the expected answers.
dns-unexpected-answer-cause = The DNS records were changed: a migration, a mistaken edit, or a hijacked DNS account.
dns-unexpected-answer-impact = Clients of { $address } are sent to another server than intended.
dns-unexpected-answer-action-1 = Compare the zone's records for { $host } with the expected values and fix them.
dns-unexpected-answer-action-2 = If nobody changed them on purpose, secure the DNS provider account (password, 2FA, audit log).
dns-error-summary = { $head }: the DNS lookup of { $host } failed ({ $message }).
dns-error-cause = The DNS server refused the query or sent a malformed answer.
dns-error-action-1 = Query the domain's name servers directly (dig +trace { $host }) and check the zone's configuration.

## Connection failures

connect-refused-summary = { $head }: { $host }{ $at } refuses connections on port { $port }.
connect-refused-cause = Nothing listens on port { $port }: the service is stopped or crashed, or listens on another port or interface; or a firewall rejects the connection.
connect-refused-action-1 = Check that the service is running on the server and restart it (systemctl status, docker ps).
connect-refused-action-2 = Check that it listens on port { $port } on a public interface (ss -ltnp).
connect-refused-action-3 = Check the firewall rules for port { $port }.
connect-timeout-summary = { $head }: the connection to { $host }{ $at } on port { $port } timed out.
connect-timeout-cause = The server is off or unreachable, or a firewall or security group silently drops the packets.
connect-timeout-action-1 = Check that the server is up and reachable (ping, traceroute to { $host }).
connect-timeout-action-2 = Check the firewall and security group rules for port { $port }.
connect-error-summary = { $head }: the connection to { $host } failed ({ $message }).
connect-error-cause = The network path to the server is broken (unreachable network or host), or the connection was reset.
connect-error-action-1 = Check the server's network connectivity and routing (traceroute to { $host }).

## TLS failures

tls-expired-summary = { $head }: the TLS certificate of { $host } expired on { $when } ({ $ago } ago).
tls-expired-cause = The certificate was not renewed in time: automatic renewal (ACME, certbot) failed or is not set up, or the renewed certificate was not installed and the server not reloaded.
impact-certificate-rejected = Browsers show a security error on { $address } and API clients refuse to connect.
tls-expired-action-1 = Renew the certificate of { $host } and reload the web server.
tls-expired-action-2 = Find out why automatic renewal failed (renewal logs, cron or timer) so it does not happen again.
tls-not-yet-valid-summary = { $head }: the TLS certificate of { $host } is not valid yet (valid from { $from }).
tls-not-yet-valid-cause = A certificate dated in the future was installed, or a clock is wrong.
tls-not-yet-valid-action-1 = Install a currently valid certificate for { $host }.
tls-not-yet-valid-action-2 = Check the server's clock (NTP).
tls-untrusted-summary = { $head }: the TLS certificate of { $host } is not trusted ({ $why }).
tls-untrusted-cause = The certificate (issuer: { $issuer }) is self-signed or from an unknown authority, or the server does not send the intermediate certificates of the chain.
tls-untrusted-action-1 = Install a certificate from a public authority with its full chain (fullchain.pem).
action-verify-with-openssl = Verify with: openssl s_client -connect { $host }:443 -servername { $host }
tls-hostname-summary = { $head }: the TLS certificate presented for { $host } does not cover that name; it is valid for { $sans }.
tls-hostname-cause = The server sends the certificate of another site (a wrong virtual host or SNI setup), or the certificate was issued without this name.
tls-hostname-action-1 = Issue a certificate that includes { $host } among its names, or fix the server block that answers for { $host }.
tls-expiring-summary = { $head }: the TLS certificate of { $host } expires on { $when }, in { $left }.
tls-expiring-cause = The certificate has not been renewed yet; automatic renewal may be failing.
tls-expiring-impact = Nothing is broken yet; from { $when } visitors of { $address } will get security errors.
tls-expiring-action-1 = Renew the certificate of { $host } before { $when } and reload the web server.
tls-expiring-action-2 = Check that automatic renewal works (a dry run of the renewal job).
tls-handshake-summary = { $head }: the TLS handshake with { $host } failed ({ $message }).
tls-handshake-cause = The server and clients share no protocol version or cipher, the server's TLS setup is broken, or the port does not speak TLS.
tls-handshake-action-1 = Check the server's TLS configuration (protocols, ciphers, certificate files) and its error log.

## HTTP answers that are wrong

http-protocol-summary = { $head }: the server at { $host } broke the HTTP protocol ({ $message }).
http-protocol-cause = The application crashed mid-response, a proxy in front of it is misconfigured, or the port serves something other than HTTP.
http-protocol-action-1 = Check the application and proxy error logs for crashes and reset connections.
assertion-failed-summary = { $head }: { $address } answers { $code }, but the response is not what it should be ({ $message }).
assertion-failed-cause = The application serves an error, maintenance or changed page with a success status, or its health endpoint reports a failing dependency.
assertion-failed-impact = Users of { $address } probably get wrong or missing content although the server answers.
assertion-failed-action-1 = Open { $address } and compare the response with the check's expectations.
assertion-failed-action-2 = If the page changed on purpose (a release), update the check's assertions.

## Redirects

redirect-loop-summary = { $head }: its redirects go round in a loop (after { $n } { $n ->
        [one] hop
       *[other] hops
    } back to { $looped }).
redirect-loop-cause = Two redirect rules send requests to each other, typically http↔https or with↔without www, often behind a proxy that hides the original scheme.
redirect-loop-impact = Browsers stop with "too many redirects"; nobody can open { $address }.
redirect-loop-action-1 = Review the redirect rules of the web server, the proxy or CDN and the application for { $host }.
redirect-loop-action-2 = Follow the chain by hand: curl -sIL { $address }
too-many-redirects-summary = { $head }: { $address } redirects more often than allowed ({ $hops }) without reaching a page.
too-many-redirects-cause = A long or unbounded redirect chain: stacked redirect rules, or a rule that keeps adding to the URL.
too-many-redirects-impact = Browsers and clients give up before reaching the page at { $address }.
too-many-redirects-action-1 = Follow the chain by hand (curl -sIL { $address }) and collapse it to a single redirect.
insecure-redirect-summary = { $head }: its redirect chain passes through plain http ({ $plain }).
insecure-redirect-cause = A redirect rule or the application builds http:// links, often because a proxy in front does not tell it the request came over https.
insecure-redirect-impact = Requests to { $address } travel unencrypted for one hop and can be read or altered.
insecure-redirect-action-1 = Make every redirect point to https:// (set X-Forwarded-Proto on the proxy, enable HSTS).
unexpected-final-url-summary = { $head }: the redirect chain ends at { $ended } instead of the expected address.
unexpected-final-url-cause = A redirect rule changed (a release, a CDN or domain setting), or the site sends visitors to a login or error page.
unexpected-final-url-impact = Visitors of { $address } land on another page than intended.
unexpected-final-url-action-1 = Follow the chain by hand (curl -sIL { $address }); fix the redirect, or update the expected final URL if the change is intended.

## Slow, silent, blocked and unclassified checks

slow-response-summary = { $head }: { $address } is slow, the response took { $took } ms{ $usual }.
slow-response-usual = {" "}(usually { $baseline } ms)
slow-response-cause = The server is overloaded or waits on a slow dependency (database, external API); a traffic spike or a slow release is likely.
slow-response-impact = { $address } still works, but users wait noticeably longer.
slow-response-action-1 = Check the server's CPU, memory and database load, and recent releases.
slow-response-action-2 = Look at slow requests in the application's logs or traces.
banner-mismatch-summary = { $head }: the service on { $host }:{ $port } greets with an unexpected banner ({ $banner }).
banner-mismatch-cause = Another program now answers on the port, or the service was upgraded and changed its greeting.
banner-mismatch-impact = Clients expecting the usual service on { $host }:{ $port } may fail.
banner-mismatch-action-1 = Check which process listens on port { $port } (ss -ltnp) and update the expected banner if the change is intended.
packet-loss-summary = { $head }: { $lost } of { $sent } echo requests to { $host } went unanswered ({ $loss } % packet loss).
packet-loss-cause = A congested or flapping link, or a router or firewall that rate-limits ICMP, drops part of the packets.
packet-loss-impact = { $host } answers, but connections to it may stall and retransmit.
packet-loss-all-summary = { $head }: { $host } answered none of { $sent } echo requests (100 % packet loss).
packet-loss-all-cause = The host is off or unreachable, or a firewall drops ICMP echo requests or replies.
packet-loss-action-1 = Check that { $host } is up and the path to it (traceroute, mtr).
packet-loss-action-2 = Check whether a firewall or security group filters or rate-limits ICMP.
timeout-ttfb-cause = The server accepted the connection but did not answer: the application hangs or waits on a slow dependency (database, external API).
timeout-ttfb-action = Check the application's workers, its database and its recent logs for stuck requests.
timeout-transfer-cause = The response started but the body stalled: a slow or stuck backend, or a very large response.
timeout-transfer-action = Check the application's and the proxy's logs for slow or aborted responses.
timeout-other-cause = The server or the network path to it is too slow or stalled.
timeout-other-action = Check the server's load and connectivity.
timeout-summary = { $head }: { $address } did not answer within the time limit ({ $took } ms).
blocked-address-summary = { $head }: { $host } points to a private or reserved address ({ $ip }) that this PingTower may not check.
blocked-address-cause = The DNS record of { $host } points into a private network, or the address is an internal one.
blocked-address-impact = PingTower cannot see whether { $address } works; public visitors probably cannot reach it either.
blocked-address-action-1 = Check the DNS records of { $host }.
blocked-address-action-2 = If the target is internal on purpose, ask the operator to allow private targets.
internal-summary = The check of { $name } could not run ({ $message }); the state of { $name } is unknown.
internal-cause = The check's settings are invalid or the pinger had a fault; this says nothing about { $name } itself.
internal-impact = { $name } is not being monitored until the check runs again.
internal-action-1 = Review the check's settings.
internal-action-2 = If they are fine, tell the PingTower operator.
other-summary = { $head }: the check failed ({ $message }).
other-cause = A failure this version of PingTower does not classify; the pinger's message above is the best description.
other-action-1 = Open { $address } by hand and look at the latest check results.

## Heartbeats: the job pings PingTower, silence is the alarm. Times are in the job's own time
## zone ($expected, $when, $at, $started); the job's output is never quoted, only mentioned.

heartbeat-missed-summary = { $name } did not report for its run due at { $expected }{ $history }.
heartbeat-last-success-and-run = ; its last success was at { $when }, and its last run took { $took }
heartbeat-last-success = ; its last success was at { $when }
heartbeat-last-run = ; its last run took { $took }
heartbeat-no-success = ; it has not reported a success yet
heartbeat-missed-cause = Its schedule is { $schedule }, and no ping came by the deadline: the job did not start (its scheduler is stopped, the job was removed or disabled, or its host is down), it is still running or has hung, or it ran but its ping did not reach PingTower (network, DNS, proxy, a wrong ping URL).
heartbeat-missed-impact = The work of { $name } has probably not been done since its last success; what depends on it (backups to restore from, exports, reports) may be missing or stale.
heartbeat-failed-summary = { $name } reported at { $at } that its run failed{ $status }{ $took }.
heartbeat-exit-status = {" "}(exit status { $code })
heartbeat-run-took = ; the run took { $took }
heartbeat-failed-cause = The job itself reported that it failed (a /fail ping): it ran, but something in it went wrong; its output and logs say what.
heartbeat-failed-status-cause = The job ran and exited with status { $code }: one of its commands failed; its output and logs say which.
heartbeat-failed-126-cause = Exit status 126: a command of the job was found but could not be executed (no execute permission, or a wrong interpreter line).
heartbeat-failed-127-cause = Exit status 127: a command of the job was not found, often because the scheduler's PATH is shorter than a login shell's, or a tool was uninstalled.
heartbeat-failed-137-cause = Exit status 137: the job was killed (SIGKILL), most often by the out-of-memory killer or by a time limit that kills it.
heartbeat-failed-143-cause = Exit status 143: the job was terminated (SIGTERM), for example by a time limit, a shutdown or an operator.
heartbeat-failed-impact = The work of { $name } was not done this time, or only in part; what depends on it (backups to restore from, exports, reports) may be missing or incomplete.
heartbeat-failed-action-rerun = Run the job by hand as the scheduler's user and with its environment, fix the error, and make sure the next run reports success.
heartbeat-late-summary = { $name } started a run at { $started } and did not finish it within the grace time{ $running }{ $usual }.
heartbeat-late-running = {" "}(still running after { $running })
heartbeat-late-previous = ; the previous run took { $took }
heartbeat-late-cause = The run hangs or is much slower than usual (waiting on a lock, a slow disk or network, far more data than usual), it was killed before its final ping (out of memory, a reboot), or it finished but its final ping did not reach PingTower.
heartbeat-late-impact = The work of { $name } is not done yet; if the run hangs, the next runs may pile up behind it or be skipped.
heartbeat-late-action-1 = Check on the job's host whether the run is still going and what it waits for (ps, systemctl status, lock files).
heartbeat-action-scheduler = Check the job's scheduler on its host: the cron entry or systemd timer is there and enabled, and the scheduler runs (crontab -l, systemctl list-timers).
heartbeat-action-logs = Read the job's logs of the last run (journalctl -u for a timer's unit, the cron mail or syslog, the job's own log).
heartbeat-action-reach = Check that the job's host can reach PingTower: call the ping URL from it by hand (curl -fsS -m 10 <ping URL>) and look at DNS, the firewall and proxies.
heartbeat-action-output = Read the output the job attached to its ping, on the check result in PingTower.

## Unexpected status codes (by code; -slow when a slow-down came first)

http-status-slow-summary = { $head }: the server answers { $status } after a slow-down: responses took { $latency } ms against a usual { $baseline } ms.
http-status-summary = { $head }: the server answers { $status }.
http-status-500-599-slow-cause = The application slowed down before it failed: it is most likely overloaded (a traffic spike, exhausted workers or database connections, a slow query) and now rejects requests.
http-status-500-599-slow-action-1 = Check the load of the application servers and the database (CPU, memory, connections, slow queries).
http-status-500-599-slow-action-2 = Scale out or restart the overloaded part; roll back a recent release if the slow-down started with it.
http-status-502-cause = The proxy or load balancer in front cannot get an answer from the application behind it: the application is down, crashed or listens elsewhere.
http-status-502-action-1 = Check that the application behind the proxy is running, and read its logs.
http-status-502-action-2 = Check the proxy's upstream address and its error log.
http-status-503-cause = The service is unavailable: no healthy instance behind the load balancer, maintenance mode, or overload protection.
http-status-503-action-1 = Check the health of the instances behind the load balancer and restart failed ones.
http-status-503-action-2 = If a maintenance mode is on, make sure it was meant to be.
http-status-504-cause = The proxy gave up waiting for the application: the application or its database is too slow or hangs.
http-status-504-action-1 = Look for slow or stuck requests in the application and the database.
http-status-504-action-2 = Check the load of the application servers.
http-status-500-599-cause = The application fails while handling the request: an unhandled error, a failed dependency (database, cache) or a bad release.
http-status-500-599-action-1 = Read the application's error log for the failing request.
http-status-500-599-action-2 = Roll back the latest release if the errors started with it.
http-status-401-403-cause = Access is denied: authentication changed, the credentials of the check expired, or a firewall or WAF blocks the requests.
http-status-401-403-action-1 = Check the access rules and the WAF or firewall logs for blocked requests.
http-status-401-403-action-2 = If the check sends credentials, make sure they are still valid.
http-status-404-410-cause = The page is gone: it was moved or deleted, or a release or proxy change lost the route.
http-status-404-410-action-1 = Check that { $address } still exists and that the latest release kept its route.
http-status-404-410-action-2 = If the page moved on purpose, redirect the old address or update the check.
http-status-429-cause = The server rate-limits the requests: a limit was lowered, or traffic from the checks' addresses is throttled.
http-status-429-action-1 = Check the rate-limit settings and allow the monitoring's requests.
http-status-400-499-cause = The server rejects the request as invalid: the application or its routing changed.
http-status-400-499-action-1 = Compare the check's request with what the application now expects, and read its logs.
http-status-other-cause = The status code { $status } is not one of the codes the check expects: the application's behaviour changed.
http-status-other-action-1 = Check whether the new answer is intended; fix the application or update the expected status codes.
http-status-impact = Visitors of { $address } get the answer { $status } instead of the page.

## Resolved

resolved-cause-unknown = The checks pass again; the failure behind the incident is described in its opening report.
resolved-cause = The incident was caused by: { $kinds }. The checks pass again.
resolved-summary = { $name } is back up after { $lasted } (from { $since } to { $until }).
resolved-impact = { $address } works again for everyone. It was unavailable or degraded for { $lasted }.
resolved-action-1 = Find out what caused the failure so it does not happen again.
resolved-action-2 = Tell affected users that the service works again.
resolved-impact-heartbeat = { $name } reports again, and its last run succeeded. The gap lasted { $lasted }.
resolved-action-heartbeat = Check whether the runs missed meanwhile need to be made up (a skipped backup is still missing).

## Certificate expiring

cert-expiring-summary = The TLS certificate of { $name } ({ $host }) expires on { $when }, in { $left }{ $threshold }.
cert-expiring-threshold = {" "}(warning threshold: { $days })
cert-expiring-cause = The certificate (issuer: { $issuer }) has not been renewed yet; automatic renewal may be failing.

## Flapping

flapping-seen = {" "}Failures seen: { $kinds }.
flapping-summary = { $name } keeps switching between up and down; alerts are held until it is stable.
flapping-cause = Intermittent failures: an overloaded server, one bad instance behind a load balancer, or an unstable network.{ $seen }
flapping-impact = Some requests to { $address } fail while others succeed.
flapping-action-1 = Check each instance behind the load balancer separately.
flapping-action-2 = Look at the server's load and the error logs around the failures.

## A pinger lost its connectivity

probe-degraded-summary = Pinger { $pinger } (region { $regions }) lost its own network connectivity; its results are not counted until it recovers.
probe-degraded-cause = The pinger's connectivity checks (canaries) fail: its network, DNS resolver or host has a problem.
probe-degraded-impact = Monitored services are not affected; checks from region { $regions } may be missing meanwhile.
probe-degraded-action-1 = Check the network, DNS and host of pinger { $pinger }.
probe-degraded-action-2 = Run more than one pinger per region so a single one does not leave gaps.

## Failure kinds in a few words (lists in resolved and flapping reports).

kind-dns-nxdomain = the name does not exist (NXDOMAIN)
kind-dns-servfail = DNS server failure (SERVFAIL)
kind-dns-timeout = DNS timeout
kind-dns-no-records = no DNS records
kind-dns-unexpected-answer = unexpected DNS answer
kind-dns-error = DNS error
kind-connect-refused = connection refused
kind-connect-timeout = connection timeout
kind-connect-error = connection error
kind-tls-expired = expired certificate
kind-tls-not-yet-valid = certificate not valid yet
kind-tls-untrusted = untrusted certificate
kind-tls-hostname = certificate for another name
kind-tls-expiring = certificate about to expire
kind-tls-handshake = TLS handshake failure
kind-http-status = unexpected HTTP status
kind-http-protocol = HTTP protocol error
kind-assertion-failed = wrong response content
kind-redirect-loop = redirect loop
kind-too-many-redirects = too many redirects
kind-insecure-redirect = redirect through plain http
kind-unexpected-final-url = unexpected final URL
kind-slow-response = slow response
kind-banner-mismatch = unexpected banner
kind-packet-loss = packet loss
kind-heartbeat-missed = missed heartbeat
kind-heartbeat-failed = job reported a failure
kind-heartbeat-late = run did not finish in time
kind-timeout = timeout
kind-blocked-address = blocked address
kind-internal = check could not run
kind-other = other failure

## A member of a group incident (cause correlation): $shared is the shared cause in words
## ("all resolve to 203.0.113.7 (connect_refused)"), $own the member's own explanation.

group-cause = { $count } of your targets are down together: { $shared }. The fault most likely lies in what they share, not in each service. { $own }
group-members = { $more ->
    [0] { $names }
   *[other] { $names } and { $more } more
}
group-impact = { $impact } Down with it: { $members }.
group-action = Fix the shared cause first ({ $shared }); the other { $others ->
    [one] target
   *[other] { $others } targets
} should recover with it.
group-resolved-open-cause = It was part of an outage of { $count } targets ({ $shared }); { $open } of them are still down. { $own }
group-resolved-over-cause = The outage of { $count } targets ({ $shared }) is over: all of them recovered. { $own }
