//! Change capture: an [`Invalidator`] follows the database's own record of committed changes
//! (PostgreSQL's logical decoding, MariaDB/MySQL's binary log) and gives every table a change
//! touched a new generation, so writes made anywhere — other services, `psql`, migrations,
//! triggers, `ON DELETE CASCADE` — invalidate cached reads like writes through a
//! [`CachedConnection`](crate::CachedConnection) do.
//!
//! ```text
//! database ─► changes of committed transactions, in commit order (slot / binlog position)
//!    │            └─ tables touched (+ FK cascade children on MariaDB, which logs no cascade rows)
//!    ▼
//! one batch bump: gen:<table> = random, for every table of the batch
//!    │  recorded? ── no ─► retry (unhealthy meanwhile); the position does not move
//!    ▼ yes
//! advance the position (PostgreSQL: pg_replication_slot_advance; MariaDB: saved in the cache)
//!    ▼
//! caught up as of the instant the batch was read: InvalidatorHealth, status, lag metric
//! ```
//! A crash between reading and bumping re-delivers the changes (the position moves only after
//! the bumps are recorded). When the invalidator cannot resume (no slot, a lost slot, no saved
//! binlog position, a purged binlog) it invalidates everything before it reports itself
//! healthy. A front end: it uses the [`cache`](crate::cache) and leaves only.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{watch, Notify};

use crate::cache::ModelCache;
use crate::health::InvalidatorHealth;

mod handle;
mod heartbeat;
mod shared;

pub use handle::InvalidatorHandle;
use shared::supervise;
pub(crate) use shared::Shared;

#[cfg(feature = "cdc-mysql")]
mod binlog_batch;
#[cfg(feature = "cdc-mysql")]
mod binlog_follow;
#[cfg(feature = "cdc-mysql")]
mod binlog_rows;
#[cfg(feature = "cdc-mysql")]
mod binlog_statement;
#[cfg(feature = "cdc-mysql")]
mod my_catalog;
#[cfg(feature = "cdc-mysql")]
mod mysql;
#[cfg(feature = "cdc-postgres")]
mod pg_catalog;
#[cfg(feature = "cdc-postgres")]
mod pg_poll;
#[cfg(feature = "cdc-postgres")]
mod pg_rows;
#[cfg(feature = "cdc-postgres")]
mod postgres;
mod row_bumps;
#[cfg(feature = "cdc-postgres")]
mod test_decoding;

/// The default name of the PostgreSQL replication slot / the MariaDB position key.
pub const DEFAULT_INVALIDATOR_NAME: &str = "momento_seaorm_cache";

/// How often the PostgreSQL invalidator asks for new changes when there were none (default).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How often the MariaDB invalidator reads the server's binlog position to measure its lag.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// Why an invalidator cannot run; each message says what to change.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidatorError {
    /// The database is not set up for change capture (wal_level, binary log, privileges, a
    /// slot of the wrong kind...): the message says exactly what to set.
    #[error("change capture is not possible: {0}")]
    Setup(String),
    /// A setting of the invalidator itself is wrong.
    #[error("invalid invalidator setting: {0}")]
    Config(String),
    /// The database connection failed or a query failed (retried by a running invalidator).
    #[error("database error: {0}")]
    Database(String),
    /// The invalidator has stopped.
    #[error("the invalidator has stopped")]
    Stopped,
}

/// Where an invalidator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidatorState {
    /// Connecting, checking, resuming or invalidating everything: not yet caught up.
    Starting,
    /// Following the database; every commit older than the lag is invalidated.
    Healthy,
    /// Disconnected or unable to record invalidations; retrying.
    Down,
    /// Stopped by [`InvalidatorHandle::stop`].
    Stopped,
}

/// A snapshot of an invalidator, from [`InvalidatorHandle::status`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InvalidatorStatus {
    /// Where it is.
    pub state: InvalidatorState,
    /// Every change committed before this instant is invalidated.
    pub caught_up_as_of: Option<SystemTime>,
    /// How far behind it is now (time since `caught_up_as_of`).
    pub lag: Option<Duration>,
    /// The database position processed and recorded (PostgreSQL LSN, `file:pos` on MariaDB).
    pub position: Option<String>,
    /// The last error, if it is down or was.
    pub last_error: Option<String>,
    /// Transactions whose tables were invalidated.
    pub transactions: u64,
    /// Times everything was invalidated because the invalidator could not resume.
    pub full_invalidations: u64,
    /// Sessions started after a failure (reconnects).
    pub restarts: u64,
}

