//! Integration tests of llm-service against the real servers and a fake LLM provider.

mod health;
mod helpers;
mod pipeline;
mod provider;
mod redaction;
