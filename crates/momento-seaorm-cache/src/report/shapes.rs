//! The table of query shapes: one [`ShapeCounters`] per shape (operation, label, SQL without
//! its bound values), found without a lock and bounded to the shapes that account for the most
//! database time.
//!
//! Readers load an immutable map through an [`ArcSwap`] (no lock) and look their shape up by a
//! 64-bit hash of it. A shape seen for the first time is added under a mutex by copying the
//! map; past twice the bound the map keeps the `max` shapes of most database time (spent and
//! saved) and folds the others' figures into one "untracked" total, so memory stays bounded
//! whatever SQL runs. A shape dropped that way starts again from zero if it is read again.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use super::figures::{QueryFigures, ShapeCounters};
use super::series::{Series, SeriesLabels};
use crate::key::Operation;

/// The default bound on the shapes a report keeps (see `ModelCacheBuilder::report_queries`).
pub const DEFAULT_REPORT_QUERIES: usize = 200;
/// The largest bound `ModelCacheBuilder::report_queries` accepts.
pub const MAX_REPORT_QUERIES: usize = 10_000;
/// SQL kept for display is cut to this many bytes.
const SQL_SHOWN: usize = 2_000;

/// What a shape is, kept beside its counters.
#[derive(Debug, Clone)]
pub(crate) struct ShapeInfo {
    /// 8 hex digits of SHA-256 over operation, label and SQL: stable across processes.
    pub fingerprint: String,
    pub operation: Operation,
    /// The key's table segment (with schema fingerprints).
    pub label: String,
    /// The SQL without bound values (`None` for primary-key lookups).
    pub sql: Option<String>,
    /// The tables the shape reads, as generations name them.
    pub tables: Vec<String>,
}

/// One tracked shape.
#[derive(Debug)]
pub(crate) struct Tracked {
    pub info: ShapeInfo,
    pub counters: Arc<ShapeCounters>,
}

/// A map keyed by a hash already computed: the hash is the bucket.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ShapeMap = HashMap<u64, Arc<Tracked>, BuildHasherDefault<PassThrough>>;

/// The bounded table of query shapes of one cache.
#[derive(Debug)]
pub(crate) struct QueryShapes {
    map: ArcSwap<ShapeMap>,
    /// Serializes additions, and holds what they need besides the map.
    adding: Mutex<Adding>,
    max: usize,
    /// Makes shape ids.
    ids: foldhash::fast::RandomState,
}

#[derive(Debug, Default)]
struct Adding {
    /// Figures of the shapes dropped from the map.
    untracked: QueryFigures,
    /// Fingerprints given their own metric series (at most `max`).
    series: HashSet<String>,
}

/// The 64-bit id a read looks its shape up by, under the table's own hasher (foldhash: a
/// shape is looked up on every read, and SipHash over a label and the SQL cost more than the
/// rest of the lookup; the seed is random per table, so crafted SQL cannot aim at a collision).
fn shape_id(
    hasher: &foldhash::fast::RandomState,
    operation: Operation,
    label: &str,
    sql: Option<&str>,
) -> u64 {
    let mut hasher = hasher.build_hasher();
    operation.as_str().hash(&mut hasher);
    label.hash(&mut hasher);
    sql.hash(&mut hasher);
    hasher.finish()
}