impl InvalidatorStatus {
    fn new() -> InvalidatorStatus {
        InvalidatorStatus {
            state: InvalidatorState::Starting,
            caught_up_as_of: None,
            lag: None,
            position: None,
            last_error: None,
            transactions: 0,
            full_invalidations: 0,
            restarts: 0,
        }
    }
}

/// Which database an invalidator follows, and how.
#[derive(Debug, Clone)]
enum Source {
    #[cfg(feature = "cdc-postgres")]
    Postgres,
    #[cfg(feature = "cdc-mysql")]
    MySql,
}

/// Constructors of change-capture invalidators.
///
/// ```no_run
/// # async fn run(cache: momento_seaorm_cache::ModelCache) -> Result<(), Box<dyn std::error::Error>> {
/// use momento_seaorm_cache::Invalidator;
/// let handle = Invalidator::postgres("postgres://cdc@db/app", &cache)
///     .name("app_cache")
///     .start()
///     .await?;
/// println!("{:?}", handle.status());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Invalidator;

impl Invalidator {
    /// An invalidator that follows a PostgreSQL database through logical decoding (a slot
    /// named after [`InvalidatorBuilder::name`], plugin `test_decoding`, created if missing).
    /// Needs `wal_level = logical` and a role with `REPLICATION` (or a superuser).
    ///
    /// ```no_run
    /// # async fn run(cache: momento_seaorm_cache::ModelCache) -> Result<(), Box<dyn std::error::Error>> {
    /// let handle = momento_seaorm_cache::Invalidator::postgres("postgres://postgres@127.0.0.1/app", &cache)
    ///     .spawn();
    /// # let _ = handle; Ok(()) }
    /// ```
    #[cfg(feature = "cdc-postgres")]
    pub fn postgres(url: impl Into<String>, cache: &ModelCache) -> InvalidatorBuilder {
        InvalidatorBuilder::new(Source::Postgres, url.into(), cache)
    }

    /// An invalidator that follows a MariaDB or MySQL server's binary log (`log_bin` on,
    /// `binlog_format = ROW`, a `server_id`), as a replica would. Needs
    /// `REPLICATION SLAVE, REPLICATION CLIENT` (MariaDB ≥ 10.5: also `BINLOG MONITOR`).
    ///
    /// ```no_run
    /// # async fn run(cache: momento_seaorm_cache::ModelCache) -> Result<(), Box<dyn std::error::Error>> {
    /// let handle = momento_seaorm_cache::Invalidator::mysql("mysql://cdc@127.0.0.1/app", &cache)
    ///     .watch_schemas(["app"])
    ///     .start()
    ///     .await?;
    /// # let _ = handle; Ok(()) }
    /// ```
    #[cfg(feature = "cdc-mysql")]
    pub fn mysql(url: impl Into<String>, cache: &ModelCache) -> InvalidatorBuilder {
        InvalidatorBuilder::new(Source::MySql, url.into(), cache)
    }

    /// Drops a PostgreSQL replication slot an invalidator made (`false` if there was none).
    /// A slot whose consumer is gone keeps WAL forever: drop the slot of an invalidator you
    /// retire.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), momento_seaorm_cache::InvalidatorError> {
    /// momento_seaorm_cache::Invalidator::drop_postgres_slot("postgres://postgres@127.0.0.1/app", "app_cache").await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "cdc-postgres")]
    pub async fn drop_postgres_slot(url: &str, slot: &str) -> Result<bool, InvalidatorError> {
        postgres::drop_slot(url, slot).await
    }
}

/// Settings of an invalidator; [`spawn`](InvalidatorBuilder::spawn) or
/// [`start`](InvalidatorBuilder::start) runs it.
///
/// ```no_run
/// # async fn run(cache: momento_seaorm_cache::ModelCache) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use momento_seaorm_cache::{Invalidator, InvalidatorHealth};
/// let health = InvalidatorHealth::new(Duration::from_millis(500));
/// let handle = Invalidator::postgres("postgres://postgres@127.0.0.1/app", &cache)
///     .name("app_cache")
///     .health(health)
///     .poll_interval(Duration::from_millis(20))
///     .watch_schemas(["public"])
///     .start()
///     .await?;
/// # let _ = handle; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct InvalidatorBuilder {
    source: Source,
    settings: Settings,
    cache: ModelCache,
    health: Option<InvalidatorHealth>,
    /// Publish a heartbeat for readers gating with this `max_lag`.
    heartbeat: Option<Duration>,
}

