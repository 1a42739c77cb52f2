//! Invalidation by table generations: every table has a generation in the cache backend; a
//! write replaces the generations of the tables it wrote; a cached value is stamped with the
//! generations of every table its query read, and is served only while they are unchanged.
//!
//! ```text
//! write (through CachedConnection, after commit) ─► set  prefix:gen:<table> = random u64
//! read (strict)  ─► one GetBatch: [value, prefix:gen-all, prefix:gen:<t1>, ...]
//!                   ─► hit only if the value's stamp == hash(current generations)
//! read (bounded) ─► generations from an in-process copy at most `window` old, then one Get
//! ```
//! Generations are random, never counters, so a generation that expired and came back can
//! never match a stamp from before. Generation keys live 24 hours and values never outlive
//! them, so a value can never outlive the generation it was stamped with.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tracing::warn;

use crate::cache::ModelCache;
use crate::tables::Touches;

/// How long a generation key lives; stored values are clamped to it while invalidation is on.
pub const GENERATION_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How reads stay consistent with writes made through a
/// [`CachedConnection`](crate::CachedConnection) or [`ModelCache::invalidate_table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// No read that starts after a write has returned sees data older than that write, in any
    /// process sharing the backend. Costs a batch get (the value plus its tables'
    /// generations) instead of a get: still one round trip.
    Strict,
    /// Generations are held in-process for at most this long: a write in another process is
    /// seen within the window (in this process at once). A hit is one plain get.
    Bounded(Duration),
    /// No generations: entries live until their TTL, as in the Node library.
    TtlOnly,
}

/// The generation key of `table`.
pub(crate) fn generation_key(prefix: &str, table: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + table.len() + 5);
    key.push_str(prefix);
    key.push_str(":gen:");
    for c in table.chars() {
        match c {
            '%' => key.push_str("%25"),
            ':' => key.push_str("%3A"),
            c => key.push(c),
        }
    }
    key
}

/// The generation every read includes, bumped by writes whose tables are unknown.
pub(crate) fn global_generation_key(prefix: &str) -> String {
    format!("{prefix}:gen-all")
}

/// A stored generation: eight bytes; anything else (or nothing) reads as 0.
pub(crate) fn parse_generation(bytes: Option<&Bytes>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

/// Folds generations (global first, then tables in sorted order) into one stamp.
pub(crate) fn stamp(generations: impl IntoIterator<Item = u64>) -> u64 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    for g in generations {
        h ^= g;
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
    }
    h
}

impl ModelCache {
    /// Invalidates every cached read of entity `E`'s table, in every process sharing the
    /// backend. For writes that do not go through a [`CachedConnection`](crate::CachedConnection).
    pub async fn invalidate<E: sea_orm::EntityTrait>(&self) {
        self.invalidate_table(E::default().table_name()).await;
    }

    /// Invalidates every cached read of `table` (any case, schema ignored).
    pub async fn invalidate_table(&self, table: &str) {
        self.bump_generations(&[table.to_lowercase()]).await;
    }

    /// Deletes one cached value (a fault is logged).
    pub(crate) async fn delete_key(&self, key: &crate::key::CacheKey) {
        if let Err(fault) = self.backend().delete(key.as_str()).await {
            warn!(key = key.as_str(), %fault, "could not delete a cached value");
        }
    }

    /// Invalidates every cached read of every table.
    pub async fn invalidate_all(&self) {
        let key = self.shared.global_generation_key.clone();
        self.set_generation(key).await;
    }

    /// Gives each table a new generation: every value stamped with the old one becomes a miss.
    pub(crate) async fn bump_generations(&self, tables: &[String]) {
        if self.shared.consistency == Consistency::TtlOnly {
            return;
        }
        for table in tables {
            let key = generation_key(self.prefix(), table);
            self.set_generation(key).await;
        }
    }

