//! Heartbeats: an invalidator's progress published into the cache backend, so that a process
//! that does not run the invalidator can still gate its reads on it
//! ([`InvalidatorHealth::from_heartbeat`]).
//!
//! ```text
//! invalidator ── every max_lag/5 ──► <prefix>:cdc:<name>:heartbeat = {seq, state, lag, ...}
//!                                    (TTL 1.5 × max_lag: a dead writer's key expires)
//! any process ── every max_lag/5, in the background ──► read every named key
//!    │  caught up as of = the older of: the writer's caught-up instant (wall clock), and
//!    │  "the previous read that did not see this seq" minus the lag written (no clock shared)
//!    ▼
//! InvalidatorHealth: open while any named invalidator is healthy and within max_lag
//! ```
//! A missing, expired, unreadable or undecodable heartbeat is not caught up, and a heartbeat
//! seen for the first time is only believed once its seq changes. Reads never wait for a
//! heartbeat: they consult the last reading.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::guarded::GuardedBackend;
use crate::health::InvalidatorHealth;

/// The key an invalidator named `name` publishes its heartbeat under, for a cache whose key
/// prefix is `prefix`.
///
/// ```
/// assert_eq!(
///     momento_seaorm_cache::heartbeat::heartbeat_key("model-cache", "cdc_a"),
///     "model-cache:cdc:cdc_a:heartbeat"
/// );
/// ```
pub fn heartbeat_key(prefix: &str, name: &str) -> String {
    format!("{prefix}:cdc:{name}:heartbeat")
}

/// How often heartbeats are written and read for a bound of `max_lag`: a fifth of it (at least
/// 10 ms), so a healthy invalidator's heartbeat reads fresh with room to spare.
///
/// ```
/// use std::time::Duration;
/// use momento_seaorm_cache::heartbeat::heartbeat_interval;
/// assert_eq!(heartbeat_interval(Duration::from_secs(1)), Duration::from_millis(200));
/// ```
pub fn heartbeat_interval(max_lag: Duration) -> Duration {
    (max_lag / 5).max(Duration::from_millis(10))
}

/// The TTL of a heartbeat for a bound of `max_lag`: one and a half times it (at least one
/// second), so a writer that died leaves no key behind for long.
///
/// ```
/// use std::time::Duration;
/// use momento_seaorm_cache::heartbeat::heartbeat_ttl;
/// assert_eq!(heartbeat_ttl(Duration::from_secs(2)), Duration::from_secs(3));
/// ```
pub fn heartbeat_ttl(max_lag: Duration) -> Duration {
    (max_lag + max_lag / 2).max(Duration::from_secs(1))
}

/// What an invalidator publishes: its state and progress, JSON in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HeartbeatRecord {
    /// The invalidator's name.
    pub name: String,
    /// Changes with every write (random start), so readers see that the writer is alive.
    pub seq: u64,
    /// `starting`, `healthy`, `down` or `stopped`.
    pub state: String,
    /// How far behind it was when writing, in microseconds (absent before it first caught up).
    pub lag_micros: Option<u64>,
    /// Unix time (µs, the writer's clock) up to which every commit is invalidated.
    pub caught_up_as_of_micros: Option<u64>,
    /// The database position processed and recorded.
    pub position: Option<String>,
    /// Unix time (µs, the writer's clock) of the write.
    pub written_at_micros: u64,
}

impl HeartbeatRecord {
    /// A record of `name` at `seq` in `state`, caught up as of `caught_up_as_of`, written now.
    ///
    /// ```
    /// use momento_seaorm_cache::heartbeat::HeartbeatRecord;
    /// let record = HeartbeatRecord::new("cdc_a", 7, "healthy", Some(std::time::SystemTime::now()), None);
    /// assert!(record.is_healthy());
    /// ```
    pub fn new(
        name: &str,
        seq: u64,
        state: &str,
        caught_up_as_of: Option<SystemTime>,
        position: Option<String>,
    ) -> HeartbeatRecord {
        let now = SystemTime::now();
        HeartbeatRecord {
            name: name.to_owned(),
            seq,
            state: state.to_owned(),
            lag_micros: caught_up_as_of
                .map(|at| now.duration_since(at).unwrap_or_default().as_micros() as u64),
            caught_up_as_of_micros: caught_up_as_of.map(micros),
            position,
            written_at_micros: micros(now),
        }
    }

