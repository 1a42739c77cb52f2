//! The items of one cache with their memory accounting, their recency order and their expiry
//! order: what lets a cache with a memory limit evict the least recently used items.
//!
//! Every item is charged `key bytes + value bytes + ITEM_OVERHEAD_BYTES` (a set's value bytes are
//! the sum of its elements). [`Entries`] keeps the sum of the charges of the items it holds. Every
//! write first drops the items that have expired; when it then leaves the sum over the limit, the
//! least recently used items go, oldest first, until the sum fits again. The item just written is
//! the most recently used, and it fits on its own (a larger one is refused), so it stays.
//!
//! Hand-written over `std` collections rather than a crate:
//! - `moka` weighs items by size, but its eviction is TinyLFU admission plus asynchronous,
//!   approximate maintenance: which keys survive a fill is not deterministic, and tests assert
//!   exactly which keys survive.
//! - `lru` (or `hashlink`'s `LinkedHashMap`) gives the recency order but counts entries, not
//!   bytes, and knows nothing of expiry: the byte accounting and the expiry index would sit
//!   beside it anyway. A new dependency would also change the workspace lockfile, which other
//!   crates share.
//!
//! So: a `HashMap` of entries, a `BTreeMap` from a use counter to key for the recency order (the
//! first entry is the least recently used) and a `BTreeMap` from expiry instant to key for the
//! expiry order. A use, an eviction and an expiry each cost O(log n).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::{check_size, Item};
use crate::error::StoreError;

/// The fixed number of bytes every item is charged toward a cache's memory limit on top of its
/// key and value bytes: an estimate of an entry's bookkeeping (its hash-map slot, its recency
/// and expiry index nodes, its expiry instant). A set is one item: one overhead, not one per
/// element.
pub const ITEM_OVERHEAD_BYTES: u64 = 64;

/// Bytes an item with this key and `value_size` value bytes is charged toward the memory limit.
pub fn charge(key: &[u8], value_size: usize) -> u64 {
    let key_and_value = (key.len() as u64).saturating_add(value_size as u64);
    key_and_value.saturating_add(ITEM_OVERHEAD_BYTES)
}

/// An item with its charge and its places in the recency and expiry orders.
#[derive(Debug)]
struct Entry {
    item: Item,
    /// Bytes charged toward the limit, see [`charge`].
    charge: u64,
    /// The use counter at the item's last use: its key in `Entries::recency`.
    used_at: u64,
    /// A number unique in the cache, telling apart items that expire at the same instant.
    id: u64,
}

/// The items of one cache, accounted in bytes, evicted least recently used first.
#[derive(Debug)]
pub struct Entries {
    /// The cache's name, for logs.
    name: String,
    map: HashMap<Vec<u8>, Entry>,
    /// Use counter → key; the first entry is the least recently used item.
    recency: BTreeMap<u64, Vec<u8>>,
    /// (expiry, id) → key, for items that expire; the first entry expires first.
    expiries: BTreeMap<(Instant, u64), Vec<u8>>,
    /// Counts uses and insertions; never goes back.
    clock: u64,
    used_bytes: u64,
    max_bytes: Option<u64>,
    evictions: u64,
}

impl Entries {
    /// No items; at most `max_bytes` charged bytes (`None`: no limit).
    pub fn new(name: &str, max_bytes: Option<u64>) -> Self {
        Self {
            name: name.to_owned(),
            map: HashMap::new(),
            recency: BTreeMap::new(),
            expiries: BTreeMap::new(),
            clock: 0,
            used_bytes: 0,
            max_bytes,
            evictions: 0,
        }
    }

    /// The item under `key`, expired or not, without counting a use.
    pub fn get(&self, key: &[u8]) -> Option<&Item> {
        self.map.get(key).map(|entry| &entry.item)
    }

    /// Makes the item under `key`, if any, the most recently used. Without a memory limit
    /// nothing is ever evicted, so the order is not kept (a read then costs no index update).
    pub fn touch(&mut self, key: &[u8]) {
        if self.max_bytes.is_none() {
            return;
        }
        let Some(entry) = self.map.get_mut(key) else {
            return;
        };
        self.clock += 1;
        if let Some(key) = self.recency.remove(&entry.used_at) {
            self.recency.insert(self.clock, key);
        }
        entry.used_at = self.clock;
    }

