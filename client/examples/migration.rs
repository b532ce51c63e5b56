//! Copies TaskDB data between the PostgreSQL TaskDB and TaskDB on Redis.
//!
//! `cargo run -p taskdb-redis --example migration -- --postgres-url URL --redis-url URL
//! --direction postgres-to-redis` (or `redis-to-postgres`), `--namespace NS` (default
//! `taskdb`), `--force` to copy into a target that already holds data. Safe to re-run.

use clap::{Parser, ValueEnum};
use taskdb_redis::migration::{postgres_to_redis, redis_to_postgres, Options};
use taskdb_redis::RedisTaskDB;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Direction {
    PostgresToRedis,
    RedisToPostgres,
}

/// Copy TaskDB data between PostgreSQL and Redis.
#[derive(Parser, Debug)]
struct Opts {
    /// PostgreSQL connection string (libpq style or URL).
    #[arg(long)]
    postgres_url: String,
    /// Redis URL.
    #[arg(long)]
    redis_url: String,
    /// Which way to copy.
    #[arg(long, value_enum)]
    direction: Direction,
    /// The TaskDB namespace on Redis.
    #[arg(long, default_value = taskdb_redis::DEFAULT_NAMESPACE)]
    namespace: String,
    /// Copy into a target that already holds data (existing rows are skipped).
    #[arg(long)]
    force: bool,
}

#[tokio::main]
async fn main() {
    let o = Opts::parse();
    let run = async {
        let (pg, conn) = tokio_postgres::connect(&o.postgres_url, tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                eprintln!("postgres connection: {e}");
            }
        });
        let db = RedisTaskDB::with_namespace(&o.redis_url, &o.namespace).await?;
        let opts = Options {
            force: o.force,
            progress: true,
        };
        eprintln!("copying {:?} (namespace {})", o.direction, o.namespace);
        let counts = match o.direction {
            Direction::PostgresToRedis => postgres_to_redis(&pg, &db, opts).await?,
            Direction::RedisToPostgres => redis_to_postgres(&db, &pg, opts).await?,
        };
        Ok::<_, taskdb_redis::migration::MigrationError>(counts)
    };
    match run.await {
        Ok(c) => println!(
            "copied: streams {}, jobs {}, tasks {}, task_deps {}; already there (skipped): {}",
            c.streams, c.jobs, c.tasks, c.task_deps, c.skipped
        ),
        Err(e) => {
            eprintln!("migration failed: {e}");
            std::process::exit(1);
        }
    }
}
