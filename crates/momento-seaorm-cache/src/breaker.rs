//! The circuit breaker: after repeated cache faults, skip the cache for a cool-down, then probe.
//!
//! ```text
//! Closed ──(failure_threshold consecutive faults)──► Open ──(cool_down elapsed)──► HalfOpen
//!   ▲                                                  ▲                              │
//!   └──────────────(the probe succeeds)────────────────┴──────(the probe faults)──────┘
//! ```
//! While open a read pays no cache latency at all: it goes straight to the database. In
//! half-open one request at a time probes the cache; the rest keep skipping it.

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The breaker's state, as reported by [`CacheStats`](crate::CacheStats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// The cache is used.
    Closed,
    /// The cache is skipped until the cool-down ends.
    Open,
    /// One request probes the cache; the others skip it.
    HalfOpen,
}

/// When the breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive cache faults that open the breaker (default 5).
    pub failure_threshold: u32,
    /// How long the cache is skipped before a probe (default 5 s).
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cool_down: Duration::from_secs(5),
        }
    }
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// Whether a request may use the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Use the cache.
    Use,
    /// Use the cache as the half-open probe.
    Probe,
    /// Skip the cache.
    Skip,
}

/// The breaker itself; the closed fast path is one atomic load.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    state: AtomicU8,
    consecutive_faults: AtomicU32,
    /// When the breaker last opened, or when the last probe started.
    since: Mutex<Instant>,
}

impl Breaker {
    pub(crate) fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            state: AtomicU8::new(CLOSED),
            consecutive_faults: AtomicU32::new(0),
            since: Mutex::new(Instant::now()),
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        match self.state.load(Ordering::Acquire) {
            CLOSED => BreakerState::Closed,
            OPEN => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }

    /// Decides whether this request may touch the cache.
    pub(crate) fn admit(&self) -> Admission {
        if self.state.load(Ordering::Acquire) == CLOSED {
            return Admission::Use;
        }
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        // A probe that never reported (its request was cancelled) is replaced after a cool-down.
        if since.elapsed() >= self.config.cool_down {
            *since = Instant::now();
            self.state.store(HALF_OPEN, Ordering::Release);
            Admission::Probe
        } else {
            Admission::Skip
        }
    }

    /// A cache call succeeded: a probe closes the breaker; a closed breaker forgets past faults.
    pub(crate) fn record_success(&self, admission: Admission) {
        if admission == Admission::Probe {
            self.consecutive_faults.store(0, Ordering::Relaxed);
            self.state.store(CLOSED, Ordering::Release);
            tracing::info!("cache circuit breaker closed: the probe succeeded");
        } else if self.consecutive_faults.load(Ordering::Relaxed) != 0 {
            self.consecutive_faults.store(0, Ordering::Relaxed);
        }
    }

    /// A cache call faulted: returns `true` when this fault opened the breaker.
    pub(crate) fn record_fault(&self, admission: Admission) -> bool {
        let faults = self.consecutive_faults.fetch_add(1, Ordering::Relaxed) + 1;
        let opens = admission == Admission::Probe
            || (faults >= self.config.failure_threshold
                && self.state.load(Ordering::Acquire) == CLOSED);
        if opens {
            *self.since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            self.state.store(OPEN, Ordering::Release);
            tracing::warn!(
                consecutive_faults = faults,
                cool_down_ms = self.config.cool_down.as_millis() as u64,
                "cache circuit breaker opened: reads go to the database until the cool-down ends"
            );
        }
        opens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32, cool_down_ms: u64) -> Breaker {
        Breaker::new(BreakerConfig {
            failure_threshold: threshold,
            cool_down: Duration::from_millis(cool_down_ms),
        })
    }

    #[test]
    fn opens_after_consecutive_faults_only() {
        let b = breaker(3, 10_000);
        b.record_fault(Admission::Use);
        b.record_fault(Admission::Use);
        b.record_success(Admission::Use);
        b.record_fault(Admission::Use);
        b.record_fault(Admission::Use);
        assert_eq!(
            b.state(),
            BreakerState::Closed,
            "a success resets the count"
        );
        assert!(b.record_fault(Admission::Use));
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit(), Admission::Skip);
    }

    #[test]
    fn probes_after_the_cool_down_and_closes_or_reopens() {
        let b = breaker(1, 30);
        b.record_fault(Admission::Use);
        assert_eq!(b.admit(), Admission::Skip);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.admit(), Admission::Probe);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(b.admit(), Admission::Skip, "one probe at a time");
        assert!(b.record_fault(Admission::Probe));
        assert_eq!(b.state(), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.admit(), Admission::Probe);
        b.record_success(Admission::Probe);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.admit(), Admission::Use);
    }
}
