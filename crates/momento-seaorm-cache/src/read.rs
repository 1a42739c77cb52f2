//! The read-through path every cached read takes.
//!
//! ```text
//! bypass (transaction) ─────────────────────────────────────────────► database
//! breaker open ─────────────────────────────────────────────────────► database (no cache call)
//! one flight per key ─► get (deadline) ─► hit ─► decode ─► caller    (stale: + background refresh)
//!                                      └► miss/garbage/fault ─► [lease] ─► database ─► encode ─► set
//! ```
//! Cache faults, timeouts and undecodable values are logged, counted and fall through to the
//! database; only the database can make a read fail.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sea_orm::DbErr;
use serde::de::DeserializeOwned;
use tracing::{debug, warn, Instrument};

use crate::breaker::{Admission, BreakerState};
use crate::cache::{CacheLookup, CacheStatus, ModelCache};
use crate::codec::{self, Header, SerdeFormat, ValueMeta};
use crate::connection::CacheableConnection;
use crate::error::DecodeError;
use crate::error::{CacheFault, FaultKind};
use crate::flight::Landing;
use crate::invalidate::{self, Consistency, GenerationKeys};
use crate::key::{CacheKey, Operation};
use crate::lease::LeaseOutcome;
use crate::load::Loader;
use crate::metrics::ReadOutcome;

/// What one cached read is: built by `wrap` and `.cached()`, consumed by `read_through`.
pub(crate) struct ReadPlan<'a> {
    pub operation: Operation,
    pub table: &'a str,
    /// `None` bypasses the cache.
    pub key: Option<CacheKey>,
    /// Per-wrap or per-query TTL.
    pub ttl: Option<Duration>,
    /// Stale-while-revalidate window.
    pub stale: Option<Duration>,
    /// Overrides the cache's serde format (JSON for `serde_json::Value` rows).
    pub format: Option<SerdeFormat>,
    /// The generation keys of the tables the read depends on, for invalidation; `None` with
    /// `Consistency::TtlOnly`.
    pub generations: Option<GenerationKeys>,
}

/// What a lookup that could not serve learned: whether to store what gets loaded (not after a
/// fault), and the generation stamp to store it with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Missed {
    store: bool,
    stamp: Option<u64>,
}

/// What a stored value turned out to be for a read that saw generations `stamp`.
enum Found<T> {
    /// Written under the current generations (or none are checked); decoded.
    Current(T, ValueMeta),
    /// Written before a write to one of its tables; its body was not decoded.
    Outdated,
    /// Not a value this reader can decode.
    Undecodable(DecodeError),
}

