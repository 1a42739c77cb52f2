//! Momento through the official `momento` SDK.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use momento::cache::configurations::InRegion;
use momento::cache::{
    Configuration, GetResponse, SetBatchRequest, SetIfAbsentRequest, SetIfAbsentResponse,
    SetRequest,
};
use momento::{CacheClient, CredentialProvider, MomentoError, MomentoErrorCode};

use super::CacheBackend;
use crate::error::{CacheFault, ConfigError, FaultKind};

/// Momento's longest TTL for on-demand caches.
pub const MOMENTO_MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Momento's largest item: key plus value, 5 MiB.
pub const MOMENTO_MAX_ITEM_BYTES: usize = 5 * 1024 * 1024;
/// The cache name used when none is given, as in the Node library.
pub const DEFAULT_CACHE_NAME: &str = "model-cache";
/// The TTL used when none is given.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// A [`CacheBackend`] on a Momento cache, through the official SDK.
///
/// Its `Debug` output names the cache and TTL, never the credentials.
///
/// In production the builder reads `MOMENTO_API_KEY` (and `MOMENTO_ENDPOINT` for a v2 key);
/// here [momento-lite](https://docs.rs/momento-lite), a local stand-in, gives the credentials:
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use momento_seaorm_cache::{ModelCache, MomentoBackend};
/// let server = momento_lite::MomentoLite::builder().start().await?;
/// let backend = MomentoBackend::builder()
///     .credential_provider(server.credential_provider()) // leave out in production
///     .cache_name("model-cache")
///     .create_cache_if_missing(true)
///     .default_ttl(Duration::from_secs(300))
///     .build()
///     .await?;
/// let shown = r#"MomentoBackend { cache_name: "model-cache", default_ttl: 300s, .. }"#;
/// assert_eq!(format!("{backend:?}"), shown);
/// let cache = ModelCache::builder(backend).build()?;
/// assert_eq!(cache.ttl(), Duration::from_secs(300)); // the backend's TTL
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MomentoBackend {
    client: CacheClient,
    cache_name: String,
    default_ttl: Duration,
}

impl std::fmt::Debug for MomentoBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MomentoBackend")
            .field("cache_name", &self.cache_name)
            .field("default_ttl", &self.default_ttl)
            .finish_non_exhaustive()
    }
}

/// Builds a [`MomentoBackend`]; every setting has a default.
pub struct MomentoBackendBuilder {
    credential_provider: Option<CredentialProvider>,
    configuration: Option<Configuration>,
    cache_name: String,
    create_cache_if_missing: bool,
    default_ttl: Duration,
}

impl std::fmt::Debug for MomentoBackendBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MomentoBackendBuilder")
            .field(
                "credential_provider",
                &self.credential_provider.as_ref().map(|_| "<redacted>"),
            )
            .field("cache_name", &self.cache_name)
            .field("create_cache_if_missing", &self.create_cache_if_missing)
            .field("default_ttl", &self.default_ttl)
            .finish_non_exhaustive()
    }
}

impl MomentoBackend {
    /// A builder: credentials from the environment, the SDK's `InRegion` configuration, cache
    /// `model-cache`, no cache creation, a 60-second TTL.
    ///
    /// `InRegion` (a 1.1 s deadline per attempt, keep-alives on) is the SDK's profile for a
    /// service running in the same region as its cache; `Laptop`, the SDK's development profile,
    /// waits 15 s. The cache's own deadline (200 ms by default) bounds every call anyway; the
    /// SDK deadline only bounds the work the SDK keeps doing after that.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = momento_lite::MomentoLite::builder().start().await?;
    /// use momento_seaorm_cache::MomentoBackend;
    /// let backend = MomentoBackend::builder()
    ///     .credential_provider(server.credential_provider())
    ///     .create_cache_if_missing(true)
    ///     .build()
    ///     .await?;
    /// assert_eq!(backend.cache_name(), "model-cache");
    /// # Ok(()) }
    /// ```
    pub fn builder() -> MomentoBackendBuilder {
        MomentoBackendBuilder {
            credential_provider: None,
            configuration: None,
            cache_name: DEFAULT_CACHE_NAME.to_owned(),
            create_cache_if_missing: false,
            default_ttl: DEFAULT_TTL,
        }
    }

