//! [`ModelCache`]: the configured cache every cached read goes through, and its builder.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{DbErr, EntityTrait};
use serde::{de::DeserializeOwned, Serialize};
use tracing::{debug, warn, Instrument};

use crate::backend::CacheBackend;
use crate::codec::{self, Compression, Envelope, SerdeFormat};
use crate::error::ConfigError;
use crate::key::{CacheKey, Operation, DEFAULT_MAX_KEY_LEN};
use crate::wrap::WrappedEntity;

/// The key prefix used when none is given, as in the Node library.
pub const DEFAULT_KEY_PREFIX: &str = "model-cache";
/// The TTL used when neither the builder nor the backend gives one.
pub const FALLBACK_TTL: Duration = Duration::from_secs(60);

/// Where a cached read's answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheStatus {
    /// Decoded from the cache.
    Hit,
    /// Read from the database (and stored, unless the store failed or the value was too large).
    Miss,
    /// Read from the database without touching the cache (inside a transaction).
    Bypass,
}

impl CacheStatus {
    /// `hit`, `miss` or `bypass`.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Bypass => "bypass",
        }
    }
}

impl std::fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cached read's result together with how it was served: what the `*_with_status` methods
/// return.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheLookup<T> {
    /// What the database would have returned.
    pub value: T,
    /// Hit, miss or bypass.
    pub status: CacheStatus,
    /// The key read and written; `None` for a bypass.
    pub key: Option<CacheKey>,
}

/// A read-aside query cache: SeaORM reads in, rows out, a [`CacheBackend`] in between.
///
/// Cheap to clone (an `Arc` inside) and safe to share across tasks.
///
/// ```
/// use momento_seaorm_cache::{Compression, MemoryBackend, ModelCache};
/// let cache = ModelCache::builder(MemoryBackend::new())
///     .compression(Compression::Zstd)
///     .build()
///     .unwrap();
/// assert_eq!(cache.prefix(), "model-cache");
/// ```
#[derive(Clone)]
pub struct ModelCache {
    shared: Arc<Shared>,
}

struct Shared {
    backend: Box<dyn CacheBackend>,
    prefix: String,
    ttl: Duration,
    max_ttl: Option<Duration>,
    max_item_bytes: Option<usize>,
    envelope: Envelope,
    max_key_len: usize,
}

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCache")
            .field("backend", &self.shared.backend)
            .field("prefix", &self.shared.prefix)
            .field("ttl", &self.shared.ttl)
            .field("envelope", &self.shared.envelope)
            .finish()
    }
}

/// Builds a [`ModelCache`]; [`build`](ModelCacheBuilder::build) checks every setting.
pub struct ModelCacheBuilder {
    backend: Box<dyn CacheBackend>,
    prefix: String,
    ttl: Option<Duration>,
    envelope: Envelope,
    max_key_len: usize,
}

impl std::fmt::Debug for ModelCacheBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCacheBuilder")
            .field("backend", &self.backend)
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("envelope", &self.envelope)
            .finish()
    }
}

impl ModelCache {
    /// A builder over `backend` with prefix `model-cache`, the backend's default TTL, JSON and
    /// no compression.
    pub fn builder(backend: impl CacheBackend) -> ModelCacheBuilder {
        ModelCacheBuilder {
            backend: Box::new(backend),
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            ttl: None,
            envelope: Envelope::default(),
            max_key_len: DEFAULT_MAX_KEY_LEN,
        }
    }

