//! The read path's one entry point: bypass, breaker, lookup, and on a miss one flight per
//! (key, generations seen) in this process, or — when the cache could not answer — one load
//! per key shared by the callers that arrived before it started (`unanswered`).

use std::sync::Arc;

use sea_orm::DbErr;
use tracing::Instrument;

use super::lookup::{is_stale, Missed};
use super::path::{ReadPath, ReadPlan, Reading};
use crate::breaker::Admission;
use crate::codec::Header;
use crate::connection::CacheableConnection;
use crate::flight::{FlightKey, Flights, Landing};
use crate::load::Loader;
use crate::metrics::ReadOutcome;
use crate::status::{CacheStatus, ReadResult};

impl ReadPath {
    /// Serves `plan` from the cache, or runs `loader` on `db` and stores its result.
    pub(crate) async fn read<L, C>(
        self: &Arc<Self>,
        plan: ReadPlan<'_>,
        db: &C,
        loader: L,
    ) -> Result<ReadResult<L::Output>, DbErr>
    where
        L: Loader,
        C: CacheableConnection,
    {
        let span = tracing::debug_span!(
            "cached_read",
            operation = plan.operation.as_str(),
            // The label without its schema fingerprints: the main table.
            table = plan.label.split('@').next().unwrap_or(plan.label),
            key = tracing::field::Empty,
            status = tracing::field::Empty,
            cache_us = 0u64,
            db_us = 0u64,
        );
        self.read_in_span(plan, db, loader).instrument(span).await
    }

    async fn read_in_span<L, C>(
        self: &Arc<Self>,
        plan: ReadPlan<'_>,
        db: &C,
        loader: L,
    ) -> Result<ReadResult<L::Output>, DbErr>
    where
        L: Loader,
        C: CacheableConnection,
    {
        let Some(key) = plan.key else {
            let value = self.load(db, loader).await?;
            return Ok(self.finish(value, CacheStatus::Bypass, None, ReadOutcome::Bypass));
        };
        tracing::Span::current().record("key", key.as_str());
        let depends_on = plan.depends_on.as_deref();
        let (key, ticket) = match self.near_lookup::<L::Output>(key, depends_on) {
            Ok(near_hit) => return Ok(near_hit),
            Err(remote) => remote,
        };
        let admission = self.backend.admit();
        let reading = Reading {
            path: self,
            key,
            depends_on: plan.depends_on,
            options: plan.options,
            admission,
            db,
            started: std::time::Instant::now(),
            remote_generations: ticket.is_some(),
        };
        if admission == Admission::Skip {
            return reading.unanswered(loader, ReadOutcome::BreakerSkip).await;
        }
        // Each caller looks the cache up itself (checking generations when there are any);
        // only a miss joins a flight, shared with callers that saw the same generations, so
        // none takes a value older than a write it follows.
        let (loader, missed) = match reading.look(loader).await {
            Ok((mut served, bytes)) => {
                if served.status == CacheStatus::Hit {
                    self.near_keep(&reading.key, ticket, &bytes);
                }
                served.key = Some(reading.key);
                return Ok(served);
            }
            Err(missed) => missed,
        };
        match &self.flights {
            Some(flights) if missed.store => reading.in_flight(flights, loader, missed).await,
            // The cache faulted: no generations to share a load under, so it is shared only
            // with callers that arrived before it started.
            Some(_) => reading.unanswered(loader, ReadOutcome::Miss).await,
            None => reading.fill(loader, missed).await.0,
        }
    }
}

impl<C: CacheableConnection> Reading<'_, C> {
    /// Joins the flight of this key and the generations seen: leads the load, or takes the
    /// leader's value.
    async fn in_flight<L: Loader>(
        &self,
        flights: &Flights,
        loader: L,
        missed: Missed,
    ) -> Result<ReadResult<L::Output>, DbErr> {
        let flight = FlightKey {
            key: self.key.clone(),
            stamp: missed.stamp(),
        };
        let mut loader = Some(loader);
        let mut led = None;
        let (landing, _) = flights
            .run(&flight, || async {
                let Some(loader) = loader.take() else {
                    return Landing::Nothing;
                };
                let (result, landing) = self.fill(loader, missed).await;
                led = Some(result);
                landing
            })
            .await;
        if let Some(result) = led {
            return result;
        }
        if let Some(served) = self.take_landing::<L::Output>(landing).await {
            return Ok(served);
        }
        let loader = loader.take().expect("a waiter keeps its loader");
        let value = self.path.load(self.db, loader).await?;
        Ok(self.finish(value, CacheStatus::Miss))
    }

    /// Decodes what a flight's leader left; `None` when it left nothing usable.
    async fn take_landing<T>(&self, landing: Landing) -> Option<ReadResult<T>>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        let (bytes, hit) = match landing {
            Landing::Hit(bytes) => (bytes, true),
            Landing::Loaded(bytes, _) => (bytes, false),
            Landing::Nothing => return None,
        };
        let header = Header::parse(&bytes).ok()?;
        let value = header.decode::<T>(&bytes).ok()?;
        let status = match hit {
            true if is_stale(&header.meta) => CacheStatus::Stale,
            true => CacheStatus::Hit,
            false => CacheStatus::Miss,
        };
        Some(self.finish(value, status))
    }
}
