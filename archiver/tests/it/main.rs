//! Integration tests of archiver against the real RabbitMQ, PostgreSQL and ClickHouse.

mod archive;
mod crashes;
mod health;
mod helpers;
mod ingest;
mod migration;
mod retention;
mod rollups;
mod seal;
mod space;
