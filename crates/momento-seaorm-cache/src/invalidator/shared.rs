//! What the handle and the running task share: the cache, the health, the status, the stop
//! signal; the bumps (retried until recorded) and the progress reports every source uses; and
//! the supervisor that runs sessions until stopped.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{watch, Notify};
use tracing::{info, warn};

#[cfg(feature = "cdc-mysql")]
use super::mysql;
#[cfg(feature = "cdc-postgres")]
use super::postgres;
use super::{InvalidatorError, InvalidatorState, InvalidatorStatus, Settings, Source};
use crate::cache::ModelCache;
use crate::health::InvalidatorHealth;

/// What the handle and the running task share.
pub(crate) struct Shared {
    pub(crate) cache: ModelCache,
    pub(crate) health: InvalidatorHealth,
    pub(super) status: watch::Sender<InvalidatorStatus>,
    /// Asks the task to look for changes now (a caller waits in `caught_up_to_now`).
    pub(crate) probe: Notify,
    /// Callers waiting in `caught_up_to_now` (PostgreSQL then flushes the WAL at once).
    pub(super) waiters: AtomicUsize,
    pub(super) stop: watch::Receiver<bool>,
    pub(crate) name: String,
}

/// The batch could not be finished because the invalidator is stopping.
#[derive(Debug)]
pub(crate) struct Stopping;