    /// The Momento cache this backend reads and writes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = momento_lite::MomentoLite::builder().start().await?;
    /// use momento_seaorm_cache::MomentoBackend;
    /// let backend = MomentoBackend::builder()
    /// #   .credential_provider(server.credential_provider())
    ///     .cache_name("orders-cache")
    ///     .build()
    ///     .await?;
    /// assert_eq!(backend.cache_name(), "orders-cache");
    /// # Ok(()) }
    /// ```
    pub fn cache_name(&self) -> &str {
        &self.cache_name
    }

    /// The SDK client, for operations this crate does not wrap.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = momento_lite::MomentoLite::builder().start().await?;
    /// use momento_seaorm_cache::{CacheBackend, MomentoBackend};
    /// let backend = MomentoBackend::builder()
    ///     .credential_provider(server.credential_provider())
    ///     .create_cache_if_missing(true)
    ///     .build()
    ///     .await?;
    /// backend.client().set(backend.cache_name(), "greeting", "hello").await?;
    /// assert_eq!(backend.get("greeting").await?.as_deref(), Some(&b"hello"[..]));
    /// # Ok(()) }
    /// ```
    pub fn client(&self) -> &CacheClient {
        &self.client
    }
}

impl MomentoBackendBuilder {
    /// Credentials to use instead of `MOMENTO_API_KEY`/`MOMENTO_ENDPOINT`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use momento_seaorm_cache::MomentoBackend;
    /// let server = momento_lite::MomentoLite::builder().start().await?;
    /// let backend = MomentoBackend::builder()
    ///     .credential_provider(server.credential_provider()) // a local momento-lite
    ///     .create_cache_if_missing(true)
    ///     .build()
    ///     .await?;
    /// # let _ = backend;
    /// # Ok(()) }
    /// ```
    pub fn credential_provider(mut self, provider: CredentialProvider) -> Self {
        self.credential_provider = Some(provider);
        self
    }

    /// The SDK configuration (default: `InRegion::latest()`; pass `Laptop::latest()` for a
    /// laptop far from its cache, `LowLatency::latest()` for the tightest deadlines).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = momento_lite::MomentoLite::builder().start().await?;
    /// use momento::cache::configurations::Laptop;
    /// use momento_seaorm_cache::MomentoBackend;
    /// let backend = MomentoBackend::builder()
    ///     .configuration(Laptop::latest())
    /// #   .credential_provider(server.credential_provider())
    ///     .create_cache_if_missing(true)
    ///     .build()
    ///     .await?;
    /// # let _ = backend;
    /// # Ok(()) }
    /// ```
    pub fn configuration(mut self, configuration: impl Into<Configuration>) -> Self {
        self.configuration = Some(configuration.into());
        self
    }

    /// The Momento cache to use (default `model-cache`): 1 to 255 ASCII letters, digits, `-`,
    /// `_` or `.`, checked by [`build`](Self::build).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use momento_seaorm_cache::{ConfigError, MomentoBackend};
    /// let err = MomentoBackend::builder().cache_name("my cache").build().await.unwrap_err();
    /// assert!(matches!(err, ConfigError::InvalidCacheName { .. }));
    /// # }
    /// ```
    pub fn cache_name(mut self, name: impl Into<String>) -> Self {
        self.cache_name = name.into();
        self
    }

    /// Create the cache at `build()` when it does not exist (the Node library's
    /// `forceCreateCache`; default `false`). Without it, calls to a missing cache fault, and
    /// every read goes to the database.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = momento_lite::MomentoLite::builder().start().await?;
    /// use momento_seaorm_cache::{CacheBackend, FaultKind, MomentoBackend};
    /// let lite = server.credential_provider();
    /// let builder = || MomentoBackend::builder().credential_provider(lite.clone());
    /// let missing = builder().cache_name("never-created").build().await?;
    /// assert_eq!(missing.get("k").await.unwrap_err().kind, FaultKind::NotFound);
    /// let created = builder().cache_name("created").create_cache_if_missing(true).build().await?;
    /// assert_eq!(created.get("k").await?, None); // a plain miss
    /// # Ok(()) }
    /// ```
    pub fn create_cache_if_missing(mut self, create: bool) -> Self {
        self.create_cache_if_missing = create;
        self
    }

