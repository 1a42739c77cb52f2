//! The in-memory data behind the server: named caches of items with millisecond TTLs and an
//! optional memory limit per cache.
//!
//! A [`Store`] holds the caches; a [`Cache`] holds items, each a byte value or a set of byte
//! elements with an expiry instant. An expired item reads as absent and is removed the next time
//! its key is touched, or by the next write that stores an item in its cache, whichever comes
//! first.
//!
//! Each cache of a store built with a memory limit holds at most that many bytes, charged per
//! item as [`entries`] describes, and evicts least recently used items to make room. A *use* is
//! an operation that returns an item's value or changes the item: `Get`/`GetBatch` and `SetFetch`
//! hits; `Set`, `SetBatch`, `Increment`, `SetUnion` and `SetDifference` on an existing set; a
//! `SetIf`/`SetIfNotExists` that stores; an `UpdateTtl` that applies. Probes (`KeysExist`,
//! `ItemGetTtl`), a conditional write that does not store, an `UpdateTtl` whose condition fails
//! and a failed operation are not uses.
//!
//! The operations themselves live next to the item type they work on: [`scalar`] for byte values,
//! [`set`] for sets; the accounting and the recency order in [`entries`]. Everything here is
//! synchronous and runs under one mutex that is never held across an `.await`.

mod entries;
pub mod scalar;
pub mod set;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::error::StoreError;
use entries::Entries;
pub use entries::ITEM_OVERHEAD_BYTES;

/// The largest item Momento accepts: key plus value (or key plus all elements), in bytes.
pub const MAX_ITEM_SIZE: usize = 5 * 1024 * 1024;

/// All caches of one server, by name (`Store::default()`: no memory limit).
#[derive(Debug, Default)]
pub struct Store {
    caches: Mutex<BTreeMap<String, Cache>>,
    /// The memory limit of each cache, in bytes; `None` for no limit.
    max_memory_bytes: Option<u64>,
    /// Items evicted to make room, in every cache ever created.
    evictions: AtomicU64,
    /// Keys looked up by `Get` and `GetBatch` (each key of a batch counts: a billed element).
    keys_read: AtomicU64,
}

/// A snapshot of one cache's memory accounting, from [`LiteServer::cache_stats`].
///
/// [`LiteServer::cache_stats`]: crate::LiteServer::cache_stats
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Unexpired items held.
    pub items: usize,
    /// Bytes charged for them: per item, key plus value (a set: key plus every element) plus
    /// [`ITEM_OVERHEAD_BYTES`].
    pub used_bytes: u64,
    /// The cache's memory limit in bytes, or `None` when it has none.
    pub max_bytes: Option<u64>,
    /// Items evicted from this cache to make room since it was created (a flush keeps the count;
    /// expired and deleted items are not evictions).
    pub evictions: u64,
}

impl Store {
    /// Creates an empty store whose caches each hold at most `max_memory_bytes` (`None`: no
    /// limit).
    pub fn with_max_memory(max_memory_bytes: Option<u64>) -> Self {
        Self {
            max_memory_bytes,
            ..Self::default()
        }
    }

    /// Creates an empty cache, or fails if one with this name exists.
    pub fn create_cache(&self, name: &str) -> Result<(), StoreError> {
        let mut caches = self.lock();
        if caches.contains_key(name) {
            return Err(StoreError::CacheAlreadyExists(name.to_owned()));
        }
        let cache = Cache::new(name, self.max_memory_bytes);
        caches.insert(name.to_owned(), cache);
        Ok(())
    }

    /// Deletes a cache and everything in it.
    pub fn delete_cache(&self, name: &str) -> Result<(), StoreError> {
        match self.lock().remove(name) {
            Some(_) => Ok(()),
            None => Err(StoreError::CacheNotFound(name.to_owned())),
        }
    }

    /// Removes every item of a cache, keeping the cache (and its eviction count).
    pub fn flush_cache(&self, name: &str) -> Result<(), StoreError> {
        self.with_cache(name, |cache, _| {
            cache.entries.clear();
            Ok(())
        })
    }

