//! The backend as every other part sees it: each call under the deadline, gated by the circuit
//! breaker, timed and counted, its fault logged and returned as a typed [`NoAnswer`].
//!
//! ```text
//! call ─► breaker admits? ── no ──► NoAnswer (no cache call at all)
//!           │ yes
//!           ▼
//!         backend call ─► within the deadline? ── no ──► Timeout fault ─┐
//!           │ yes                                                        ├► counted, logged,
//!           ├─ Ok  ─► breaker success ─► value                           │  fed to the breaker
//!           └─ Err ─────────────────────────────────────────────────────┘  ─► NoAnswer
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::warn;

use crate::backend::CacheBackend;
use crate::breaker::{Admission, Breaker, BreakerState};
use crate::error::{CacheFault, FaultKind};
use crate::metrics::Counters;

/// The cache could not answer a call: it faulted, missed the deadline, or the breaker is open.
/// Already logged and counted; the caller goes to the database or records what it owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NoAnswer {
    /// Why: the fault's kind, `None` when the breaker kept the call from being made.
    pub kind: Option<FaultKind>,
}

/// A [`CacheBackend`] behind a deadline and a circuit breaker.
#[derive(Debug)]
pub(crate) struct GuardedBackend {
    backend: Box<dyn CacheBackend>,
    timeout: Duration,
    breaker: Option<Breaker>,
    counters: Arc<Counters>,
}

impl GuardedBackend {
    pub(crate) fn new(
        backend: Box<dyn CacheBackend>,
        timeout: Duration,
        breaker: Option<Breaker>,
        counters: Arc<Counters>,
    ) -> GuardedBackend {
        GuardedBackend {
            backend,
            timeout,
            breaker,
            counters,
        }
    }

    /// The store itself, unguarded.
    pub(crate) fn inner(&self) -> &dyn CacheBackend {
        self.backend.as_ref()
    }

    /// Whether a request may use the cache now (always, without a breaker).
    pub(crate) fn admit(&self) -> Admission {
        match &self.breaker {
            Some(breaker) => breaker.admit(),
            None => Admission::Use,
        }
    }

    /// The breaker's state, if there is a breaker.
    pub(crate) fn breaker_state(&self) -> Option<BreakerState> {
        self.breaker.as_ref().map(Breaker::state)
    }

    /// One get.
    pub(crate) async fn get(
        &self,
        admission: Admission,
        key: &str,
    ) -> Result<Option<Bytes>, NoAnswer> {
        self.call(admission, "get", key, self.inner().get(key))
            .await
    }

    /// One batch get; a reply of the wrong length is a fault.
    pub(crate) async fn get_many(
        &self,
        admission: Admission,
        keys: &[&str],
    ) -> Result<Vec<Option<Bytes>>, NoAnswer> {
        let expected = keys.len();
        let batch = async {
            let values = self.inner().get_many(keys).await?;
            if values.len() == expected {
                Ok(values)
            } else {
                Err(CacheFault::new(
                    FaultKind::Other,
                    format!("batch get of {expected} keys returned {}", values.len()),
                ))
            }
        };
        self.call(admission, "get", keys[0], batch).await
    }

    /// One set.
    pub(crate) async fn set(
        &self,
        admission: Admission,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), NoAnswer> {
        self.call(admission, "set", key, self.inner().set(key, value, ttl))
            .await
    }

    /// One batch set.
    pub(crate) async fn set_many(
        &self,
        admission: Admission,
        items: &[(&str, Vec<u8>)],
        ttl: Duration,
    ) -> Result<(), NoAnswer> {
        let first = items.first().map_or("", |(key, _)| key);
        self.call(admission, "set", first, self.inner().set_many(items, ttl))
            .await
    }

    /// One set-if-absent: `true` when stored.
    pub(crate) async fn set_if_absent(
        &self,
        admission: Admission,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, NoAnswer> {
        let call = self.inner().set_if_absent(key, value, ttl);
        self.call(admission, "set_if_absent", key, call).await
    }

    /// One delete.
    pub(crate) async fn delete(&self, admission: Admission, key: &str) -> Result<(), NoAnswer> {
        self.call(admission, "delete", key, self.inner().delete(key))
            .await
    }

    /// Runs one call under the deadline unless the breaker skips it; records the outcome.
    async fn call<T>(
        &self,
        admission: Admission,
        call: &'static str,
        key: &str,
        future: impl Future<Output = Result<T, CacheFault>>,
    ) -> Result<T, NoAnswer> {
        if admission == Admission::Skip {
            return Err(NoAnswer { kind: None });
        }
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, future).await {
            Ok(result) => result,
            Err(_) => Err(CacheFault::new(
                FaultKind::Timeout,
                format!("no answer within {} ms", self.timeout.as_millis()),
            )),
        };
        self.counters.cache_call(started.elapsed());
        match result {
            Ok(value) => {
                self.succeeded(admission);
                Ok(value)
            }
            Err(fault) => {
                self.faulted(admission, call, key, &fault);
                Err(NoAnswer {
                    kind: Some(fault.kind),
                })
            }
        }
    }

    fn succeeded(&self, admission: Admission) {
        if let Some(breaker) = &self.breaker {
            breaker.record_success(admission);
            if admission == Admission::Probe {
                self.counters.breaker_changed(BreakerState::Closed, false);
            }
        }
    }

    fn faulted(&self, admission: Admission, call: &'static str, key: &str, fault: &CacheFault) {
        self.counters.fault(fault.kind);
        warn!(
            key, backend = self.inner().name(), kind = %fault.kind, %fault,
            "cache {call} failed; reading from the database"
        );
        if let Some(breaker) = &self.breaker {
            if breaker.record_fault(admission) {
                self.counters.breaker_changed(BreakerState::Open, true);
            }
        }
    }
}
