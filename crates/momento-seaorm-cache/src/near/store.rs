//! The near cache's store: values in process memory, bounded by bytes, each valid while its
//! generation keys have not been bumped here, the store has not been flushed since it was
//! fetched, and it was validated against the backend less than `max_staleness` ago.
//!
//! ```text
//! L1 miss ─► ticket (epoch, one version cell per generation key, now) ─► remote lookup
//!        ─► remote hit ─► keep(ticket): refused if the epoch or a cell moved since the ticket
//! near hit ◄─ entry: epoch current, every cell at its version, validated < max_staleness ago
//! bump of a generation key (local write or a pushed message) ─► its cell's version + 1
//! flush (gen-all, a gap, an unhealthy subscription) ─► epoch + 1, entries dropped
//! ```
//! Generation keys are opaque strings: a cell exists per key some entry (or ticket) depends
//! on, so a bump of any key — a table's, the global one, or a finer one — invalidates exactly
//! the entries that depend on it, without the store knowing what the key means.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::codec::{Header, PlainBody};

/// A generation key's local version: bumped when the key is bumped here or by a message.
type Cell = Arc<AtomicU64>;

/// The version cells an entry depends on, with the versions they had before its fetch.
type Versions = Box<[(Cell, u64)]>;

/// Bytes charged per entry besides its key and body (the entry, its cells, moka's node).
const ENTRY_OVERHEAD_BYTES: usize = 96;

/// How many tickets between two prunings of cells no entry uses any more.
const PRUNE_EVERY: u64 = 4096;

/// One value kept near: its body, what it depends on, when it was last validated.
#[derive(Debug)]
pub(crate) struct NearEntry {
    pub value: PlainBody,
    versions: Versions,
    epoch: u64,
    validated: Instant,
}

/// What an L1 miss takes before its remote lookup, so a value fetched before a bump or a
/// flush is never kept.
#[derive(Debug)]
pub(crate) struct NearTicket {
    versions: Versions,
    epoch: u64,
    taken: Instant,
}

/// What the store has for a key.
pub(crate) enum NearLookup {
    /// A current entry, validated within `max_staleness`.
    Hit(Arc<NearEntry>),
    /// Nothing current: look the value up remotely with this ticket (`None`: do not keep
    /// what comes back, the store is bypassed).
    Miss(Option<NearTicket>),
}

/// The near cache's entries, version cells, epoch and health.
#[derive(Debug)]
pub(crate) struct NearStore {
    entries: moka::sync::Cache<String, Arc<NearEntry>>,
    cells: Mutex<HashMap<String, Cell>>,
    epoch: AtomicU64,
    healthy: AtomicBool,
    tickets: AtomicU64,
    max_staleness: Duration,
    max_value_bytes: usize,
    /// The global generation key: its bump flushes everything.
    global: String,
    pub(crate) stats: NearCounters,
}

/// The near cache's own counters.
#[derive(Debug, Default)]
pub(crate) struct NearCounters {
    pub revalidations: AtomicU64,
    pub flushes: AtomicU64,
    pub too_large: AtomicU64,
    pub messages_received: AtomicU64,
    pub messages_published: AtomicU64,
    pub publish_failures: AtomicU64,
    pub gaps: AtomicU64,
}

impl NearStore {
    /// A store of at most `capacity_bytes` (keys, bodies and overhead), keeping bodies up to
    /// `max_value_bytes`; `healthy` says whether it may serve from the start.
    pub(crate) fn new(
        capacity_bytes: u64,
        max_value_bytes: usize,
        max_staleness: Duration,
        global: String,
        healthy: bool,
    ) -> NearStore {
        let entries = moka::sync::Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|key: &String, entry: &Arc<NearEntry>| {
                let bytes = key.len() + entry.value.body.len() + ENTRY_OVERHEAD_BYTES;
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .build();
        NearStore {
            entries,
            cells: Mutex::default(),
            epoch: AtomicU64::new(0),
            healthy: AtomicBool::new(healthy),
            tickets: AtomicU64::new(0),
            max_staleness,
            max_value_bytes,
            global,
            stats: NearCounters::default(),
        }
    }

    /// The entry for `key` if it is current, else a ticket for the remote lookup.
    pub(crate) fn lookup(&self, key: &str, depends_on: Option<&[String]>) -> NearLookup {
        if !self.healthy.load(Ordering::Acquire) {
            return NearLookup::Miss(None);
        }
        if let Some(entry) = self.entries.get(key) {
            if self.is_current(&entry) {
                if entry.validated.elapsed() < self.max_staleness {
                    return NearLookup::Hit(entry);
                }
                self.stats.revalidations.fetch_add(1, Ordering::Relaxed);
            }
        }
        NearLookup::Miss(Some(self.ticket(depends_on)))
    }

    fn is_current(&self, entry: &NearEntry) -> bool {
        entry.epoch == self.epoch.load(Ordering::Acquire)
            && entry
                .versions
                .iter()
                .all(|(cell, version)| cell.load(Ordering::Acquire) == *version)
    }

    /// The versions of `depends_on` now, before a remote lookup.
    fn ticket(&self, depends_on: Option<&[String]>) -> NearTicket {
        // The epoch first: a flush after this makes the ticket useless, as it must.
        let epoch = self.epoch.load(Ordering::Acquire);
        let taken = Instant::now();
        let keys = depends_on.unwrap_or_default();
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        if self.tickets.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            cells.retain(|_, cell| Arc::strong_count(cell) > 1);
        }
        let versions = keys
            .iter()
            .map(|key| {
                let cell = cells.entry(key.clone()).or_default().clone();
                let version = cell.load(Ordering::Acquire);
                (cell, version)
            })
            .collect();
        NearTicket {
            versions,
            epoch,
            taken,
        }
    }

