//! The in-memory data behind the server: named caches of items with millisecond TTLs.
//!
//! A [`Store`] holds the caches; a [`Cache`] holds items, each a byte value or a set of byte
//! elements with an expiry instant. An expired item reads as absent and is removed the next time
//! its key is touched; a cache also sweeps its expired items whenever it has doubled in size since
//! its last sweep, so keys that are never read again do not pile up.
//!
//! The operations themselves live next to the item type they work on: [`scalar`] for byte values,
//! [`set`] for sets. Everything here is synchronous and runs under one mutex that is never held
//! across an `.await`.

pub mod scalar;
pub mod set;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::error::StoreError;

/// The largest item Momento accepts: key plus value (or key plus all elements), in bytes.
pub const MAX_ITEM_SIZE: usize = 5 * 1024 * 1024;

/// A cache stops sweeping expired items below this many items.
const MIN_SWEEP_THRESHOLD: usize = 1024;

/// All caches of one server, by name.
#[derive(Debug, Default)]
pub struct Store {
    caches: Mutex<BTreeMap<String, Cache>>,
}

impl Store {
    /// Creates an empty store with no caches.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates an empty cache, or fails if one with this name exists.
    pub fn create_cache(&self, name: &str) -> Result<(), StoreError> {
        let mut caches = self.lock();
        if caches.contains_key(name) {
            return Err(StoreError::CacheAlreadyExists(name.to_owned()));
        }
        caches.insert(name.to_owned(), Cache::default());
        Ok(())
    }

    /// Deletes a cache and everything in it.
    pub fn delete_cache(&self, name: &str) -> Result<(), StoreError> {
        match self.lock().remove(name) {
            Some(_) => Ok(()),
            None => Err(StoreError::CacheNotFound(name.to_owned())),
        }
    }

    /// Removes every item of a cache, keeping the cache.
    pub fn flush_cache(&self, name: &str) -> Result<(), StoreError> {
        self.with_cache(name, |cache, _| {
            *cache = Cache::default();
            Ok(())
        })
    }

    /// The names of all caches, in sorted order.
    pub fn cache_names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
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
        op(cache, Instant::now())
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
    items: HashMap<Vec<u8>, Item>,
    sweep_at: usize,
}

impl Default for Cache {
    fn default() -> Self {
        Self {
            items: HashMap::new(),
            sweep_at: MIN_SWEEP_THRESHOLD,
        }
    }
}

impl Cache {
    /// The unexpired item under `key`, removing it first if it has expired.
    fn live(&mut self, key: &[u8], now: Instant) -> Option<&mut Item> {
        if self.items.get(key).is_some_and(|item| item.is_expired(now)) {
            self.items.remove(key);
        }
        self.items.get_mut(key)
    }

    /// Stores `value` under `key` with a fresh TTL, replacing whatever was there.
    fn put(
        &mut self,
        key: Vec<u8>,
        value: Value,
        ttl_ms: u64,
        now: Instant,
    ) -> Result<(), StoreError> {
        check_size(&key, value.size())?;
        self.sweep_if_grown(now);
        let item = Item {
            value,
            expires_at: expiry(now, ttl_ms),
        };
        self.items.insert(key, item);
        Ok(())
    }

    /// Removes the item under `key`, if any; true when an unexpired item was removed.
    pub fn delete(&mut self, key: &[u8], now: Instant) -> bool {
        self.items
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
        item.expires_at = expiry(now, update.millis());
        TtlOutcome::Set
    }

    /// Drops every expired item once the cache has doubled in size since the last sweep.
    fn sweep_if_grown(&mut self, now: Instant) {
        if self.items.len() < self.sweep_at {
            return;
        }
        self.items.retain(|_, item| !item.is_expired(now));
        self.sweep_at = (self.items.len() * 2).max(MIN_SWEEP_THRESHOLD);
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
        let store = Store::new();
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
            cache.items.is_empty(),
            "the expired item is removed on access"
        );
    }

    #[test]
    fn a_grown_cache_sweeps_expired_items() {
        let mut cache = Cache::default();
        let now = Instant::now();
        for i in 0..MIN_SWEEP_THRESHOLD as u32 {
            cache
                .put(i.to_be_bytes().to_vec(), Value::Bytes(vec![]), 1, now)
                .unwrap();
        }
        let later = now + Duration::from_millis(5);
        cache
            .put(b"fresh".to_vec(), Value::Bytes(vec![]), 1000, later)
            .unwrap();
        assert_eq!(cache.items.len(), 1);
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
