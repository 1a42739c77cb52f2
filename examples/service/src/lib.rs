//! An axum service on SeaORM + PostgreSQL that caches every read through
//! momento-seaorm-cache: users with UUID keys, their posts with integer keys, a list by owner,
//! a search by title, an aggregate, and two writes through a `CachedConnection`. It is what
//! `bench -- service` runs under load and faults.
//!
//! ```text
//! args      the flags (clap; each also an environment variable)
//! domain    the entities (svc_users, svc_posts), the schema and seed, the counted connection
//! cache     the ModelCache the flags describe: backend, near cache, invalidator gate
//! routes    the handlers and the router (`app`)
//! ```
//! [`start`] builds the state from the flags; [`app`] is the router (the tests drive it
//! without a socket).

#![warn(missing_docs)]

pub mod args;
pub mod cache;
pub mod domain;
pub mod routes;

use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use momento_lite::LiteServer;

pub use routes::{app, AppState, Stats, UserStats};

use args::{redact_url, Args, CacheMode};
use domain::StatementCounter;

/// A service ready to serve: its state, and the momento-lite it started in development mode
/// (keep it as long as the state).
pub struct Service {
    /// The state of [`app`].
    pub state: AppState,
    /// The in-process momento-lite (neither an endpoint nor `MOMENTO_API_KEY` given).
    pub lite: Option<LiteServer>,
}

/// Connects to the database and builds the cache the flags describe.
pub async fn start(args: &Args) -> Result<Service, String> {
    let statements = Arc::new(StatementCounter::default());
    let db = domain::connect(
        &args.database_url,
        args.db_max_connections,
        statements.clone(),
    )
    .await
    .map_err(|e| format!("database {}: {e}", redact_url(&args.database_url)))?;
    let (cache, lite) = match args.cache {
        CacheMode::On => {
            let built = cache::build(args).await?;
            (Some(built.cache), built.lite)
        }
        CacheMode::Off => (None, None),
    };
    let state = AppState::new(db, cache, statements).with_metrics(prometheus()?);
    Ok(Service { state, lite })
}

/// The process's Prometheus recorder (the `metrics` facade's), installed on first use.
pub fn prometheus() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("metrics recorder: {e}"))?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}
