//! Integration tests of pinger against the real servers.

mod health;