    /// The names of all caches, in sorted order.
    pub fn cache_names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// The memory limit of each cache, in bytes, if any.
    pub fn max_memory_bytes(&self) -> Option<u64> {
        self.max_memory_bytes
    }

    /// Counts `n` keys looked up by a `Get` or `GetBatch`.
    pub fn count_keys_read(&self, n: usize) {
        self.keys_read.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Keys looked up by `Get` and `GetBatch` since the store was created: one per `Get`, one per
    /// key of a `GetBatch` (what Momento bills as elements read).
    pub fn keys_read(&self) -> u64 {
        self.keys_read.load(Ordering::Relaxed)
    }

    /// Items evicted to make room, over all caches since the store was created (deleted caches
    /// included).
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// The accounting of the named cache after dropping its expired items, or `None` if there is
    /// no such cache.
    pub fn cache_stats(&self, name: &str) -> Option<CacheStats> {
        self.with_cache(name, |cache, now| {
            let entries = &mut cache.entries;
            entries.purge_expired(now);
            Ok(CacheStats {
                items: entries.len(),
                used_bytes: entries.used_bytes(),
                max_bytes: entries.max_bytes(),
                evictions: entries.evictions(),
            })
        })
        .ok()
    }

    /// Runs `op` on the named cache with the current instant, under the store's lock.
    pub fn with_cache<R>(
        &self,
        name: &str,
        op: impl FnOnce(&mut Cache, Instant) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut caches = self.lock();
        let cache = caches
            .get_mut(name)
            .ok_or_else(|| StoreError::CacheNotFound(name.to_owned()))?;
        let evictions_before = cache.entries.evictions();
        let result = op(cache, Instant::now());
        let evicted = cache.entries.evictions() - evictions_before;
        if evicted > 0 {
            self.evictions.fetch_add(evicted, Ordering::Relaxed);
        }
        result
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Cache>> {
        // A panic while holding the lock cannot leave a map half-updated in a way that matters to
        // a test server, so a poisoned lock is still used.
        self.caches.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What an item holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A scalar: one byte string (`Get`, `Set`, `Increment`...).
    Bytes(Vec<u8>),
    /// A set of distinct byte strings (`SetUnion`, `SetDifference`, `SetFetch`).
    Set(BTreeSet<Vec<u8>>),
}

impl Value {
    /// The item type's name, for wrong-type errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bytes(_) => "scalar",
            Value::Set(_) => "set",
        }
    }

    /// Bytes the value occupies toward the item size limit.
    pub fn size(&self) -> usize {
        match self {
            Value::Bytes(bytes) => bytes.len(),
            Value::Set(elements) => elements.iter().map(Vec::len).sum(),
        }
    }
}

/// A value with the instant it expires (`None` when the TTL is too long to represent).
#[derive(Debug, Clone)]
struct Item {
    value: Value,
    expires_at: Option<Instant>,
}

impl Item {
    fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Time left before the item expires, saturating for an expiry too far to represent.
    fn remaining(&self, now: Instant) -> Duration {
        match self.expires_at {
            Some(at) => at.saturating_duration_since(now),
            None => Duration::from_millis(u64::MAX),
        }
    }
}

/// The expiry instant of an item written at `now` with a TTL of `ttl_ms` milliseconds.
fn expiry(now: Instant, ttl_ms: u64) -> Option<Instant> {
    now.checked_add(Duration::from_millis(ttl_ms))
}

/// The items of one cache.
#[derive(Debug)]
pub struct Cache {
    entries: Entries,
}

impl Default for Cache {
    /// An unnamed cache without a memory limit.
    fn default() -> Self {
        Self::new("", None)
    }
}

impl Cache {
    /// An empty cache holding at most `max_bytes` charged bytes (`None`: no limit).
    pub fn new(name: &str, max_bytes: Option<u64>) -> Self {
        Self {
            entries: Entries::new(name, max_bytes),
        }
    }

