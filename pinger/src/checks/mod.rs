//! The checks, one module each.

pub mod assertions;
pub mod body;
pub mod dns;
pub mod http;
pub mod icmp;
pub mod starttls;
pub mod tcp;
pub mod tls;
