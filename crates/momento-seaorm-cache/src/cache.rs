//! [`ModelCache`]: the configured cache every cached read goes through, and its builder.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::EntityTrait;

use crate::backend::CacheBackend;
use crate::breaker::{Breaker, BreakerConfig};
use crate::codec::{Compression, Envelope, SerdeFormat};
use crate::error::ConfigError;
use crate::flight::Flights;
use crate::invalidate::{global_generation_key, Consistency, EntityGenerations};
use crate::key::{CacheKey, DEFAULT_MAX_KEY_LEN};
use crate::metrics::{CacheStats, Counters};
use crate::tables::TableIndex;
use crate::wrap::WrappedEntity;

/// The key prefix used when none is given, as in the Node library.
pub const DEFAULT_KEY_PREFIX: &str = "model-cache";
/// The TTL used when neither the builder nor the backend gives one.
pub const FALLBACK_TTL: Duration = Duration::from_secs(60);
/// The deadline of each cache call when none is given: a cache that answers slower than this
/// is no faster than most databases.
pub const DEFAULT_CACHE_TIMEOUT: Duration = Duration::from_millis(200);
/// The TTL jitter when none is given: stored TTLs are shortened by up to 10%.
pub const DEFAULT_TTL_JITTER: f64 = 0.1;

/// Where a cached read's answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheStatus {
    /// Decoded from the cache.
    Hit,
    /// Decoded from the cache after its TTL, within the stale-while-revalidate window; a
    /// refresh was started.
    Stale,
    /// Read from the database (the cache missed, faulted, or its breaker is open).
    Miss,
    /// Read from the database without touching the cache (inside a transaction).
    Bypass,
}

impl CacheStatus {
    /// `hit`, `stale`, `miss` or `bypass`.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Stale => "stale",
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
    /// Hit, stale, miss or bypass.
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
    pub(crate) shared: Arc<Shared>,
}

/// Everything a [`ModelCache`] and its clones share.
pub(crate) struct Shared {
    pub backend: Box<dyn CacheBackend>,
    pub prefix: String,
    pub ttl: Duration,
    pub max_ttl: Option<Duration>,
    pub max_item_bytes: Option<usize>,
    pub envelope: Envelope,
    pub max_key_len: usize,
    pub timeout: Duration,
    pub breaker: Option<Breaker>,
    pub single_flight: bool,
    pub flights: Flights,
    pub lease: Option<Duration>,
    pub ttl_jitter: f64,
    pub background_writes: bool,
    pub counters: Counters,
    /// Stale values (key, fresh-until) whose refresh this process has started recently.
    pub refreshing: moka::sync::Cache<(String, u64), ()>,
    /// How reads stay consistent with writes.
    pub consistency: Consistency,
    /// Table generations held in-process (bounded mode reads them; writes here update them).
    pub local_generations: moka::sync::Cache<String, u64>,
    /// `prefix:gen-all`, the generation every read includes.
    pub global_generation_key: String,
    /// Generation keys of primary-key reads, per entity type.
    pub entity_generations: EntityGenerations,
    /// What each statement reads and writes, memoized.
    pub table_index: TableIndex,
}

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.shared;
        f.debug_struct("ModelCache")
            .field("backend", &s.backend)
            .field("prefix", &s.prefix)
            .field("ttl", &s.ttl)
            .field("envelope", &s.envelope)
            .field("timeout", &s.timeout)
            .field("breaker", &s.breaker.as_ref().map(|b| b.state()))
            .finish_non_exhaustive()
    }
}

/// Builds a [`ModelCache`]; [`build`](ModelCacheBuilder::build) checks every setting.
pub struct ModelCacheBuilder {
    backend: Box<dyn CacheBackend>,
    prefix: String,
    ttl: Option<Duration>,
    envelope: Envelope,
    max_key_len: usize,
    timeout: Duration,
    breaker: Option<BreakerConfig>,
    single_flight: bool,
    lease: Option<Duration>,
    ttl_jitter: f64,
    background_writes: bool,
    consistency: Consistency,
}

impl std::fmt::Debug for ModelCacheBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCacheBuilder")
            .field("backend", &self.backend)
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("envelope", &self.envelope)
            .finish_non_exhaustive()
    }
}

