//! The live counters of one query shape ([`ShapeCounters`]) and what they add up to
//! ([`QueryFigures`]): atomics only, so recording a read takes no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::series::Series;
use crate::status::CacheStatus;

/// The figures of one query shape (or of the shapes folded into
/// [`CacheReport::untracked`](super::CacheReport::untracked)), counted in this process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueryFigures {
    /// Cached reads of this shape, whatever served them.
    pub reads: u64,
    /// Reads served from the (remote) cache.
    pub hits: u64,
    /// Reads served from the near cache, in process memory.
    pub near_hits: u64,
    /// Reads that went to the database after a lookup (a miss, an outdated or undecodable
    /// value, a cache fault or an open breaker). Callers that shared one load are each counted.
    pub misses: u64,
    /// Reads served a stale value while it was refreshed.
    pub stale: u64,
    /// Reads that bypassed the cache (a transaction, an invalidation owed, an invalidator
    /// behind).
    pub bypasses: u64,
    /// Reads that failed with the database's error.
    pub errors: u64,
    /// Queries the cache ran on the database for this shape: misses (one per flight),
    /// bypasses and stale refreshes.
    pub database_loads: u64,
    /// Served from a cache over reads: `(hits + near_hits + stale) / reads`; 0 without reads.
    pub hit_ratio: f64,
    /// Database time spent by those queries, in microseconds.
    pub database_us: u64,
    /// Mean time of one of those queries, in microseconds (`database_us / database_loads`).
    pub mean_load_us: u64,
    /// Database time the cache saved, in microseconds: an estimate, `(hits + near_hits +
    /// stale) * mean_load_us` (what those reads would have cost at this shape's measured mean).
    pub saved_us: u64,
    /// Values stored in the cache by this process for this shape.
    pub stored_values: u64,
    /// Bytes of those values (encoded, as sent to the backend), added up.
    pub bytes_stored: u64,
    /// Bytes of the last value stored.
    pub last_value_bytes: u64,
}

impl QueryFigures {
    /// Adds `other`'s counts to these, and works the derived figures out again.
    pub(crate) fn add(&mut self, other: &QueryFigures) {
        self.reads += other.reads;
        self.hits += other.hits;
        self.near_hits += other.near_hits;
        self.misses += other.misses;
        self.stale += other.stale;
        self.bypasses += other.bypasses;
        self.errors += other.errors;
        self.database_loads += other.database_loads;
        self.database_us += other.database_us;
        self.stored_values += other.stored_values;
        self.bytes_stored += other.bytes_stored;
        self.last_value_bytes = self.last_value_bytes.max(other.last_value_bytes);
        let saved = self.saved_us + other.saved_us;
        self.derive();
        // Saved time is estimated per shape, at each shape's own mean: a sum, not re-derived.
        self.saved_us = saved;
    }

    /// Served from a cache, near or remote, fresh or stale.
    pub(crate) fn served(&self) -> u64 {
        self.hits + self.near_hits + self.stale
    }

    /// The ratio, the mean and the estimate, from the counts.
    fn derive(&mut self) {
        let served = self.served();
        self.hit_ratio = match self.reads {
            0 => 0.0,
            reads => served as f64 / reads as f64,
        };
        self.mean_load_us = self
            .database_us
            .checked_div(self.database_loads)
            .unwrap_or(0);
        self.saved_us = served * self.mean_load_us;
    }

    /// What ranks shapes for the bounded table: the database time they account for, spent
    /// and saved.
    pub(crate) fn weight(&self) -> u64 {
        self.database_us + self.saved_us
    }
}

/// The live counters of one shape, shared by every read of it.
#[derive(Debug, Default)]
pub(crate) struct ShapeCounters {
    hits: AtomicU64,
    near_hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    bypasses: AtomicU64,
    errors: AtomicU64,
    database_loads: AtomicU64,
    database_us: AtomicU64,
    stored_values: AtomicU64,
    bytes_stored: AtomicU64,
    last_value_bytes: AtomicU64,
    /// When this process last loaded this shape (Unix ms): 0 = never.
    pub last_load_ms: AtomicU64,
    series: Series,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl ShapeCounters {
    /// Counters that also export through `series`.
    pub(crate) fn new(series: Series) -> ShapeCounters {
        ShapeCounters {
            series,
            ..ShapeCounters::default()
        }
    }

    /// Counts one read as it was served (`None`: the database's error).
    pub(crate) fn read(&self, status: Option<CacheStatus>) {
        let counter = match status {
            Some(CacheStatus::Hit) => &self.hits,
            Some(CacheStatus::NearHit) => &self.near_hits,
            Some(CacheStatus::Miss) => &self.misses,
            Some(CacheStatus::Stale) => &self.stale,
            Some(CacheStatus::Bypass) => &self.bypasses,
            None => &self.errors,
        };
        bump(counter, 1);
        self.series.read(status);
    }

    /// Counts one query run on the database and the time it took.
    pub(crate) fn loaded(&self, took: Duration, now_ms: u64) {
        bump(&self.database_loads, 1);
        bump(&self.database_us, took.as_micros() as u64);
        self.last_load_ms.store(now_ms, Ordering::Relaxed);
        self.series.loaded(took);
    }

    /// Counts one value stored, of `bytes` bytes.
    pub(crate) fn stored(&self, bytes: usize) {
        bump(&self.stored_values, 1);
        bump(&self.bytes_stored, bytes as u64);
        self.last_value_bytes.store(bytes as u64, Ordering::Relaxed);
        self.series.stored(bytes);
    }

    /// The counts now, with the derived figures.
    pub(crate) fn figures(&self) -> QueryFigures {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut figures = QueryFigures {
            hits: get(&self.hits),
            near_hits: get(&self.near_hits),
            misses: get(&self.misses),
            stale: get(&self.stale),
            bypasses: get(&self.bypasses),
            errors: get(&self.errors),
            database_loads: get(&self.database_loads),
            database_us: get(&self.database_us),
            stored_values: get(&self.stored_values),
            bytes_stored: get(&self.bytes_stored),
            last_value_bytes: get(&self.last_value_bytes),
            ..QueryFigures::default()
        };
        figures.reads = figures.served() + figures.misses + figures.bypasses + figures.errors;
        figures.derive();
        figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_derive_the_ratio_the_mean_and_the_saving() {
        let shape = ShapeCounters::default();
        shape.read(Some(CacheStatus::Miss));
        shape.loaded(Duration::from_micros(300), 1);
        shape.read(Some(CacheStatus::Hit));
        shape.read(Some(CacheStatus::NearHit));
        shape.read(Some(CacheStatus::Stale));
        shape.read(Some(CacheStatus::Bypass));
        shape.loaded(Duration::from_micros(100), 2);
        shape.stored(40);
        let f = shape.figures();
        assert_eq!(
            (f.reads, f.hits, f.near_hits, f.stale, f.bypasses),
            (5, 1, 1, 1, 1)
        );
        assert_eq!(
            (f.database_loads, f.database_us, f.mean_load_us),
            (2, 400, 200)
        );
        assert_eq!(f.saved_us, 3 * 200);
        assert!((f.hit_ratio - 0.6).abs() < 1e-9);
        assert_eq!(
            (f.stored_values, f.bytes_stored, f.last_value_bytes),
            (1, 40, 40)
        );
        let mut sum = QueryFigures::default();
        sum.add(&f);
        sum.add(&f);
        assert_eq!((sum.reads, sum.saved_us, sum.mean_load_us), (10, 1200, 200));
    }
}
