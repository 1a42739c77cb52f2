//! The near cache: recently read values kept in process memory, in front of the backend, so a
//! hit costs a map lookup and a deserialization instead of a round trip.
//!
//! ```text
//! read ─► near store: current entry? ─► NearHit (no backend call)
//!          └► no (absent, bumped, flushed, older than max_staleness, store unhealthy)
//!               ─► ticket ─► the normal remote lookup (Strict: value + generations, stamp)
//!               ─► remote hit ─► kept near under the ticket
//! bump (Generations::record: writes, table invalidation, owed retries, change capture)
//! or drop of one value's key (invalidate_by_pk, a query's .invalidate)
//!      ─► drops the matching entries here before the call returns
//!      ─► published on a Momento topic (batched, ≤ 4 KB a message) ─► every other process
//!         drops its matching entries
//! subscription gap (checked from the last sequence seen, across resubscriptions),
//! new sequence page, discontinuity, missed heartbeat, stream end
//!      ─► flush; bypass the near store until the subscription is live again
//! ```
//! Four things bound how stale a near hit can be:
//! * **Own writes**: a bump drops this process's matching entries before the write call
//!   returns, and a value fetched before a bump is never kept (tickets).
//! * **Pushed writes**: other processes' bumps arrive on the topic, usually within a
//!   millisecond or two.
//! * **Everything else** (a message lost without a trace, a publisher that failed): every
//!   entry is revalidated against the backend — a lookup that reads the generations from the
//!   backend, never from `Consistency::Bounded`'s in-process copy — once it is `max_staleness`
//!   old, so no near hit is older than that.
//! * **The value's own lifetime**: an entry is never served past its value's TTL or
//!   fresh-until, which the value's header carries.
//!
//! Why the topic is spoken to with the raw `Pubsub` protocol of `momento-protos` rather than
//! the SDK's `TopicClient`: the SDK's subscription yields sequence numbers and pages on
//! values, but swallows heartbeats and discontinuities and resubscribes silently when a stream
//! breaks, so a dead or resumed stream cannot be noticed until a later message shows a jump —
//! and a stream that dies quietly shows nothing at all. Speaking the protocol directly (one
//! gRPC stream, the same wire the SDK uses) sees every heartbeat, discontinuity, error and end
//! of stream, which is what flushing on "any sign of loss" needs. See [`NearTopic`].

#[cfg(feature = "redis")]
mod redis_channel;
mod store;
#[cfg(feature = "momento")]
mod subscriber;
#[cfg(feature = "momento")]
mod topic;
mod wire;

use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(feature = "redis")]
pub use redis_channel::{NearRedisChannel, DEFAULT_REDIS_HEARTBEAT};
pub(crate) use store::{NearLookup, NearStore, NearTicket};
#[cfg(feature = "momento")]
pub use topic::NearTopic;

use crate::error::ConfigError;

/// How long a near entry is served before it is revalidated against the backend, unless
/// told otherwise.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_millis(100);

/// Settings of a near cache: values served from process memory in front of the backend
/// (`ModelCacheBuilder::near_cache`). Off unless set.
///
/// * `capacity_bytes` — the memory it may use: keys, bodies, what each entry costs besides
///   (the map's node, the versions it depends on), and a table of version slots.
/// * [`max_staleness`](Self::max_staleness) — an entry older than this is revalidated
///   against the backend before it is served again (default 100 ms): the bound on staleness
///   when a push message is lost.
/// * [`max_value_bytes`](Self::max_value_bytes) — larger values are not kept near (default:
///   an eighth of the capacity, at most 1 MiB).
/// * [`topic`](Self::topic) — push invalidation between processes over a Momento topic.
///   Without it only this process's own writes drop entries at once; other processes' are
///   seen within `max_staleness` (enough for a single process on a `MemoryBackend`).
///
/// ```
/// use std::time::Duration;
/// use momento_seaorm_cache::{MemoryBackend, ModelCache, NearCache};
/// let near = NearCache::new(64 * 1024 * 1024).max_staleness(Duration::from_millis(50));
/// let cache = ModelCache::builder(MemoryBackend::new()).near_cache(near).build()?;
/// assert!(cache.near_stats().is_some());
/// # Ok::<(), momento_seaorm_cache::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct NearCache {
    capacity_bytes: u64,
    max_staleness: Duration,
    max_value_bytes: Option<usize>,
    #[cfg(feature = "momento")]
    topic: Option<NearTopic>,
    #[cfg(feature = "redis")]
    redis_channel: Option<NearRedisChannel>,
}

