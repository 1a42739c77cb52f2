//! [`InvalidatorHandle`]: a running invalidator's status, health, waits and stop.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::shared::{Shared, Waiting};
use super::{InvalidatorError, InvalidatorState, InvalidatorStatus};
use crate::health::InvalidatorHealth;

/// A running invalidator. Dropping the handle leaves the task running; [`stop`](Self::stop)
/// ends it cleanly, [`abort`](Self::abort) kills it at once.
///
/// ```no_run
/// # async fn run(cache: momento_seaorm_cache::ModelCache) -> Result<(), Box<dyn std::error::Error>> {
/// let handle = momento_seaorm_cache::Invalidator::postgres("postgres://localhost/app", &cache)
///     .start()
///     .await?;
/// // ... a write made elsewhere ...
/// let waited = handle.caught_up_to_now().await?; // every commit before this call is invalidated
/// println!("caught up in {waited:?}; lag {:?}", handle.status().lag);
/// handle.stop().await;
/// # Ok(()) }
/// ```
pub struct InvalidatorHandle {
    pub(super) shared: Arc<Shared>,
    pub(super) task: JoinHandle<()>,
    pub(super) stop: watch::Sender<bool>,
}

impl std::fmt::Debug for InvalidatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvalidatorHandle")
            .field("name", &self.shared.name)
            .field("status", &*self.shared.status.borrow())
            .finish()
    }
}

impl InvalidatorHandle {
    /// A snapshot: state, lag, position, counters, last error.
    ///
    /// ```no_run
    /// # fn run(handle: momento_seaorm_cache::InvalidatorHandle) {
    /// let status = handle.status();
    /// println!("{:?} {:?} behind, at {:?}", status.state, status.lag, status.position);
    /// # }
    /// ```
    pub fn status(&self) -> InvalidatorStatus {
        let mut status = self.shared.status.borrow().clone();
        status.lag = self.shared.health.lag();
        if self.task.is_finished() && status.state != InvalidatorState::Stopped {
            status.state = InvalidatorState::Stopped;
        }
        status
    }

    /// The health it updates (give it to
    /// [`ModelCacheBuilder::bypass_unless_caught_up`](crate::ModelCacheBuilder::bypass_unless_caught_up)).
    ///
    /// ```no_run
    /// # fn run(handle: momento_seaorm_cache::InvalidatorHandle) {
    /// let healthy = handle.health().allows_cache();
    /// # }
    /// ```
    pub fn health(&self) -> InvalidatorHealth {
        self.shared.health.clone()
    }

    /// Waits until every change committed before this call is invalidated, and returns how
    /// long that took. `Err(Stopped)` if the invalidator stops first. Wrap it in a timeout:
    /// a down invalidator makes it wait until it is back.
    ///
    /// ```no_run
    /// # async fn run(handle: momento_seaorm_cache::InvalidatorHandle) -> Result<(), momento_seaorm_cache::InvalidatorError> {
    /// let took = handle.caught_up_to_now().await?;
    /// # Ok(()) }
    /// ```
    pub async fn caught_up_to_now(&self) -> Result<Duration, InvalidatorError> {
        let _waiting = Waiting::new(&self.shared.waiters);
        let asked = SystemTime::now();
        let started = std::time::Instant::now();
        self.shared.probe.notify_one();
        let mut status = self.shared.status.subscribe();
        loop {
            {
                let now = status.borrow_and_update();
                if now.caught_up_as_of.is_some_and(|at| at >= asked)
                    && now.state == InvalidatorState::Healthy
                {
                    return Ok(started.elapsed());
                }
                if now.state == InvalidatorState::Stopped || self.task.is_finished() {
                    return Err(InvalidatorError::Stopped);
                }
            }
            tokio::select! {
                changed = status.changed() => {
                    if changed.is_err() {
                        return Err(InvalidatorError::Stopped);
                    }
                }
                // Keep asking: a poll already under way when we asked does not count.
                _ = tokio::time::sleep(Duration::from_millis(5)) => self.shared.probe.notify_one(),
            }
        }
    }

    /// Waits until the invalidator reports itself healthy (caught up after a start, restart
    /// or full invalidation). `Err(Stopped)` if it stops first.
    ///
    /// ```no_run
    /// # async fn run(handle: momento_seaorm_cache::InvalidatorHandle) -> Result<(), momento_seaorm_cache::InvalidatorError> {
    /// handle.healthy().await?;
    /// # Ok(()) }
    /// ```
    pub async fn healthy(&self) -> Result<(), InvalidatorError> {
        let mut status = self.shared.status.subscribe();
        loop {
            {
                let now = status.borrow_and_update();
                if now.state == InvalidatorState::Healthy {
                    return Ok(());
                }
                if now.state == InvalidatorState::Stopped || self.task.is_finished() {
                    return Err(InvalidatorError::Stopped);
                }
            }
            if status.changed().await.is_err() {
                return Err(InvalidatorError::Stopped);
            }
        }
    }

    /// Stops cleanly: the batch under way is finished and its position recorded. The slot
    /// (PostgreSQL) stays, so a later invalidator with the same name resumes where this one
    /// stopped; drop it with
    /// [`Invalidator::drop_postgres_slot`](super::Invalidator::drop_postgres_slot) when
    /// retiring it.
    ///
    /// ```no_run
    /// # async fn run(handle: momento_seaorm_cache::InvalidatorHandle) {
    /// handle.stop().await;
    /// # }
    /// ```
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.shared.probe.notify_one();
        let _ = self.task.await;
    }

    /// Kills the task at once, as a crash would: nothing is finished or recorded. Reads gated
    /// by its health bypass the cache once its lag passes the bound; a new invalidator with
    /// the same name re-delivers what this one had not recorded.
    ///
    /// ```no_run
    /// # fn run(handle: momento_seaorm_cache::InvalidatorHandle) {
    /// handle.abort();
    /// # }
    /// ```
    pub fn abort(self) {
        self.task.abort();
    }
}
