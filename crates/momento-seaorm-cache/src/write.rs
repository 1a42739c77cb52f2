//! The write side of a read: how long a loaded value lives (TTL, jitter, stale window, the
//! generation TTL), encoding it with its metadata, the backend's size limit, storing it inline or
//! in the background, and refreshing a stale value once.

use std::time::Duration;

use bytes::Bytes;
use tracing::{debug, warn};

use crate::breaker::Admission;
use crate::cache::ModelCache;
use crate::codec::{Envelope, SerdeFormat, ValueMeta};
use crate::connection::CacheableConnection;
use crate::flight::Landing;
use crate::invalidate::{Consistency, GENERATION_TTL};
use crate::key::CacheKey;
use crate::load::Loader;
use crate::read::{now_ms, ReadPlan};

/// How long to store a value and until when it is fresh.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetime {
    pub store_for: Duration,
    pub fresh_until_ms: Option<u64>,
}

impl ModelCache {
    /// Encodes a freshly loaded value and stores it (unless `store` is false: after a fault,
    /// or when it is too large); returns what waiters on the same flight may take.
    pub(crate) async fn keep<T: serde::Serialize>(
        &self,
        key: &CacheKey,
        plan: &ReadPlan<'_>,
        value: &T,
        stamp: Option<u64>,
        mut store: bool,
    ) -> Landing {
        let lifetime = self.lifetime(plan.ttl, plan.stale);
        let Some(bytes) = self.encode(key, value, plan.format, lifetime, stamp) else {
            return Landing::Nothing;
        };
        match lifetime {
            Some(lifetime) => {
                store &= self.fits(key, &bytes);
                if store {
                    self.store(key, bytes.clone(), lifetime.store_for).await;
                }
            }
            None => store = false,
        }
        Landing::Loaded(bytes, store)
    }

    /// How long to store and until when the value is fresh; `None` (do not store) for a zero
    /// TTL. The TTL is jittered and clamped to the backend's maximum.
    pub(crate) fn lifetime(
        &self,
        ttl: Option<Duration>,
        stale: Option<Duration>,
    ) -> Option<Lifetime> {
        let ttl = ttl.unwrap_or(self.shared.ttl);
        if ttl.is_zero() {
            return None;
        }
        let jitter = self.shared.ttl_jitter;
        let ttl = if jitter > 0.0 {
            ttl.mul_f64(1.0 - jitter * fastrand::f64())
                .max(Duration::from_millis(1))
        } else {
            ttl
        };
        let stale = stale.filter(|s| !s.is_zero());
        let mut store_for = ttl + stale.unwrap_or_default();
        let max = match (self.shared.max_ttl, self.shared.consistency) {
            (max, Consistency::TtlOnly) => max,
            (Some(max), _) => Some(max.min(GENERATION_TTL)),
            (None, _) => Some(GENERATION_TTL),
        };
        if let Some(max) = max {
            if store_for > max {
                warn!(
                    ?store_for,
                    ?max,
                    "TTL exceeds the backend's maximum; clamped"
                );
                store_for = max;
            }
        }
        let fresh_until_ms = stale.map(|_| now_ms() + ttl.as_millis() as u64);
        Some(Lifetime {
            store_for,
            fresh_until_ms,
        })
    }

    pub(crate) fn encode<T: serde::Serialize>(
        &self,
        key: &CacheKey,
        value: &T,
        format: Option<SerdeFormat>,
        lifetime: Option<Lifetime>,
        stamp: Option<u64>,
    ) -> Option<Bytes> {
        let envelope = Envelope {
            format: format.unwrap_or(self.shared.envelope.format),
            ..self.shared.envelope
        };
        let meta = ValueMeta {
            fresh_until_ms: lifetime.and_then(|l| l.fresh_until_ms),
            stamp,
        };
        match envelope.encode_with_meta(value, meta) {
            Ok(bytes) => Some(Bytes::from(bytes)),
            Err(error) => {
                warn!(key = key.as_str(), %error, "result does not serialize; not cached");
                None
            }
        }
    }

    /// Whether key plus value fit the backend's item limit; counts and warns when not.
    pub(crate) fn fits(&self, key: &CacheKey, bytes: &Bytes) -> bool {
        let Some(max) = self.shared.max_item_bytes else {
            return true;
        };
        let size = key.as_str().len() + bytes.len();
        if size <= max {
            return true;
        }
        self.shared.counters.oversize_skip();
        warn!(
            key = key.as_str(),
            size, max, "result is larger than the backend's item limit; not cached"
        );
        false
    }

    /// Stores encoded bytes, in the background when configured.
    pub(crate) async fn store(&self, key: &CacheKey, bytes: Bytes, ttl: Duration) {
        if self.shared.background_writes {
            let cache = self.clone();
            let key = key.clone();
            tokio::spawn(async move { cache.set_now(&key, bytes, ttl).await });
        } else {
            self.set_now(key, bytes, ttl).await;
        }
    }

    pub(crate) async fn set_now(&self, key: &CacheKey, bytes: Bytes, ttl: Duration) {
        let admission = Admission::Use;
        let set = self.backend().set(key.as_str(), bytes.to_vec(), ttl);
        let _ = self.guarded(admission, "set", key, set).await;
    }

    /// Refreshes a stale value once per key in this process: in a background task on a
    /// detached connection when there is one, else right away in this task.
    pub(crate) fn refresh_in_background<L: Loader, C: CacheableConnection>(
        &self,
        key: &CacheKey,
        plan: &ReadPlan<'_>,
        stamp: Option<u64>,
        stale_until: u64,
        db: &C,
        loader: L,
    ) {
        let Some(conn) = db.detached() else {
            debug!(key = key.as_str(), "no detached connection; the stale value is refreshed on the next read after it expires");
            return;
        };
        // One refresh per stale version of a value: later readers of the same version skip,
        // even after the refresh has landed (they fetched before it did).
        let version = (key.as_str().to_owned(), stale_until);
        let claimed = self
            .shared
            .refreshing
            .entry(version)
            .or_insert(())
            .is_fresh();
        if !claimed {
            return;
        }
        let cache = self.clone();
        let key = key.clone();
        let (ttl, stale, format) = (plan.ttl, plan.stale, plan.format);
        tokio::spawn(async move {
            if let Ok(value) = cache.load(&conn, loader).await {
                let lifetime = cache.lifetime(ttl, stale);
                if let (Some(bytes), Some(lifetime)) = (
                    cache.encode(&key, &value, format, lifetime, stamp),
                    lifetime,
                ) {
                    if cache.fits(&key, &bytes) {
                        cache.set_now(&key, bytes, lifetime.store_for).await;
                    }
                }
            }
        });
    }
}