    /// The TTL used when the [`ModelCache`](crate::ModelCache) sets none (default 60 s; at
    /// most 24 hours).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{ConfigError, MomentoBackend};
    /// let day_and_more = Duration::from_secs(25 * 60 * 60);
    /// let err = MomentoBackend::builder().default_ttl(day_and_more).build().await.unwrap_err();
    /// assert!(matches!(err, ConfigError::TtlTooLong { .. }));
    /// # Ok(()) }
    /// ```
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// Validates the settings, builds the SDK client and, if asked, creates the cache.
    ///
    /// Fails with a [`ConfigError`] that says what to fix: a missing, empty or malformed API key,
    /// an empty or invalid cache name, a zero TTL or one over 24 hours.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = momento_lite::MomentoLite::builder().start().await?;
    /// use momento_seaorm_cache::{ConfigError, ModelCache, MomentoBackend};
    /// let err = MomentoBackend::builder().cache_name("").build().await.unwrap_err();
    /// assert_eq!(err, ConfigError::EmptyCacheName);
    /// let backend = MomentoBackend::builder()
    ///     .credential_provider(server.credential_provider())
    ///     .create_cache_if_missing(true)
    ///     .build()
    ///     .await?;
    /// let cache = ModelCache::builder(backend).build()?;
    /// # let _ = cache;
    /// # Ok(()) }
    /// ```
    pub async fn build(self) -> Result<MomentoBackend, ConfigError> {
        validate_cache_name(&self.cache_name)?;
        validate_ttl("the default TTL", self.default_ttl, MOMENTO_MAX_TTL)?;
        let credential_provider = match self.credential_provider {
            Some(provider) => provider,
            None => credential_provider_from_env()?,
        };
        let configuration = self
            .configuration
            .unwrap_or_else(|| InRegion::latest().into());
        let client = CacheClient::builder()
            .default_ttl(self.default_ttl)
            .configuration(configuration)
            .credential_provider(credential_provider)
            .build()
            .map_err(|e| ConfigError::Momento { message: e.message })?;
        if self.create_cache_if_missing {
            client
                .create_cache(self.cache_name.clone())
                .await
                .map_err(|e| ConfigError::Momento {
                    message: format!("creating cache {:?}: {}", self.cache_name, e.message),
                })?;
        }
        Ok(MomentoBackend {
            client,
            cache_name: self.cache_name,
            default_ttl: self.default_ttl,
        })
    }
}

/// Reads `MOMENTO_API_KEY` (a v2 key with `MOMENTO_ENDPOINT`, or a legacy v1 key alone).
fn credential_provider_from_env() -> Result<CredentialProvider, ConfigError> {
    let key = match std::env::var("MOMENTO_API_KEY") {
        Ok(key) => key,
        Err(std::env::VarError::NotPresent) => return Err(ConfigError::MissingApiKey),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(ConfigError::MalformedApiKey {
                hint: "it is not valid UTF-8",
            })
        }
    };
    let endpoint = std::env::var("MOMENTO_ENDPOINT").unwrap_or_default();
    credential_provider_from_key(&key, endpoint.trim())
}

/// Builds credentials from a key and an optional endpoint; errors never contain the key.
pub(crate) fn credential_provider_from_key(
    key: &str,
    endpoint: &str,
) -> Result<CredentialProvider, ConfigError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(ConfigError::EmptyApiKey);
    }
    let looks_like_v2 = key.split('.').count() == 3;
    if !endpoint.is_empty() {
        return CredentialProvider::from_api_key_v2(key, endpoint).map_err(|_| {
            ConfigError::MalformedApiKey {
                hint: "with MOMENTO_ENDPOINT set it must be a v2 API key; for a legacy (v1) key \
                       unset MOMENTO_ENDPOINT",
            }
        });
    }
    // A legacy v1 key carries its own endpoint; the SDK parses it as a disposable token does.
    CredentialProvider::from_disposable_token(key).map_err(|_| ConfigError::MalformedApiKey {
        hint: if looks_like_v2 {
            "it looks like a v2 API key: also set MOMENTO_ENDPOINT to your Momento endpoint"
        } else {
            "it is neither a legacy (v1) nor a v2 Momento API key: copy it again from the \
             Momento console"
        },
    })
}

