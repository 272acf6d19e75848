//! Integration tests of the bus against the real broker.

mod amqp;
mod batches;
mod fault;
mod ledger;
