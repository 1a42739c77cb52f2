//! The near cache's store: values in process memory, bounded by the memory they hold, each
//! valid while its generation keys have not been bumped here, its key has not been dropped,
//! the store has not been flushed since it was fetched, and until its serve-until: validated
//! against the backend less than `max_staleness` ago, and never past the value's own expiry
//! (its TTL) or fresh-until.
//!
//! ```text
//! L1 miss ─► ticket (epoch, drop count, one version slot per generation key, now) ─► remote lookup
//!        ─► remote hit ─► keep(ticket): refused if the epoch, a slot or the drop count moved
//!                         since the ticket, or the value does not say when it expires
//! near hit ◄─ entry: epoch current, every slot at its version, before its serve-until
//! bump of a generation key (local write or a pushed message) ─► its slot's version + 1
//! drop of a value's key (explicit invalidation, here or pushed) ─► drop count + 1, entry removed
//! flush (gen-all, a gap, an unhealthy subscription) ─► epoch + 1, entries dropped
//! ```
//! Generation keys are opaque strings hashed onto a fixed table of version slots, sized by the
//! capacity and charged against it: a bump of a key invalidates every entry that depends on it
//! and, where another key shares its slot, a few more (extra misses, never a stale hit). The
//! table takes no lock, no pruning and no memory per key, so what an entry costs is what its
//! weight says (see [`entry_bytes`]).

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::codec::{now_ms, Header, PlainBody};

/// The version slots an entry depends on, with the versions they had before its fetch.
type Versions = Box<[(u32, u64)]>;

/// Heap bytes an entry holds besides its key, body and versions, measured with a counting
/// allocator (`tests/near_memory.rs`): moka's entry, its key's `Arc`, its access-order node and
/// hash-table bucket, and this entry's `Arc` and fields.
const ENTRY_OVERHEAD_BYTES: usize = 384;

/// Bytes per version in an entry's list.
const VERSION_BYTES: usize = std::mem::size_of::<(u32, u64)>();

/// Capacity bytes per version slot (a table of 8-byte slots costs 1/32 of the capacity).
const CAPACITY_PER_SLOT: u64 = 256;

/// One value kept near: its body, what it depends on, until when it may be served.
#[derive(Debug)]
pub(crate) struct NearEntry {
    pub value: PlainBody,
    versions: Versions,
    epoch: u64,
    until: Instant,
}

/// What an L1 miss takes before its remote lookup, so a value fetched before a bump, a drop or
/// a flush is never kept.
#[derive(Debug)]
pub(crate) struct NearTicket {
    versions: Versions,
    epoch: u64,
    drops: u64,
    taken: Instant,
}

/// What the store has for a key.
pub(crate) enum NearLookup {
    /// A current entry, before its serve-until.
    Hit(Arc<NearEntry>),
    /// Nothing current: look the value up remotely with this ticket (`None`: do not keep
    /// what comes back, the store is bypassed).
    Miss(Option<NearTicket>),
}

