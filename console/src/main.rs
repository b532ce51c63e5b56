//! `taskdb-console --redis-url redis://127.0.0.1:6379 [--listen 127.0.0.1:7780]`.

use clap::Parser;
use std::time::Duration;

/// TaskDB's operator console: live pages and Prometheus metrics over the TASKDB commands.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// The Redis TaskDB runs on (a read-only ACL user is enough without actions).
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Where to serve the pages (loopback by default; say 0.0.0.0:7780 to expose it).
    #[arg(long, default_value = "127.0.0.1:7780")]
    listen: String,
    /// Offer actions (cancel, delete, retry, pause, clear); needs a token.
    #[arg(long)]
    allow_actions: bool,
    /// A file holding the action token (else $TASKDB_CONSOLE_TOKEN); never on the command line.
    #[arg(long)]
    token_file: Option<std::path::PathBuf>,
    /// Live refresh period of the pages, ms (0: off).
    #[arg(long, default_value_t = 2000)]
    refresh_ms: u64,
    /// How often the throughput charts sample INFO, ms.
    #[arg(long, default_value_t = 5000)]
    sample_ms: u64,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let action_token = if cli.allow_actions {
        let token = match &cli.token_file {
            Some(p) => std::fs::read_to_string(p)
                .map(|t| t.trim().to_string())
                .unwrap_or_else(|e| {
                    fail(&format!("cannot read --token-file {}: {e}", p.display()))
                }),
            None => std::env::var("TASKDB_CONSOLE_TOKEN").unwrap_or_default(),
        };
        if token.len() < 16 {
            fail("--allow-actions needs a token of at least 16 characters (--token-file or $TASKDB_CONSOLE_TOKEN)");
        }
        Some(token)
    } else {
        None
    };
    let cfg = taskdb_console::Config {
        redis_url: cli.redis_url.clone(),
        refresh_ms: cli.refresh_ms,
        sample_every: Duration::from_millis(cli.sample_ms.max(100)),
        action_token,
    };
    let router = taskdb_console::router(cfg)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot connect to {}: {e}", cli.redis_url)));
    let listener = tokio::net::TcpListener::bind(&cli.listen)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot listen on {}: {e}", cli.listen)));
    let mode = if cli.allow_actions {
        "actions on (token)"
    } else {
        "read-only"
    };
    eprintln!(
        "taskdb-console: http://{} ({mode}), TaskDB at {}",
        cli.listen,
        redact(&cli.redis_url)
    );
    if let Err(e) = taskdb_console::serve(listener, router).await {
        fail(&format!("server stopped: {e}"));
    }
}

/// The URL without its password, for the log.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("taskdb-console: {msg}");
    std::process::exit(2);
}
