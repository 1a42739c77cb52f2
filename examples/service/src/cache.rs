//! The cache the flags describe: the backend (a momento-lite endpoint, Momento, or a
//! momento-lite started in this process), the near cache with its topic, and the gate on the
//! change-capture invalidator's heartbeat.

use std::time::Duration;

use momento_lite::LiteServer;
use momento_seaorm_cache::{InvalidatorHealth, ModelCache, MomentoBackend, NearCache, NearTopic};
use tracing::{info, warn};

use crate::args::Args;

/// Where the cache lives: what a near cache's topic needs to reach it.
struct Endpoint {
    /// The cache endpoint (`http://` for momento-lite, `https://cache.…` for Momento).
    url: Option<String>,
    /// The token or API key.
    token: String,
}

/// The cache and, in development mode, the momento-lite server this process started (keep it
/// alive as long as the cache).
pub struct BuiltCache {
    /// The cache every read goes through.
    pub cache: ModelCache,
    /// The in-process momento-lite, when neither an endpoint nor an API key was given.
    pub lite: Option<LiteServer>,
}

/// Builds the cache the flags describe (the Momento cache is created if missing).
pub async fn build(args: &Args) -> Result<BuiltCache, String> {
    let mut lite = None;
    let mut backend = MomentoBackend::builder()
        .cache_name(args.cache_name.clone())
        .create_cache_if_missing(true)
        .default_ttl(Duration::from_secs(args.ttl_secs));
    let endpoint = if let Some(url) = &args.momento_lite_endpoint {
        info!(endpoint = %url, "cache: momento-lite");
        let token = args.momento_lite_auth_token.clone();
        backend = backend.credential_provider(momento_lite::credential_provider(url, &token));
        Endpoint {
            url: Some(url.clone()),
            token,
        }
    } else if let Ok(key) = std::env::var("MOMENTO_API_KEY") {
        info!(cache = %args.cache_name, "cache: Momento (MOMENTO_API_KEY)");
        // The near cache's topic needs the cache endpoint explicitly (docs/near-cache.md).
        let url = std::env::var("MOMENTO_ENDPOINT")
            .ok()
            .map(|e| format!("https://cache.{e}"));
        Endpoint { url, token: key }
    } else {
        let server = momento_lite::MomentoLite::builder()
            .start()
            .await
            .map_err(|e| format!("starting an in-process momento-lite: {e}"))?;
        info!(endpoint = %server.endpoint(), "cache: momento-lite in this process (dev mode)");
        backend = backend.credential_provider(server.credential_provider());
        let endpoint = Endpoint {
            url: Some(server.endpoint()),
            token: "momento-lite".to_owned(),
        };
        lite = Some(server);
        endpoint
    };
    let backend = backend
        .build()
        .await
        .map_err(|e| format!("cache backend: {e}"))?;
    let mut builder = ModelCache::builder(backend).background_writes(args.background_writes);
    if args.near {
        builder = builder.near_cache(near_cache(args, &endpoint));
    }
    if !args.gate_invalidator.is_empty() {
        info!(invalidators = ?args.gate_invalidator, max_lag_ms = args.max_lag_ms,
            "reads bypass the cache unless an invalidator's heartbeat is fresh");
        let health = InvalidatorHealth::from_heartbeat(&args.gate_invalidator, args.max_lag());
        builder = builder.bypass_unless_caught_up(health);
    }
    let cache = builder.build().map_err(|e| format!("cache: {e}"))?;
    Ok(BuiltCache { cache, lite })
}

/// The near cache of the flags, with push invalidation when the endpoint is known.
fn near_cache(args: &Args, endpoint: &Endpoint) -> NearCache {
    let near = NearCache::new(args.near_capacity_mb << 20).max_staleness(args.near_max_staleness());
    match &endpoint.url {
        Some(url) => {
            info!(
                max_staleness_ms = args.near_max_staleness_ms,
                "near cache with push invalidation"
            );
            near.topic(NearTopic::new(
                url.clone(),
                endpoint.token.clone(),
                args.cache_name.clone(),
            ))
        }
        None => {
            warn!("near cache without push invalidation: set MOMENTO_ENDPOINT for its topic");
            near
        }
    }
}
