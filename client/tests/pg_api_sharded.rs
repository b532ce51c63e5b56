//! The PostgreSQL crate's API surface (`pg_api.rs`, the same application code) on a
//! sharded TaskDB: the deployment creates the TaskDB as 8 shards, the application opens
//! it by URL as before, and every call behaves as on one namespace.

#[path = "pg_api.rs"]
mod app;
