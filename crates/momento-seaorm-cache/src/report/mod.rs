//! What the cache does, per query: [`CacheReport`] from
//! [`ModelCache::report`](crate::ModelCache::report), one [`QueryReport`] per query shape.
//!
//! A *shape* is a cached read's key without its bound values: the operation, the table label
//! and the SQL (`find_by_pk` reads have no SQL: one shape per entity). Each read adds to its
//! shape's atomic counters, found without a lock (`shapes`), and the queries the read path
//! runs are timed (`recording`), so a report shows what each shape cost the database and what
//! the cache saved it. What it holds is bounded: the `max_queries` shapes of most database
//! time are kept, the others folded into [`CacheReport::untracked`].
//!
//! Files: `figures` (the counters and their sums), `series` (the same per shape through the
//! `metrics` facade), `shapes` (the bounded table), `invalidations` (the last invalidation of
//! each table, and why), `recording` (one read into its shape).
//!
//! Counted per process: to see a fleet, export the per-shape series (`series`) and add them up
//! by their `query` label, which is the same in every process.

mod figures;
mod invalidations;
mod recording;
mod series;
mod shapes;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use figures::QueryFigures;
pub use invalidations::{Invalidation, InvalidationCause, InvalidationScope};
pub use shapes::{DEFAULT_REPORT_QUERIES, MAX_REPORT_QUERIES};

pub(crate) use invalidations::{now_ms, InvalidationLog};
pub(crate) use recording::{recorded, stored};
pub(crate) use shapes::QueryShapes;

use crate::health::InvalidatorHealth;
use crate::near::NearStats;

/// A cache's report: per query shape, what it served and what it saved, since the cache was
/// built, in this process. Serializable (the admin page serves it as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CacheReport {
    /// When the report was made (Unix time, milliseconds).
    pub generated_at_ms: u64,
    /// When the cache was built (Unix time, milliseconds).
    pub since_ms: u64,
    /// The bound on the shapes kept ([`ModelCacheBuilder::report_queries`](crate::ModelCacheBuilder::report_queries)).
    pub max_queries: usize,
    /// One entry per shape kept, the most database time saved first.
    pub queries: Vec<QueryReport>,
    /// The figures of the shapes dropped to keep the bound (their counts until dropped).
    pub untracked: QueryFigures,
    /// Every shape's figures added up, `untracked` included.
    pub totals: QueryFigures,
    /// The last invalidation of everything this process made.
    pub last_invalidation_of_everything: Option<Invalidation>,
    /// The change-capture invalidators whose lag gates this cache.
    pub invalidators: Vec<InvalidatorReport>,
    /// The near cache's figures, if there is one.
    pub near: Option<NearReport>,
}

/// One query shape: what its reads were served by, and what they cost and saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueryReport {
    /// 8 hex digits identifying the shape, the same in every process (the `query` label of its
    /// metric series).
    pub fingerprint: String,
    /// The operation (`find_by_pk`, `all`, `count`, ...).
    pub operation: String,
    /// The main table (the label without its schema fingerprints).
    pub table: String,
    /// The key's table segment: the table and the fingerprints of the entities read.
    pub label: String,
    /// The SQL without its bound values (at most 2000 bytes); `None` for primary-key lookups.
    pub sql: Option<String>,
    /// The tables its reads depend on.
    pub tables: Vec<String>,
    /// The counts.
    #[serde(flatten)]
    pub figures: QueryFigures,
    /// The last invalidation this process made of a table the shape reads (or of everything):
    /// what most likely emptied it. Approximate: a row-level one emptied only the reads of
    /// those rows; invalidations made by other processes, TTL expiry and eviction are not seen
    /// here (a read after them is a miss with no invalidation after the shape's last load).
    pub last_invalidation: Option<Invalidation>,
    /// When this process last ran the shape's query (Unix ms).
    pub last_load_ms: Option<u64>,
}

/// A change-capture invalidator's state, as its [`InvalidatorHealth`] says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InvalidatorReport {
    /// A name for it (`gate 1`, ... for those given to the builder).
    pub name: String,
    /// Whether it says it is following the database.
    pub healthy: bool,
    /// Whether reads may use the cache now (healthy and within `max_lag`).
    pub allows_cache: bool,
    /// How far behind it is, in milliseconds; `None` before it first caught up.
    pub lag_ms: Option<u64>,
    /// The lag past which reads bypass the cache, in milliseconds.
    pub max_lag_ms: u64,
    /// The instant up to which every commit is invalidated (Unix ms).
    pub caught_up_at_ms: Option<u64>,
}