    /// Refuses an item with this key and value size: over the item size limit, or charged more
    /// than the whole memory limit (evicting everything else would not make room for it).
    pub fn admit(&self, key: &[u8], value_size: usize) -> Result<(), StoreError> {
        check_size(key, value_size)?;
        let size = charge(key, value_size);
        match self.max_bytes {
            Some(limit) if size > limit => Err(StoreError::ExceedsMemoryLimit { size, limit }),
            _ => Ok(()),
        }
    }

    /// Stores `item` under `key` as the most recently used item, replacing (and uncharging)
    /// whatever was there, then frees room as [`make_room`](Self::make_room) does. Refused, with
    /// nothing changed, if [`admit`](Self::admit) refuses it.
    pub fn insert(&mut self, key: Vec<u8>, item: Item, now: Instant) -> Result<(), StoreError> {
        self.admit(&key, item.value.size())?;
        self.remove(&key);
        self.clock += 1;
        let entry = Entry {
            charge: charge(&key, item.value.size()),
            used_at: self.clock,
            id: self.clock,
            item,
        };
        self.used_bytes += entry.charge;
        self.recency.insert(entry.used_at, key.clone());
        if let Some(at) = entry.item.expires_at {
            self.expiries.insert((at, entry.id), key.clone());
        }
        self.map.insert(key, entry);
        self.make_room(now);
        Ok(())
    }

    /// Changes the item under `key` in place with `change`, makes it the most recently used,
    /// charges its new size and frees room as [`make_room`](Self::make_room) does; `None` if there
    /// is no such item. A change that grows the item must be [admitted](Self::admit) first.
    pub fn update<R>(
        &mut self,
        key: &[u8],
        now: Instant,
        change: impl FnOnce(&mut Item) -> R,
    ) -> Option<R> {
        let entry = self.map.get_mut(key)?;
        let expired_at = entry.item.expires_at;
        let result = change(&mut entry.item);
        if entry.item.expires_at != expired_at {
            let index = expired_at.and_then(|at| self.expiries.remove(&(at, entry.id)));
            if let Some(at) = entry.item.expires_at {
                self.expiries
                    .insert((at, entry.id), index.unwrap_or_else(|| key.to_vec()));
            }
        }
        let new_charge = charge(key, entry.item.value.size());
        self.used_bytes = self.used_bytes - entry.charge + new_charge;
        entry.charge = new_charge;
        self.touch(key);
        self.make_room(now);
        Some(result)
    }

    /// Removes the item under `key`, expired or not, and uncharges it.
    pub fn remove(&mut self, key: &[u8]) -> Option<Item> {
        let entry = self.map.remove(key)?;
        self.recency.remove(&entry.used_at);
        if let Some(at) = entry.item.expires_at {
            self.expiries.remove(&(at, entry.id));
        }
        self.used_bytes -= entry.charge;
        Some(entry.item)
    }

