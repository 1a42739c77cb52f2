//! The command line (clap): every flag also reads an environment variable. Secrets (the
//! password in `DATABASE_URL`, `MOMENTO_API_KEY`) are never printed: `--help` hides the
//! environment's values.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// An axum service on SeaORM + PostgreSQL (users and posts) that caches every read through
/// momento-seaorm-cache.
///
/// The cache: a momento-lite at --momento-lite-endpoint; else Momento when MOMENTO_API_KEY is
/// set (and MOMENTO_ENDPOINT for a v2 key); else a momento-lite started in this process.
#[derive(Parser, Debug, Clone)]
#[command(name = "service", version, about, long_about = None)]
pub struct Args {
    /// Where the HTTP service listens (port 0: any free port; stdout prints `listening on ADDR`).
    #[arg(long, env = "SERVICE_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// The PostgreSQL database: postgres://user:password@host:port/db.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub database_url: String,

    /// The most connections the database pool opens.
    #[arg(long, env = "SERVICE_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// `on`: every read goes through the cache; `off`: every read goes to the database.
    #[arg(long, env = "SERVICE_CACHE", value_enum, default_value_t = CacheMode::On)]
    pub cache: CacheMode,

    /// A momento-lite server (plain text, e.g. http://127.0.0.1:8080) instead of Momento.
    #[arg(long, env = "MOMENTO_LITE_ENDPOINT")]
    pub momento_lite_endpoint: Option<String>,

    /// momento-lite's auth token, if it requires one.
    #[arg(
        long,
        env = "MOMENTO_LITE_AUTH_TOKEN",
        default_value = "momento-lite",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub momento_lite_auth_token: String,

    /// The Momento cache (created if missing).
    #[arg(long, env = "MOMENTO_CACHE_NAME", default_value = "service-cache")]
    pub cache_name: String,

    /// The lifetime of a cached value, in seconds.
    #[arg(long, env = "SERVICE_TTL_SECS", default_value_t = 300)]
    pub ttl_secs: u64,

    /// A near cache (in process memory) in front of the backend, with push invalidation over
    /// a Momento topic between the processes sharing the cache.
    #[arg(long, env = "SERVICE_NEAR")]
    pub near: bool,

    /// Store a value loaded on a miss in the background, after the response (`false`: the
    /// response waits for the store). Either way a value stored after an invalidation is
    /// never served (it is filed under the generations it was read at).
    #[arg(long, env = "SERVICE_BACKGROUND_WRITES", default_value_t = true, action = clap::ArgAction::Set)]
    pub background_writes: bool,

    /// The near cache's staleness bound in milliseconds.
    #[arg(long, env = "SERVICE_NEAR_MAX_STALENESS_MS", default_value_t = 1000)]
    pub near_max_staleness_ms: u64,

    /// The near cache's capacity in MiB.
    #[arg(long, env = "SERVICE_NEAR_CAPACITY_MB", default_value_t = 64)]
    pub near_capacity_mb: u64,

    /// Reads bypass the cache unless the heartbeat of this change-capture invalidator
    /// (`momento-seaorm-invalidator --name NAME`) is fresh; repeat or comma-separate for
    /// several instances (any one caught up opens the gate).
    #[arg(long, env = "SERVICE_GATE_INVALIDATOR", value_delimiter = ',')]
    pub gate_invalidator: Vec<String>,

    /// The lag bound of the gate in milliseconds (give the invalidator's --max-lag-ms).
    #[arg(long, env = "SERVICE_MAX_LAG_MS", default_value_t = 1000)]
    pub max_lag_ms: u64,

    /// Create the schema (drop and create svc_users, svc_posts), seed it, then exit.
    #[arg(long)]
    pub setup: bool,

    /// --setup: how many users.
    #[arg(long, default_value_t = 100)]
    pub users: u64,

    /// --setup: how many posts each user has.
    #[arg(long, default_value_t = 10)]
    pub posts_per_user: u64,
}

/// Whether reads go through the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CacheMode {
    /// Every read through the cache, every write through a `CachedConnection`.
    On,
    /// Every read and write straight to the database (the baseline).
    Off,
}

impl Args {
    /// The near cache's staleness bound.
    pub fn near_max_staleness(&self) -> Duration {
        Duration::from_millis(self.near_max_staleness_ms)
    }

    /// The gate's lag bound.
    pub fn max_lag(&self) -> Duration {
        Duration::from_millis(self.max_lag_ms)
    }
}

/// `url` with any user name and password removed, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsed url>".to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let path = path.split('?').next().unwrap_or("");
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_flags_parse() {
        let args = Args::parse_from([
            "service",
            "--listen",
            "127.0.0.1:9000",
            "--cache",
            "off",
            "--near",
            "--near-max-staleness-ms",
            "250",
            "--gate-invalidator",
            "cdc_a,cdc_b",
            "--max-lag-ms",
            "2000",
        ]);
        assert_eq!(args.listen.port(), 9000);
        assert_eq!(args.cache, CacheMode::Off);
        assert!(args.near);
        assert_eq!(args.near_max_staleness(), Duration::from_millis(250));
        assert_eq!(args.gate_invalidator, ["cdc_a", "cdc_b"]);
        assert_eq!(args.max_lag(), Duration::from_secs(2));
        assert_eq!(args.cache_name, "service-cache");
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/test?password=x"),
            "postgres://db:5432/test"
        );
    }
}