    /// The four read operations of the Node library's `wrap(Model)`, for entity `E`.
    ///
    /// ```
    /// # use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// # mod user {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
    /// #     #[sea_orm(table_name = "users")]
    /// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub name: String }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// let users = cache.wrap(user::Entity).ttl(std::time::Duration::from_secs(30));
    /// // users.find_by_pk(&db, 1).await? ...
    /// # let _ = users;
    /// ```
    pub fn wrap<E: EntityTrait>(&self, _entity: E) -> WrappedEntity<E> {
        WrappedEntity::new(self.clone())
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// The default TTL of stored results.
    pub fn ttl(&self) -> Duration {
        self.shared.ttl
    }

    /// The backend, for direct reads and writes (e.g. to inspect a stored value).
    pub fn backend(&self) -> &dyn CacheBackend {
        self.shared.backend.as_ref()
    }

    pub(crate) fn max_key_len(&self) -> usize {
        self.shared.max_key_len
    }

    /// The TTL to store with, given a per-wrap or per-query TTL: clamped to the backend's
    /// maximum; `None` (do not store) for a zero TTL.
    fn effective_ttl(&self, requested: Option<Duration>) -> Option<Duration> {
        let ttl = requested.unwrap_or(self.shared.ttl);
        if ttl.is_zero() {
            return None;
        }
        match self.shared.max_ttl {
            Some(max) if ttl > max => {
                warn!(?ttl, ?max, "TTL exceeds the backend's maximum; clamped");
                Some(max)
            }
            _ => Some(ttl),
        }
    }

    /// Serves `plan` from the cache, or runs `load` on the database and stores its result.
    ///
    /// Cache faults and undecodable values are logged and fall through to `load`; only `load`
    /// can make this fail.
    pub(crate) async fn read_through<T, Fut>(
        &self,
        plan: ReadPlan<'_>,
        load: Fut,
    ) -> Result<CacheLookup<T>, DbErr>
    where
        T: Serialize + DeserializeOwned,
        Fut: Future<Output = Result<T, DbErr>>,
    {
        let span = tracing::debug_span!(
            "cached_read",
            operation = plan.operation.as_str(),
            table = plan.table,
            key = tracing::field::Empty,
            status = tracing::field::Empty,
            cache_us = tracing::field::Empty,
            db_us = tracing::field::Empty,
        );
        async move {
            let Some(key) = plan.key else {
                let started = Instant::now();
                let value = load.await?;
                let db_us = started.elapsed().as_micros() as u64;
                record(CacheStatus::Bypass, 0, db_us);
                return Ok(CacheLookup {
                    value,
                    status: CacheStatus::Bypass,
                    key: None,
                });
            };
            tracing::Span::current().record("key", key.as_str());
            let backend = self.shared.backend.as_ref();
            let started = Instant::now();
            let cached = backend.get(key.as_str()).await;
            let mut cache_us = started.elapsed().as_micros() as u64;
            let mut store = true;
            match cached {
                Ok(Some(bytes)) => match codec::decode::<T>(&bytes) {
                    Ok(value) => {
                        record(CacheStatus::Hit, cache_us, 0);
                        return Ok(CacheLookup {
                            value,
                            status: CacheStatus::Hit,
                            key: Some(key),
                        });
                    }
                    Err(error) => warn!(
                        key = key.as_str(), %error,
                        "cached value does not decode; treating it as a miss and overwriting it"
                    ),
                },
                Ok(None) => {}
                Err(fault) => {
                    warn!(
                        key = key.as_str(), backend = backend.name(), kind = %fault.kind, %fault,
                        "cache get failed; reading from the database"
                    );
                    store = false;
                }
            }
            let started = Instant::now();
            let value = load.await?;
            let db_us = started.elapsed().as_micros() as u64;
            if store {
                if let Some(ttl) = self.effective_ttl(plan.ttl) {
                    let started = Instant::now();
                    self.store(&key, &value, ttl, plan.format).await;
                    cache_us += started.elapsed().as_micros() as u64;
                }
            }
            record(CacheStatus::Miss, cache_us, db_us);
            Ok(CacheLookup {
                value,
                status: CacheStatus::Miss,
                key: Some(key),
            })
        }
        .instrument(span)
        .await
    }

    /// Encodes and stores a freshly loaded value; every failure is logged, none is returned.
    async fn store<T: Serialize>(
        &self,
        key: &CacheKey,
        value: &T,
        ttl: Duration,
        format: Option<SerdeFormat>,
    ) {
        let envelope = Envelope {
            format: format.unwrap_or(self.shared.envelope.format),
            ..self.shared.envelope
        };
        let bytes = match envelope.encode(value) {
            Ok(bytes) => bytes,
            Err(error) => {
                warn!(key = key.as_str(), %error, "result does not serialize; not cached");
                return;
            }
        };
        if let Some(max) = self.shared.max_item_bytes {
            let size = key.as_str().len() + bytes.len();
            if size > max {
                warn!(
                    key = key.as_str(),
                    size, max, "result is larger than the backend's item limit; not cached"
                );
                return;
            }
        }
        let backend = self.shared.backend.as_ref();
        if let Err(fault) = backend.set(key.as_str(), bytes, ttl).await {
            warn!(
                key = key.as_str(), backend = backend.name(), kind = %fault.kind, %fault,
                "cache set failed; the result was returned but not cached"
            );
        }
    }
}

fn record(status: CacheStatus, cache_us: u64, db_us: u64) {
    let span = tracing::Span::current();
    span.record("status", status.as_str());
    span.record("cache_us", cache_us);
    span.record("db_us", db_us);
    debug!(status = status.as_str(), cache_us, db_us, "cached read");
}

/// What one cached read is: built by `wrap` and `.cached()`, consumed by `read_through`.
pub(crate) struct ReadPlan<'a> {
    pub operation: Operation,
    pub table: &'a str,
    /// `None` bypasses the cache.
    pub key: Option<CacheKey>,
    pub ttl: Option<Duration>,
    /// Overrides the cache's serde format (JSON for `serde_json::Value` rows).
    pub format: Option<SerdeFormat>,
}