impl NearCache {
    /// A near cache of at most `capacity_bytes`, with the default `max_staleness` (100 ms) and
    /// no topic.
    ///
    /// ```
    /// use momento_seaorm_cache::NearCache;
    /// let near = NearCache::new(16 * 1024 * 1024);
    /// assert_eq!(near.capacity_bytes(), 16 * 1024 * 1024);
    /// ```
    pub fn new(capacity_bytes: u64) -> NearCache {
        NearCache {
            capacity_bytes,
            max_staleness: DEFAULT_MAX_STALENESS,
            max_value_bytes: None,
            #[cfg(feature = "momento")]
            topic: None,
            #[cfg(feature = "redis")]
            redis_channel: None,
        }
    }

    /// The memory the near cache may use, in bytes.
    ///
    /// ```
    /// use momento_seaorm_cache::NearCache;
    /// assert_eq!(NearCache::new(1024).capacity_bytes(), 1024);
    /// ```
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity_bytes
    }

    /// How old a near entry may get before it is revalidated against the backend (at least a
    /// millisecond).
    ///
    /// ```
    /// use std::time::Duration;
    /// use momento_seaorm_cache::NearCache;
    /// let near = NearCache::new(1 << 20).max_staleness(Duration::from_millis(250));
    /// # let _ = near;
    /// ```
    pub fn max_staleness(mut self, max_staleness: Duration) -> Self {
        self.max_staleness = max_staleness;
        self
    }

    /// Values whose stored bytes (or uncompressed body) exceed this are not kept near.
    ///
    /// ```
    /// use momento_seaorm_cache::NearCache;
    /// let near = NearCache::new(1 << 20).max_value_bytes(4096);
    /// # let _ = near;
    /// ```
    pub fn max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = Some(bytes);
        self
    }

    /// Push invalidation over a Momento topic: every bump this process makes is published,
    /// and every process subscribed drops the matching entries.
    ///
    /// ```
    /// use momento_seaorm_cache::{NearCache, NearTopic};
    /// let topic = NearTopic::new("https://cache.cell-us-east-1-1.prod.a.momentohq.com", "KEY", "model-cache");
    /// let near = NearCache::new(1 << 20).topic(topic);
    /// # let _ = near;
    /// ```
    #[cfg(feature = "momento")]
    pub fn topic(mut self, topic: NearTopic) -> Self {
        self.topic = Some(topic);
        self
    }

    /// Push invalidation over a Redis pub/sub channel (feature `redis`), for caches on
    /// `RedisBackend`: every bump this process makes is published, and every process
    /// subscribed drops the matching entries.
    ///
    /// ```
    /// use momento_seaorm_cache::{NearCache, NearRedisChannel};
    /// let near = NearCache::new(1 << 20).redis_channel(NearRedisChannel::new("redis://127.0.0.1:6379"));
    /// # let _ = near;
    /// ```
    #[cfg(feature = "redis")]
    pub fn redis_channel(mut self, channel: NearRedisChannel) -> Self {
        self.redis_channel = Some(channel);
        self
    }

    fn resolved_max_value_bytes(&self) -> usize {
        let default = (self.capacity_bytes / 8).min(1 << 20) as usize;
        self.max_value_bytes.unwrap_or(default)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_staleness < Duration::from_millis(1) {
            return Err(ConfigError::InvalidNearCache {
                fix: "give max_staleness at least a millisecond (default 100 ms)",
            });
        }
        if self.capacity_bytes == 0 {
            return Err(ConfigError::InvalidNearCache {
                fix: "give it a capacity of at least one byte",
            });
        }
        Ok(())
    }
}

/// A snapshot of a near cache's counters and size, from `ModelCache::near_stats` (near hits
/// are counted with the other reads, in [`CacheStats::near_hits`](crate::CacheStats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NearStats {
    /// Lookups that found a current entry past `max_staleness` and revalidated it remotely.
    pub revalidations: u64,
    /// Times the whole near cache was dropped (global invalidation, a gap, a broken stream).
    pub flushes: u64,
    /// Values not kept because they exceed the size rule.
    pub too_large: u64,
    /// Invalidation messages received from other processes.
    pub messages_received: u64,
    /// Invalidation messages published.
    pub messages_published: u64,
    /// Invalidation messages that could not be published.
    pub publish_failures: u64,
    /// Gaps seen on the subscription (sequence jumps, new pages, discontinuities, broken
    /// streams, missed heartbeats).
    pub gaps: u64,
    /// Whether the near cache serves now (a topic subscription is live, or there is none).
    pub healthy: bool,
    /// Entries held.
    pub entries: u64,
    /// Bytes charged: what the entries held hold (see `NearCache::new`), and the table of
    /// version slots.
    pub bytes: u64,
}