    /// Whether the writer said it was healthy and caught up at some point.
    ///
    /// ```
    /// use momento_seaorm_cache::heartbeat::HeartbeatRecord;
    /// assert!(!HeartbeatRecord::new("cdc_a", 1, "starting", None, None).is_healthy());
    /// ```
    pub fn is_healthy(&self) -> bool {
        self.state == "healthy"
            && self.lag_micros.is_some()
            && self.caught_up_as_of_micros.is_some()
    }

    /// The stored form (JSON).
    ///
    /// ```
    /// use momento_seaorm_cache::heartbeat::HeartbeatRecord;
    /// let record = HeartbeatRecord::new("cdc_a", 1, "down", None, None);
    /// assert_eq!(HeartbeatRecord::decode(&record.encode()), Some(record));
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads the stored form; `None` when it is not a heartbeat.
    ///
    /// ```
    /// use momento_seaorm_cache::heartbeat::HeartbeatRecord;
    /// assert_eq!(HeartbeatRecord::decode(b"not json"), None);
    /// ```
    pub fn decode(bytes: &[u8]) -> Option<HeartbeatRecord> {
        serde_json::from_slice(bytes).ok()
    }
}

fn micros(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// What a reader remembers of one named invalidator between reads.
#[derive(Debug, Clone, Default)]
struct Seen {
    /// The seq last read, `None` when the key was absent or unreadable.
    seq: Option<u64>,
    /// When the last read that answered for this key was issued (reader's clock).
    last_answer: Option<SystemTime>,
    /// Every commit before this instant is invalidated (conservative estimate).
    caught_up: Option<SystemTime>,
    healthy: bool,
}

/// Turns successive reads of the heartbeat keys into one reading: caught up as of when, and
/// whether any named invalidator is healthy.
#[derive(Debug, Clone)]
pub(crate) struct Observer {
    seen: Vec<Seen>,
}

impl Observer {
    pub(crate) fn new(names: usize) -> Observer {
        Observer {
            seen: vec![Seen::default(); names],
        }
    }

    /// Takes in one read issued at `issued` (`None`: the cache did not answer) and returns the
    /// reading: the latest caught-up instant among the healthy invalidators, and whether there
    /// is one.
    pub(crate) fn observe(
        &mut self,
        issued: SystemTime,
        answer: Option<&[Option<Bytes>]>,
    ) -> (Option<SystemTime>, bool) {
        let Some(values) = answer else {
            return (None, false);
        };
        for (seen, value) in self.seen.iter_mut().zip(values) {
            let record = value.as_deref().and_then(HeartbeatRecord::decode);
            match record {
                None => *seen = Seen::default(),
                Some(record) if seen.seq != Some(record.seq) => {
                    seen.caught_up = estimate(&record, seen.last_answer);
                    seen.healthy = record.is_healthy() && seen.caught_up.is_some();
                    seen.seq = Some(record.seq);
                }
                Some(_) => {}
            }
            seen.last_answer = Some(issued);
        }
        let best = self
            .seen
            .iter()
            .filter(|s| s.healthy)
            .filter_map(|s| s.caught_up)
            .max();
        (best, best.is_some())
    }
}

/// The older of two bounds on the instant the writer was caught up to: its own wall clock, and
/// (needing no shared clock) the previous read that did not see this record — the record was
/// written after that read was served — minus the lag the writer measured when writing.
fn estimate(record: &HeartbeatRecord, previous_read: Option<SystemTime>) -> Option<SystemTime> {
    let lag = Duration::from_micros(record.lag_micros?);
    let by_sequence = previous_read?.checked_sub(lag)?;
    let by_clock = UNIX_EPOCH + Duration::from_micros(record.caught_up_as_of_micros?);
    Some(by_sequence.min(by_clock))
}

/// Starts reading the heartbeats of `health` (if it follows heartbeats and no task does yet)
/// from `backend`, on the current Tokio runtime (nothing happens outside one; the next read
/// tries again). The task ends when the cache is dropped.
pub(crate) fn ensure_watching(
    health: &InvalidatorHealth,
    backend: &Arc<GuardedBackend>,
    prefix: &str,
) {
    let Some(source) = health.heartbeat_source() else {
        return;
    };
    if source.watching.load(Ordering::Relaxed) || tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    if source.watching.swap(true, Ordering::AcqRel) {
        return;
    }
    let keys = source
        .names
        .iter()
        .map(|n| heartbeat_key(prefix, n))
        .collect();
    tokio::spawn(watch(health.clone(), Arc::downgrade(backend), keys));
}

/// Reads the heartbeat keys every [`heartbeat_interval`] into `health` while the cache lives.
async fn watch(health: InvalidatorHealth, backend: Weak<GuardedBackend>, keys: Vec<String>) {
    let mut observer = Observer::new(keys.len());
    let every = heartbeat_interval(health.max_lag());
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    loop {
        let Some(guarded) = backend.upgrade() else {
            health.observe(None, false);
            return;
        };
        let issued = SystemTime::now();
        let answer = if keys.is_empty() {
            None
        } else {
            guarded.get_many(guarded.admit(), &keys).await.ok()
        };
        drop(guarded);
        let (at, healthy) = observer.observe(issued, answer.as_deref());
        health.observe(at, healthy);
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(record: &HeartbeatRecord) -> Option<Bytes> {
        Some(Bytes::from(record.encode()))
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
    }

    fn record(
        seq: u64,
        state: &str,
        caught_up: SystemTime,
        written: SystemTime,
    ) -> HeartbeatRecord {
        let mut r = HeartbeatRecord::new("a", seq, state, Some(caught_up), None);
        r.lag_micros = Some(written.duration_since(caught_up).unwrap().as_micros() as u64);
        r.written_at_micros = micros(written);
        r
    }

    #[test]
    fn a_heartbeat_is_believed_only_once_its_seq_changes() {
        let mut o = Observer::new(1);
        let first = record(1, "healthy", at(9), at(10));
        assert_eq!(o.observe(at(10), Some(&[value(&first)])), (None, false));
        assert_eq!(
            o.observe(at(11), Some(&[value(&first)])),
            (None, false),
            "same seq"
        );
        let second = record(2, "healthy", at(11), at(12));
        // Written after the read at 11 was served: caught up no earlier than 11 - 1 s.
        assert_eq!(
            o.observe(at(12), Some(&[value(&second)])),
            (Some(at(10)), true)
        );
    }

    #[test]
    fn a_writer_clock_ahead_does_not_make_the_heartbeat_fresher() {
        let mut o = Observer::new(1);
        o.observe(
            at(10),
            Some(&[value(&record(1, "healthy", at(10), at(10)))]),
        );
        // The writer's clock is an hour ahead: its caught-up instant is in our future.
        let skewed = record(2, "healthy", at(3600 + 11), at(3600 + 11));
        assert_eq!(
            o.observe(at(12), Some(&[value(&skewed)])),
            (Some(at(10)), true)
        );
    }

    #[test]
    fn missing_unreadable_or_unhealthy_heartbeats_close() {
        let mut o = Observer::new(1);
        o.observe(
            at(10),
            Some(&[value(&record(1, "healthy", at(10), at(10)))]),
        );
        assert!(
            o.observe(
                at(11),
                Some(&[value(&record(2, "healthy", at(11), at(11)))])
            )
            .1
        );
        assert_eq!(
            o.observe(at(12), None),
            (None, false),
            "the cache did not answer"
        );
        assert_eq!(o.observe(at(13), Some(&[None])), (None, false), "expired");
        o.observe(
            at(14),
            Some(&[value(&record(3, "healthy", at(14), at(14)))]),
        );
        let down = record(4, "down", at(14), at(15));
        assert_eq!(o.observe(at(15), Some(&[value(&down)])), (None, false));
        assert_eq!(
            o.observe(at(16), Some(&[Some(Bytes::from_static(b"junk"))])),
            (None, false)
        );
    }

    #[test]
    fn any_fresh_instance_keeps_the_gate_open() {
        let mut o = Observer::new(2);
        let a1 = record(1, "healthy", at(10), at(10));
        let b1 = record(7, "healthy", at(10), at(10));
        o.observe(at(10), Some(&[value(&a1), value(&b1)]));
        let a2 = record(2, "healthy", at(11), at(11));
        let b2 = record(8, "healthy", at(11), at(11));
        assert_eq!(
            o.observe(at(11), Some(&[value(&a2), value(&b2)])),
            (Some(at(10)), true)
        );
        // a dies (its key expires); b goes on.
        let b3 = record(9, "healthy", at(12), at(12));
        assert_eq!(
            o.observe(at(12), Some(&[None, value(&b3)])),
            (Some(at(11)), true)
        );
    }
}