/// The fingerprint shown and exported: stable across processes and Rust releases.
fn fingerprint(operation: Operation, label: &str, sql: Option<&str>) -> String {
    let mut digest = Sha256::new();
    for part in [operation.as_str(), label, sql.unwrap_or("")] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    digest.finalize()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `sql` cut to at most [`SQL_SHOWN`] bytes on a character boundary.
fn shown(sql: &str) -> String {
    let mut end = sql.len().min(SQL_SHOWN);
    while !sql.is_char_boundary(end) {
        end -= 1;
    }
    sql[..end].to_owned()
}

impl QueryShapes {
    /// A table keeping at most `max` shapes (checked by the builder: 1..=MAX_REPORT_QUERIES).
    pub(crate) fn new(max: usize) -> QueryShapes {
        QueryShapes {
            map: ArcSwap::from_pointee(ShapeMap::default()),
            adding: Mutex::new(Adding::default()),
            max,
            ids: foldhash::fast::RandomState::default(),
        }
    }

    /// The bound.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// The counters of a shape, added on first sight; `tables` names what it reads (called
    /// only then).
    pub(crate) fn counters(
        &self,
        operation: Operation,
        label: &str,
        sql: Option<&str>,
        tables: impl FnOnce() -> Vec<String>,
    ) -> Arc<ShapeCounters> {
        let id = shape_id(&self.ids, operation, label, sql);
        if let Some(tracked) = self.map.load().get(&id) {
            return tracked.counters.clone();
        }
        self.add(id, operation, label, sql, tables)
    }

    #[cold]
    fn add(
        &self,
        id: u64,
        operation: Operation,
        label: &str,
        sql: Option<&str>,
        tables: impl FnOnce() -> Vec<String>,
    ) -> Arc<ShapeCounters> {
        let mut adding = self.adding.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.map.load_full();
        if let Some(tracked) = current.get(&id) {
            return tracked.counters.clone();
        }
        let info = ShapeInfo {
            fingerprint: fingerprint(operation, label, sql),
            operation,
            label: label.to_owned(),
            sql: sql.map(shown),
            tables: tables(),
        };
        let exported = adding.series.contains(&info.fingerprint);
        let labels = if exported || adding.series.len() < self.max {
            adding.series.insert(info.fingerprint.clone());
            SeriesLabels {
                query: info.fingerprint.clone(),
                operation: operation.as_str().to_owned(),
                table: label.split('@').next().unwrap_or(label).to_owned(),
            }
        } else {
            SeriesLabels::other()
        };
        let counters = Arc::new(ShapeCounters::new(Series::register(labels)));
        let mut map: ShapeMap = (*current).clone();
        map.insert(
            id,
            Arc::new(Tracked {
                info,
                counters: counters.clone(),
            }),
        );
        if map.len() > 2 * self.max {
            self.prune(&mut map, id, &mut adding.untracked);
        }
        self.map.store(Arc::new(map));
        counters
    }

    /// Keeps the `max` shapes of most database time, and `added` (whose first read is yet
    /// to be counted); folds the others into `untracked`.
    fn prune(&self, map: &mut ShapeMap, added: u64, untracked: &mut QueryFigures) {
        let mut ranked: Vec<(u64, u64, QueryFigures)> = map
            .iter()
            .filter(|(id, _)| **id != added)
            .map(|(id, t)| {
                let figures = t.counters.figures();
                (figures.weight(), *id, figures)
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, id, figures) in ranked.into_iter().skip(self.max) {
            map.remove(&id);
            untracked.add(&figures);
        }
    }

    /// Every tracked shape, and the figures of those dropped.
    pub(crate) fn snapshot(&self) -> (Vec<Arc<Tracked>>, QueryFigures) {
        let untracked = {
            let adding = self.adding.lock().unwrap_or_else(|e| e.into_inner());
            adding.untracked.clone()
        };
        let shapes = self.map.load().values().cloned().collect();
        (shapes, untracked)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::status::CacheStatus;

    #[test]
    fn a_shape_is_found_again_and_the_table_stays_bounded() {
        let shapes = QueryShapes::new(2);
        let first = shapes.counters(Operation::All, "users", Some("SELECT 1"), Vec::new);
        let again = shapes.counters(Operation::All, "users", Some("SELECT 1"), || {
            panic!("described once")
        });
        assert!(Arc::ptr_eq(&first, &again));
        first.read(Some(CacheStatus::Miss));
        first.loaded(Duration::from_millis(5), 1);
        for i in 0..10 {
            let sql = format!("SELECT {i} + 100");
            let other = shapes.counters(Operation::All, "users", Some(&sql), Vec::new);
            other.read(Some(CacheStatus::Miss));
            other.loaded(Duration::from_micros(i), 1);
        }
        let (tracked, untracked) = shapes.snapshot();
        assert!(
            tracked.len() <= 4,
            "bounded at twice the max: {}",
            tracked.len()
        );
        assert!(
            tracked.iter().any(|t| Arc::ptr_eq(&t.counters, &first)),
            "the heaviest stays"
        );
        let reads: u64 = tracked.iter().map(|t| t.counters.figures().reads).sum();
        assert_eq!(
            reads + untracked.reads,
            11,
            "dropped shapes are folded, not lost"
        );
    }

    #[test]
    fn fingerprints_are_short_and_stable() {
        let f = fingerprint(Operation::FindByPk, "users@1a2b3c4d", None);
        assert_eq!(f.len(), 8);
        assert_eq!(f, fingerprint(Operation::FindByPk, "users@1a2b3c4d", None));
        assert_ne!(f, fingerprint(Operation::FindOne, "users@1a2b3c4d", None));
    }
}
