//! Integration tests of notifier against the real servers, a fake Telegram Bot API and a
//! real SMTP server (aiosmtpd) on loopback.

mod alerts;
mod bot;
mod crashes;
mod email;
mod fake_telegram;
mod health;
mod helpers;
