//! [`InvalidatorHealth`]: whether a change-capture invalidator keeps up, shared between the
//! invalidator that updates it and the [`ModelCache`](crate::ModelCache) whose reads consult it.
//!
//! A leaf: it knows nothing of caches or databases. The invalidator records the instant up to
//! which every committed change has been invalidated ("caught up as of"); a read may use the
//! cache only while the invalidator says it is healthy **and** that instant is at most
//! `max_lag` old. A dead invalidator (a crashed or aborted task) records nothing, so its lag
//! grows and reads bypass the cache `max_lag` after its last progress without anyone telling
//! them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far behind a change-capture invalidator may fall before the reads of a
/// [`ModelCache`](crate::ModelCache) built with it bypass the cache (default one second).
pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(1);

/// Shared health of one change-capture invalidator: cheap to clone, lock-free to read.
///
/// Give one to [`ModelCacheBuilder::bypass_unless_caught_up`](crate::ModelCacheBuilder::bypass_unless_caught_up)
/// and to the invalidator's builder: reads then bypass the cache (status `Bypass`, nothing
/// stored) while the invalidator is starting, down, or more than `max_lag` behind.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use momento_seaorm_cache::InvalidatorHealth;
///
/// let health = InvalidatorHealth::new(Duration::from_millis(500));
/// assert!(!health.allows_cache(), "never caught up: bypass");
/// health.caught_up_as_of(SystemTime::now());
/// health.set_healthy(true);
/// assert!(health.allows_cache());
/// health.set_healthy(false);
/// assert!(!health.allows_cache());
/// ```
#[derive(Clone)]
pub struct InvalidatorHealth {
    inner: Arc<Inner>,
}

struct Inner {
    max_lag: Duration,
    /// Unix time in microseconds up to which every commit is invalidated; 0 = never.
    caught_up_micros: AtomicU64,
    healthy: AtomicBool,
    /// Set when the readings come from invalidators' heartbeats in the cache.
    heartbeat: Option<HeartbeatSource>,
}

/// The invalidators whose heartbeats a health follows, and whether a cache already reads them.
pub(crate) struct HeartbeatSource {
    /// The invalidators' names (their heartbeat keys): the health allows the cache while any
    /// one of them is caught up.
    pub(crate) names: Vec<String>,
    /// Whether a task already reads the heartbeats into this health.
    pub(crate) watching: AtomicBool,
}