/// Judges `bytes` by their header first and decodes the body only when they are current.
fn examine<T: DeserializeOwned>(bytes: &[u8], stamp: Option<u64>) -> Found<T> {
    let header = match Header::parse(bytes) {
        Ok(header) => header,
        Err(error) => return Found::Undecodable(error),
    };
    if stamp.is_some() && header.meta.stamp != stamp {
        return Found::Outdated;
    }
    match header.decode(bytes) {
        Ok(value) => Found::Current(value, header.meta),
        Err(error) => Found::Undecodable(error),
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl ModelCache {
    /// Serves `plan` from the cache, or runs `loader` on `db` and stores its result.
    pub(crate) async fn read_through<L, C>(
        &self,
        plan: ReadPlan<'_>,
        db: &C,
        loader: L,
    ) -> Result<CacheLookup<L::Output>, DbErr>
    where
        L: Loader,
        C: CacheableConnection,
    {
        let mut plan = plan;
        let span = tracing::debug_span!(
            "cached_read",
            operation = plan.operation.as_str(),
            table = plan.table,
            key = tracing::field::Empty,
            status = tracing::field::Empty,
            cache_us = 0u64,
            db_us = 0u64,
        );
        async move {
            let Some(key) = plan.key.take() else {
                let value = self.load(db, loader).await?;
                return Ok(self.finish(value, CacheStatus::Bypass, None, ReadOutcome::Bypass));
            };
            tracing::Span::current().record("key", key.as_str());
            let admission = match &self.shared.breaker {
                Some(breaker) => breaker.admit(),
                None => Admission::Use,
            };
            if admission == Admission::Skip {
                let value = self.load(db, loader).await?;
                let outcome = ReadOutcome::BreakerSkip;
                return Ok(self.finish(value, CacheStatus::Miss, Some(key), outcome));
            }
            if !self.shared.single_flight {
                return self.lead(&key, &plan, admission, db, loader).await.0;
            }
            // Each caller looks the cache up itself (checking generations when there are any);
            // only a miss joins a flight, shared with callers that saw the same generations,
            // so none takes a value older than a write it follows.
            match self.look(&key, &plan, admission, db, loader).await {
                Ok((mut lookup, _)) => {
                    lookup.key = Some(key);
                    Ok(lookup)
                }
                Err((loader, missed)) if !missed.store => {
                    // The cache faulted: no generations to share a load under.
                    self.fill(&key, &plan, admission, db, loader, missed)
                        .await
                        .0
                }
                Err((loader, missed)) => {
                    let flight = format!("{}\u{0}{:x}", key.as_str(), missed.stamp.unwrap_or(0));
                    self.read_in_flight(flight, key, &plan, admission, db, loader, missed)
                        .await
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Joins `flight` after a miss: leads the load, or takes the leader's value.
    #[allow(clippy::too_many_arguments)]
    async fn read_in_flight<L, C>(
        &self,
        flight: String,
        key: CacheKey,
        plan: &ReadPlan<'_>,
        admission: Admission,
        db: &C,
        loader: L,
        missed: Missed,
    ) -> Result<CacheLookup<L::Output>, DbErr>
    where
        L: Loader,
        C: CacheableConnection,
    {
        let mut loader = Some(loader);
        let mut led = None;
        let (landing, _) = self
            .shared
            .flights
            .run(&flight, || async {
                let Some(loader) = loader.take() else {
                    return Landing::Nothing;
                };
                let (result, landing) = self.fill(&key, plan, admission, db, loader, missed).await;
                led = Some(result);
                landing
            })
            .await;
        if let Some(result) = led {
            return result;
        }
        let (bytes, outcome) = match landing {
            Landing::Hit(bytes) => (Some(bytes), ReadOutcome::Hit),
            Landing::Loaded(bytes, _) => (Some(bytes), ReadOutcome::Miss),
            Landing::Nothing => (None, ReadOutcome::Miss),
        };
        if let Some(Ok((value, meta))) = bytes.map(|b| codec::decode_with_meta::<L::Output>(&b)) {
            let (status, outcome) = match outcome {
                ReadOutcome::Hit if meta.fresh_until_ms.is_some_and(|until| now_ms() > until) => {
                    (CacheStatus::Stale, ReadOutcome::Stale)
                }
                ReadOutcome::Hit => (CacheStatus::Hit, ReadOutcome::Hit),
                _ => (CacheStatus::Miss, ReadOutcome::Miss),
            };
            return Ok(self.finish(value, status, Some(key), outcome));
        }
        let loader = loader.take().expect("a waiter keeps its loader");
        let value = self.load(db, loader).await?;
        Ok(self.finish(value, CacheStatus::Miss, Some(key), ReadOutcome::Miss))
    }

    /// Reads the cache and, when it cannot answer, the database; stores what it loaded.
    /// Returns the caller's result and what waiters on the same key may take.
    async fn lead<L, C>(
        &self,
        key: &CacheKey,
        plan: &ReadPlan<'_>,
        admission: Admission,
        db: &C,
        loader: L,
    ) -> (Result<CacheLookup<L::Output>, DbErr>, Landing)
    where
        L: Loader,
        C: CacheableConnection,
    {
        match self.look(key, plan, admission, db, loader).await {
            Ok((mut lookup, bytes)) => {
                lookup.key = Some(key.clone());
                (Ok(lookup), Landing::Hit(bytes))
            }
            Err((loader, missed)) => self.fill(key, plan, admission, db, loader, missed).await,
        }
    }

    /// Looks the value up: serves it (a hit, or a stale value while one refresh starts; the
    /// caller sets the lookup's key), or gives the loader back with what the lookup learned.
    #[allow(clippy::type_complexity)]
    async fn look<L, C>(
        &self,
        key: &CacheKey,
        plan: &ReadPlan<'_>,
        admission: Admission,
        db: &C,
        loader: L,
    ) -> Result<(CacheLookup<L::Output>, Bytes), (L, Missed)>
    where
        L: Loader,
        C: CacheableConnection,
    {
        let started = Instant::now();
        let (got, stamp) = self.fetch(key, plan, admission).await;
        record_cache_us(started.elapsed());
        let store = got.is_ok();
        if let Ok(Some(bytes)) = got {
            match examine::<L::Output>(&bytes, stamp) {
                Found::Outdated => {
                    self.shared.counters.invalidated();
                    debug!(
                        key = key.as_str(),
                        "cached value predates a write to its tables; reloading"
                    );
                }
                Found::Current(value, meta) => {
                    let stale = meta.fresh_until_ms.is_some_and(|until| now_ms() > until);
                    if let Some(until) = meta.fresh_until_ms.filter(|_| stale) {
                        self.refresh_in_background(key, plan, stamp, until, db, loader);
                        let outcome = ReadOutcome::Stale;
                        let lookup = self.finish(value, CacheStatus::Stale, None, outcome);
                        return Ok((lookup, bytes));
                    }
                    let lookup = self.finish(value, CacheStatus::Hit, None, ReadOutcome::Hit);
                    return Ok((lookup, bytes));
                }
                Found::Undecodable(error) => {
                    self.shared.counters.decode_failure();
                    warn!(key = key.as_str(), %error, "cached value does not decode; treating it as a miss and overwriting it");
                }
            }
        }
        Err((loader, Missed { store, stamp }))
    }

    /// Looks the value up once more; only a current, fresh value counts.
    async fn recheck<T: DeserializeOwned>(
        &self,
        key: &CacheKey,
        plan: &ReadPlan<'_>,
        admission: Admission,
    ) -> Option<(CacheLookup<T>, Bytes)> {
        let (got, stamp) = self.fetch(key, plan, admission).await;
        let bytes = got.ok().flatten()?;
        let Found::Current(value, meta) = examine::<T>(&bytes, stamp) else {
            return None;
        };
        let fresh = meta.fresh_until_ms.is_none_or(|until| now_ms() <= until);
        fresh.then(|| {
            let lookup = self.finish(value, CacheStatus::Hit, Some(key.clone()), ReadOutcome::Hit);
            (lookup, bytes)
        })
    }

    /// After a miss: takes the lease if configured, loads from the database, stores.
    async fn fill<L, C>(
        &self,
        key: &CacheKey,
        plan: &ReadPlan<'_>,
        admission: Admission,
        db: &C,
        loader: L,
        missed: Missed,
    ) -> (Result<CacheLookup<L::Output>, DbErr>, Landing)
    where
        L: Loader,
        C: CacheableConnection,
    {
        let Missed { store, stamp } = missed;
        if store && self.shared.flights.landed_recently(key.as_str()) {
            // A flight stored this key a moment ago, perhaps after this caller looked: look
            // again before querying.
            if let Some((lookup, bytes)) = self.recheck::<L::Output>(key, plan, admission).await {
                return (Ok(lookup), Landing::Hit(bytes));
            }
        }
        let lease = match (store, self.shared.lease) {
            (true, Some(lease)) => match self.take_lease(key, lease, admission).await {
                LeaseOutcome::Acquired => true,
                LeaseOutcome::Absent => false,
                LeaseOutcome::ValueAppeared(bytes) => {
                    if let Found::Current(value, _) = examine::<L::Output>(&bytes, stamp) {
                        let lookup = self.finish(
                            value,
                            CacheStatus::Hit,
                            Some(key.clone()),
                            ReadOutcome::Hit,
                        );
                        return (Ok(lookup), Landing::Hit(bytes));
                    }
                    false
                }
            },
            _ => false,
        };
        let loaded = self.load(db, loader).await;
        let value = match loaded {
            Ok(value) => value,
            Err(error) => {
                if lease {
                    self.release_lease(key).await;
                }
                return (Err(error), Landing::Nothing);
            }
        };
        let landing = self.keep(key, plan, &value, stamp, store).await;
        if lease {
            self.release_lease(key).await;
        }
        let lookup = self.finish(
            value,
            CacheStatus::Miss,
            Some(key.clone()),
            ReadOutcome::Miss,
        );
        (Ok(lookup), landing)
    }

    /// Reads the value and, when the read tracks tables, the stamp of their current
    /// generations: in strict mode in the same batch call, in bounded mode from the in-process
    /// copy when it holds them all.
    async fn fetch(
        &self,
        key: &CacheKey,
        plan: &ReadPlan<'_>,
        admission: Admission,
    ) -> (Result<Option<Bytes>, ()>, Option<u64>) {
        let Some(generation_keys) = &plan.generations else {
            let got = self.guarded(admission, "get", key, self.backend().get(key.as_str()));
            return (got.await, None);
        };
        let bounded = matches!(self.shared.consistency, Consistency::Bounded(_));
        if bounded {
            if let Some(generations) = self.local_generations(generation_keys) {
                let got = self.guarded(admission, "get", key, self.backend().get(key.as_str()));
                return (got.await, Some(invalidate::stamp(generations)));
            }
        }
        let mut keys: Vec<&str> = Vec::with_capacity(generation_keys.len() + 1);
        keys.push(key.as_str());
        keys.extend(generation_keys.iter().map(String::as_str));
        let batch = self.guarded(admission, "get", key, self.backend().get_many(&keys));
        match batch.await {
            Ok(mut values) if values.len() == keys.len() => {
                let generations = values[1..]
                    .iter()
                    .map(|v| invalidate::parse_generation(v.as_ref()));
                let stamp = if bounded {
                    let generations: Vec<u64> = generations.collect();
                    self.remember_generations(generation_keys, &generations);
                    invalidate::stamp(generations)
                } else {
                    invalidate::stamp(generations)
                };
                (Ok(values.swap_remove(0)), Some(stamp))
            }
            Ok(_) => (Err(()), None),
            Err(()) => (Err(()), None),
        }
    }

    /// Runs a loader, counting and timing it.
    pub(crate) async fn load<L: Loader, C: CacheableConnection>(
        &self,
        db: &C,
        loader: L,
    ) -> Result<L::Output, DbErr> {
        let started = Instant::now();
        let result = loader.load(db).await;
        let took = started.elapsed();
        self.shared.counters.database_load(took);
        tracing::Span::current().record("db_us", took.as_micros() as u64);
        result
    }

    /// Records the outcome and wraps the value.
    fn finish<T>(
        &self,
        value: T,
        status: CacheStatus,
        key: Option<CacheKey>,
        outcome: ReadOutcome,
    ) -> CacheLookup<T> {
        self.shared.counters.read(outcome);
        tracing::Span::current().record("status", status.as_str());
        debug!(status = status.as_str(), "cached read");
        CacheLookup { value, status, key }
    }

    /// Runs one cache call under the deadline; faults are logged, counted and fed to the
    /// breaker. `Err(())` means the cache could not answer.
    pub(crate) async fn guarded<T>(
        &self,
        admission: Admission,
        call: &'static str,
        key: &CacheKey,
        future: impl Future<Output = Result<T, CacheFault>>,
    ) -> Result<T, ()> {
        let started = Instant::now();
        let timeout = self.shared.timeout;
        let result = match tokio::time::timeout(timeout, future).await {
            Ok(result) => result,
            Err(_) => Err(CacheFault::new(
                FaultKind::Timeout,
                format!("no answer within {} ms", timeout.as_millis()),
            )),
        };
        self.shared.counters.cache_call(started.elapsed());
        let breaker = self.shared.breaker.as_ref();
        match result {
            Ok(value) => {
                if let Some(breaker) = breaker {
                    breaker.record_success(admission);
                    if admission == Admission::Probe {
                        self.shared
                            .counters
                            .breaker_changed(BreakerState::Closed, false);
                    }
                }
                Ok(value)
            }
            Err(fault) => {
                self.shared.counters.fault(fault.kind);
                warn!(
                    key = key.as_str(), backend = self.backend().name(), kind = %fault.kind, %fault,
                    "cache {call} failed; reading from the database"
                );
                if let Some(breaker) = breaker {
                    if breaker.record_fault(admission) {
                        self.shared
                            .counters
                            .breaker_changed(BreakerState::Open, true);
                    }
                }
                Err(())
            }
        }
    }
}

fn record_cache_us(took: Duration) {
    tracing::Span::current().record("cache_us", took.as_micros() as u64);
}
