//! The storing policy: how long a loaded value lives (TTL, jitter, stale window, the generation
//! TTL, the backend's maximum), how it is encoded (format, compression, stamp), and whether it
//! fits the backend's item limit. It decides; the read path stores.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tracing::warn;

use crate::codec::{Envelope, SerdeFormat, ValueMeta};
use crate::key::CacheKey;
use crate::metrics::Counters;

/// Encoded bodies larger than this are compressed on the blocking pool, not on the async worker.
pub(crate) const OFF_WORKER_BYTES: usize = 64 * 1024;

/// How one read's result is stored, as its front end asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StoreOptions {
    /// Per-read TTL (zero: do not store); the cache's default when `None`.
    pub ttl: Option<Duration>,
    /// Stale-while-revalidate window.
    pub stale: Option<Duration>,
    /// Overrides the cache's serde format (JSON for `serde_json::Value` rows).
    pub format: Option<SerdeFormat>,
}

/// How long to store a value and until when it is fresh.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetime {
    pub store_for: Duration,
    pub fresh_until_ms: Option<u64>,
    /// Now + `store_for`, in Unix milliseconds: when the stored value ends.
    pub expires_ms: u64,
}

/// A loaded value, encoded, and how long to store it (`None`: do not store).
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub bytes: Bytes,
    pub store_for: Option<Duration>,
}

/// The cache-wide storing settings.
#[derive(Debug)]
pub(crate) struct StoringPolicy {
    pub ttl: Duration,
    /// The longest a value may live: the backend's maximum and, while generations are checked,
    /// the generation TTL (a value never outlives the generation it was stamped with).
    pub max_ttl: Option<Duration>,
    pub max_item_bytes: Option<usize>,
    pub envelope: Envelope,
    pub ttl_jitter: f64,
    pub counters: Arc<Counters>,
}

pub(crate) use crate::codec::now_ms;

impl StoringPolicy {
    /// How long to store and until when the value is fresh; `None` (do not store) for a zero
    /// TTL. The TTL is jittered and clamped to the maximum.
    pub(crate) fn lifetime(&self, options: StoreOptions) -> Option<Lifetime> {
        let ttl = options.ttl.unwrap_or(self.ttl);
        if ttl.is_zero() {
            return None;
        }
        let ttl = if self.ttl_jitter > 0.0 {
            ttl.mul_f64(1.0 - self.ttl_jitter * fastrand::f64())
                .max(Duration::from_millis(1))
        } else {
            ttl
        };
        let stale = options.stale.filter(|s| !s.is_zero());
        let mut store_for = ttl + stale.unwrap_or_default();
        if let Some(max) = self.max_ttl.filter(|max| store_for > *max) {
            warn!(?store_for, ?max, "TTL exceeds the maximum; clamped");
            store_for = max;
        }
        let now = now_ms();
        let fresh_until_ms = stale.map(|_| now + ttl.as_millis() as u64);
        Some(Lifetime {
            store_for,
            fresh_until_ms,
            expires_ms: now + store_for.as_millis() as u64,
        })
    }

    /// Encodes `value` with its stamp and lifetime, and gives it back; `store_for` is `None`
    /// when it must not be stored (zero TTL, or larger than the backend's item limit); no
    /// [`Encoded`] when it does not serialize. At most [`OFF_WORKER_BYTES`] of serialization
    /// runs on the caller's worker: a larger body is serialized and compressed on the blocking
    /// pool.
    pub(crate) async fn encode<T: Serialize + Send + 'static>(
        &self,
        key: &CacheKey,
        value: T,
        options: StoreOptions,
        stamp: Option<u64>,
    ) -> (T, Option<Encoded>) {
        let lifetime = self.lifetime(options);
        let envelope = Envelope {
            format: options.format.unwrap_or(self.envelope.format),
            ..self.envelope
        };
        let meta = ValueMeta {
            fresh_until_ms: lifetime.and_then(|l| l.fresh_until_ms),
            stamp,
            expires_ms: lifetime.map(|l| l.expires_ms),
        };
        let (value, encoded) = match envelope.serialize_within(&value, OFF_WORKER_BYTES) {
            Ok(Some(body)) => (value, envelope.frame(meta, &body)),
            Ok(None) => {
                let work = move || {
                    let encoded = envelope.serialize(&value);
                    (value, encoded.and_then(|body| envelope.frame(meta, &body)))
                };
                match tokio::task::spawn_blocking(work).await {
                    Ok(done) => done,
                    Err(error) => std::panic::resume_unwind(error.into_panic()),
                }
            }
            Err(error) => (value, Err(error)),
        };
        let bytes = match encoded {
            Ok(bytes) => Bytes::from(bytes),
            Err(error) => {
                warn!(key = key.as_str(), %error, "result does not serialize; not cached");
                return (value, None);
            }
        };
        let store_for = lifetime
            .filter(|_| self.fits(key, &bytes))
            .map(|l| l.store_for);
        (value, Some(Encoded { bytes, store_for }))
    }

    /// Whether key plus value fit the backend's item limit; counts and warns when not.
    fn fits(&self, key: &CacheKey, bytes: &Bytes) -> bool {
        let Some(max) = self.max_item_bytes else {
            return true;
        };
        let size = key.as_str().len() + bytes.len();
        if size <= max {
            return true;
        }
        self.counters.oversize_skip();
        warn!(
            key = key.as_str(),
            size, max, "result is larger than the backend's item limit; not cached"
        );
        false
    }
}
