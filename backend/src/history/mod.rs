//! Check history, merged across ClickHouse (fresh) and the PostgreSQL archive (old): see
//! [`store`].

pub mod store;

pub use store::{Bucket, Fields, Granularity, Seam, Store};
