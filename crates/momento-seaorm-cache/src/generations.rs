//! Generations: how reads learn that a write happened.
//!
//! Every table has a generation key in the backend (`prefix:gen:<table>`), and every read also
//! depends on the global one (`prefix:gen-all`). Reads pinned to rows depend on row generations
//! instead (`prefix:gen:<table>#*`, `#<column>`, `#<column>=<value>`; see `rows`), which writes
//! to known rows bump along with the table's. A write gives each table it wrote a new random
//! generation; a value is stored with the stamp (a hash) of the generations its read saw, and
//! served only while a read sees the same ones.
//!
//! ```text
//! write (CachedConnection, after commit) ─► one batch set: gen:<t> = random, for every table
//!            └─ not recorded (fault, deadline, breaker) ─► owed: reads of <t> here bypass the
//!                                                          cache; retried until recorded
//! read (strict)  ─► one batch get [value, gen:<t1>, ...] (+ gen-all when the copy held is
//!                   older than the hold) ─► hit iff stamp matches
//! read (bounded) ─► generations from an in-process copy at most `window` old, then one get
//! miss with a generation absent ─► set-if-absent(random) before loading, else do not store
//!   (one this process never looked up, such as a row read for the first time, is created
//!   beside the batch get instead of after it: see `seen_keys`)
//! ```
//! Rules that keep this correct:
//! * **Only a present generation stands in a stamp.** Absent (never written, expired, evicted)
//!   matches no stamp, so no value outlives the generation it was stamped with. A read that
//!   finds one absent creates it with set-if-absent *before* it loads, so a write that lands
//!   after the load changes it; if it cannot create it, it does not store.
//! * **Generations are random, never counters**, so one that expired and came back can never
//!   match a stamp from before.
//! * **A bump that cannot be recorded is owed, not forgotten**: this process bypasses the cache
//!   for reads that depend on it, and retries it every [`OWED_RETRY_INTERVAL`] in the
//!   background until it is recorded.
//! * **The global generation is held, and its bumps wait out the hold.** In strict mode a
//!   process uses the `gen-all` it fetched for a hold ([`DEFAULT_GLOBAL_HOLD`]), timed from
//!   when the fetch was *sent*, instead of fetching it with every read (it changes only on
//!   `invalidate_all`, writes whose reach is unknown, and change capture losing its place). A
//!   bump of it returns only [`global_wait`] (the hold + 10%) after it is recorded, so a copy
//!   fetched before the bump has expired in every process by then: no read that starts after
//!   the bump returns uses it. This relies on the processes' monotonic clocks running at the
//!   same rate within the margin.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{debug, warn};

use crate::breaker::Admission;
use crate::guarded::GuardedBackend;
use crate::key::KeyFormat;
use crate::metrics::Counters;
use crate::near::Near;
use crate::rows::{Condition, RowValue, Scope, TableSchema};
use crate::seen_keys::SeenKeys;

/// How long a generation key lives; stored values are clamped to it while invalidation is on.
pub const GENERATION_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How often a process retries the bumps it owes.
pub const OWED_RETRY_INTERVAL: Duration = Duration::from_millis(250);

/// The most generation keys one batch set carries; a bump of more is sent in several.
pub const BUMP_CHUNK: usize = 256;

/// Strict mode: how long a process uses the global generation it fetched (timed from when the
/// fetch was sent) instead of fetching it with every read, unless
/// [`global_generation_hold`](crate::ModelCacheBuilder::global_generation_hold) says otherwise.
pub const DEFAULT_GLOBAL_HOLD: Duration = Duration::from_millis(50);

/// The longest hold accepted: each bump of the global generation waits it.
pub const MAX_GLOBAL_HOLD: Duration = Duration::from_secs(5);

/// How long a bump of the global generation waits after it is recorded before it returns, for
/// a `hold`: the hold plus 10%, for clocks that run at slightly different rates; nothing
/// without a hold.
pub fn global_wait(hold: Duration) -> Duration {
    hold + hold / 10
}

