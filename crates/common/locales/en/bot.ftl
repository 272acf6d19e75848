# The Telegram bot's replies (notifier/src/bot.rs). Replies are Telegram HTML: arguments
# arrive escaped, and every text here is free of <, > and & unless its caller escapes it
# whole (bot-help, bot-mute-usage).

bot-private-chat-only = Please talk to me in a private chat.
bot-failed = Something went wrong; please try again.
bot-unknown-command = Unknown command.
bot-start-linked = This chat is linked to PingTower.
bot-start-refused = This link is invalid, already used or expired. Get a new one in the dashboard: Channels → Telegram.
bot-start-linked-elsewhere = This chat is already linked to another PingTower account. Send /unlink first.
bot-start-done = ✅ Linked. Alerts of your PingTower targets will come to this chat.
bot-status-all-up = 🟢 All targets are up. ({ $total })
bot-status-title = Not healthy
bot-status-line = { $icon } { $name } — { $status } since { $since }
bot-targets-none = You have no targets yet.
bot-targets-title = Targets
bot-incidents-none = No incidents.
bot-incidents-title = Incidents
bot-incident-resolved = ✅ resolved ({ $lasted })
bot-incident-acknowledged = 👀 acknowledged
bot-incident-open = 🔴 open
bot-incident-line = { $name } — { $state } — since { $since }
bot-mute-usage = Usage: /mute <target> <duration>, e.g. /mute Shop 2h (or /mute all 30m).
bot-mute-all-done = 🔕 All alerts muted until { $until }
bot-no-such-target = No target named { $name }
bot-mute-done = 🔕 { $name } muted until { $until }
bot-unmute-all-done = 🔔 All alerts are on again.
bot-unmute-done = 🔔 { $name }: alerts are on again.
bot-lang-usage = Usage: /lang en or /lang ru
bot-lang-done = Language: English.
bot-unlink-done = Unlinked. This chat gets no more alerts; link it again from the dashboard.
bot-button-unknown = Unknown button.
bot-button-ack-done = Acknowledged.
bot-button-ack-already = Already acknowledged.
bot-button-incident-not-found = Incident not found.
bot-button-target-not-found = Target not found.
bot-button-mute-done = Muted for 1 hour in this chat.
bot-help = 
    Commands:
    /status — targets down or degraded
    /targets — all targets
    /incidents — recent incidents
    /mute <target> <duration> — silence a target (e.g. /mute Shop 2h)
    /unmute [target] — alerts on again
    /lang en|ru — language
    /unlink — stop alerts in this chat
    /help — this list
bot-not-linked = This chat is not linked to PingTower yet. In the dashboard open Channels → Telegram and follow the link.
status-up = up
status-down = down
status-degraded = degraded
status-flapping = flapping
status-pending = pending
status-paused = paused
status-unknown = unknown
