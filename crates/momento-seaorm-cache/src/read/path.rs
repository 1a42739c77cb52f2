//! The parts a read uses ([`ReadPath`]), what one read is ([`ReadPlan`]), and one read in
//! progress ([`Reading`]): the values every step of a read needs, carried together.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::DbErr;
use tracing::debug;

use crate::breaker::Admission;
use crate::connection::CacheableConnection;
use crate::flight::Flights;
use crate::generations::{GenerationKeys, Generations};
use crate::guarded::GuardedBackend;
use crate::key::{CacheKey, KeyFormat, Operation};
use crate::load::Loader;
use crate::metrics::{Counters, ReadOutcome};
use crate::near::Near;
use crate::policy::{StoreOptions, StoringPolicy};
use crate::status::{CacheStatus, ReadResult};

use super::pending::PendingStores;

/// The parts below the read path, and its own settings.
#[derive(Debug)]
pub(crate) struct ReadPath {
    pub backend: Arc<GuardedBackend>,
    pub generations: Arc<Generations>,
    pub policy: StoringPolicy,
    pub keys: KeyFormat,
    /// One load per key in this process; `None` when single flight is off.
    pub flights: Option<Flights>,
    /// Cross-process load leases.
    pub lease: Option<Duration>,
    pub background_writes: bool,
    /// Background stores not landed yet, which explicit deletes wait for.
    pub pending: Arc<PendingStores>,
    /// Stale values (key, fresh-until) whose refresh this process has started recently.
    pub refreshing: moka::sync::Cache<(CacheKey, u64), ()>,
    /// Serializes claims on `refreshing`.
    pub claiming: std::sync::Mutex<()>,
    pub counters: Arc<Counters>,
    /// The near cache in front of the backend, if configured.
    pub near: Option<Arc<Near>>,
}

/// What one cached read is: made by the front ends, consumed by [`ReadPath::read`].
#[derive(Debug)]
pub(crate) struct ReadPlan<'a> {
    pub operation: Operation,
    /// The key's table segment, for logs.
    pub label: &'a str,
    /// `None` bypasses the cache.
    pub key: Option<CacheKey>,
    /// The generation keys the read depends on; `None` with `Consistency::TtlOnly`.
    pub depends_on: Option<GenerationKeys>,
    pub options: StoreOptions,
}

/// One read in progress past the bypass and the breaker.
pub(super) struct Reading<'r, C> {
    pub path: &'r Arc<ReadPath>,
    pub key: CacheKey,
    pub depends_on: Option<GenerationKeys>,
    pub options: StoreOptions,
    pub admission: Admission,
    pub db: &'r C,
    /// When this read's lookup started.
    pub started: Instant,
    /// Read the generations from the backend even in `Consistency::Bounded` (a near cache
    /// keeps what this lookup finds, for up to `max_staleness` from now).
    pub remote_generations: bool,
}

impl ReadPath {
    /// Waits until the background stores of `keys` that started before this call have landed,
    /// so a delete that follows is not undone by one of them.
    pub(crate) async fn stores_landed(&self, keys: &[CacheKey]) {
        for key in keys {
            self.pending.landed(key).await;
        }
    }

    /// Runs a loader, counting and timing it.
    pub(super) async fn load<L: Loader, C: sea_orm::ConnectionTrait>(
        &self,
        db: &C,
        loader: L,
    ) -> Result<L::Output, DbErr> {
        let started = Instant::now();
        let result = loader.load(db).await;
        let took = started.elapsed();
        self.counters.database_load(took);
        tracing::Span::current().record("db_us", took.as_micros() as u64);
        result
    }

    /// Records the outcome and wraps the value.
    pub(super) fn finish<T>(
        &self,
        value: T,
        status: CacheStatus,
        key: Option<CacheKey>,
        outcome: ReadOutcome,
    ) -> ReadResult<T> {
        self.counters.read(outcome);
        tracing::Span::current().record("status", status.as_str());
        debug!(status = status.as_str(), "cached read");
        ReadResult { value, status, key }
    }
}

impl<C: CacheableConnection> Reading<'_, C> {
    /// A result under this read's key.
    pub(super) fn finish<T>(&self, value: T, status: CacheStatus) -> ReadResult<T> {
        let mut result = self.finish_unkeyed(value, status);
        result.key = Some(self.key.clone());
        result
    }

    /// A result whose key the caller sets (the hit path moves the key in rather than copy it).
    pub(super) fn finish_unkeyed<T>(&self, value: T, status: CacheStatus) -> ReadResult<T> {
        let outcome = match status {
            CacheStatus::Hit => ReadOutcome::Hit,
            CacheStatus::NearHit => ReadOutcome::NearHit,
            CacheStatus::Stale => ReadOutcome::Stale,
            CacheStatus::Miss => ReadOutcome::Miss,
            CacheStatus::Bypass => ReadOutcome::Bypass,
        };
        self.path.finish(value, status, None, outcome)
    }
}
