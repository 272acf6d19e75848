//! Integration tests of broker-init and of the AMQP layer over the real topology.

mod amqp;
mod topology;
