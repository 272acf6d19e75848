//! Integration tests of the backend against the real servers.

mod health;
mod migrations;