fn micros(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl InvalidatorHealth {
    /// A health that allows the cache only while the invalidator is healthy and at most
    /// `max_lag` behind. Starts unhealthy and never caught up.
    ///
    /// ```
    /// # use momento_seaorm_cache::InvalidatorHealth;
    /// let health = InvalidatorHealth::new(std::time::Duration::from_secs(2));
    /// assert_eq!(health.max_lag(), std::time::Duration::from_secs(2));
    /// ```
    pub fn new(max_lag: Duration) -> InvalidatorHealth {
        InvalidatorHealth {
            inner: Arc::new(Inner {
                max_lag,
                caught_up_micros: AtomicU64::new(0),
                healthy: AtomicBool::new(false),
                heartbeat: None,
            }),
        }
    }

    /// A health read from the heartbeats that the invalidators named `names` publish into the
    /// cache (see `InvalidatorBuilder::publish_heartbeat`), for a process that does not run the
    /// invalidator itself. Give it to
    /// [`ModelCacheBuilder::bypass_unless_caught_up`](crate::ModelCacheBuilder::bypass_unless_caught_up):
    /// that cache reads the heartbeat keys in the background every `max_lag / 5` (never on a
    /// read's path) and allows itself while **any** named invalidator is healthy and at most
    /// `max_lag` behind. A missing, expired, unreadable or not-yet-confirmed heartbeat counts as
    /// not caught up; so does a heartbeat older than `max_lag` by the reader's clock **or** by
    /// the time this process saw it change (see the guide's change-capture chapter). Give one
    /// such health to one cache.
    ///
    /// ```
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{InvalidatorHealth, MemoryBackend, ModelCache};
    /// let health = InvalidatorHealth::from_heartbeat(["cdc_a", "cdc_b"], Duration::from_secs(1));
    /// assert!(!health.allows_cache(), "nothing read yet: bypass");
    /// let cache = ModelCache::builder(MemoryBackend::new())
    ///     .bypass_unless_caught_up(health.clone())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(health.heartbeat_names(), Some(&["cdc_a".to_owned(), "cdc_b".to_owned()][..]));
    /// # let _ = cache;
    /// ```
    pub fn from_heartbeat<I, S>(names: I, max_lag: Duration) -> InvalidatorHealth
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        InvalidatorHealth {
            inner: Arc::new(Inner {
                max_lag,
                caught_up_micros: AtomicU64::new(0),
                healthy: AtomicBool::new(false),
                heartbeat: Some(HeartbeatSource {
                    names: names.into_iter().map(Into::into).collect(),
                    watching: AtomicBool::new(false),
                }),
            }),
        }
    }

    /// The invalidators whose heartbeats this health follows; `None` for a health an
    /// invalidator in this process updates.
    ///
    /// ```
    /// # use momento_seaorm_cache::InvalidatorHealth;
    /// assert_eq!(InvalidatorHealth::default().heartbeat_names(), None);
    /// ```
    pub fn heartbeat_names(&self) -> Option<&[String]> {
        self.inner.heartbeat.as_ref().map(|h| h.names.as_slice())
    }

    /// Where the readings come from, if from heartbeats.
    pub(crate) fn heartbeat_source(&self) -> Option<&HeartbeatSource> {
        self.inner.heartbeat.as_ref()
    }

    /// Replaces the reading (heartbeats only): caught up as of `at` (`None`: not at all) and
    /// whether the invalidator says it is healthy. Unlike
    /// [`caught_up_as_of`](Self::caught_up_as_of) the instant may move back (another instance).
    pub(crate) fn observe(&self, at: Option<SystemTime>, healthy: bool) {
        if !healthy {
            self.inner.healthy.store(false, Ordering::Release);
        }
        let at = at.map_or(0, micros);
        self.inner.caught_up_micros.store(at, Ordering::Release);
        if healthy && at != 0 {
            self.inner.healthy.store(true, Ordering::Release);
        }
    }

    /// The bound on the lag beyond which reads bypass the cache.
    ///
    /// ```
    /// # use momento_seaorm_cache::{InvalidatorHealth, DEFAULT_MAX_LAG};
    /// assert_eq!(InvalidatorHealth::default().max_lag(), DEFAULT_MAX_LAG);
    /// ```
    pub fn max_lag(&self) -> Duration {
        self.inner.max_lag
    }

    /// Whether a read may use the cache now: healthy, and caught up at most `max_lag` ago.
    ///
    /// ```
    /// # use momento_seaorm_cache::InvalidatorHealth;
    /// assert!(!InvalidatorHealth::default().allows_cache());
    /// ```
    pub fn allows_cache(&self) -> bool {
        self.inner.healthy.load(Ordering::Acquire)
            && self.lag().is_some_and(|lag| lag <= self.inner.max_lag)
    }

    /// How far behind the invalidator is now: the time since the instant up to which every
    /// commit is invalidated; `None` before it first caught up.
    ///
    /// ```
    /// # use momento_seaorm_cache::InvalidatorHealth;
    /// # use std::time::{Duration, SystemTime};
    /// let health = InvalidatorHealth::default();
    /// assert_eq!(health.lag(), None);
    /// health.caught_up_as_of(SystemTime::now() - Duration::from_secs(3));
    /// assert!(health.lag().unwrap() >= Duration::from_secs(3));
    /// ```
    pub fn lag(&self) -> Option<Duration> {
        let at = self.inner.caught_up_micros.load(Ordering::Acquire);
        (at != 0).then(|| Duration::from_micros(micros(SystemTime::now()).saturating_sub(at)))
    }

    /// The instant up to which every commit is invalidated, if any.
    ///
    /// ```
    /// # use momento_seaorm_cache::InvalidatorHealth;
    /// # use std::time::SystemTime;
    /// let health = InvalidatorHealth::default();
    /// let now = SystemTime::now();
    /// health.caught_up_as_of(now);
    /// assert!(health.caught_up_at().is_some());
    /// ```
    pub fn caught_up_at(&self) -> Option<SystemTime> {
        let at = self.inner.caught_up_micros.load(Ordering::Acquire);
        (at != 0).then(|| UNIX_EPOCH + Duration::from_micros(at))
    }

    /// Records that every change committed before `at` is invalidated (never moves back).
    /// Called by the invalidator.
    ///
    /// ```
    /// # use momento_seaorm_cache::InvalidatorHealth;
    /// # use std::time::{Duration, SystemTime};
    /// let health = InvalidatorHealth::default();
    /// let now = SystemTime::now();
    /// health.caught_up_as_of(now);
    /// health.caught_up_as_of(now - Duration::from_secs(10)); // ignored: older
    /// assert!(health.lag().unwrap() < Duration::from_secs(10));
    /// ```
    pub fn caught_up_as_of(&self, at: SystemTime) {
        self.inner
            .caught_up_micros
            .fetch_max(micros(at), Ordering::AcqRel);
    }

    /// Sets whether the invalidator is running and able to resume without a gap. Called by the
    /// invalidator: false while it starts, reconnects or cannot record invalidations.
    ///
    /// ```
    /// # use momento_seaorm_cache::InvalidatorHealth;
    /// let health = InvalidatorHealth::default();
    /// health.set_healthy(true);
    /// assert!(health.is_healthy());
    /// ```
    pub fn set_healthy(&self, healthy: bool) {
        self.inner.healthy.store(healthy, Ordering::Release);
    }

    /// Whether the invalidator last said it was healthy (regardless of lag).
    ///
    /// ```
    /// # use momento_seaorm_cache::InvalidatorHealth;
    /// assert!(!InvalidatorHealth::default().is_healthy());
    /// ```
    pub fn is_healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Acquire)
    }
}

impl Default for InvalidatorHealth {
    /// [`InvalidatorHealth::new`] with [`DEFAULT_MAX_LAG`].
    fn default() -> Self {
        InvalidatorHealth::new(DEFAULT_MAX_LAG)
    }
}

impl std::fmt::Debug for InvalidatorHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvalidatorHealth")
            .field("healthy", &self.is_healthy())
            .field("lag", &self.lag())
            .field("max_lag", &self.inner.max_lag)
            .field("heartbeats", &self.heartbeat_names())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_beyond_the_bound_closes_the_cache() {
        let health = InvalidatorHealth::new(Duration::from_millis(100));
        health.set_healthy(true);
        assert!(!health.allows_cache(), "never caught up");
        health.caught_up_as_of(SystemTime::now() - Duration::from_millis(500));
        assert!(!health.allows_cache(), "500 ms behind a 100 ms bound");
        health.caught_up_as_of(SystemTime::now());
        assert!(health.allows_cache());
    }
}
