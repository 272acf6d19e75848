//! Integration tests of llm-service against the real servers.

mod health;