/// How reads stay consistent with writes made through a
/// [`CachedConnection`](crate::CachedConnection) or
/// [`ModelCache::invalidate_table`](crate::ModelCache::invalidate_table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// No read that starts after a write has returned sees data older than that write, in any
    /// process sharing the backend, while the writer can reach the cache (see docs/reliability.md
    /// for what a cache outage changes). Costs a batch get (the value plus its tables'
    /// generations, and the global one once per
    /// [hold](crate::ModelCacheBuilder::global_generation_hold)) instead of a get: still one
    /// round trip.
    Strict,
    /// Generations are held in-process for at most this long: a write in another process is
    /// seen within the window (in this process at once). A hit is one plain get.
    Bounded(Duration),
    /// No generations: entries live until their TTL, as in the Node library.
    TtlOnly,
}

/// The generation keys a read depends on: the global one, then one per table it reads.
pub(crate) type GenerationKeys = Arc<[String]>;

/// What a read saw of the generations it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    /// All present: the stamp a current value carries.
    Complete(u64),
    /// At least one absent (`None`): no stored value is current.
    Incomplete(Vec<Option<u64>>),
}

impl Seen {
    /// The stamp, when every generation was present.
    pub(crate) fn stamp(&self) -> Option<u64> {
        match self {
            Seen::Complete(stamp) => Some(*stamp),
            Seen::Incomplete(_) => None,
        }
    }
}

/// A stored generation: eight bytes; anything else, or nothing, is absent.
fn parse(bytes: Option<&Bytes>) -> Option<u64> {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map(u64::from_le_bytes)
}

/// Folds generations (global first, then tables in sorted order) into one stamp.
pub(crate) fn stamp(generations: impl IntoIterator<Item = u64>) -> u64 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    for g in generations {
        h ^= g;
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
    }
    h
}

/// Bumps this process could not record, each with the sequence number of its latest failure.
#[derive(Debug, Default)]
struct Owed {
    keys: Mutex<HashMap<String, u64>>,
    /// Fast path: false while nothing is owed (the hit path then takes no lock).
    any: AtomicBool,
    sequence: AtomicU64,
    retrying: AtomicBool,
}

