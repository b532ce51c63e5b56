//! Integration tests: every TASKDB command against a real redis-server with the module.
//! Files mirror `src/`: one per command family, plus errors, replication and cluster.

mod common;

mod blocking;
mod clock;
mod cluster;
mod crash;
mod docs;
mod errors;
mod fencing;
mod fixture;
mod jobs;
mod keyspace;
mod maintenance;
mod model;
mod observe;
mod oom;
mod parity;
mod pause;
mod protocol;
mod python;
mod readme;
mod reaper;
mod replay;
mod replication;
mod restore;
mod retention;
mod security;
mod stored;
mod streams;
mod stress;
mod tasks;
mod work;
mod workload;
