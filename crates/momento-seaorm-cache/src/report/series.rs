//! Per-shape series through the [`metrics`] facade, labelled by a bounded fingerprint.
//!
//! * `momento_seaorm_cache_query_reads_total{query, operation, table, status}` — reads by how
//!   they were served (`hit`, `near_hit`, `miss`, `stale`, `bypass`, `error`).
//! * `momento_seaorm_cache_query_database_seconds{query, operation, table}` — a histogram of
//!   the database queries run for the shape (its sum and count give the mean miss time).
//! * `momento_seaorm_cache_query_stored_bytes_total{query, operation, table}` — bytes stored.
//!
//! `query` is the shape's 8-hex-digit fingerprint (the same in every process and release), and
//! at most `max_queries` distinct fingerprints are ever exported by one cache: later shapes
//! share the labels `query="other"`, `operation="other"`, `table="other"`, so the number of
//! series stays bounded whatever SQL the application runs. The handles are registered when a
//! shape is first seen, with the recorder installed then: install it before the first read.

use std::time::Duration;

use metrics::{Counter, Histogram};

use crate::status::CacheStatus;

/// The metric handles of one shape (no-ops when no recorder was installed).
#[derive(Debug)]
pub(crate) struct Series {
    hits: Counter,
    near_hits: Counter,
    misses: Counter,
    stale: Counter,
    bypasses: Counter,
    errors: Counter,
    database: Histogram,
    stored: Counter,
}

/// The labels of a shape's series.
pub(crate) struct SeriesLabels {
    pub query: String,
    pub operation: String,
    pub table: String,
}

impl SeriesLabels {
    /// The labels every shape past the bound shares.
    pub(crate) fn other() -> SeriesLabels {
        let other = || "other".to_owned();
        SeriesLabels {
            query: other(),
            operation: other(),
            table: other(),
        }
    }
}

impl Default for Series {
    fn default() -> Series {
        Series {
            hits: Counter::noop(),
            near_hits: Counter::noop(),
            misses: Counter::noop(),
            stale: Counter::noop(),
            bypasses: Counter::noop(),
            errors: Counter::noop(),
            database: Histogram::noop(),
            stored: Counter::noop(),
        }
    }
}

impl Series {
    /// Registers a shape's series with the recorder installed now.
    pub(crate) fn register(labels: SeriesLabels) -> Series {
        let SeriesLabels {
            query,
            operation,
            table,
        } = labels;
        let reads = |status: &'static str| {
            metrics::counter!(
                "momento_seaorm_cache_query_reads_total",
                "query" => query.clone(),
                "operation" => operation.clone(),
                "table" => table.clone(),
                "status" => status
            )
        };
        Series {
            hits: reads("hit"),
            near_hits: reads("near_hit"),
            misses: reads("miss"),
            stale: reads("stale"),
            bypasses: reads("bypass"),
            errors: reads("error"),
            database: metrics::histogram!(
                "momento_seaorm_cache_query_database_seconds",
                "query" => query.clone(),
                "operation" => operation.clone(),
                "table" => table.clone()
            ),
            stored: metrics::counter!(
                "momento_seaorm_cache_query_stored_bytes_total",
                "query" => query,
                "operation" => operation,
                "table" => table
            ),
        }
    }

    pub(crate) fn read(&self, status: Option<CacheStatus>) {
        let counter = match status {
            Some(CacheStatus::Hit) => &self.hits,
            Some(CacheStatus::NearHit) => &self.near_hits,
            Some(CacheStatus::Miss) => &self.misses,
            Some(CacheStatus::Stale) => &self.stale,
            Some(CacheStatus::Bypass) => &self.bypasses,
            None => &self.errors,
        };
        counter.increment(1);
    }

    pub(crate) fn loaded(&self, took: Duration) {
        self.database.record(took.as_secs_f64());
    }

    pub(crate) fn stored(&self, bytes: usize) {
        self.stored.increment(bytes as u64);
    }
}
