//! The command line: every flag also reads an environment variable. Secrets (the database
//! password inside `DATABASE_URL`, `MOMENTO_API_KEY`) are never printed: `--help` hides the
//! environment's values and [`redact_url`] strips credentials before a URL is logged.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use momento_seaorm_cache::invalidator::DEFAULT_INVALIDATOR_NAME;
use momento_seaorm_cache::DEFAULT_KEY_PREFIX;

/// Follows a database's committed changes and invalidates the momento-seaorm-cache reads they
/// affect; publishes a heartbeat into the cache so applications gate their reads on it.
///
/// Momento credentials come from MOMENTO_API_KEY (and MOMENTO_ENDPOINT for a v2 key), unless
/// --momento-lite-endpoint points at a momento-lite server.
#[derive(Parser)]
#[command(name = "momento-seaorm-invalidator", version, about, long_about = None)]
pub struct Args {
    /// The database to follow: postgres://... (logical decoding) or mysql://... (binary log).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// Which change stream to follow; default: from the URL's scheme.
    #[arg(long, env = "INVALIDATOR_SOURCE", value_enum)]
    pub source: Option<Source>,

    /// This instance's name: its PostgreSQL slot, its MariaDB position key and its heartbeat key.
    /// Run a second instance under another name for availability.
    #[arg(long, env = "INVALIDATOR_NAME", default_value = DEFAULT_INVALIDATOR_NAME)]
    pub name: String,

    /// The lag bound in milliseconds: /healthz answers 200 only within it; the heartbeat is
    /// written every fifth of it and expires after 1.5 times it. Applications gating on the
    /// heartbeat should use the same bound.
    #[arg(long, env = "INVALIDATOR_MAX_LAG_MS", default_value_t = 1000)]
    pub max_lag_ms: u64,

    /// Follow only these schemas (PostgreSQL) / databases (MariaDB); repeat or comma-separate.
    #[arg(
        long = "watch-schema",
        env = "INVALIDATOR_WATCH_SCHEMAS",
        value_delimiter = ','
    )]
    pub watch_schemas: Vec<String>,

    /// PostgreSQL: milliseconds between polls that found no change.
    #[arg(long, env = "INVALIDATOR_POLL_INTERVAL_MS")]
    pub poll_interval_ms: Option<u64>,

    /// MariaDB: milliseconds between reads of the server's binlog position.
    #[arg(long, env = "INVALIDATOR_PROBE_INTERVAL_MS")]
    pub probe_interval_ms: Option<u64>,

    /// MariaDB: the replica server id to register with (default: derived from the name).
    #[arg(long, env = "INVALIDATOR_SERVER_ID")]
    pub server_id: Option<u32>,

    /// The Momento cache the applications use.
    #[arg(long, env = "MOMENTO_CACHE_NAME", default_value = "model-cache")]
    pub cache_name: String,

    /// The applications' key prefix (ModelCacheBuilder::key_prefix).
    #[arg(long, env = "CACHE_KEY_PREFIX", default_value = DEFAULT_KEY_PREFIX)]
    pub key_prefix: String,

    /// Create the Momento cache if it does not exist.
    #[arg(long, env = "MOMENTO_CREATE_CACHE")]
    pub create_cache: bool,

    /// Use a momento-lite server (plain text, e.g. http://127.0.0.1:8080) instead of Momento.
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

    /// Use Redis or Valkey (one node, redis://host:6379) instead of Momento: the applications'
    /// RedisBackend URL. The password in it never appears in logs.
    #[cfg(feature = "redis")]
    #[arg(long, env = "REDIS_URL", hide_env_values = true, conflicts_with_all = ["momento_lite_endpoint", "redis_cluster"])]
    pub redis_url: Option<String>,

    /// Use a Redis or Valkey cluster instead of Momento: its nodes' URLs, comma-separated.
    #[cfg(feature = "redis")]
    #[arg(
        long,
        env = "REDIS_CLUSTER",
        value_delimiter = ',',
        hide_env_values = true,
        conflicts_with = "momento_lite_endpoint"
    )]
    pub redis_cluster: Option<Vec<String>>,

    /// Where /healthz and /metrics are served (port 0: any free port; the address is printed).
    #[arg(long, env = "INVALIDATOR_LISTEN", default_value = "0.0.0.0:9187")]
    pub listen: SocketAddr,
}

/// Which change stream to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Source {
    /// PostgreSQL logical decoding (a replication slot named after the instance).
    Postgres,
    /// MariaDB/MySQL binary log, as a replica.
    Mysql,
}

impl Args {
    /// The change stream: the flag, else the URL's scheme.
    pub fn source(&self) -> Result<Source, String> {
        if let Some(source) = self.source {
            return Ok(source);
        }
        let scheme = self.database_url.split("://").next().unwrap_or("");
        match scheme {
            "postgres" | "postgresql" => Ok(Source::Postgres),
            "mysql" | "mariadb" => Ok(Source::Mysql),
            _ => Err(format!(
                "cannot tell the database from the URL scheme {scheme:?}: use --source postgres|mysql"
            )),
        }
    }

    /// The lag bound.
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
    fn urls_lose_their_credentials_and_options() {
        assert_eq!(
            redact_url("postgres://cdc:s3cret@db:5432/app?sslmode=require&password=x"),
            "postgres://db:5432/app"
        );
        assert_eq!(
            redact_url("mysql://root@127.0.0.1:3306/test"),
            "mysql://127.0.0.1:3306/test"
        );
        assert_eq!(redact_url("garbage"), "<unparsed url>");
    }

    #[test]
    fn the_source_follows_the_scheme() {
        let args = Args::parse_from(["x", "--database-url", "mysql://h/db"]);
        assert_eq!(args.source(), Ok(Source::Mysql));
        let args = Args::parse_from(["x", "--database-url", "sqlite::memory:"]);
        assert!(args.source().is_err());
    }
}
