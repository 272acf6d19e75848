//! Integration tests of notifier against the real servers, a fake Telegram Bot API and a
//! real SMTP server (aiosmtpd) on loopback, both from `common::testing`.

mod alerts;
mod bot;
mod crashes;
mod dependencies;
mod digest;
mod email;
mod escalation;
mod health;
mod helpers;
mod kinds;
