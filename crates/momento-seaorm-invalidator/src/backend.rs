//! The cache backend: Momento (credentials from the environment, read by the library) or a
//! momento-lite endpoint.

use base64::Engine;
use momento::CredentialProvider;
use momento_seaorm_cache::{CacheBackend, ModelCache, MomentoBackend};

use crate::args::Args;

/// Credentials for a momento-lite (or any insecure Momento-compatible) endpoint: a v1 token
/// naming the endpoint, and every endpoint overridden in plain text.
fn lite_credentials(endpoint: &str, token: &str) -> Result<CredentialProvider, String> {
    let host = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .trim_end_matches('/');
    let claims = serde_json::json!({ "api_key": token, "endpoint": host });
    let token = base64::engine::general_purpose::URL_SAFE.encode(claims.to_string());
    CredentialProvider::from_disposable_token(token)
        .map(|p| p.insecure_endpoint_override(endpoint))
        .map_err(|e| format!("momento-lite credentials: {}", e.message))
}

/// The cache the invalidator bumps: the applications' cache (Momento, momento-lite, or Redis)
/// and key prefix.
pub async fn cache(args: &Args) -> Result<ModelCache, String> {
    #[cfg(feature = "redis")]
    if let Some(backend) = redis(args)? {
        return on(backend, args);
    }
    let mut builder = MomentoBackend::builder()
        .cache_name(args.cache_name.clone())
        .create_cache_if_missing(args.create_cache);
    if let Some(endpoint) = &args.momento_lite_endpoint {
        builder =
            builder.credential_provider(lite_credentials(endpoint, &args.momento_lite_auth_token)?);
    }
    let backend = builder
        .build()
        .await
        .map_err(|e| format!("cache backend: {e}"))?;
    on(backend, args)
}

/// The applications' cache on `backend`, under their key prefix.
fn on(backend: impl CacheBackend, args: &Args) -> Result<ModelCache, String> {
    ModelCache::builder(backend)
        .key_prefix(args.key_prefix.clone())
        .build()
        .map_err(|e| format!("cache: {e}"))
}

/// The applications' Redis, when `--redis-url` or `--redis-cluster` names it.
#[cfg(feature = "redis")]
fn redis(args: &Args) -> Result<Option<momento_seaorm_cache::RedisBackend>, String> {
    use momento_seaorm_cache::RedisBackend;
    let builder = match (&args.redis_url, &args.redis_cluster) {
        (Some(url), _) => RedisBackend::builder().url(url.clone()),
        (None, Some(urls)) => RedisBackend::builder().cluster(urls.clone()),
        (None, None) => return Ok(None),
    };
    builder
        .build()
        .map(Some)
        .map_err(|e| format!("cache backend: {e}"))
}