/// Counts a caller of `caught_up_to_now` while it waits.
pub(super) struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    pub(super) fn new(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::AcqRel);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Shared {
    /// Whether someone waits in `caught_up_to_now`.
    #[cfg_attr(not(feature = "cdc-postgres"), allow(dead_code))]
    pub(crate) fn awaited(&self) -> bool {
        self.waiters.load(Ordering::Acquire) > 0
    }

    pub(crate) fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves when a stop is requested.
    pub(crate) async fn stopped(&self) {
        let mut stop = self.stop.clone();
        let _ = stop.wait_for(|s| *s).await;
    }

    /// Sleeps `d`, or less if a stop is requested or someone waits for the position.
    pub(crate) async fn pause(&self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.probe.notified() => {}
            _ = self.stopped() => {}
        }
    }

    /// Gives each of `tables` (names as generations name them: unquoted, lower-cased,
    /// unqualified) a new generation and `#*`, retrying until it is recorded (unhealthy
    /// meanwhile). `Err` only when stopping.
    pub(crate) async fn bump(&self, tables: &BTreeSet<String>) -> Result<(), Stopping> {
        let tables: Vec<String> = tables.iter().cloned().collect();
        self.bump_keys(&self.cache.table_keys(&tables)).await
    }

    /// Gives each generation key (table and row keys, see [`RowBumps`](super::row_bumps))
    /// a new value, retrying until it is recorded (unhealthy meanwhile). `Err` only when
    /// stopping.
    pub(crate) async fn bump_keys(&self, keys: &[String]) -> Result<(), Stopping> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut wait = Duration::from_millis(20);
        loop {
            if self.cache.try_invalidate_keys(keys).await {
                return Ok(());
            }
            self.cache_failed("could not record the invalidation of changed rows and tables");
            if self.stopping() {
                return Err(Stopping);
            }
            self.pause(wait).await;
            wait = (wait * 2).min(Duration::from_secs(1));
        }
    }

    /// Invalidates everything, retrying until it is recorded. `Err` only when stopping.
    pub(crate) async fn bump_all(&self, why: &str) -> Result<(), Stopping> {
        warn!(invalidator = %self.name, why, "invalidating every cached read");
        let mut wait = Duration::from_millis(20);
        loop {
            if self.cache.try_invalidate_all().await {
                metrics::counter!("momento_seaorm_cache_cdc_full_invalidations_total",
                    "invalidator" => self.name.clone())
                .increment(1);
                self.status.send_modify(|s| s.full_invalidations += 1);
                return Ok(());
            }
            self.cache_failed("could not record a full invalidation");
            if self.stopping() {
                return Err(Stopping);
            }
            self.pause(wait).await;
            wait = (wait * 2).min(Duration::from_secs(1));
        }
    }

    fn cache_failed(&self, what: &str) {
        self.health.set_healthy(false);
        metrics::gauge!("momento_seaorm_cache_cdc_healthy", "invalidator" => self.name.clone())
            .set(0.0);
        self.status.send_modify(|s| {
            s.state = InvalidatorState::Down;
            s.last_error = Some(format!("{what}: the cache did not answer; retrying"));
        });
    }

    /// Counts invalidated transactions and records their commit-to-invalidation lag.
    pub(crate) fn transactions_done(&self, count: u64, commit_lags: &[Duration]) {
        if count == 0 {
            return;
        }
        let name = self.name.clone();
        metrics::counter!("momento_seaorm_cache_cdc_transactions_total", "invalidator" => name.clone())
            .increment(count);
        let histogram = metrics::histogram!(
            "momento_seaorm_cache_cdc_commit_to_invalidation_seconds",
            "invalidator" => name
        );
        for lag in commit_lags {
            histogram.record(lag.as_secs_f64());
        }
        self.status.send_modify(|s| s.transactions += count);
    }

    /// Every change committed before `as_of` is invalidated and `position` is recorded.
    pub(crate) fn caught_up(&self, as_of: SystemTime, position: String) {
        self.health.caught_up_as_of(as_of);
        self.health.set_healthy(true);
        let lag = self.health.lag().unwrap_or_default();
        let name = self.name.clone();
        metrics::gauge!("momento_seaorm_cache_cdc_lag_seconds", "invalidator" => name.clone())
            .set(lag.as_secs_f64());
        metrics::gauge!("momento_seaorm_cache_cdc_healthy", "invalidator" => name).set(1.0);
        self.status.send_modify(|s| {
            if s.state != InvalidatorState::Healthy {
                info!(invalidator = %self.name, position, "change capture caught up");
            }
            s.state = InvalidatorState::Healthy;
            s.caught_up_as_of = self.health.caught_up_at();
            s.position = Some(position);
        });
    }

    /// The session ended with `error`: unhealthy, retried.
    fn failed(&self, error: &InvalidatorError) {
        self.health.set_healthy(false);
        let name = self.name.clone();
        metrics::gauge!("momento_seaorm_cache_cdc_healthy", "invalidator" => name.clone()).set(0.0);
        metrics::counter!("momento_seaorm_cache_cdc_errors_total", "invalidator" => name)
            .increment(1);
        warn!(invalidator = %self.name, %error, "change capture failed; retrying");
        self.status.send_modify(|s| {
            s.state = InvalidatorState::Down;
            s.last_error = Some(error.to_string());
            s.restarts += 1;
        });
    }

    fn set_state(&self, state: InvalidatorState) {
        self.status.send_modify(|s| s.state = state);
    }
}

/// Runs sessions until stopped, restarting after a failure with backoff.
pub(super) async fn supervise(
    shared: Arc<Shared>,
    source: Source,
    settings: Settings,
    name_ok: Result<(), InvalidatorError>,
) {
    if let Err(e) = name_ok {
        shared.failed(&e);
        shared.set_state(InvalidatorState::Stopped);
        return;
    }
    let mut wait = Duration::from_millis(100);
    while !shared.stopping() {
        shared.health.set_healthy(false);
        shared.set_state(InvalidatorState::Starting);
        let before = shared.status.borrow().transactions;
        let result = match source {
            #[cfg(feature = "cdc-postgres")]
            Source::Postgres => postgres::session(&shared, &settings).await,
            #[cfg(feature = "cdc-mysql")]
            Source::MySql => mysql::session(&shared, &settings).await,
        };
        match result {
            Ok(()) => break,
            Err(e) => {
                shared.failed(&e);
                if shared.status.borrow().transactions > before {
                    wait = Duration::from_millis(100);
                }
                shared.pause(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
    shared.health.set_healthy(false);
    shared.set_state(InvalidatorState::Stopped);
}