impl ModelCache {
    /// A builder over `backend` with prefix `model-cache`, the backend's default TTL, JSON, no
    /// compression, a 200 ms deadline per cache call, the default circuit breaker, one loader
    /// per key, and up to 10% TTL jitter.
    pub fn builder(backend: impl CacheBackend) -> ModelCacheBuilder {
        ModelCacheBuilder {
            backend: Box::new(backend),
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            ttl: None,
            envelope: Envelope::default(),
            max_key_len: DEFAULT_MAX_KEY_LEN,
            timeout: DEFAULT_CACHE_TIMEOUT,
            breaker: Some(BreakerConfig::default()),
            single_flight: true,
            lease: None,
            ttl_jitter: DEFAULT_TTL_JITTER,
            background_writes: false,
            consistency: Consistency::Strict,
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

    /// A snapshot of this cache's counters (shared by its clones) since it was built.
    ///
    /// ```
    /// # use momento_seaorm_cache::{MemoryBackend, ModelCache, BreakerState};
    /// let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// let stats = cache.stats();
    /// assert_eq!((stats.hits, stats.misses), (0, 0));
    /// assert_eq!(stats.breaker_state, Some(BreakerState::Closed));
    /// ```
    pub fn stats(&self) -> CacheStats {
        let state = self.shared.breaker.as_ref().map(|b| b.state());
        self.shared.counters.snapshot(state)
    }

    pub(crate) fn max_key_len(&self) -> usize {
        self.shared.max_key_len
    }
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

    /// The deadline of each cache call, separate from the SDK's own (default 200 ms). A call
    /// that takes longer counts as a fault and the read goes to the database.
    pub fn cache_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The circuit breaker's thresholds (on by default with [`BreakerConfig::default`]).
    pub fn circuit_breaker(mut self, config: BreakerConfig) -> Self {
        self.breaker = Some(config);
        self
    }

    /// Never skip the cache, however often it faults.
    pub fn without_circuit_breaker(mut self) -> Self {
        self.breaker = None;
        self
    }

    /// Whether concurrent reads of one key in this process share one lookup and one database
    /// query (default `true`).
    pub fn single_flight(mut self, enabled: bool) -> Self {
        self.single_flight = enabled;
        self
    }

    /// Across processes, let one loader per key run the query: a miss first takes a lease (a
    /// set-if-absent key living `lease`); others wait up to `lease` for the value to appear,
    /// then query themselves. Off by default; needs a backend with `set_if_absent`.
    pub fn load_lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Shorten each stored TTL by a random fraction up to `jitter` (0.0 to 1.0, default 0.1),
    /// so entries written together do not expire together.
    pub fn ttl_jitter(mut self, jitter: f64) -> Self {
        self.ttl_jitter = jitter;
        self
    }

    /// Write the cache in a background task on a miss, so the caller does not wait for the
    /// set (default `false`).
    pub fn background_writes(mut self, enabled: bool) -> Self {
        self.background_writes = enabled;
        self
    }

    /// How reads stay consistent with writes (default [`Consistency::Strict`]); see the
    /// README's invalidation section for what each costs.
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.consistency = consistency;
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
        self.validate()?;
        let ttl = self.resolved_ttl();
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
        let max_key_len = self.max_key_len.max(self.prefix.len() + 96);
        let max_item_bytes = self.backend.max_item_bytes();
        let global_generation_key = global_generation_key(&self.prefix);
        Ok(ModelCache {
            shared: Arc::new(Shared {
                backend: self.backend,
                prefix: self.prefix,
                ttl,
                max_ttl,
                max_item_bytes,
                envelope: self.envelope,
                max_key_len,
                timeout: self.timeout,
                breaker: self.breaker.map(Breaker::new),
                single_flight: self.single_flight,
                flights: Flights::default(),
                lease: self.lease,
                ttl_jitter: self.ttl_jitter,
                background_writes: self.background_writes,
                counters: Counters::default(),
                refreshing: moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(Duration::from_secs(60))
                    .build(),
                consistency: self.consistency,
                local_generations: local_generations(self.consistency),
                global_generation_key,
                entity_generations: EntityGenerations::default(),
                table_index: TableIndex::default(),
            }),
        })
    }

    fn resolved_ttl(&self) -> Duration {
        self.ttl
            .or_else(|| self.backend.default_ttl())
            .unwrap_or(FALLBACK_TTL)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.prefix.is_empty() || self.prefix.contains(':') {
            return Err(ConfigError::InvalidKeyPrefix {
                prefix: self.prefix.clone(),
            });
        }
        if self.resolved_ttl().is_zero() {
            return Err(ConfigError::ZeroTtl {
                what: "the default TTL",
            });
        }
        if !(0.0..=1.0).contains(&self.ttl_jitter) {
            return Err(ConfigError::InvalidJitter {
                jitter: self.ttl_jitter,
            });
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        if let Some(config) = &self.breaker {
            if config.failure_threshold == 0 || config.cool_down.is_zero() {
                return Err(ConfigError::InvalidBreaker);
            }
        }
        if let Consistency::Bounded(window) = self.consistency {
            if window.is_zero() {
                return Err(ConfigError::ZeroTtl {
                    what: "the bounded-staleness window",
                });
            }
        }
        if let Some(lease) = self.lease {
            if lease.is_zero() {
                return Err(ConfigError::ZeroTtl {
                    what: "the load lease",
                });
            }
            if !self.backend.supports_set_if_absent() {
                return Err(ConfigError::LeaseUnsupported {
                    backend: self.backend.name(),
                });
            }
        }
        Ok(())
    }
}

/// The in-process copy of table generations: kept for the bounded window, else briefly (strict
/// mode only writes it).
fn local_generations(consistency: Consistency) -> moka::sync::Cache<String, u64> {
    let keep = match consistency {
        Consistency::Bounded(window) => window,
        _ => Duration::from_secs(1),
    };
    moka::sync::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(keep.max(Duration::from_millis(1)))
        .build()
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
        let build = |b: ModelCacheBuilder| b.build().unwrap_err().to_string();
        let memory = || ModelCache::builder(MemoryBackend::new());
        assert!(build(memory().default_ttl(Duration::ZERO)).contains("at least one millisecond"));
        assert!(build(memory().ttl_jitter(1.5)).contains("between 0.0 and 1.0"));
        assert!(build(memory().cache_timeout(Duration::ZERO)).contains("at least a millisecond"));
        let breaker = BreakerConfig {
            failure_threshold: 0,
            ..BreakerConfig::default()
        };
        assert!(build(memory().circuit_breaker(breaker)).contains("failure threshold"));
        assert!(build(memory().load_lease(Duration::ZERO)).contains("load lease"));
    }

    #[test]
    fn ttl_defaults_to_the_fallback_for_backends_without_one() {
        let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
        assert_eq!(cache.ttl(), FALLBACK_TTL);
    }
}