/// A running near cache: its store, and the publisher of its bumps when it has a topic.
#[derive(Debug)]
pub(crate) struct Near {
    pub store: NearStore,
    publisher: Option<tokio::sync::mpsc::UnboundedSender<wire::Invalidation>>,
    /// The publisher and subscriber tasks, aborted when the near cache goes.
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Drop for Near {
    fn drop(&mut self) {
        let tasks = self.tasks.get_mut().unwrap_or_else(|e| e.into_inner());
        for task in tasks.iter() {
            task.abort();
        }
    }
}

impl Near {
    /// Starts a near cache; with a topic, its publisher and subscriber tasks (which need a
    /// tokio runtime).
    pub(crate) fn start(
        settings: &NearCache,
        global: &str,
        prefix: &str,
    ) -> Result<Arc<Near>, ConfigError> {
        settings.validate()?;
        #[cfg(all(feature = "momento", feature = "redis"))]
        if settings.topic.is_some() && settings.redis_channel.is_some() {
            return Err(ConfigError::InvalidNearCache {
                fix: "give the near cache a Momento topic or a Redis channel, not both",
            });
        }
        #[cfg(feature = "momento")]
        if let Some(topic) = &settings.topic {
            return topic::start(settings, topic, global, prefix);
        }
        #[cfg(feature = "redis")]
        if let Some(channel) = &settings.redis_channel {
            return redis_channel::start(settings, channel, global, prefix);
        }
        let _ = prefix;
        Ok(Arc::new(Near::local(settings, global, true)))
    }

    fn local(settings: &NearCache, global: &str, healthy: bool) -> Near {
        let store = NearStore::new(
            settings.capacity_bytes,
            settings.resolved_max_value_bytes(),
            settings.max_staleness,
            global.to_owned(),
            healthy,
        );
        Near {
            store,
            publisher: None,
            tasks: Mutex::default(),
        }
    }

    /// A near cache that publishes through `publisher` and is unhealthy until its subscription
    /// is live.
    #[cfg(any(feature = "momento", feature = "redis"))]
    fn with_publisher(
        settings: &NearCache,
        global: &str,
        publisher: tokio::sync::mpsc::UnboundedSender<wire::Invalidation>,
    ) -> Near {
        let mut near = Near::local(settings, global, false);
        near.publisher = Some(publisher);
        near
    }

    /// Keeps the handles of the publisher and subscriber tasks, aborted when this goes.
    #[cfg(any(feature = "momento", feature = "redis"))]
    fn hold_tasks(&self, tasks: Vec<tokio::task::AbortHandle>) {
        *self.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
    }

    /// Applies one message from the push channel: its keys drop the matching entries (this
    /// process's own messages and markers are skipped); one that is not ours flushes.
    #[cfg(any(feature = "momento", feature = "redis"))]
    fn received(&self, own: u64, payload: &[u8]) {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = &self.store.stats;
        match wire::unpack(payload) {
            Some(message) if message.publisher == own || message.keys.is_empty() => {}
            Some(message) => {
                stats.messages_received.fetch_add(1, Relaxed);
                if !message.keys.generations.is_empty() {
                    self.store.bumped(&message.keys.generations);
                }
                if !message.keys.values.is_empty() {
                    self.store.dropped(&message.keys.values);
                }
            }
            None => {
                stats.messages_received.fetch_add(1, Relaxed);
                self.store.flush();
            }
        }
    }

    /// A bump this process recorded (or tried to): drops the matching entries here at once,
    /// then publishes it to the other processes.
    pub(crate) fn bumped(&self, keys: &[String]) {
        self.store.bumped(keys);
        self.publish(wire::Invalidation {
            generations: keys.to_vec(),
            values: Vec::new(),
        });
    }

    /// Values this process deleted from the backend (explicit invalidation of one cached
    /// read): drops their entries here at once, then publishes their keys.
    pub(crate) fn dropped(&self, keys: &[String]) {
        self.store.dropped(keys);
        self.publish(wire::Invalidation {
            generations: Vec::new(),
            values: keys.to_vec(),
        });
    }

    fn publish(&self, keys: wire::Invalidation) {
        if let Some(publisher) = &self.publisher {
            let _ = publisher.send(keys);
        }
    }

    /// The counters and size now.
    pub(crate) fn stats(&self) -> NearStats {
        use std::sync::atomic::Ordering::Relaxed;
        let s = &self.store.stats;
        NearStats {
            revalidations: s.revalidations.load(Relaxed),
            flushes: s.flushes.load(Relaxed),
            too_large: s.too_large.load(Relaxed),
            messages_received: s.messages_received.load(Relaxed),
            messages_published: s.messages_published.load(Relaxed),
            publish_failures: s.publish_failures.load(Relaxed),
            gaps: s.gaps.load(Relaxed),
            healthy: self.store.is_healthy(),
            entries: self.store.entry_count(),
            bytes: self.store.weighted_bytes(),
        }
    }
}
