//! The checks, one module each.

pub mod assertions;
pub mod dns;
pub mod h1;
pub mod http;
pub mod tcp;
pub mod tls;