    async fn set_generation(&self, key: String) {
        let generation = fastrand::u64(1..);
        let local = &self.shared.local_generations;
        local.insert(key.clone(), generation);
        let bytes = generation.to_le_bytes().to_vec();
        // Generations bypass the breaker and the deadline: a lost one means stale reads.
        let mut delay = Duration::from_millis(50);
        for attempt in 1..=4 {
            match self
                .backend()
                .set(&key, bytes.clone(), GENERATION_TTL)
                .await
            {
                Ok(()) => return,
                Err(fault) if attempt < 4 => {
                    warn!(key, %fault, attempt, "could not store a table generation; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                }
                Err(fault) => {
                    self.shared.counters.invalidation_failure();
                    tracing::error!(
                        key, %fault,
                        "could not store a table generation: other processes may read stale \
                         values of this table until their TTL"
                    );
                }
            }
        }
    }

    /// The generation keys a read of `tables` depends on: the global one, then each table.
    pub(crate) fn generation_keys(&self, tables: &[String]) -> GenerationKeys {
        let mut keys = Vec::with_capacity(tables.len() + 1);
        keys.push(self.shared.global_generation_key.clone());
        keys.extend(tables.iter().map(|t| generation_key(self.prefix(), t)));
        keys.into()
    }

    /// Bounded mode: the in-process generations of `keys`, if all are held.
    pub(crate) fn local_generations(&self, keys: &[String]) -> Option<Vec<u64>> {
        keys.iter()
            .map(|k| self.shared.local_generations.get(k))
            .collect()
    }

    /// Bounded mode: remembers generations fetched from the backend.
    pub(crate) fn remember_generations(&self, keys: &[String], generations: &[u64]) {
        for (key, generation) in keys.iter().zip(generations) {
            self.shared
                .local_generations
                .insert(key.clone(), *generation);
        }
    }
}

/// The generation keys a read depends on (the global one, then one per table it reads),
/// shared by its plan.
pub(crate) type GenerationKeys = Arc<[String]>;

/// Generation keys of primary-key reads, built once per entity type and cache.
pub(crate) type EntityGenerations = RwLock<HashMap<TypeId, GenerationKeys>>;

impl ModelCache {
    /// The generation keys of the tables a statement reads, for its plan: `Ok(None)` when
    /// invalidation is off, `Err(())` when the statement cannot be understood (it is then not
    /// cached).
    pub(crate) fn tables_read(
        &self,
        backend: sea_orm::DbBackend,
        sql: &str,
    ) -> Result<Option<GenerationKeys>, ()> {
        if self.shared.consistency == Consistency::TtlOnly {
            return Ok(None);
        }
        match self.shared.table_index.touches(backend, sql) {
            Touches::Reads(tables) => Ok(Some(self.generation_keys(&tables))),
            Touches::Writes(_) | Touches::Nothing | Touches::Unknown => {
                tracing::debug!(sql, "statement not understood as a read; not cached");
                Err(())
            }
        }
    }

    /// The generation keys a primary-key read of entity `E` depends on (its table, lowercased),
    /// memoized per entity type.
    pub(crate) fn entity_generations<E: sea_orm::EntityTrait>(&self) -> Option<GenerationKeys> {
        if self.shared.consistency == Consistency::TtlOnly {
            return None;
        }
        let memo = &self.shared.entity_generations;
        let id = TypeId::of::<E>();
        if let Some(found) = memo.read().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Some(found.clone());
        }
        let keys = self.generation_keys(&[E::default().table_name().to_lowercase()]);
        let mut memo = memo.write().unwrap_or_else(|e| e.into_inner());
        Some(memo.entry(id).or_insert(keys).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_depend_on_every_generation_and_their_order() {
        assert_ne!(stamp([1, 2]), stamp([2, 1]));
        assert_ne!(stamp([0, 0]), stamp([0]));
        assert_ne!(stamp([0, 5]), stamp([0, 6]));
        assert_eq!(stamp([7, 9]), stamp([7, 9]));
    }

    #[test]
    fn generation_values_parse_or_read_as_zero() {
        assert_eq!(parse_generation(None), 0);
        assert_eq!(parse_generation(Some(&Bytes::from_static(b"xx"))), 0);
        assert_eq!(
            parse_generation(Some(&Bytes::from(42u64.to_le_bytes().to_vec()))),
            42
        );
        assert_eq!(generation_key("p", "a:b%"), "p:gen:a%3Ab%25");
    }
}
