//! PingTower's end-to-end acceptance test lives in `tests/acceptance`: it starts the suite with
//! the README's main command (`scripts/start.sh`, every binary a separate process) against fakes
//! of what lies outside the machine (Telegram's Bot API, an LLM provider) and a real SMTP server
//! on loopback, and checks what a user meets. This library is intentionally empty.
