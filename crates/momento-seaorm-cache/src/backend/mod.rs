//! Where cached values live: the [`CacheBackend`] trait and one adapter per store.
//!
//! Adapters translate between this trait and a store and do nothing else: keys, values, TTL
//! policy and fault handling belong to [`ModelCache`](crate::ModelCache).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::CacheFault;

#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "momento")]
pub mod momento;
#[cfg(feature = "redis")]
pub mod redis;

/// A key-value store with per-item TTLs that a [`ModelCache`](crate::ModelCache) reads and writes.
///
/// Implementations must be cheap to share (`ModelCache` keeps one behind an `Arc`) and must never
/// log secrets: their `Debug` output appears in logs.
#[async_trait]
pub trait CacheBackend: Send + Sync + std::fmt::Debug + 'static {
    /// The value stored under `key`, or `None` on a miss.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheFault>;

    /// The values stored under `keys`, in order, in one round trip where the store allows.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>, CacheFault> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key).await?);
        }
        Ok(values)
    }

    /// Stores `value` under `key` for `ttl`.
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheFault>;

    /// Stores every `(key, value)` of `items` for `ttl`, in one round trip where the store
    /// allows. Generation bumps use it, so a write that touches several tables waits for the
    /// cache once.
    async fn set_many(&self, items: &[(&str, Vec<u8>)], ttl: Duration) -> Result<(), CacheFault> {
        for (key, value) in items {
            self.set(key, value.clone(), ttl).await?;
        }
        Ok(())
    }

    /// Removes `key`; removing an absent key succeeds.
    async fn delete(&self, key: &str) -> Result<(), CacheFault>;

    /// Stores `value` under `key` for `ttl` only if `key` is absent; `true` when stored.
    /// Used for cross-process load leases; backends without it keep the default, and
    /// [`supports_set_if_absent`](Self::supports_set_if_absent) says so.
    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, CacheFault> {
        let _ = (key, value, ttl);
        Err(CacheFault::new(
            crate::error::FaultKind::Other,
            "set_if_absent is not supported by this backend",
        ))
    }

    /// Whether [`set_if_absent`](Self::set_if_absent) is implemented.
    fn supports_set_if_absent(&self) -> bool {
        false
    }

    /// The TTL used when neither the cache nor the query sets one.
    fn default_ttl(&self) -> Option<Duration> {
        None
    }

    /// The longest TTL the store accepts (Momento: 24 hours), if it has a limit.
    fn max_ttl(&self) -> Option<Duration> {
        None
    }

    /// The largest item (key plus value, in bytes) the store accepts, if it has a limit.
    fn max_item_bytes(&self) -> Option<usize> {
        None
    }

    /// Whether keys should carry their main table as a hash tag (`{users}`), so that a read's
    /// value and generation keys share one slot of a Redis Cluster and a hit is one round trip
    /// to one node. `RedisBackend` on a cluster says yes unless told otherwise.
    fn hash_tags(&self) -> bool {
        false
    }

    /// A short name for logs: `momento`, `memory`, `redis`.
    fn name(&self) -> &'static str;
}

/// A boxed backend is a backend, so an application can choose its store at run time (Momento
/// in production, Redis on premises, memory in tests) and build one `ModelCache` either way.
///
/// ```
/// use momento_seaorm_cache::{CacheBackend, MemoryBackend, ModelCache};
/// let chosen: Box<dyn CacheBackend> = Box::new(MemoryBackend::new());
/// let cache = ModelCache::builder(chosen).build()?;
/// # let _ = cache;
/// # Ok::<(), momento_seaorm_cache::ConfigError>(())
/// ```
#[async_trait]
impl CacheBackend for Box<dyn CacheBackend> {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheFault> {
        self.as_ref().get(key).await
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>, CacheFault> {
        self.as_ref().get_many(keys).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheFault> {
        self.as_ref().set(key, value, ttl).await
    }

    async fn set_many(&self, items: &[(&str, Vec<u8>)], ttl: Duration) -> Result<(), CacheFault> {
        self.as_ref().set_many(items, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheFault> {
        self.as_ref().delete(key).await
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, CacheFault> {
        self.as_ref().set_if_absent(key, value, ttl).await
    }

    fn supports_set_if_absent(&self) -> bool {
        self.as_ref().supports_set_if_absent()
    }

    fn default_ttl(&self) -> Option<Duration> {
        self.as_ref().default_ttl()
    }

    fn max_ttl(&self) -> Option<Duration> {
        self.as_ref().max_ttl()
    }

    fn max_item_bytes(&self) -> Option<usize> {
        self.as_ref().max_item_bytes()
    }

    fn hash_tags(&self) -> bool {
        self.as_ref().hash_tags()
    }

    fn name(&self) -> &'static str {
        self.as_ref().name()
    }
}
