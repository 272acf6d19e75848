//! Integration tests of pinger against the real RabbitMQ and servers started on loopback.

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod cli;
mod dns_tcp;
mod encoding;
mod framing;
mod guard;
mod h2;
mod health;
mod http;
mod https;
mod icmp;
mod jobs;
mod share;
mod starttls;