impl InvalidatorReport {
    /// The state of the invalidator whose health is `health`, named `name`.
    ///
    /// ```
    /// use momento_seaorm_cache::report::InvalidatorReport;
    /// use momento_seaorm_cache::InvalidatorHealth;
    /// let report = InvalidatorReport::of("orders", &InvalidatorHealth::default());
    /// assert!(!report.allows_cache && report.lag_ms.is_none());
    /// ```
    pub fn of(name: &str, health: &InvalidatorHealth) -> InvalidatorReport {
        let ms = |d: Duration| d.as_millis() as u64;
        InvalidatorReport {
            name: name.to_owned(),
            healthy: health.is_healthy(),
            allows_cache: health.allows_cache(),
            lag_ms: health.lag().map(ms),
            max_lag_ms: ms(health.max_lag()),
            caught_up_at_ms: health
                .caught_up_at()
                .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
                .map(ms),
        }
    }
}

/// The near cache's figures (see [`NearStats`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NearReport {
    /// Whether it serves now.
    pub healthy: bool,
    /// Entries held.
    pub entries: u64,
    /// Bytes charged.
    pub bytes: u64,
    /// Entries revalidated remotely past `max_staleness`.
    pub revalidations: u64,
    /// Times it was dropped whole.
    pub flushes: u64,
    /// Values too large to keep.
    pub too_large: u64,
    /// Invalidation messages received and published, publications failed, gaps seen.
    pub messages_received: u64,
    /// Invalidation messages published.
    pub messages_published: u64,
    /// Publications that failed.
    pub publish_failures: u64,
    /// Gaps seen on the subscription.
    pub gaps: u64,
}

impl From<NearStats> for NearReport {
    fn from(s: NearStats) -> NearReport {
        NearReport {
            healthy: s.healthy,
            entries: s.entries,
            bytes: s.bytes,
            revalidations: s.revalidations,
            flushes: s.flushes,
            too_large: s.too_large,
            messages_received: s.messages_received,
            messages_published: s.messages_published,
            publish_failures: s.publish_failures,
            gaps: s.gaps,
        }
    }
}

/// What a cache keeps for its report: the shapes and the invalidations.
#[derive(Debug)]
pub(crate) struct Reporting {
    pub shapes: QueryShapes,
    pub invalidations: InvalidationLog,
    pub since_ms: u64,
}

impl Reporting {
    /// Reporting on at most `max` shapes.
    pub(crate) fn new(max: usize) -> Reporting {
        Reporting {
            shapes: QueryShapes::new(max),
            invalidations: InvalidationLog::default(),
            since_ms: now_ms(),
        }
    }

    /// The report now.
    pub(crate) fn report(
        &self,
        near: Option<NearStats>,
        invalidators: Vec<InvalidatorReport>,
    ) -> CacheReport {
        let (tracked, untracked) = self.shapes.snapshot();
        let mut totals = untracked.clone();
        let mut queries: Vec<QueryReport> = tracked
            .iter()
            .map(|t| {
                let figures = t.counters.figures();
                totals.add(&figures);
                let info = &t.info;
                let last_load = t
                    .counters
                    .last_load_ms
                    .load(std::sync::atomic::Ordering::Relaxed);
                QueryReport {
                    fingerprint: info.fingerprint.clone(),
                    operation: info.operation.as_str().to_owned(),
                    table: info
                        .label
                        .split('@')
                        .next()
                        .unwrap_or(&info.label)
                        .to_owned(),
                    label: info.label.clone(),
                    sql: info.sql.clone(),
                    tables: info.tables.clone(),
                    figures,
                    last_invalidation: self.invalidations.last_of(&info.tables),
                    last_load_ms: (last_load > 0).then_some(last_load),
                }
            })
            .collect();
        queries.sort_by(|a, b| {
            (b.figures.saved_us, b.figures.database_us, b.figures.reads)
                .cmp(&(a.figures.saved_us, a.figures.database_us, a.figures.reads))
                .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        CacheReport {
            generated_at_ms: now_ms(),
            since_ms: self.since_ms,
            max_queries: self.shapes.max(),
            queries,
            untracked,
            totals,
            last_invalidation_of_everything: self.invalidations.everything(),
            invalidators,
            near: near.map(NearReport::from),
        }
    }
}