/// What a session needs to know (each source reads its own fields).
#[derive(Debug, Clone)]
#[cfg_attr(
    not(all(feature = "cdc-postgres", feature = "cdc-mysql")),
    allow(dead_code)
)]
pub(crate) struct Settings {
    pub(crate) url: String,
    pub(crate) name: String,
    pub(crate) poll_interval: Duration,
    pub(crate) probe_interval: Duration,
    pub(crate) schemas: Option<BTreeSet<String>>,
    pub(crate) server_id: Option<u32>,
    pub(crate) max_changes: i64,
}

impl Settings {
    /// Whether changes of `schema` (PostgreSQL schema, MariaDB database) are followed.
    pub(crate) fn watches(&self, schema: &str) -> bool {
        self.schemas
            .as_ref()
            .is_none_or(|s| s.contains(&schema.to_lowercase()))
    }
}

impl InvalidatorBuilder {
    fn new(source: Source, url: String, cache: &ModelCache) -> InvalidatorBuilder {
        InvalidatorBuilder {
            source,
            settings: Settings {
                url,
                name: DEFAULT_INVALIDATOR_NAME.to_owned(),
                poll_interval: DEFAULT_POLL_INTERVAL,
                probe_interval: DEFAULT_PROBE_INTERVAL,
                schemas: None,
                server_id: None,
                max_changes: 10_000,
            },
            cache: cache.clone(),
            health: None,
            heartbeat: None,
        }
    }

    /// Publishes this invalidator's progress into the cache (key
    /// `<prefix>:cdc:<name>:heartbeat`: state, caught-up instant, lag, position) every
    /// `max_lag / 5`, with a TTL of 1.5 × `max_lag`, so that processes which do not run it gate
    /// their reads on it with [`InvalidatorHealth::from_heartbeat`] and the same `max_lag`. A
    /// clean stop writes a last heartbeat with state `stopped` (readers close at once); a
    /// crashed process stops writing and readers close within `max_lag`.
    ///
    /// ```
    /// # use momento_seaorm_cache::{Invalidator, MemoryBackend, ModelCache};
    /// # let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// let builder = Invalidator::postgres("postgres://localhost/app", &cache)
    ///     .name("cdc_a")
    ///     .publish_heartbeat(std::time::Duration::from_secs(1));
    /// # let _ = builder;
    /// ```
    pub fn publish_heartbeat(mut self, max_lag: Duration) -> Self {
        self.heartbeat = Some(max_lag);
        self
    }

