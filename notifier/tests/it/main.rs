//! Integration tests of notifier against the real servers.

mod health;