    /// Removes every item that has expired at `now` (not counted as evictions).
    pub fn purge_expired(&mut self, now: Instant) {
        while let Some(entry) = self.expiries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.remove(&key);
        }
    }

    /// Removes every item; the limit and the eviction count stay.
    pub fn clear(&mut self) {
        self.map.clear();
        self.recency.clear();
        self.expiries.clear();
        self.used_bytes = 0;
    }

    /// Drops the expired items (with or without a limit, so keys never read again do not pile
    /// up), then, while the charged bytes exceed the limit, evicts the least recently used items
    /// one at a time, counting and logging each.
    fn make_room(&mut self, now: Instant) {
        self.purge_expired(now);
        let Some(limit) = self.max_bytes else {
            return;
        };
        while self.used_bytes > limit {
            let Some((_, key)) = self.recency.first_key_value() else {
                break;
            };
            let key = key.clone();
            let Some(item) = self.remove(&key) else {
                break;
            };
            self.evictions += 1;
            tracing::debug!(
                cache = %self.name,
                key = %String::from_utf8_lossy(&key),
                bytes = charge(&key, item.value.size()),
                used_bytes = self.used_bytes,
                limit,
                "evicted the least recently used item"
            );
        }
    }

    /// How many items are held, expired ones not yet removed included.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The bytes charged for the items held.
    pub fn used_bytes(&self) -> u64 {
        self.used_bytes
    }

    /// The memory limit in bytes, if any.
    pub fn max_bytes(&self) -> Option<u64> {
        self.max_bytes
    }

    /// How many items were evicted to make room since these entries were created.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::{expiry, Value};

    const TTL: u64 = 60_000;

    fn item(size: usize, now: Instant, ttl_ms: u64) -> Item {
        Item {
            value: Value::Bytes(vec![0; size]),
            expires_at: expiry(now, ttl_ms),
        }
    }

    /// Entries holding exactly three items of a one-byte key and `size` value bytes.
    fn three_slots(size: usize) -> Entries {
        Entries::new("c", Some(3 * charge(b"k", size)))
    }

    fn keys(entries: &Entries) -> Vec<Vec<u8>> {
        entries.recency.values().cloned().collect()
    }

    #[test]
    fn the_least_recently_used_item_goes_first() {
        let mut entries = three_slots(10);
        let now = Instant::now();
        for key in [b"a", b"b", b"c"] {
            entries
                .insert(key.to_vec(), item(10, now, TTL), now)
                .unwrap();
        }
        entries.touch(b"a");
        entries
            .insert(b"d".to_vec(), item(10, now, TTL), now)
            .unwrap();
        assert_eq!(keys(&entries), [b"c", b"a", b"d"]);
        assert_eq!(entries.evictions(), 1);
        assert_eq!(entries.used_bytes(), 3 * charge(b"k", 10));
    }

    #[test]
    fn expired_items_go_before_live_ones_and_are_not_evictions() {
        let mut entries = three_slots(10);
        let now = Instant::now();
        entries
            .insert(b"a".to_vec(), item(10, now, TTL), now)
            .unwrap();
        entries
            .insert(b"b".to_vec(), item(10, now, 5), now)
            .unwrap();
        entries
            .insert(b"c".to_vec(), item(10, now, TTL), now)
            .unwrap();
        let later = now + Duration::from_millis(5);
        entries
            .insert(b"d".to_vec(), item(10, later, TTL), later)
            .unwrap();
        assert_eq!(keys(&entries), [b"a", b"c", b"d"]);
        assert_eq!(entries.evictions(), 0);
        assert!(entries.expiries.len() == 3 && entries.map.len() == 3);
    }

    #[test]
    fn an_update_recharges_the_item_and_keeps_it() {
        let mut entries = three_slots(10);
        let now = Instant::now();
        for key in [b"a", b"b", b"c"] {
            entries
                .insert(key.to_vec(), item(10, now, TTL), now)
                .unwrap();
        }
        let grown = 10 + charge(b"k", 10) as usize;
        entries.admit(b"a", grown).unwrap();
        entries.update(b"a", now, |item| item.value = Value::Bytes(vec![1; grown]));
        assert_eq!(keys(&entries), [b"c", b"a"]);
        assert_eq!(entries.used_bytes(), 3 * charge(b"k", 10));
        entries.update(b"c", now, |item| item.expires_at = expiry(now, 1));
        entries.purge_expired(now + Duration::from_millis(1));
        assert_eq!(keys(&entries), [b"a"]);
        assert_eq!(entries.used_bytes(), charge(b"a", grown));
    }

    #[test]
    fn an_item_over_the_whole_limit_is_refused_and_changes_nothing() {
        let mut entries = three_slots(10);
        let now = Instant::now();
        entries
            .insert(b"a".to_vec(), item(10, now, TTL), now)
            .unwrap();
        let limit = 3 * charge(b"k", 10);
        let too_big = item(limit as usize, now, TTL);
        assert_eq!(
            entries.insert(b"a".to_vec(), too_big, now),
            Err(StoreError::ExceedsMemoryLimit {
                size: limit + 1 + ITEM_OVERHEAD_BYTES,
                limit
            })
        );
        assert_eq!(keys(&entries), [b"a"]);
        assert_eq!(entries.used_bytes(), charge(b"a", 10));
    }

    #[test]
    fn without_a_limit_nothing_is_evicted() {
        let mut entries = Entries::new("c", None);
        let now = Instant::now();
        for i in 0..1000u32 {
            entries
                .insert(i.to_be_bytes().to_vec(), item(100, now, TTL), now)
                .unwrap();
        }
        assert_eq!(entries.len(), 1000);
        assert_eq!(entries.evictions(), 0);
        assert_eq!(entries.used_bytes(), 1000 * charge(&[0; 4], 100));
    }
}
