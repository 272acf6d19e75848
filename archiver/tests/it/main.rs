//! Integration tests of archiver against the real servers.

mod health;