    /// The unexpired item under `key`, removing it first if it has expired. Not a use.
    fn live(&mut self, key: &[u8], now: Instant) -> Option<&Item> {
        if self
            .entries
            .get(key)
            .is_some_and(|item| item.is_expired(now))
        {
            self.entries.remove(key);
        }
        self.entries.get(key)
    }

    /// Stores `value` under `key` with a fresh TTL, replacing whatever was there.
    fn put(
        &mut self,
        key: Vec<u8>,
        value: Value,
        ttl_ms: u64,
        now: Instant,
    ) -> Result<(), StoreError> {
        let item = Item {
            value,
            expires_at: expiry(now, ttl_ms),
        };
        self.entries.insert(key, item, now)
    }

    /// Removes the item under `key`, if any; true when an unexpired item was removed.
    pub fn delete(&mut self, key: &[u8], now: Instant) -> bool {
        self.entries
            .remove(key)
            .is_some_and(|item| !item.is_expired(now))
    }

    /// Whether an unexpired item of any type exists under `key`.
    pub fn exists(&mut self, key: &[u8], now: Instant) -> bool {
        self.live(key, now).is_some()
    }

    /// The time left before the item under `key` expires, or `None` if there is no such item.
    pub fn remaining_ttl(&mut self, key: &[u8], now: Instant) -> Option<Duration> {
        self.live(key, now).map(|item| item.remaining(now))
    }

    /// Changes the TTL of the item under `key` as `update` asks.
    pub fn update_ttl(&mut self, key: &[u8], update: TtlUpdate, now: Instant) -> TtlOutcome {
        let Some(item) = self.live(key, now) else {
            return TtlOutcome::Missing;
        };
        let remaining = item.remaining(now);
        let apply = match update {
            TtlUpdate::Overwrite(_) => true,
            TtlUpdate::Increase(ms) => Duration::from_millis(ms) > remaining,
            TtlUpdate::Decrease(ms) => Duration::from_millis(ms) < remaining,
        };
        if !apply {
            return TtlOutcome::NotSet;
        }
        self.entries.update(key, now, |item| {
            item.expires_at = expiry(now, update.millis());
        });
        TtlOutcome::Set
    }
}

/// Refuses an item whose key plus value exceeds [`MAX_ITEM_SIZE`].
fn check_size(key: &[u8], value_size: usize) -> Result<(), StoreError> {
    let size = key.len().saturating_add(value_size);
    if size > MAX_ITEM_SIZE {
        return Err(StoreError::ItemTooLarge {
            size,
            limit: MAX_ITEM_SIZE,
        });
    }
    Ok(())
}

/// A requested TTL change, in milliseconds from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlUpdate {
    /// Apply only if longer than the time left.
    Increase(u64),
    /// Apply only if shorter than the time left.
    Decrease(u64),
    /// Apply unconditionally.
    Overwrite(u64),
}

impl TtlUpdate {
    fn millis(self) -> u64 {
        match self {
            TtlUpdate::Increase(ms) | TtlUpdate::Decrease(ms) | TtlUpdate::Overwrite(ms) => ms,
        }
    }
}

