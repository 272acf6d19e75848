//! Integration tests of broker-init over the real topology (the bus's own tests live in crates/bus).

mod topology;
