//! Integration tests of the bus against the real broker.

mod amqp;
mod fault;
mod ledger;