    /// The replication slot's name on PostgreSQL, the saved position's key on MariaDB
    /// (`<prefix>:cdc:<name>:binlog`): lowercase letters, digits and `_`, at most 63 (default
    /// [`DEFAULT_INVALIDATOR_NAME`]). One name per invalidator: two running with one name
    /// take turns (PostgreSQL) or cut each other off (MariaDB).
    ///
    /// ```
    /// # use momento_seaorm_cache::{Invalidator, MemoryBackend, ModelCache};
    /// # let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// let builder = Invalidator::postgres("postgres://localhost/app", &cache).name("orders_cache");
    /// # let _ = builder;
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.settings.name = name.into();
        self
    }

    /// The health this invalidator updates; give the same to
    /// [`ModelCacheBuilder::bypass_unless_caught_up`](crate::ModelCacheBuilder::bypass_unless_caught_up)
    /// so reads bypass the cache while it is behind. Default: a fresh
    /// [`InvalidatorHealth::default`] (see [`InvalidatorHandle::health`]).
    ///
    /// ```
    /// # use momento_seaorm_cache::{Invalidator, InvalidatorHealth, MemoryBackend, ModelCache};
    /// let health = InvalidatorHealth::default();
    /// let cache = ModelCache::builder(MemoryBackend::new())
    ///     .bypass_unless_caught_up(health.clone())
    ///     .build()
    ///     .unwrap();
    /// let builder = Invalidator::postgres("postgres://localhost/app", &cache).health(health);
    /// # let _ = builder;
    /// ```
    pub fn health(mut self, health: InvalidatorHealth) -> Self {
        self.health = Some(health);
        self
    }

    /// PostgreSQL: how long to wait before asking again after a poll found no change
    /// (default [`DEFAULT_POLL_INTERVAL`]; a poll that found changes is followed by another at
    /// once). The lag is about half of it plus one round trip and the bump.
    ///
    /// ```
    /// # use momento_seaorm_cache::{Invalidator, MemoryBackend, ModelCache};
    /// # let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// let builder = Invalidator::postgres("postgres://localhost/app", &cache)
    ///     .poll_interval(std::time::Duration::from_millis(50));
    /// # let _ = builder;
    /// ```
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.settings.poll_interval = interval;
        self
    }

    /// MariaDB: how often the server's binlog position is read to tell the lag when the
    /// stream is idle (default [`DEFAULT_PROBE_INTERVAL`]).
    ///
    /// ```
    /// # use momento_seaorm_cache::{Invalidator, MemoryBackend, ModelCache};
    /// # let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// let builder = Invalidator::mysql("mysql://localhost/app", &cache)
    ///     .probe_interval(std::time::Duration::from_millis(250));
    /// # let _ = builder;
    /// ```
    pub fn probe_interval(mut self, interval: Duration) -> Self {
        self.settings.probe_interval = interval;
        self
    }

    /// Follow only tables of these schemas (PostgreSQL) or databases (MariaDB); default: all
    /// of the database (PostgreSQL) or server (MariaDB). Generations are per unqualified table
    /// name, so following more than needed only costs extra misses.
    ///
    /// ```
    /// # use momento_seaorm_cache::{Invalidator, MemoryBackend, ModelCache};
    /// # let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// let builder = Invalidator::postgres("postgres://localhost/app", &cache).watch_schemas(["public"]);
    /// # let _ = builder;
    /// ```
    pub fn watch_schemas<I, S>(mut self, schemas: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let set = schemas
            .into_iter()
            .map(|s| s.as_ref().to_lowercase())
            .collect();
        self.settings.schemas = Some(set);
        self
    }

    /// MariaDB: the server id this invalidator registers with as a replica (default: derived
    /// from the name). Must differ from the server's and from every real replica's.
    ///
    /// ```
    /// # use momento_seaorm_cache::{Invalidator, MemoryBackend, ModelCache};
    /// # let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// let builder = Invalidator::mysql("mysql://localhost/app", &cache).server_id(4242);
    /// # let _ = builder;
    /// ```
    pub fn server_id(mut self, id: u32) -> Self {
        self.settings.server_id = Some(id);
        self
    }

    fn check_name(&self) -> Result<(), InvalidatorError> {
        let name = &self.settings.name;
        let ok = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(())
        } else {
            Err(InvalidatorError::Config(format!(
                "name {name:?} must be 1 to 63 lowercase letters, digits or '_'"
            )))
        }
    }

    /// Checks the database's setup (wal_level, slot, privileges; binary log, format,
    /// privileges) and the name, then spawns the invalidator. A setup problem is returned with
    /// what to change instead of being retried in the background.
    ///
    /// ```no_run
    /// # async fn run(cache: momento_seaorm_cache::ModelCache) {
    /// match momento_seaorm_cache::Invalidator::postgres("postgres://localhost/app", &cache).start().await {
    ///     Ok(handle) => println!("{:?}", handle.status().state),
    ///     Err(e) => eprintln!("{e}"), // e.g. wal_level is 'replica': set wal_level = logical ...
    /// }
    /// # }
    /// ```
    pub async fn start(self) -> Result<InvalidatorHandle, InvalidatorError> {
        self.check_name()?;
        match self.source {
            #[cfg(feature = "cdc-postgres")]
            Source::Postgres => postgres::preflight(&self.settings).await?,
            #[cfg(feature = "cdc-mysql")]
            Source::MySql => mysql::preflight(&self.settings).await?,
        }
        Ok(self.spawn())
    }

    /// Spawns the invalidator on the current Tokio runtime without checking first; problems
    /// show in [`InvalidatorHandle::status`] and the log, and are retried with backoff.
    ///
    /// ```no_run
    /// # async fn run(cache: momento_seaorm_cache::ModelCache) {
    /// let handle = momento_seaorm_cache::Invalidator::postgres("postgres://localhost/app", &cache).spawn();
    /// # let _ = handle; }
    /// ```
    pub fn spawn(self) -> InvalidatorHandle {
        let name_ok = self.check_name();
        let (stop, stop_rx) = watch::channel(false);
        let (status, _) = watch::channel(InvalidatorStatus::new());
        let health = self.health.unwrap_or_default();
        health.set_healthy(false);
        let shared = Arc::new(Shared {
            cache: self.cache,
            health,
            status,
            probe: Notify::new(),
            waiters: AtomicUsize::new(0),
            stop: stop_rx,
            name: self.settings.name.clone(),
        });
        let run = supervise(shared.clone(), self.source, self.settings, name_ok);
        let task = match self.heartbeat {
            Some(max_lag) => tokio::spawn(heartbeat::alongside(shared.clone(), max_lag, run)),
            None => tokio::spawn(run),
        };
        InvalidatorHandle { shared, task, stop }
    }
}

/// A stable server id in 0x4D530000..=0x4D53FFFF derived from `name` (MariaDB replicas need
/// distinct ones).
#[cfg(feature = "cdc-mysql")]
pub(crate) fn server_id_for(name: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    0x4D53_0000 | (h & 0xFFFF)
}
