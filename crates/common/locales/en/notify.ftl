# Alerts, report messages and mails of the notifier (notifier/src/text.rs, deliver.rs).
# Arguments arrive unescaped; the layout code escapes each text for HTML or a mail header.

notify-report-subject = [PingTower] Incident report
notify-button-acknowledge = ✅ Acknowledge
notify-button-mute = 🔕 Mute 1 h
notify-open-dashboard = Open in dashboard
notify-badge-degraded = 🟠 DEGRADED
notify-headline-degraded = { $name } is degraded
notify-badge-down = 🔴 DOWN
notify-headline-down = { $name } is down
notify-badge-resolved = ✅ RESOLVED
notify-headline-resolved = { $name } is back up
notify-badge-certificate = 🟡 CERTIFICATE
notify-headline-certificate = { $name }: certificate expires soon
notify-badge-flapping = 🟣 FLAPPING
notify-headline-flapping = { $name } changes state too often; alerts are held until it is stable
notify-badge-probe = ⚠️ PROBE
notify-headline-probe = Pinger { $name } lost its own connectivity; its results are not counted
notify-fact-target = Target
notify-fact-failure = What failed
notify-fact-certificate = Certificate
notify-certificate-expires = expires { $when } ({ $days } left)
notify-fact-since = Since
notify-fact-downtime = Downtime
notify-fact-regions = Regions
notify-unsubscribe = Unsubscribe
notify-report-summary = Summary
notify-report-cause = Probable cause
notify-report-impact = Impact
notify-report-actions = What to do
notify-report-title = Report
notify-report-mail-title = Incident report
notify-verify-subject = [PingTower] Confirm your email address
notify-verify-intro = Someone (hopefully you) added this address to PingTower for alerts. Open the link to confirm it:
notify-verify-ignore = If it was not you, ignore this mail: nothing will be sent.
notify-verify-confirm = Confirm

# Channels of every kind (crates/channels): labels, reminders, digests and the test message.
notify-acknowledge = Acknowledge
notify-badge-report = 📝 REPORT
notify-headline-report = Report on { $name }
notify-badge-reminder = ⏰ STILL DOWN
notify-headline-reminder = { $name } is still down
notify-badge-reminder-degraded = ⏰ STILL DEGRADED
notify-headline-reminder-degraded = { $name } is still degraded
notify-fact-open-for = Open for
notify-fact-escalation = Escalation
notify-fact-dependency = Dependency
notify-dependency-recovered = { $name } recovered; this target is still down
notify-escalation-step = step { $step } of “{ $policy }”: unacknowledged for { $duration }
notify-badge-digest = 🔴 OUTAGE
notify-headline-digest = { $count ->
    [one] { $count } incident opened at once
   *[other] { $count } incidents opened at once
}
notify-headline-digest-cause = { $count ->
    [one] { $count } target is down: { $cause }
   *[other] { $count } targets are down: { $cause }
}
notify-headline-group-update = { $count ->
    [one] { $count } more target joined the outage: { $cause }
   *[other] { $count } more targets joined the outage: { $cause }
}
notify-headline-group-recovered = { $count ->
    [one] { $count } target recovered from the outage ({ $cause }); { $open } still down
   *[other] { $count } targets recovered from the outage ({ $cause }); { $open } still down
}
notify-headline-group-over = { $count ->
    [one] Outage over: the last { $count } target recovered ({ $cause })
   *[other] Outage over: the last { $count } targets recovered ({ $cause })
}
notify-badge-digest-resolved = ✅ RECOVERED
notify-headline-digest-resolved = { $count ->
    [one] { $count } incident resolved
   *[other] { $count } incidents resolved
}
notify-digest-more = { $count ->
    [one] and { $count } more
   *[other] and { $count } more
}
notify-badge-test = 🔔 TEST
notify-headline-test = Test message from PingTower: this channel works
