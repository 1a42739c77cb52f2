//! One loader per key: concurrent reads of one key in one process share one database query.
//!
//! A flight is keyed by the cache key and the generations its callers saw
//! ([`FlightKey`]), so a caller never takes a value loaded under generations older than the ones
//! it saw. The first caller of a flight leads: it reads the cache and, on a miss, the database, and stores
//! the result. Callers that arrive meanwhile wait and take the leader's encoded value. If the
//! leader is cancelled another waiter takes over; if the leader's query fails, each waiter runs
//! its own (so every caller gets its own database answer or error). When the value is stored in
//! the background, the flight stays joinable until the store lands ([`Stored::Pending`]): a
//! caller whose lookup missed meanwhile saw the same generations, so the leader's bytes are what
//! that lookup would have found once stored.
//!
//! Reads the cache could not answer (a fault, a timeout, the breaker open) saw no generations
//! that could tell them apart from a write, so they share a load only with callers that arrived
//! before it started ([`Flights::run_unanswered`]): a flight gathers callers until its leader
//! starts loading, and callers arriving after that gather in the next flight, whose load starts
//! once this one has landed. Each caller still gets a database answer from after it began, and
//! any number of concurrent misses of one key cost at most two loads at a time.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::key::CacheKey;

/// Which load a caller may share: the cache key, and the stamp of the generations the caller
/// saw (`None` when it saw none or not all of them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FlightKey {
    /// The value's key.
    pub key: CacheKey,
    /// The generations seen, folded.
    pub stamp: Option<u64>,
}

/// Whether a loaded value was stored in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// Not stored (after a fault, or the policy said not to).
    No,
    /// Stored before the leader returned.
    Yes,
    /// Being stored by a background task: the flight stays joinable until the task calls
    /// [`Flights::stored`], so a read in this process meanwhile takes these bytes rather than
    /// query again (they are what its lookup will find once stored).
    Pending,
}

/// What a leader leaves for the callers that waited on it.
#[derive(Debug, Clone)]
pub(crate) enum Landing {
    /// The value was in the cache: these are its stored bytes.
    Hit(Bytes),
    /// The value was loaded from the database: these are its encoded bytes, and whether they
    /// were stored in the cache (only stored values answer late callers).
    Loaded(Bytes, Stored),
    /// The leader could not produce a shareable value; waiters load for themselves.
    Nothing,
}

type Flight = Arc<OnceCell<Landing>>;

/// How long the landing time of a flight that stored its value is remembered: a new leader for
/// the same key whose own lookup started before that landing looks the cache up again before
/// querying (it looked before the value was stored).
const RECENT_FOR: Duration = Duration::from_secs(60);

/// A flight of reads the cache could not answer: joinable until its load starts.
#[derive(Debug, Default)]
struct Gathering {
    landing: OnceCell<Landing>,
    /// Set (under the map's lock) when its load starts: later callers gather in the next one.
    closed: AtomicBool,
    /// The flight before this one, which lands before this one's load starts.
    after: Mutex<Option<Arc<Gathering>>>,
}

impl Gathering {
    /// Waits until the flight has landed (a flight whose leader was cancelled lands empty).
    async fn landed(&self) {
        self.landing
            .get_or_init(|| async { Landing::Nothing })
            .await;
    }
}

/// The flights in progress, by key, and the keys whose value a flight recently stored.
#[derive(Debug)]
pub(crate) struct Flights {
    in_progress: Mutex<HashMap<FlightKey, Flight>>,
    recent: moka::sync::Cache<CacheKey, Instant>,
    /// Flights of reads the cache could not answer, gathering or loading, by key.
    unanswered: Mutex<HashMap<CacheKey, Arc<Gathering>>>,
}

impl Default for Flights {
    fn default() -> Self {
        Flights {
            in_progress: Mutex::default(),
            recent: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(RECENT_FOR)
                .build(),
            unanswered: Mutex::default(),
        }
    }
}