impl Owed {
    fn add(&self, keys: &[String]) {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let mut owed = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            owed.insert(key.clone(), sequence);
        }
        self.any.store(true, Ordering::Release);
    }

    fn contains_any(&self, keys: &[String]) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let owed = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter().any(|key| owed.contains_key(key))
    }

    fn snapshot(&self) -> Vec<(String, u64)> {
        let owed = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        owed.iter().map(|(k, s)| (k.clone(), *s)).collect()
    }

    /// Forgets the keys of `recorded` not owed again since the snapshot was taken (a bump that
    /// failed after the retry started needs a retry of its own).
    fn settle(&self, recorded: &[(String, u64)]) {
        let mut owed = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        for (key, sequence) in recorded {
            if owed.get(key) == Some(sequence) {
                owed.remove(key);
            }
        }
        self.any.store(!owed.is_empty(), Ordering::Release);
    }

    fn len(&self) -> usize {
        self.keys.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// What primary-key reads of one entity depend on, made once per entity type and catalog.
#[derive(Debug)]
pub(crate) struct EntityKeys {
    /// The entity's table, as generations name it.
    pub table: String,
    /// The table's schema when the catalog shows its rows can be tracked.
    pub schema: Option<Arc<TableSchema>>,
    /// The global generation and the table's: for a key that is not one tracked column.
    table_keys: GenerationKeys,
    /// `#*` and the row key up to its value (`…#id=`), when the key is one tracked column.
    row: Option<(String, String)>,
}

/// Generation keys, the in-process copies bounded mode reads, and the bumps owed.
#[derive(Debug)]
pub(crate) struct Generations {
    backend: Arc<GuardedBackend>,
    keys: KeyFormat,
    consistency: Consistency,
    /// Bounded mode: generations seen recently, by key.
    local: moka::sync::Cache<String, u64, foldhash::fast::RandomState>,
    /// What primary-key reads depend on, per entity type.
    by_entity: RwLock<HashMap<TypeId, (u64, Arc<EntityKeys>)>>,
    owed: Owed,
    counters: Arc<Counters>,
    /// The near cache, told of every bump (recorded or not) before the bump returns.
    near: Option<Arc<Near>>,
    /// Strict mode: the global generation last fetched (as stored: a hit reuses it without
    /// an allocation), and when its fetch was sent.
    global: RwLock<Option<(Bytes, Instant)>>,
    /// How long that copy is used: zero outside strict mode, or when the builder says so.
    global_hold: Duration,
    /// Generation keys this process looked up before (a hint for creating the others early).
    seen: SeenKeys,
}

impl Generations {
    pub(crate) fn new(
        backend: Arc<GuardedBackend>,
        keys: KeyFormat,
        consistency: Consistency,
        counters: Arc<Counters>,
    ) -> Generations {
        let keep = match consistency {
            Consistency::Bounded(window) => window,
            _ => Duration::from_millis(1),
        };
        Generations {
            backend,
            keys,
            consistency,
            local: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(keep.max(Duration::from_millis(1)))
                .build_with_hasher(foldhash::fast::RandomState::default()),
            by_entity: RwLock::default(),
            owed: Owed::default(),
            counters,
            near: None,
            global: RwLock::new(None),
            global_hold: Duration::ZERO,
            seen: SeenKeys::default(),
        }
    }

    /// Strict mode: uses a fetched global generation for `hold` (zero: fetches it with every
    /// read). Other modes hold nothing.
    pub(crate) fn with_global_hold(mut self, hold: Duration) -> Generations {
        if self.consistency == Consistency::Strict {
            self.global_hold = hold;
        }
        self
    }

    /// Tells `near` of every bump this process makes.
    pub(crate) fn with_near(mut self, near: Option<Arc<Near>>) -> Generations {
        self.near = near;
        self
    }

    /// Whether reads check generations at all.
    pub(crate) fn enabled(&self) -> bool {
        self.consistency != Consistency::TtlOnly
    }

    /// The generation keys a read of `tables` depends on; `None` with `TtlOnly`.
    pub(crate) fn for_tables(&self, tables: &[String]) -> Option<GenerationKeys> {
        if !self.enabled() {
            return None;
        }
        let mut keys = Vec::with_capacity(tables.len() + 1);
        keys.push(self.keys.global_generation().to_owned());
        keys.extend(tables.iter().map(|t| self.keys.generation(t)));
        Some(keys.into())
    }

    /// The generation keys a read of the rows of `table` that `condition` selects depends on:
    /// the global one, any row of the table (`#*`), the column (unless it is the primary key,
    /// whose unknown values bump `#*`), and each value; for a composite key, each key
    /// column (a write whose values there are not known bumps it) and each tuple. At most
    /// 2 + key columns + 16 keys (`MAX_CONDITION_VALUES`).
    pub(crate) fn for_condition(
        &self,
        table: &str,
        condition: &Condition,
    ) -> Option<GenerationKeys> {
        if !self.enabled() {
            return None;
        }
        let mut keys = Vec::with_capacity(condition.values.len() + 3);
        keys.push(self.keys.global_generation().to_owned());
        keys.push(self.keys.row_generation(table, &Scope::AnyRow));
        if !condition.primary {
            keys.push(
                self.keys
                    .row_generation(table, &Scope::Column(condition.column.clone())),
            );
        }
        for value in &condition.values {
            let scope = Scope::Value(condition.column.clone(), value.clone());
            keys.push(self.keys.row_generation(table, &scope));
        }
        if let Some((columns, tuples)) = &condition.key {
            for column in columns.iter().skip(1) {
                keys.push(
                    self.keys
                        .row_generation(table, &Scope::Column(column.clone())),
                );
            }
            for tuple in tuples {
                let scope = Scope::Tuple(columns.clone(), tuple.clone());
                keys.push(self.keys.row_generation(table, &scope));
            }
        }
        Some(keys.into())
    }

    /// What primary-key reads of entity `E` depend on under catalog `catalog` (an id):
    /// `describe` gives the entity's table and, when its rows can be tracked, its schema, and
    /// is called once per entity type and catalog. `None` with `TtlOnly`.
    pub(crate) fn entity<E: 'static>(
        &self,
        catalog: u64,
        describe: impl FnOnce() -> (String, Option<Arc<TableSchema>>),
    ) -> Option<Arc<EntityKeys>> {
        if !self.enabled() {
            return None;
        }
        let id = TypeId::of::<E>();
        let memo = self.by_entity.read().unwrap_or_else(|e| e.into_inner());
        if let Some((made_with, keys)) = memo.get(&id) {
            if *made_with == catalog {
                return Some(keys.clone());
            }
        }
        drop(memo);
        let (table, schema) = describe();
        let keys = Arc::new(self.entity_keys(table, schema));
        let mut memo = self.by_entity.write().unwrap_or_else(|e| e.into_inner());
        memo.insert(id, (catalog, keys.clone()));
        Some(keys)
    }

    /// The dependencies of entity `E` as this process last made them, under whichever catalog
    /// (`None` before its first read here).
    pub(crate) fn known_entity<E: 'static>(&self) -> Option<Arc<EntityKeys>> {
        let memo = self.by_entity.read().unwrap_or_else(|e| e.into_inner());
        memo.get(&TypeId::of::<E>()).map(|(_, keys)| keys.clone())
    }

    /// What to bump so that no value stored under `depends_on` (a read of one row of `table`)
    /// validates again: its keys but the global generation and, when a narrower key is there,
    /// `#*` (which every row read of the table depends on).
    pub(crate) fn row_invalidation(&self, table: &str, depends_on: &[String]) -> Vec<String> {
        let global = self.keys.global_generation();
        let any_row = self.keys.row_generation(table, &Scope::AnyRow);
        let keys: Vec<String> = depends_on
            .iter()
            .filter(|k| k.as_str() != global && **k != any_row)
            .cloned()
            .collect();
        if keys.is_empty() {
            depends_on
                .iter()
                .filter(|k| k.as_str() != global)
                .cloned()
                .collect()
        } else {
            keys
        }
    }

    /// The generation keys a read of one row of `entity` depends on: with `value` (its key,
    /// of one tracked column), the global one, `#*` and the row's; else the global one and
    /// its table's.
    pub(crate) fn for_entity_row(
        &self,
        entity: &EntityKeys,
        value: Option<RowValue>,
    ) -> GenerationKeys {
        match (&entity.row, value) {
            (Some((any_row, row_prefix)), Some(value)) => {
                let mut row = String::with_capacity(row_prefix.len() + 40);
                row.push_str(row_prefix);
                value.push_key(&mut row);
                let global = self.keys.global_generation().to_owned();
                Arc::from([global, any_row.clone(), row])
            }
            _ => entity.table_keys.clone(),
        }
    }

    /// The parts of [`EntityKeys`] for `table`, whose rows are tracked by its primary key
    /// when `schema` names one column.
    fn entity_keys(&self, table: String, schema: Option<Arc<TableSchema>>) -> EntityKeys {
        let primary_key = schema.as_ref().and_then(|s| s.primary_key.clone());
        let row = primary_key.map(|column| {
            // `…#<column>` + `=`: exactly `row_generation(table, Value(column, v))` before `v`.
            let mut prefix = self.keys.row_generation(&table, &Scope::Column(column));
            prefix.push('=');
            (self.keys.row_generation(&table, &Scope::AnyRow), prefix)
        });
        let table_keys = vec![
            self.keys.global_generation().to_owned(),
            self.keys.generation(&table),
        ];
        EntityKeys {
            table,
            schema,
            table_keys: table_keys.into(),
            row,
        }
    }

    /// Whether a read depending on `keys` can use a held global generation: a hold (strict
    /// mode), and the global generation first (as every read's keys have it).
    pub(crate) fn holds_global_of(&self, keys: &[String]) -> bool {
        !self.global_hold.is_zero()
            && keys.first().map(String::as_str) == Some(self.keys.global_generation())
    }

    /// The global generation this process fetched less than the hold ago (timed from when the
    /// fetch was sent), as stored, which a read may use instead of fetching it.
    pub(crate) fn held_global(&self) -> Option<Bytes> {
        let held = self.global.read().unwrap_or_else(|e| e.into_inner());
        held.as_ref()
            .filter(|(_, sent)| sent.elapsed() < self.global_hold)
            .map(|(generation, _)| generation.clone())
    }

    /// Keeps the global generation a fetch sent at `sent` found (absent or malformed: nothing
    /// to keep), unless a fetch sent later is held.
    pub(crate) fn hold_global(&self, found: Option<&Bytes>, sent: Instant) {
        let Some(found) = found.filter(|b| parse(Some(b)).is_some()) else {
            return;
        };
        let mut held = self.global.write().unwrap_or_else(|e| e.into_inner());
        if held.as_ref().is_none_or(|(_, at)| *at < sent) {
            *held = Some((found.clone(), sent));
        }
    }

    /// After a bump of the global generation: forgets the copy held and waits [`global_wait`]
    /// of the hold (nothing without one), so the copy every other process holds from before
    /// the bump has expired when the bump returns.
    async fn after_global_bump(&self) {
        if self.global_hold.is_zero() {
            return;
        }
        *self.global.write().unwrap_or_else(|e| e.into_inner()) = None;
        tokio::time::sleep(global_wait(self.global_hold)).await;
    }

    /// Whether this process owes a bump of any of `keys`: its reads must not use the cache.
    pub(crate) fn owes_any(&self, keys: &[String]) -> bool {
        self.owed.contains_any(keys)
    }

    /// How many generation keys this process owes a bump of.
    pub(crate) fn owed_count(&self) -> usize {
        self.owed.len()
    }

    /// Bounded mode: the stamp of `keys` from the in-process copy, if it holds them all.
    pub(crate) fn local_stamp(&self, keys: &[String]) -> Option<u64> {
        if !matches!(self.consistency, Consistency::Bounded(_)) {
            return None;
        }
        let held: Option<Vec<u64>> = keys.iter().map(|k| self.local.get(k)).collect();
        held.map(stamp)
    }

    /// What a batch get saw of `keys` (`values` in the same order); bounded mode remembers the
    /// present ones.
    pub(crate) fn observe(&self, keys: &[String], values: &[Option<Bytes>]) -> Seen {
        let bounded = matches!(self.consistency, Consistency::Bounded(_));
        // The hit path: every generation present, folded without an allocation.
        let present = values.iter().map(|v| parse(v.as_ref()));
        if present.clone().all(|g| g.is_some()) {
            if bounded {
                for (key, generation) in keys.iter().zip(present.clone().flatten()) {
                    self.remember(key, generation);
                }
            }
            return Seen::Complete(stamp(present.flatten()));
        }
        let seen: Vec<Option<u64>> = present.collect();
        self.counters
            .generations_absent(seen.iter().filter(|g| g.is_none()).count() as u64);
        for (key, generation) in keys.iter().zip(&seen) {
            if let Some(generation) = generation {
                self.remember(key, *generation);
            }
        }
        Seen::Incomplete(seen)
    }

    /// Makes `seen` complete by creating its absent generations with set-if-absent, before the
    /// caller loads (so a write that lands after the load changes them). Where another reader
    /// or a writer set one first, the generations are read again. Stays incomplete on a fault
    /// (the caller then does not store).
    pub(crate) async fn complete(&self, admission: Admission, keys: &[String], seen: Seen) -> Seen {
        let Seen::Incomplete(mut generations) = seen else {
            return seen;
        };
        let mut lost_a_race = false;
        for (key, generation) in keys.iter().zip(generations.iter_mut()) {
            if generation.is_some() {
                continue;
            }
            match self.create(admission, key).await {
                Ok(Some(fresh)) => *generation = Some(fresh),
                Ok(None) => lost_a_race = true,
                Err(()) => return Seen::Incomplete(generations),
            }
        }
        if !lost_a_race {
            return Seen::Complete(stamp(generations.into_iter().flatten()));
        }
        let batch: Vec<&str> = keys.iter().map(String::as_str).collect();
        match self.backend.get_many(admission, &batch).await {
            Ok(values) => self.observe(keys, &values),
            Err(_) => Seen::Incomplete(generations),
        }
    }

    /// Of `keys` (those a lookup is about to batch-get), the positions of the ones this
    /// process never looked up: likely absent, so the lookup creates them beside its batch get
    /// ([`create_beside`](Self::create_beside)). Empty on the hit path (no allocation).
    pub(crate) fn unseen(&self, keys: &[String]) -> Vec<usize> {
        let mut unseen = Vec::new();
        for (position, key) in keys.iter().enumerate() {
            if !self.seen.check_in(key) {
                unseen.push(position);
            }
        }
        unseen
    }

    /// Creates `keys` with set-if-absent, concurrently: for each, the generation this call
    /// created (`None` when one was present already, or on a fault). Safe whatever the batch
    /// get beside it saw: a generation created before the load starts is one any later write
    /// changes, and generations are random, so a stamp from before an eviction never matches.
    pub(crate) async fn create_beside(
        &self,
        admission: Admission,
        keys: &[&str],
    ) -> Vec<Option<u64>> {
        let creates = keys.iter().map(|key| self.create(admission, key));
        let created = futures::future::join_all(creates).await;
        created.into_iter().map(|c| c.ok().flatten()).collect()
    }

    /// Creates `key` with a new random generation unless one is present: `Ok(Some)` with it,
    /// `Ok(None)` when one was present, `Err` on a fault.
    async fn create(&self, admission: Admission, key: &str) -> Result<Option<u64>, ()> {
        let fresh = fastrand::u64(1..);
        let value = fresh.to_le_bytes().to_vec();
        match self
            .backend
            .set_if_absent(admission, key, value, GENERATION_TTL)
            .await
        {
            Ok(true) => {
                self.remember(key, fresh);
                Ok(Some(fresh))
            }
            Ok(false) => Ok(None),
            Err(_) => Err(()),
        }
    }

    /// Bounded mode: keeps a generation this process saw or made.
    fn remember(&self, key: &str, generation: u64) {
        if matches!(self.consistency, Consistency::Bounded(_)) {
            self.local.insert(key.to_owned(), generation);
        }
    }

    /// Gives each of `tables` a new generation.
    pub(crate) async fn bump_tables(self: &Arc<Self>, tables: &[String]) {
        if !self.enabled() || tables.is_empty() {
            return;
        }
        self.bump(self.table_keys(tables)).await;
    }

    /// Gives each of `keys` (made by [`table_keys`](Self::table_keys) and
    /// [`row_keys`](Self::row_keys)) a new generation in one batch; owed if not recorded.
    pub(crate) async fn bump_keys(self: &Arc<Self>, keys: Vec<String>) {
        if !self.enabled() || keys.is_empty() {
            return;
        }
        self.bump(keys).await;
    }

    /// Gives the global generation a new value: every stored value becomes a miss. Returns
    /// [`global_wait`] after it is recorded in strict mode (see the module's rules); one that
    /// could not be recorded (owed: this process bypasses the cache) returns at once, so a cache
    /// fault costs a write no more than the deadline.
    pub(crate) async fn bump_all(self: &Arc<Self>) {
        if !self.enabled() {
            return;
        }
        if self.bump(self.global_keys()).await {
            self.after_global_bump().await;
        }
    }

    /// Gives each of `tables` a new generation in one batch set; `true` when recorded. Nothing
    /// is owed on failure: the caller retries.
    pub(crate) async fn try_bump_tables(&self, tables: &[String]) -> bool {
        if !self.enabled() || tables.is_empty() {
            return true;
        }
        self.record(self.backend.admit(), &self.table_keys(tables))
            .await
    }

    /// Gives each of `keys` (made by [`table_keys`](Self::table_keys) and
    /// [`row_keys`](Self::row_keys)) a new generation in one batch set; `true` when recorded.
    /// Nothing is owed on failure: the caller retries.
    #[cfg_attr(
        not(any(feature = "cdc-postgres", feature = "cdc-mysql")),
        allow(dead_code)
    )]
    pub(crate) async fn try_bump_keys(&self, keys: &[String]) -> bool {
        if !self.enabled() || keys.is_empty() {
            return true;
        }
        self.record(self.backend.admit(), keys).await
    }

    /// Gives the global generation a new value; `true` when recorded (then, in strict mode,
    /// [`global_wait`] of the hold later), nothing owed otherwise.
    pub(crate) async fn try_bump_all(&self) -> bool {
        if !self.enabled() {
            return true;
        }
        let recorded = self.record(self.backend.admit(), &self.global_keys()).await;
        if recorded {
            self.after_global_bump().await;
        }
        recorded
    }

    /// What a write with unknown rows bumps in each of `tables`: the table's generation, which
    /// whole-table reads depend on, and `#*`, which every row and condition read depends on.
    pub(crate) fn table_keys(&self, tables: &[String]) -> Vec<String> {
        tables
            .iter()
            .flat_map(|t| {
                [
                    self.keys.generation(t),
                    self.keys.row_generation(t, &Scope::AnyRow),
                ]
            })
            .collect()
    }

    /// What a write to known rows of `table` bumps: the table's generation and each scope.
    pub(crate) fn row_keys<'a>(
        &self,
        table: &str,
        scopes: impl IntoIterator<Item = &'a Scope>,
    ) -> Vec<String> {
        let mut keys = vec![self.keys.generation(table)];
        keys.extend(
            scopes
                .into_iter()
                .map(|s| self.keys.row_generation(table, s)),
        );
        keys
    }

    /// The global generation key, as a batch of one.
    fn global_keys(&self) -> Vec<String> {
        vec![self.keys.global_generation().to_owned()]
    }

    /// Gives each key a new random generation in one batch set under the deadline. What cannot
    /// be recorded is owed: this process bypasses the cache for reads that depend on it and
    /// retries every [`OWED_RETRY_INTERVAL`] in the background until it is recorded.
    /// `true` when recorded.
    async fn bump(self: &Arc<Self>, keys: Vec<String>) -> bool {
        let admission = self.backend.admit();
        if self.record(admission, &keys).await {
            return true;
        }
        self.counters.invalidation_failure();
        warn!(
            keys = ?keys,
            "could not record an invalidation: this process bypasses the cache for these tables \
             and retries; other processes may read older values until it is recorded"
        );
        self.owed.add(&keys);
        self.retry_owed();
        false
    }

    /// Sets new generations for `keys`, [`BUMP_CHUNK`] keys per batch set; `true` when all are
    /// recorded.
    async fn record(&self, admission: Admission, keys: &[String]) -> bool {
        let generations: Vec<u64> = keys.iter().map(|_| fastrand::u64(1..)).collect();
        let items: Vec<(&str, Vec<u8>)> = keys
            .iter()
            .zip(&generations)
            .map(|(key, g)| (key.as_str(), g.to_le_bytes().to_vec()))
            .collect();
        let mut recorded = true;
        for chunk in items.chunks(BUMP_CHUNK) {
            let set = self
                .backend
                .set_many(admission, chunk, GENERATION_TTL)
                .await;
            if set.is_err() {
                recorded = false;
                break;
            }
        }
        if let Some(near) = &self.near {
            // After the set, so a process that drops its entry on the message and looks the
            // value up again finds the new generation.
            near.bumped(keys);
        }
        if matches!(self.consistency, Consistency::Bounded(_)) {
            for (key, generation) in keys.iter().zip(generations) {
                if recorded {
                    self.local.insert(key.clone(), generation);
                } else {
                    self.local.invalidate(key);
                }
            }
        }
        recorded
    }

    /// Starts the background retry of owed bumps unless it runs already.
    fn retry_owed(self: &Arc<Self>) {
        if self.owed.retrying.swap(true, Ordering::AcqRel) {
            return;
        }
        let generations = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(OWED_RETRY_INTERVAL).await;
                let owed = generations.owed.snapshot();
                if !owed.is_empty() {
                    let keys: Vec<String> = owed.iter().map(|(k, _)| k.clone()).collect();
                    if generations.record(Admission::Use, &keys).await {
                        generations.owed.settle(&owed);
                        debug!(keys = ?keys, "owed invalidation recorded");
                    }
                    continue;
                }
                generations.owed.retrying.store(false, Ordering::Release);
                // A bump owed between the snapshot and the store above found `retrying` set:
                // take it over unless another retry task has started since.
                if generations.owed.len() == 0
                    || generations.owed.retrying.swap(true, Ordering::AcqRel)
                {
                    break;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_depend_on_every_generation_and_their_order() {
        assert_ne!(stamp([1, 2]), stamp([2, 1]));
        assert_ne!(stamp([0, 0]), stamp([0]));
        assert_ne!(stamp([0, 5]), stamp([0, 6]));
        assert_eq!(stamp([7, 9]), stamp([7, 9]));
    }

    #[test]
    fn absent_or_malformed_generations_are_absent_not_zero() {
        assert_eq!(parse(None), None);
        assert_eq!(parse(Some(&Bytes::from_static(b"xx"))), None);
        assert_eq!(
            parse(Some(&Bytes::from(42u64.to_le_bytes().to_vec()))),
            Some(42)
        );
    }

    /// A primary-key read's row key, made from the memoized prefix, is the key a write to that
    /// row bumps (a difference would leave the read cached after the write), for every form of
    /// value and with hash tags; a read of an untracked key depends on the table. Invalidating
    /// one row bumps its narrowest key.
    #[test]
    fn a_row_read_depends_on_the_key_its_writes_bump() {
        for hash_tags in [false, true] {
            let keys = KeyFormat::new("p".to_owned(), 250).with_hash_tags(hash_tags);
            let backend = crate::MemoryBackend::new();
            let counters = Arc::new(Counters::default());
            let guarded = GuardedBackend::new(
                Box::new(backend),
                Duration::from_secs(1),
                None,
                counters.clone(),
            );
            let generations = Generations::new(
                Arc::new(guarded),
                keys.clone(),
                Consistency::Strict,
                counters,
            );
            let schema = TableSchema {
                table: "items".to_owned(),
                primary_key: Some("id".to_owned()),
                row_precise: true,
                ..TableSchema::default()
            };
            let entity = generations
                .entity::<u8>(1, || ("items".to_owned(), Some(Arc::new(schema))))
                .unwrap();
            let uuid = u128::from_str_radix("67e5504410b1426f9247bb680e5fe0c8", 16).unwrap();
            let long = "x".repeat(65); // past the longest text a key holds: hashed
            for value in [
                RowValue::Int(0),
                RowValue::Int(i128::MIN),
                RowValue::Int(i128::MAX),
                RowValue::Uuid(uuid),
                RowValue::Text("a:b#c=d".to_owned()),
                RowValue::Text(long),
            ] {
                let read = generations.for_entity_row(&entity, Some(value.clone()));
                let written = Scope::Value("id".to_owned(), value);
                let expected = [
                    keys.global_generation().to_owned(),
                    keys.row_generation("items", &Scope::AnyRow),
                    keys.row_generation("items", &written),
                ];
                assert_eq!(&read[..], &expected[..]);
                // What invalidating that one row bumps: the row's key, not `#*` or the global.
                assert_eq!(
                    generations.row_invalidation("items", &read),
                    vec![expected[2].clone()]
                );
            }
            let table = [
                keys.global_generation().to_owned(),
                keys.generation("items"),
            ];
            assert_eq!(&generations.for_entity_row(&entity, None)[..], &table[..]);
            // An untracked read is invalidated through its table; `#*` alone, when it is all.
            assert_eq!(
                generations.row_invalidation("items", &table),
                vec![table[1].clone()]
            );
            let any_row = [
                keys.global_generation().to_owned(),
                keys.row_generation("items", &Scope::AnyRow),
            ];
            assert_eq!(
                generations.row_invalidation("items", &any_row),
                vec![any_row[1].clone()]
            );
            // Made once per catalog: another catalog describes the entity again.
            let again = generations
                .entity::<u8>(1, || unreachable!("memoized"))
                .unwrap();
            assert!(Arc::ptr_eq(&entity, &again));
            let other = generations
                .entity::<u8>(2, || ("items".to_owned(), None))
                .unwrap();
            assert!(other.row.is_none() && other.schema.is_none());
            let known = generations.known_entity::<u8>().unwrap();
            assert!(
                Arc::ptr_eq(&known, &other),
                "the last one made, whatever its catalog"
            );
            assert!(generations.known_entity::<u16>().is_none());
            assert_eq!(
                &generations.for_entity_row(&other, Some(RowValue::Int(1)))[..],
                &table[..]
            );
        }
    }

    #[test]
    fn owed_keys_settle_only_if_not_owed_again() {
        let owed = Owed::default();
        let keys = ["a".to_owned(), "b".to_owned()];
        assert!(!owed.contains_any(&keys));
        owed.add(&keys);
        let snapshot = owed.snapshot();
        owed.add(&keys[1..]); // b fails again after the retry took its snapshot
        owed.settle(&snapshot);
        assert!(!owed.contains_any(&keys[..1]));
        assert!(owed.contains_any(&keys[1..]), "b is still owed");
        owed.settle(&owed.snapshot());
        assert!(!owed.contains_any(&keys));
        assert!(!owed.any.load(Ordering::Acquire));
    }
}