/// The near cache's entries, version slots, epoch, drop count and health.
#[derive(Debug)]
pub(crate) struct NearStore {
    /// Keyed by value keys, hashed on every near hit: foldhash, not SipHash.
    entries: moka::sync::Cache<String, Arc<NearEntry>, foldhash::fast::RandomState>,
    slots: Box<[AtomicU64]>,
    hasher: foldhash::fast::RandomState,
    epoch: AtomicU64,
    drops: AtomicU64,
    healthy: AtomicBool,
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

/// What an entry is charged: the heap it holds (key, body, versions, fixed overhead).
fn entry_bytes(key: &str, entry: &NearEntry) -> u32 {
    let bytes = key.len()
        + entry.value.body.len()
        + entry.versions.len() * VERSION_BYTES
        + ENTRY_OVERHEAD_BYTES;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl NearStore {
    /// A store of at most `capacity_bytes` (entries and the slot table), keeping bodies up to
    /// `max_value_bytes`; `healthy` says whether it may serve from the start.
    pub(crate) fn new(
        capacity_bytes: u64,
        max_value_bytes: usize,
        max_staleness: Duration,
        global: String,
        healthy: bool,
    ) -> NearStore {
        let slot_count = (capacity_bytes / CAPACITY_PER_SLOT)
            .next_power_of_two()
            .clamp(64, 1 << 20);
        let slots: Box<[AtomicU64]> = (0..slot_count).map(|_| AtomicU64::new(0)).collect();
        let table_bytes = slot_count * 8;
        let entries = moka::sync::Cache::builder()
            .max_capacity(capacity_bytes.saturating_sub(table_bytes).max(1))
            .weigher(|key: &String, entry: &Arc<NearEntry>| entry_bytes(key, entry))
            .build_with_hasher(foldhash::fast::RandomState::default());
        NearStore {
            entries,
            slots,
            hasher: Default::default(),
            epoch: AtomicU64::new(0),
            drops: AtomicU64::new(0),
            healthy: AtomicBool::new(healthy),
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
                if Instant::now() < entry.until {
                    return NearLookup::Hit(entry);
                }
                self.stats.revalidations.fetch_add(1, Ordering::Relaxed);
            }
        }
        NearLookup::Miss(Some(self.ticket(depends_on)))
    }

    fn slot(&self, key: &str) -> u32 {
        (self.hasher.hash_one(key) as usize & (self.slots.len() - 1)) as u32
    }

    fn is_current(&self, entry: &NearEntry) -> bool {
        entry.epoch == self.epoch.load(Ordering::Acquire)
            && entry.versions.iter().all(|(slot, version)| {
                self.slots[*slot as usize].load(Ordering::Acquire) == *version
            })
    }

    /// The versions of `depends_on` now, before a remote lookup.
    fn ticket(&self, depends_on: Option<&[String]>) -> NearTicket {
        // The epoch and drop count first: a flush or drop after this makes the ticket useless.
        let epoch = self.epoch.load(Ordering::Acquire);
        let drops = self.drops.load(Ordering::Acquire);
        let taken = Instant::now();
        let versions = depends_on
            .unwrap_or_default()
            .iter()
            .map(|key| {
                let slot = self.slot(key);
                (slot, self.slots[slot as usize].load(Ordering::Acquire))
            })
            .collect();
        NearTicket {
            versions,
            epoch,
            drops,
            taken,
        }
    }

    /// Keeps a value a remote lookup served under `ticket`, unless it is too large, does not
    /// say when it expires (or has expired), the store is unhealthy, or a bump, drop or flush
    /// happened since the ticket was taken.
    pub(crate) fn keep(&self, key: &str, ticket: NearTicket, bytes: &Bytes) {
        if bytes.len() > self.max_value_bytes {
            self.stats.too_large.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Ok(header) = Header::parse(bytes) else {
            return;
        };
        let Some(until) = self.serve_until(&header, ticket.taken) else {
            return;
        };
        let Ok(value) = header.plain_body(bytes) else {
            return;
        };
        if value.body.len() > self.max_value_bytes {
            self.stats.too_large.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // A body of its own, exactly its size: never a view that keeps a larger buffer alive.
        let value = PlainBody {
            format: value.format,
            body: Bytes::copy_from_slice(&value.body),
        };
        let entry = NearEntry {
            value,
            versions: ticket.versions,
            epoch: ticket.epoch,
            until,
        };
        if self.healthy.load(Ordering::Acquire)
            && self.is_current(&entry)
            && self.undropped(&ticket.drops)
        {
            self.entries.insert(key.to_owned(), Arc::new(entry));
            // A flush or drop that raced the insert may have missed it: the epoch check would
            // still refuse to serve it, a drop would not, so it goes now.
            if !self.is_current_epoch(ticket.epoch) || !self.undropped(&ticket.drops) {
                self.entries.invalidate(key);
            }
        }
    }

    /// Until when a value with `header`, validated at `validated`, may be served near:
    /// `max_staleness` after, and never past its expiry or fresh-until. `None` when that is
    /// already past or the value does not say when it expires (written before it could).
    fn serve_until(&self, header: &Header, validated: Instant) -> Option<Instant> {
        let meta = header.meta;
        let ends_ms = meta
            .expires_ms?
            .min(meta.fresh_until_ms.unwrap_or(u64::MAX));
        let left = Duration::from_millis(ends_ms.checked_sub(now_ms()).filter(|ms| *ms > 0)?);
        Some(validated + self.max_staleness.min(left))
    }

    fn is_current_epoch(&self, epoch: u64) -> bool {
        self.epoch.load(Ordering::Acquire) == epoch
    }

    fn undropped(&self, drops: &u64) -> bool {
        self.drops.load(Ordering::Acquire) == *drops
    }

    /// Drops every entry that depends on one of `keys`; the global key flushes everything.
    pub(crate) fn bumped(&self, keys: &[String]) {
        if keys.contains(&self.global) {
            self.flush();
            return;
        }
        for key in keys {
            self.slots[self.slot(key) as usize].fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Drops the entries of these value keys (explicit invalidation of one cached read).
    pub(crate) fn dropped(&self, keys: &[String]) {
        // First, so a lookup in flight does not keep what it fetched before the drop.
        self.drops.fetch_add(1, Ordering::AcqRel);
        for key in keys {
            self.entries.invalidate(key);
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

    /// Bytes charged: the entries held and the slot table.
    pub(crate) fn weighted_bytes(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size() + self.slots.len() as u64 * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Envelope, ValueMeta};

    fn store(staleness: Duration) -> NearStore {
        NearStore::new(1 << 20, 4096, staleness, "p:gen-all".into(), true)
    }

    /// A stored value that expires in `ms`.
    fn expiring(text: &str, ms: u64) -> Bytes {
        let meta = ValueMeta {
            expires_ms: Some(now_ms() + ms),
            ..ValueMeta::default()
        };
        Bytes::from(Envelope::default().encode_with_meta(text, meta).unwrap())
    }

    fn value(text: &str) -> Bytes {
        expiring(text, 60_000)
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

    fn fill_with(store: &NearStore, key: &str, on: &[String], bytes: Bytes) {
        let NearLookup::Miss(Some(ticket)) = store.lookup(key, Some(on)) else {
            panic!("expected a ticket");
        };
        store.keep(key, ticket, &bytes);
    }

    fn fill(store: &NearStore, key: &str, on: &[String], text: &str) {
        fill_with(store, key, on, value(text));
    }

    #[test]
    fn a_bump_drops_the_entries_that_depend_on_the_key() {
        let store = store(Duration::from_secs(60));
        let (users, orders) = (deps(&["p:gen-all", "u"]), deps(&["p:gen-all", "o"]));
        fill(&store, "a", &users, "alice");
        fill(&store, "b", &orders, "order");
        assert_eq!(served(&store, "a", &users).as_deref(), Some("alice"));
        store.bumped(&deps(&["u"]));
        assert_eq!(served(&store, "a", &users), None);
        if store.slot("u") != store.slot("o") {
            assert_eq!(served(&store, "b", &orders).as_deref(), Some("order"));
        }
        store.bumped(&deps(&["p:gen-all"]));
        assert_eq!(served(&store, "b", &orders), None);
    }

    #[test]
    fn a_value_fetched_before_a_bump_drop_or_flush_is_not_kept() {
        let store = store(Duration::from_secs(60));
        let on = deps(&["u"]);
        let ticket = || match store.lookup("a", Some(&on)) {
            NearLookup::Miss(Some(ticket)) => ticket,
            _ => panic!("expected a ticket"),
        };
        let before = ticket();
        store.bumped(&on);
        store.keep("a", before, &value("old"));
        assert_eq!(served(&store, "a", &on), None);
        let before = ticket();
        store.flush();
        store.keep("a", before, &value("old"));
        assert_eq!(served(&store, "a", &on), None);
        let before = ticket();
        store.dropped(&deps(&["a"]));
        store.keep("a", before, &value("old"));
        assert_eq!(served(&store, "a", &on), None);
        fill(&store, "a", &on, "new");
        store.dropped(&deps(&["a"]));
        assert_eq!(served(&store, "a", &on), None, "a drop removes the entry");
    }

    #[test]
    fn entries_end_at_max_staleness_or_their_expiry_and_unhealthy_stores_serve_nothing() {
        let store = store(Duration::from_millis(30));
        let on = deps(&["u"]);
        fill(&store, "a", &on, "alice");
        assert!(served(&store, "a", &on).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(served(&store, "a", &on), None, "past max_staleness");
        let long = self::store(Duration::from_secs(60));
        fill_with(&long, "a", &on, expiring("alice", 30));
        assert!(served(&long, "a", &on).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(served(&long, "a", &on), None, "past the value's expiry");
        let timeless = Bytes::from(Envelope::default().encode("alice").unwrap());
        fill_with(&long, "b", &on, timeless);
        assert_eq!(served(&long, "b", &on), None, "no expiry: not kept");
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
        let store = NearStore::new(4000, 300, Duration::from_secs(60), "g".into(), true);
        let on = deps(&["u"]);
        fill(&store, "big", &on, &"x".repeat(400));
        assert_eq!(served(&store, "big", &on), None);
        assert_eq!(store.stats.too_large.load(Ordering::Relaxed), 1);
        for i in 0..40 {
            fill(&store, &format!("k{i}"), &on, &"y".repeat(200));
        }
        assert!(store.weighted_bytes() <= 4000, "{}", store.weighted_bytes());
        assert!(store.entry_count() < 40);
    }
}