impl Flights {
    /// Runs `lead` if no flight for `key` is in progress, else waits for that flight's landing.
    /// Returns the landing and whether this caller led.
    pub(crate) async fn run<F, Fut>(&self, key: &FlightKey, lead: F) -> (Landing, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Landing>,
    {
        let flight = {
            let mut in_progress = self.in_progress.lock().unwrap_or_else(|e| e.into_inner());
            in_progress
                .entry(key.clone())
                .or_insert_with(|| Arc::new(OnceCell::new()))
                .clone()
        };
        let mut led = false;
        let landing = flight
            .get_or_init(|| {
                led = true;
                lead()
            })
            .await
            .clone();
        if led {
            match landing {
                Landing::Loaded(_, Stored::Yes) => {
                    self.recent.insert(key.key.clone(), Instant::now());
                    self.finish(key, &flight);
                }
                // Its store's task ends the flight when the value is in the cache.
                Landing::Loaded(_, Stored::Pending) => {}
                _ => self.finish(key, &flight),
            }
        }
        (landing, led)
    }

    /// Ends the flight of `key` once its value is stored (by the leader, or by a background
    /// task after the leader returned): later callers look the cache up, and a new leader whose
    /// lookup began before now looks again before querying.
    pub(crate) fn stored(&self, key: &FlightKey) {
        self.recent.insert(key.key.clone(), Instant::now());
        let mut in_progress = self.in_progress.lock().unwrap_or_else(|e| e.into_inner());
        in_progress.remove(key);
    }

    /// Runs `lead` for a read of `key` the cache could not answer, or takes the landing of a
    /// flight this caller joined before its load started (see the module docs). Returns the
    /// landing and whether this caller led.
    pub(crate) async fn run_unanswered<F, Fut>(&self, key: &CacheKey, lead: F) -> (Landing, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Landing>,
    {
        let flight = {
            let mut gathering = self.unanswered.lock().unwrap_or_else(|e| e.into_inner());
            match gathering.get(key).cloned() {
                Some(flight) if !flight.closed.load(Ordering::Acquire) => flight,
                before => {
                    let next = Arc::new(Gathering {
                        after: Mutex::new(before),
                        ..Gathering::default()
                    });
                    gathering.insert(key.clone(), next.clone());
                    next
                }
            }
        };
        let mut led = false;
        let landing = flight
            .landing
            .get_or_init(|| async {
                led = true;
                let before = flight
                    .after
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                if let Some(before) = before {
                    before.landed().await;
                }
                {
                    // Closed under the map's lock: whoever joined did so before the load starts.
                    let _gathering = self.unanswered.lock().unwrap_or_else(|e| e.into_inner());
                    flight.closed.store(true, Ordering::Release);
                }
                lead().await
            })
            .await
            .clone();
        if led {
            let mut gathering = self.unanswered.lock().unwrap_or_else(|e| e.into_inner());
            if gathering.get(key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                gathering.remove(key);
            }
        }
        (landing, led)
    }

    /// Whether a flight stored the value of `key` at or after `since` (within the last minute).
    pub(crate) fn landed_since(&self, key: &CacheKey, since: Instant) -> bool {
        self.recent.get(key).is_some_and(|landed| landed >= since)
    }

    /// Removes a landed flight so later callers start afresh (from the cache, now filled).
    fn finish(&self, key: &FlightKey, flight: &Flight) {
        let mut in_progress = self.in_progress.lock().unwrap_or_else(|e| e.into_inner());
        if in_progress.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            in_progress.remove(key);
        }
    }

    /// How many keys have a flight in progress.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.in_progress.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyFormat;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn flight_key() -> FlightKey {
        FlightKey {
            key: KeyFormat::new("p".into(), 1024).statement(
                crate::key::Operation::All,
                "t",
                &sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, "SELECT 1"),
            ),
            stamp: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_one_leader() {
        let flights = Arc::new(Flights::default());
        let leads = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let flights = flights.clone();
                let leads = leads.clone();
                tokio::spawn(async move {
                    flights
                        .run(&flight_key(), || async move {
                            leads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Landing::Loaded(Bytes::from_static(b"v"), Stored::Yes)
                        })
                        .await
                })
            })
            .collect();
        let mut leaders = 0;
        for task in tasks {
            let (landing, led) = task.await.unwrap();
            assert!(matches!(landing, Landing::Loaded(ref b, _) if b == "v"));
            leaders += usize::from(led);
        }
        assert_eq!(leads.load(Ordering::SeqCst), 1);
        assert_eq!(leaders, 1);
        assert_eq!(flights.len(), 0, "landed flights are removed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unanswered_callers_share_the_load_that_starts_after_they_arrive() {
        let flights = Arc::new(Flights::default());
        let loads = Arc::new(AtomicUsize::new(0));
        let run = |flights: Arc<Flights>, loads: Arc<AtomicUsize>| async move {
            let key = flight_key().key;
            flights
                .run_unanswered(&key, || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Landing::Loaded(Bytes::from_static(b"v"), Stored::No)
                })
                .await
        };
        let first = tokio::spawn(run(flights.clone(), loads.clone()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The first load has started: these arrived after it, so they share the next one.
        let later: Vec<_> = (0..100)
            .map(|_| tokio::spawn(run(flights.clone(), loads.clone())))
            .collect();
        let (_, led) = first.await.unwrap();
        assert!(led);
        let mut leaders = 0;
        for task in later {
            let (landing, led) = task.await.unwrap();
            assert!(matches!(landing, Landing::Loaded(ref b, Stored::No) if b == "v"));
            leaders += usize::from(led);
        }
        assert_eq!((loads.load(Ordering::SeqCst), leaders), (2, 1));
        assert!(flights.unanswered.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_leader_is_replaced() {
        let flights = Arc::new(Flights::default());
        let first = {
            let flights = flights.clone();
            tokio::spawn(async move {
                flights
                    .run(&flight_key(), || async {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        Landing::Nothing
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        first.abort();
        let _ = first.await;
        let (landing, led) = flights
            .run(&flight_key(), || async {
                Landing::Hit(Bytes::from_static(b"x"))
            })
            .await;
        assert!(led);
        assert!(matches!(landing, Landing::Hit(_)));
    }
}