    /// Keeps a value a remote lookup served under `ticket`, unless it is too large, the store
    /// is unhealthy, or a bump or flush happened since the ticket was taken.
    pub(crate) fn keep(&self, key: &str, ticket: NearTicket, bytes: &Bytes) {
        if bytes.len() > self.max_value_bytes {
            self.stats.too_large.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Ok(value) = Header::parse(bytes).and_then(|h| h.plain_body(bytes)) else {
            return;
        };
        if value.body.len() > self.max_value_bytes {
            self.stats.too_large.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let entry = NearEntry {
            value,
            versions: ticket.versions,
            epoch: ticket.epoch,
            validated: ticket.taken,
        };
        if self.healthy.load(Ordering::Acquire) && self.is_current(&entry) {
            self.entries.insert(key.to_owned(), Arc::new(entry));
            // A flush that raced the insert may have missed it; the epoch check still refuses
            // to serve it, and this frees its memory.
            if !self.is_current_epoch(ticket.epoch) {
                self.entries.invalidate(key);
            }
        }
    }

    fn is_current_epoch(&self, epoch: u64) -> bool {
        self.epoch.load(Ordering::Acquire) == epoch
    }

    /// Drops every entry that depends on one of `keys`; the global key flushes everything.
    pub(crate) fn bumped(&self, keys: &[String]) {
        if keys.contains(&self.global) {
            self.flush();
            return;
        }
        let cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            if let Some(cell) = cells.get(key) {
                cell.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    /// Drops everything: no entry or ticket from before serves or is kept.
    pub(crate) fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks the push channel healthy or not; becoming unhealthy flushes, and while
    /// unhealthy nothing is served or kept.
    pub(crate) fn set_healthy(&self, healthy: bool) {
        if healthy {
            self.healthy.store(true, Ordering::Release);
        } else {
            self.healthy.store(false, Ordering::Release);
            self.flush();
        }
    }

    /// Whether the store serves and keeps values now.
    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// How many entries the store holds (after pending evictions ran).
    pub(crate) fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }

    /// Bytes charged to the entries held.
    pub(crate) fn weighted_bytes(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Envelope;

    fn store(staleness: Duration) -> NearStore {
        NearStore::new(1 << 20, 4096, staleness, "p:gen-all".into(), true)
    }

    fn value(text: &str) -> Bytes {
        Bytes::from(Envelope::default().encode(text).unwrap())
    }

    fn deps(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    fn served(store: &NearStore, key: &str, on: &[String]) -> Option<String> {
        match store.lookup(key, Some(on)) {
            NearLookup::Hit(entry) => Some(entry.value.decode().unwrap()),
            NearLookup::Miss(_) => None,
        }
    }

    fn fill(store: &NearStore, key: &str, on: &[String], text: &str) {
        let NearLookup::Miss(Some(ticket)) = store.lookup(key, Some(on)) else {
            panic!("expected a ticket");
        };
        store.keep(key, ticket, &value(text));
    }

    #[test]
    fn a_bump_drops_exactly_the_entries_that_depend_on_the_key() {
        let store = store(Duration::from_secs(60));
        let (users, orders) = (deps(&["p:gen-all", "u"]), deps(&["p:gen-all", "o"]));
        fill(&store, "a", &users, "alice");
        fill(&store, "b", &orders, "order");
        assert_eq!(served(&store, "a", &users).as_deref(), Some("alice"));
        store.bumped(&deps(&["u"]));
        assert_eq!(served(&store, "a", &users), None);
        assert_eq!(served(&store, "b", &orders).as_deref(), Some("order"));
        store.bumped(&deps(&["p:gen-all"]));
        assert_eq!(served(&store, "b", &orders), None);
    }

    #[test]
    fn a_value_fetched_before_a_bump_or_flush_is_not_kept() {
        let store = store(Duration::from_secs(60));
        let on = deps(&["u"]);
        let NearLookup::Miss(Some(ticket)) = store.lookup("a", Some(&on)) else {
            panic!()
        };
        store.bumped(&on);
        store.keep("a", ticket, &value("old"));
        assert_eq!(served(&store, "a", &on), None);
        let NearLookup::Miss(Some(ticket)) = store.lookup("a", Some(&on)) else {
            panic!()
        };
        store.flush();
        store.keep("a", ticket, &value("old"));
        assert_eq!(served(&store, "a", &on), None);
    }

    #[test]
    fn entries_expire_after_max_staleness_and_unhealthy_stores_serve_nothing() {
        let store = store(Duration::from_millis(30));
        let on = deps(&["u"]);
        fill(&store, "a", &on, "alice");
        assert!(served(&store, "a", &on).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(served(&store, "a", &on), None, "past max_staleness");
        fill(&store, "a", &on, "alice");
        store.set_healthy(false);
        assert!(matches!(
            store.lookup("a", Some(&on)),
            NearLookup::Miss(None)
        ));
        store.set_healthy(true);
        assert_eq!(served(&store, "a", &on), None, "the flush dropped it");
    }

    #[test]
    fn values_over_the_size_rule_are_not_kept_and_capacity_counts_bytes() {
        let store = NearStore::new(2000, 300, Duration::from_secs(60), "g".into(), true);
        let on = deps(&["u"]);
        fill(&store, "big", &on, &"x".repeat(400));
        assert_eq!(served(&store, "big", &on), None);
        assert_eq!(store.stats.too_large.load(Ordering::Relaxed), 1);
        for i in 0..40 {
            fill(&store, &format!("k{i}"), &on, &"y".repeat(200));
        }
        assert!(store.weighted_bytes() <= 2000, "{}", store.weighted_bytes());
        assert!(store.entry_count() < 40);
    }
}
