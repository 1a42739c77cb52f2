//! Counters and timings: exported through the [`metrics`](https://docs.rs/metrics) facade and
//! kept in-process for [`ModelCache::stats`](crate::ModelCache::stats).
//!
//! Exported names (install any `metrics` recorder to collect them):
//! * `momento_seaorm_cache_reads_total{status="hit|near_hit|miss|bypass|stale|skipped"}`
//! * `momento_seaorm_cache_faults_total{kind="timeout|unavailable|limit_exceeded|..."}`
//! * `momento_seaorm_cache_oversize_skips_total`, `momento_seaorm_cache_decode_failures_total`,
//!   `momento_seaorm_cache_database_loads_total`, `momento_seaorm_cache_breaker_opens_total`
//! * `momento_seaorm_cache_breaker_open` (gauge: 1 open or half-open, 0 closed)
//! * `momento_seaorm_cache_cache_seconds`, `momento_seaorm_cache_database_seconds` (histograms)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::breaker::BreakerState;
use crate::error::FaultKind;

/// A snapshot of a cache's counters since it was built; from [`ModelCache::stats`](crate::ModelCache::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reads served from the (remote) cache.
    pub hits: u64,
    /// Reads served from the near cache, in process memory (not counted in `hits`).
    pub near_hits: u64,
    /// Reads that went to the database after a cache lookup.
    pub misses: u64,
    /// Reads that bypassed the cache (transactions).
    pub bypasses: u64,
    /// Reads served a stale value while it was refreshed.
    pub stale_serves: u64,
    /// Reads that skipped the cache because the circuit breaker was open.
    pub breaker_skips: u64,
    /// Database queries run by the cache (misses, refreshes; one per flight).
    pub database_loads: u64,
    /// Cache faults of every kind.
    pub faults: u64,
    /// Cache calls that exceeded the deadline.
    pub timeouts: u64,
    /// Results not stored because they exceed the backend's item limit.
    pub oversize_skips: u64,
    /// Stored values that did not decode (treated as misses).
    pub decode_failures: u64,
    /// Times the circuit breaker opened.
    pub breaker_opens: u64,
    /// Stored values rejected because a table they were read from was written since.
    pub invalidated: u64,
    /// Invalidations (generation bumps) that could not be recorded when they were made; each
    /// is then owed and retried in the background.
    pub invalidation_failures: u64,
    /// Generations a read found absent (never written, expired or evicted): no stored value
    /// was current for those reads, and the read created the generation before loading.
    pub generations_absent: u64,
    /// Generation keys whose bump this process owes now: its reads of those tables bypass the
    /// cache until the bump is recorded.
    pub owed_invalidations: u64,
    /// The breaker's state now.
    pub breaker_state: Option<BreakerState>,
}

/// The live counters behind [`CacheStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    hits: AtomicU64,
    near_hits: AtomicU64,
    misses: AtomicU64,
    bypasses: AtomicU64,
    stale_serves: AtomicU64,
    breaker_skips: AtomicU64,
    database_loads: AtomicU64,
    faults: AtomicU64,
    timeouts: AtomicU64,
    oversize_skips: AtomicU64,
    decode_failures: AtomicU64,
    breaker_opens: AtomicU64,
    invalidated: AtomicU64,
    invalidation_failures: AtomicU64,
    generations_absent: AtomicU64,
}

/// What a read ended as, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    Hit,
    NearHit,
    Miss,
    Bypass,
    Stale,
    BreakerSkip,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn read(&self, outcome: ReadOutcome) {
        let (counter, status) = match outcome {
            ReadOutcome::Hit => (&self.hits, "hit"),
            ReadOutcome::NearHit => (&self.near_hits, "near_hit"),
            ReadOutcome::Miss => (&self.misses, "miss"),
            ReadOutcome::Bypass => (&self.bypasses, "bypass"),
            ReadOutcome::Stale => (&self.stale_serves, "stale"),
            ReadOutcome::BreakerSkip => (&self.breaker_skips, "skipped"),
        };
        bump(counter);
        metrics::counter!("momento_seaorm_cache_reads_total", "status" => status).increment(1);
    }

    pub(crate) fn fault(&self, kind: FaultKind) {
        bump(&self.faults);
        if kind == FaultKind::Timeout {
            bump(&self.timeouts);
        }
        metrics::counter!("momento_seaorm_cache_faults_total", "kind" => kind.as_str())
            .increment(1);
    }

    pub(crate) fn database_load(&self, took: Duration) {
        bump(&self.database_loads);
        metrics::counter!("momento_seaorm_cache_database_loads_total").increment(1);
        metrics::histogram!("momento_seaorm_cache_database_seconds").record(took.as_secs_f64());
    }

    pub(crate) fn cache_call(&self, took: Duration) {
        metrics::histogram!("momento_seaorm_cache_cache_seconds").record(took.as_secs_f64());
    }

    pub(crate) fn oversize_skip(&self) {
        bump(&self.oversize_skips);
        metrics::counter!("momento_seaorm_cache_oversize_skips_total").increment(1);
    }

    pub(crate) fn decode_failure(&self) {
        bump(&self.decode_failures);
        metrics::counter!("momento_seaorm_cache_decode_failures_total").increment(1);
    }

    pub(crate) fn invalidated(&self) {
        bump(&self.invalidated);
        metrics::counter!("momento_seaorm_cache_invalidated_total").increment(1);
    }

    pub(crate) fn invalidation_failure(&self) {
        bump(&self.invalidation_failures);
        metrics::counter!("momento_seaorm_cache_invalidation_failures_total").increment(1);
    }

    pub(crate) fn generations_absent(&self, count: u64) {
        self.generations_absent.fetch_add(count, Ordering::Relaxed);
        metrics::counter!("momento_seaorm_cache_generations_absent_total").increment(count);
    }

    pub(crate) fn breaker_changed(&self, state: BreakerState, opened: bool) {
        if opened {
            bump(&self.breaker_opens);
            metrics::counter!("momento_seaorm_cache_breaker_opens_total").increment(1);
        }
        let open = if state == BreakerState::Closed {
            0.0
        } else {
            1.0
        };
        metrics::gauge!("momento_seaorm_cache_breaker_open").set(open);
    }

    pub(crate) fn snapshot(
        &self,
        breaker_state: Option<BreakerState>,
        owed_invalidations: u64,
    ) -> CacheStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            hits: get(&self.hits),
            near_hits: get(&self.near_hits),
            misses: get(&self.misses),
            bypasses: get(&self.bypasses),
            stale_serves: get(&self.stale_serves),
            breaker_skips: get(&self.breaker_skips),
            database_loads: get(&self.database_loads),
            faults: get(&self.faults),
            timeouts: get(&self.timeouts),
            oversize_skips: get(&self.oversize_skips),
            decode_failures: get(&self.decode_failures),
            breaker_opens: get(&self.breaker_opens),
            invalidated: get(&self.invalidated),
            invalidation_failures: get(&self.invalidation_failures),
            generations_absent: get(&self.generations_absent),
            owed_invalidations,
            breaker_state,
        }
    }
}