/// What a [`TtlUpdate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlOutcome {
    /// The new TTL was applied.
    Set,
    /// The item exists but its condition (increase or decrease) did not hold.
    NotSet,
    /// There is no item under the key.
    Missing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creating_a_cache_twice_fails_and_deleting_a_missing_one_fails() {
        let store = Store::default();
        assert_eq!(store.create_cache("a"), Ok(()));
        assert_eq!(
            store.create_cache("a"),
            Err(StoreError::CacheAlreadyExists("a".into()))
        );
        assert_eq!(store.delete_cache("a"), Ok(()));
        assert_eq!(
            store.delete_cache("a"),
            Err(StoreError::CacheNotFound("a".into()))
        );
    }

    #[test]
    fn an_expired_item_is_absent_and_evicted() {
        let mut cache = Cache::default();
        let now = Instant::now();
        cache
            .put(b"k".to_vec(), Value::Bytes(b"v".to_vec()), 10, now)
            .unwrap();
        assert!(cache.exists(b"k", now));
        let later = now + Duration::from_millis(10);
        assert!(!cache.exists(b"k", later));
        assert!(
            cache.entries.len() == 0,
            "the expired item is removed on access"
        );
    }

    #[test]
    fn a_write_drops_every_expired_item() {
        let mut cache = Cache::default();
        let now = Instant::now();
        for i in 0..100u32 {
            cache
                .put(i.to_be_bytes().to_vec(), Value::Bytes(vec![]), 1, now)
                .unwrap();
        }
        let later = now + Duration::from_millis(5);
        cache
            .put(b"fresh".to_vec(), Value::Bytes(vec![]), 1000, later)
            .unwrap();
        assert_eq!(cache.entries.len(), 1);
        assert_eq!(cache.entries.used_bytes(), entries::charge(b"fresh", 0));
    }

    #[test]
    fn the_store_counts_evictions_of_every_cache_and_keeps_them() {
        let one_item = entries::charge(b"k", 1);
        let store = Store::with_max_memory(Some(one_item));
        store.create_cache("a").unwrap();
        store.create_cache("b").unwrap();
        let set = |cache: &str, key: &[u8]| {
            store.with_cache(cache, |items, now| {
                items.set(key.to_vec(), b"v".to_vec(), 1000, now)
            })
        };
        for key in [b"1", b"2", b"3"] {
            set("a", key).unwrap();
        }
        set("b", b"1").unwrap();
        let stats = store.cache_stats("a").unwrap();
        assert_eq!((stats.items, stats.used_bytes), (1, one_item));
        assert_eq!((stats.evictions, stats.max_bytes), (2, Some(one_item)));
        store.flush_cache("a").unwrap();
        let stats = store.cache_stats("a").unwrap();
        assert_eq!((stats.items, stats.used_bytes, stats.evictions), (0, 0, 2));
        store.delete_cache("a").unwrap();
        assert_eq!(store.cache_stats("a"), None);
        assert_eq!(store.evictions(), 2);
    }

    #[test]
    fn ttl_updates_follow_their_conditions() {
        let mut cache = Cache::default();
        let now = Instant::now();
        cache
            .put(b"k".to_vec(), Value::Bytes(vec![]), 1000, now)
            .unwrap();
        assert_eq!(
            cache.update_ttl(b"k", TtlUpdate::Increase(500), now),
            TtlOutcome::NotSet
        );
        assert_eq!(
            cache.update_ttl(b"k", TtlUpdate::Increase(5000), now),
            TtlOutcome::Set
        );
        assert_eq!(
            cache.update_ttl(b"k", TtlUpdate::Decrease(9000), now),
            TtlOutcome::NotSet
        );
        assert_eq!(
            cache.update_ttl(b"k", TtlUpdate::Decrease(100), now),
            TtlOutcome::Set
        );
        assert_eq!(
            cache.remaining_ttl(b"k", now),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            cache.update_ttl(b"k", TtlUpdate::Overwrite(7), now),
            TtlOutcome::Set
        );
        assert_eq!(
            cache.remaining_ttl(b"k", now),
            Some(Duration::from_millis(7))
        );
        assert_eq!(
            cache.update_ttl(b"x", TtlUpdate::Overwrite(7), now),
            TtlOutcome::Missing
        );
    }

    #[test]
    fn the_size_limit_counts_key_and_value() {
        let mut cache = Cache::default();
        let now = Instant::now();
        let value = Value::Bytes(vec![0; MAX_ITEM_SIZE - 1]);
        assert!(cache.put(b"k".to_vec(), value.clone(), 1000, now).is_ok());
        assert_eq!(
            cache.put(b"kk".to_vec(), value, 1000, now),
            Err(StoreError::ItemTooLarge {
                size: MAX_ITEM_SIZE + 1,
                limit: MAX_ITEM_SIZE
            })
        );
    }
}