impl ModelCacheBuilder {
    /// The first part of every key (default `model-cache`); must not contain `:`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The default TTL of stored results (default: the backend's, else 60 s).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// How values are compressed when written (any compression is read).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.envelope.compression = compression;
        self
    }

    /// How rows are serialized when written (any format is read).
    pub fn serde_format(mut self, format: SerdeFormat) -> Self {
        self.envelope.format = format;
        self
    }

    /// Keys longer than this many bytes are stored under a hash of their query (default 1024).
    pub fn max_key_len(mut self, len: usize) -> Self {
        self.max_key_len = len;
        self
    }

    /// Checks the settings and builds the cache.
    ///
    /// ```
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{ConfigError, MemoryBackend, ModelCache};
    /// let err = ModelCache::builder(MemoryBackend::new())
    ///     .default_ttl(Duration::ZERO)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, ConfigError::ZeroTtl { .. }));
    /// ```
    pub fn build(self) -> Result<ModelCache, ConfigError> {
        if self.prefix.is_empty() || self.prefix.contains(':') {
            return Err(ConfigError::InvalidKeyPrefix {
                prefix: self.prefix,
            });
        }
        let ttl = self
            .ttl
            .or_else(|| self.backend.default_ttl())
            .unwrap_or(FALLBACK_TTL);
        if ttl.is_zero() {
            return Err(ConfigError::ZeroTtl {
                what: "the default TTL",
            });
        }
        let max_ttl = self.backend.max_ttl();
        if let Some(max) = max_ttl {
            if ttl > max {
                return Err(ConfigError::TtlTooLong {
                    what: "the default TTL",
                    ttl,
                    max,
                });
            }
        }
        // Room for the readable head plus a 64-digit hash.
        let min_key_len = self.prefix.len() + 96;
        let max_key_len = self.max_key_len.max(min_key_len);
        let max_item_bytes = self.backend.max_item_bytes();
        Ok(ModelCache {
            shared: Arc::new(Shared {
                backend: self.backend,
                prefix: self.prefix,
                ttl,
                max_ttl,
                max_item_bytes,
                envelope: self.envelope,
                max_key_len,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryBackend;

    #[test]
    fn bad_settings_fail_at_build_with_a_fix() {
        for prefix in ["", "a:b"] {
            let err = ModelCache::builder(MemoryBackend::new())
                .key_prefix(prefix)
                .build()
                .unwrap_err();
            assert!(
                matches!(err, ConfigError::InvalidKeyPrefix { .. }),
                "{prefix:?}"
            );
            assert!(err
                .to_string()
                .contains("must be non-empty and contain no ':'"));
        }
        let err = ModelCache::builder(MemoryBackend::new())
            .default_ttl(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(
            err.to_string().contains("at least one millisecond"),
            "{err}"
        );
    }

    #[test]
    fn ttl_defaults_to_the_fallback_for_backends_without_one() {
        let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
        assert_eq!(cache.ttl(), FALLBACK_TTL);
        assert_eq!(cache.effective_ttl(Some(Duration::ZERO)), None);
        assert_eq!(
            cache.effective_ttl(Some(Duration::from_secs(5))),
            Some(Duration::from_secs(5))
        );
    }
}