/// Momento cache names: 1 to 255 ASCII letters, digits, `-`, `_` or `.`.
pub(crate) fn validate_cache_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(ConfigError::EmptyCacheName);
    }
    let valid = name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(ConfigError::InvalidCacheName {
            name: name.to_owned(),
        })
    }
}

/// A TTL must be positive and no longer than `max`.
pub(crate) fn validate_ttl(
    what: &'static str,
    ttl: Duration,
    max: Duration,
) -> Result<(), ConfigError> {
    if ttl.is_zero() {
        return Err(ConfigError::ZeroTtl { what });
    }
    if ttl > max {
        return Err(ConfigError::TtlTooLong { what, ttl, max });
    }
    Ok(())
}

fn fault(error: MomentoError) -> CacheFault {
    let kind = match error.error_code {
        MomentoErrorCode::ServerUnavailable
        | MomentoErrorCode::CancelledError
        | MomentoErrorCode::UnknownServiceError => FaultKind::Unavailable,
        MomentoErrorCode::TimeoutError => FaultKind::Timeout,
        MomentoErrorCode::LimitExceededError => FaultKind::LimitExceeded,
        MomentoErrorCode::CacheNotFoundError => FaultKind::NotFound,
        MomentoErrorCode::AuthenticationError | MomentoErrorCode::PermissionError => {
            FaultKind::Authentication
        }
        _ => FaultKind::Other,
    };
    CacheFault::new(kind, format!("{:?}: {}", error.error_code, error.message))
}

/// The values of a batch get in the order of `keys` (a repeated key's value goes to its first
/// place). A few keys (every read's batch) are matched by comparison rather than hashed again.
fn in_order(keys: &[&str], found: HashMap<Vec<u8>, GetResponse>) -> Vec<Option<Bytes>> {
    let value = |response| match response {
        Some(GetResponse::Hit { value }) => Some(Bytes::from(Vec::<u8>::from(value))),
        _ => None,
    };
    if keys.len() > 8 {
        let mut found = found;
        return keys
            .iter()
            .map(|k| value(found.remove(k.as_bytes())))
            .collect();
    }
    let mut values = vec![None; keys.len()];
    for (key, response) in found {
        if let Some(at) = keys.iter().position(|k| k.as_bytes() == key) {
            values[at] = value(Some(response));
        }
    }
    values
}

#[async_trait]
impl CacheBackend for MomentoBackend {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheFault> {
        match self
            .client
            .get(self.cache_name.as_str(), key)
            .await
            .map_err(fault)?
        {
            GetResponse::Hit { value } => Ok(Some(Bytes::from(Vec::<u8>::from(value)))),
            GetResponse::Miss => Ok(None),
        }
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>, CacheFault> {
        let response = self
            .client
            .get_batch(self.cache_name.as_str(), keys.iter().copied())
            .await
            .map_err(fault)?;
        let found: HashMap<Vec<u8>, GetResponse> = response.into();
        Ok(in_order(keys, found))
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheFault> {
        let request = SetRequest::new(self.cache_name.as_str(), key, value).ttl(ttl);
        self.client.send_request(request).await.map_err(fault)?;
        Ok(())
    }

    async fn set_many(&self, items: &[(&str, Vec<u8>)], ttl: Duration) -> Result<(), CacheFault> {
        let items = items.iter().map(|(key, value)| (*key, value.clone()));
        let request = SetBatchRequest::new(self.cache_name.as_str(), items).ttl(ttl);
        self.client.send_request(request).await.map_err(fault)?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheFault> {
        self.client
            .delete(self.cache_name.as_str(), key)
            .await
            .map_err(fault)?;
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, CacheFault> {
        let request = SetIfAbsentRequest::new(self.cache_name.as_str(), key, value).ttl(ttl);
        match self.client.send_request(request).await.map_err(fault)? {
            SetIfAbsentResponse::Stored => Ok(true),
            SetIfAbsentResponse::NotStored => Ok(false),
        }
    }

    fn supports_set_if_absent(&self) -> bool {
        true
    }

    fn default_ttl(&self) -> Option<Duration> {
        Some(self.default_ttl)
    }

    fn max_ttl(&self) -> Option<Duration> {
        Some(MOMENTO_MAX_TTL)
    }

    fn max_item_bytes(&self) -> Option<usize> {
        Some(MOMENTO_MAX_ITEM_BYTES)
    }

    fn name(&self) -> &'static str {
        "momento"
    }
}
