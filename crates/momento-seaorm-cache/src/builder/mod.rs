//! [`ModelCacheBuilder`]: every setting of a [`ModelCache`], checked at `build()`, and the
//! assembly of its parts (the guarded backend, the generations, the storing policy, the read
//! path).

use std::time::Duration;

use crate::backend::CacheBackend;
use crate::breaker::BreakerConfig;
use crate::cache::ModelCache;
use crate::codec::{Compression, SerdeFormat};
use crate::config::Settings;
use crate::error::ConfigError;
use crate::generations::Consistency;
use crate::health::InvalidatorHealth;
use crate::near::NearCache;

mod assemble;

impl ModelCache {
    /// A builder over `backend` with prefix `model-cache`, the backend's default TTL, JSON, no
    /// compression, a 200 ms deadline per cache call, the default circuit breaker, one loader
    /// per key, up to 10% TTL jitter and [`Consistency::Strict`].
    ///
    /// ```
    /// use momento_seaorm_cache::{MemoryBackend, ModelCache, FALLBACK_TTL};
    /// let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// assert_eq!(cache.prefix(), "model-cache");
    /// // MemoryBackend has no default TTL of its own, so the cache uses the fallback (60 s).
    /// assert_eq!(cache.ttl(), FALLBACK_TTL);
    /// ```
    pub fn builder(backend: impl CacheBackend) -> ModelCacheBuilder {
        ModelCacheBuilder {
            backend: Box::new(backend),
            settings: Settings::default(),
            gates: Vec::new(),
        }
    }
}

/// Builds a [`ModelCache`]; [`build`](ModelCacheBuilder::build) checks every setting.
pub struct ModelCacheBuilder {
    backend: Box<dyn CacheBackend>,
    settings: Settings,
    gates: Vec<InvalidatorHealth>,
}

impl std::fmt::Debug for ModelCacheBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCacheBuilder")
            .field("backend", &self.backend)
            .field("settings", &self.settings)
            .finish()
    }
}

impl ModelCacheBuilder {
    /// The first part of every key (default `model-cache`); must not contain `:`. Caches with
    /// different prefixes share a backend without sharing entries.
    ///
    /// ```
    /// use momento_seaorm_cache::{ConfigError, MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).key_prefix("app").build()?;
    /// assert_eq!(cache.prefix(), "app");
    /// let err = ModelCache::builder(MemoryBackend::new()).key_prefix("a:b").build().unwrap_err();
    /// assert!(matches!(err, ConfigError::InvalidKeyPrefix { .. }));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.prefix = prefix.into();
        self
    }

    /// The default TTL of stored results (default: the backend's, else 60 s); a query or a
    /// wrapped entity can set its own.
    ///
    /// ```
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new())
    ///     .default_ttl(Duration::from_secs(300))
    ///     .build()?;
    /// assert_eq!(cache.ttl(), Duration::from_secs(300));
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.settings.ttl = Some(ttl);
        self
    }

    /// How values are compressed when written (default none). Every value records its
    /// compression, so readers with any setting read it.
    ///
    /// ```
    /// # mod user {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    /// #     #[derive(serde::Serialize, serde::Deserialize)]
    /// #     #[sea_orm(table_name = "users")]
    /// #     pub struct Model {
    /// #         #[sea_orm(primary_key)]
    /// #         pub id: i32,
    /// #         pub name: String,
    /// #     }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// # sea_orm::ConnectionTrait::execute_unprepared(
    /// #     &db,
    /// #     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    /// #      INSERT INTO users VALUES (1, 'alice'), (2, 'bob')",
    /// # )
    /// # .await?;
    /// use momento_seaorm_cache::{Compression, Envelope, MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new())
    ///     .compression(Compression::Zstd)
    ///     .build()?;
    /// let key = cache.wrap(user::Entity).find_by_pk_with_status(&db, 1).await?.key.unwrap();
    /// let stored = cache.backend().get(key.as_str()).await?.unwrap(); // zstd-compressed
    /// let alice: Option<user::Model> = Envelope::default().decode(&stored)?;
    /// assert_eq!(alice.unwrap().name, "alice");
    /// # Ok(()) }
    /// ```
    pub fn compression(mut self, compression: Compression) -> Self {
        self.settings.envelope.compression = compression;
        self
    }

    /// How rows are serialized when written (default JSON; postcard is smaller and faster).
    /// Every value records its format, so readers with any setting read it.
    ///
    /// ```
    /// # mod user {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    /// #     #[derive(serde::Serialize, serde::Deserialize)]
    /// #     #[sea_orm(table_name = "users")]
    /// #     pub struct Model {
    /// #         #[sea_orm(primary_key)]
    /// #         pub id: i32,
    /// #         pub name: String,
    /// #     }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// # sea_orm::ConnectionTrait::execute_unprepared(
    /// #     &db,
    /// #     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    /// #      INSERT INTO users VALUES (1, 'alice'), (2, 'bob')",
    /// # )
    /// # .await?;
    /// use momento_seaorm_cache::{CacheStatus, MemoryBackend, ModelCache, SerdeFormat};
    /// let cache = ModelCache::builder(MemoryBackend::new())
    ///     .serde_format(SerdeFormat::Postcard)
    ///     .build()?;
    /// let users = cache.wrap(user::Entity);
    /// let miss = users.find_by_pk_with_status(&db, 1).await?;
    /// let hit = users.find_by_pk_with_status(&db, 1).await?; // decoded from postcard
    /// assert_eq!((hit.status, hit.value), (CacheStatus::Hit, miss.value));
    /// # Ok(()) }
    /// ```
    pub fn serde_format(mut self, format: SerdeFormat) -> Self {
        self.settings.envelope.format = format;
        self
    }

    /// Keys longer than this many bytes are stored under a hash of their query (default 1024;
    /// at least the prefix's length plus 96): the key keeps its readable head, and the query
    /// becomes `#sha256:` and its hash.
    ///
    /// ```
    /// # mod user {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    /// #     #[derive(serde::Serialize, serde::Deserialize)]
    /// #     #[sea_orm(table_name = "users")]
    /// #     pub struct Model {
    /// #         #[sea_orm(primary_key)]
    /// #         pub id: i32,
    /// #         pub name: String,
    /// #     }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// # sea_orm::ConnectionTrait::execute_unprepared(
    /// #     &db,
    /// #     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    /// #      INSERT INTO users VALUES (1, 'alice'), (2, 'bob')",
    /// # )
    /// # .await?;
    /// use momento_seaorm_cache::{CacheQueryExt, MemoryBackend, ModelCache};
    /// use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    /// let cache = ModelCache::builder(MemoryBackend::new()).max_key_len(128).build()?;
    /// let long_name = user::Entity::find().filter(user::Column::Name.eq("x".repeat(200)));
    /// let read = long_name.cached(&cache).all_with_status(&db).await?;
    /// let key = read.key.unwrap(); // model-cache:all:users@<fingerprint>:#sha256:<64 hex>
    /// assert!(key.as_str().starts_with("model-cache:all:users@"));
    /// assert!(key.as_str().contains(":#sha256:") && key.as_str().len() <= 128);
    /// # Ok(()) }
    /// ```
    pub fn max_key_len(mut self, len: usize) -> Self {
        self.settings.max_key_len = len;
        self
    }

    /// The deadline of each cache call, separate from the SDK's own (default 200 ms). A call
    /// that takes longer counts as a fault and the read goes to the database.
    ///
    /// ```
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{ConfigError, MemoryBackend, ModelCache};
    /// let fast = ModelCache::builder(MemoryBackend::new())
    ///     .cache_timeout(Duration::from_millis(50))
    ///     .build();
    /// assert!(fast.is_ok());
    /// let never = ModelCache::builder(MemoryBackend::new()).cache_timeout(Duration::ZERO).build();
    /// assert_eq!(never.unwrap_err(), ConfigError::ZeroTimeout);
    /// ```
    pub fn cache_timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// The circuit breaker's thresholds (on by default with [`BreakerConfig::default`]): after
    /// `failure_threshold` consecutive faults the cache is skipped for `cool_down`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{BreakerConfig, BreakerState, MemoryBackend, ModelCache};
    /// let breaker = BreakerConfig { failure_threshold: 3, cool_down: Duration::from_secs(10) };
    /// let cache = ModelCache::builder(MemoryBackend::new()).circuit_breaker(breaker).build()?;
    /// assert_eq!(cache.stats().breaker_state, Some(BreakerState::Closed));
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn circuit_breaker(mut self, config: BreakerConfig) -> Self {
        self.settings.breaker = Some(config);
        self
    }

    /// Never skip the cache, however often it faults (each faulting call still falls through
    /// to the database within the deadline).
    ///
    /// ```
    /// use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).without_circuit_breaker().build()?;
    /// assert_eq!(cache.stats().breaker_state, None); // no breaker to report
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn without_circuit_breaker(mut self) -> Self {
        self.settings.breaker = None;
        self
    }

    /// Whether concurrent reads of one key in this process share one database query
    /// (default `true`).
    ///
    /// ```
    /// # mod user {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    /// #     #[derive(serde::Serialize, serde::Deserialize)]
    /// #     #[sea_orm(table_name = "users")]
    /// #     pub struct Model {
    /// #         #[sea_orm(primary_key)]
    /// #         pub id: i32,
    /// #         pub name: String,
    /// #     }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// # sea_orm::ConnectionTrait::execute_unprepared(
    /// #     &db,
    /// #     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    /// #      INSERT INTO users VALUES (1, 'alice'), (2, 'bob')",
    /// # )
    /// # .await?;
    /// use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).single_flight(true).build()?;
    /// let users = cache.wrap(user::Entity);
    /// let (a, b) = futures::join!(users.find_by_pk(&db, 1), users.find_by_pk(&db, 1));
    /// assert_eq!(a?, b?);
    /// assert_eq!(cache.stats().database_loads, 1); // one query answered both
    /// # Ok(()) }
    /// ```
    pub fn single_flight(mut self, enabled: bool) -> Self {
        self.settings.single_flight = enabled;
        self
    }

    /// How many query shapes [`ModelCache::report`](crate::ModelCache::report) keeps (default
    /// [`DEFAULT_REPORT_QUERIES`](crate::report::DEFAULT_REPORT_QUERIES)): the shapes of most
    /// database time; the others are folded into one total. Also the bound on distinct
    /// per-shape metric series. Between 1 and
    /// [`MAX_REPORT_QUERIES`](crate::report::MAX_REPORT_QUERIES), checked by `build()`.
    ///
    /// ```
    /// use momento_seaorm_cache::{ConfigError, MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).report_queries(50).build()?;
    /// assert_eq!(cache.report().max_queries, 50);
    /// let zero = ModelCache::builder(MemoryBackend::new()).report_queries(0).build();
    /// assert!(matches!(zero, Err(ConfigError::InvalidReportQueries { queries: 0, .. })));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn report_queries(mut self, queries: usize) -> Self {
        self.settings.report_queries = queries;
        self
    }

    /// Across processes, let one loader per key run the query: a miss first takes a lease (a
    /// set-if-absent key living `lease`); others wait up to `lease` for the value to appear,
    /// then query themselves. Off by default; needs a backend with `set_if_absent`.
    ///
    /// ```
    /// # mod user {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    /// #     #[derive(serde::Serialize, serde::Deserialize)]
    /// #     #[sea_orm(table_name = "users")]
    /// #     pub struct Model {
    /// #         #[sea_orm(primary_key)]
    /// #         pub id: i32,
    /// #         pub name: String,
    /// #     }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// # sea_orm::ConnectionTrait::execute_unprepared(
    /// #     &db,
    /// #     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    /// #      INSERT INTO users VALUES (1, 'alice'), (2, 'bob')",
    /// # )
    /// # .await?;
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{CacheStatus, MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new())
    ///     .load_lease(Duration::from_secs(2))
    ///     .build()?;
    /// let users = cache.wrap(user::Entity);
    /// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Miss);
    /// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Hit);
    /// # Ok(()) }
    /// ```
    pub fn load_lease(mut self, lease: Duration) -> Self {
        self.settings.lease = Some(lease);
        self
    }

    /// Shorten each stored TTL by a random fraction up to `jitter` (0.0 to 1.0, default 0.1),
    /// so entries written together do not expire together.
    ///
    /// ```
    /// use momento_seaorm_cache::{ConfigError, MemoryBackend, ModelCache};
    /// let exact = ModelCache::builder(MemoryBackend::new()).ttl_jitter(0.0).build();
    /// assert!(exact.is_ok()); // every value lives exactly its TTL
    /// let err = ModelCache::builder(MemoryBackend::new()).ttl_jitter(1.5).build().unwrap_err();
    /// assert!(matches!(err, ConfigError::InvalidJitter { .. }));
    /// ```
    pub fn ttl_jitter(mut self, jitter: f64) -> Self {
        self.settings.ttl_jitter = jitter;
        self
    }

    /// Write the cache in a background task on a miss, so the caller does not wait for the
    /// set (default `false`). Until the set lands, a read of the same value in this process
    /// takes the loaded value instead of querying again, and an explicit delete of its key
    /// (`invalidate_by_pk`, a query's `invalidate`) waits for it first, within the deadline.
    /// Another process may miss once more in that window.
    ///
    /// ```
    /// # mod user {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    /// #     #[derive(serde::Serialize, serde::Deserialize)]
    /// #     #[sea_orm(table_name = "users")]
    /// #     pub struct Model {
    /// #         #[sea_orm(primary_key)]
    /// #         pub id: i32,
    /// #         pub name: String,
    /// #     }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// # sea_orm::ConnectionTrait::execute_unprepared(
    /// #     &db,
    /// #     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    /// #      INSERT INTO users VALUES (1, 'alice'), (2, 'bob')",
    /// # )
    /// # .await?;
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{CacheStatus, MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).background_writes(true).build()?;
    /// let users = cache.wrap(user::Entity);
    /// let miss = users.find_by_pk_with_status(&db, 1).await?; // returns before the set
    /// assert_eq!(miss.status, CacheStatus::Miss);
    /// tokio::time::sleep(Duration::from_millis(50)).await; // the background set lands
    /// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Hit);
    /// # Ok(()) }
    /// ```
    pub fn background_writes(mut self, enabled: bool) -> Self {
        self.settings.background_writes = enabled;
        self
    }

    /// How reads stay consistent with writes (default [`Consistency::Strict`]); see
    /// docs/rows.md ("Modes") for what each costs.
    ///
    /// ```
    /// # mod user {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    /// #     #[derive(serde::Serialize, serde::Deserialize)]
    /// #     #[sea_orm(table_name = "users")]
    /// #     pub struct Model {
    /// #         #[sea_orm(primary_key)]
    /// #         pub id: i32,
    /// #         pub name: String,
    /// #     }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// # sea_orm::ConnectionTrait::execute_unprepared(
    /// #     &db,
    /// #     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    /// #      INSERT INTO users VALUES (1, 'alice'), (2, 'bob')",
    /// # )
    /// # .await?;
    /// use momento_seaorm_cache::{CacheStatus, Consistency, MemoryBackend, ModelCache};
    /// // TtlOnly: no generations, as in the Node library; entries live until their TTL.
    /// let cache = ModelCache::builder(MemoryBackend::new())
    ///     .consistency(Consistency::TtlOnly)
    ///     .build()?;
    /// let users = cache.wrap(user::Entity);
    /// users.find_by_pk(&db, 1).await?;
    /// cache.invalidate_table("users").await; // nothing to invalidate
    /// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Hit);
    /// # Ok(()) }
    /// ```
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.settings.consistency = consistency;
        self
    }

    /// Strict mode: how long a process uses the global generation (`gen-all`) it fetched
    /// instead of fetching it with every hit (default 50 ms, at most 5 s). A hit then fetches
    /// one key fewer (a primary-key hit: the value, `#*` and the row's generation). In
    /// exchange each bump of it — [`invalidate_all`](crate::ModelCache::invalidate_all), a
    /// write whose reach is unknown (a table with triggers or rules, an unparsed statement, a
    /// write while no catalog is held) — waits the hold plus 10% before it returns, so that no
    /// process still uses a copy from before it. `Duration::ZERO`: fetched with every hit, and
    /// those bumps return at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::{Duration, Instant};
    /// use momento_seaorm_cache::{ConfigError, MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new())
    ///     .global_generation_hold(Duration::from_millis(20))
    ///     .build()
    ///     .unwrap();
    /// let started = Instant::now();
    /// cache.invalidate_all().await;
    /// assert!(started.elapsed() >= Duration::from_millis(22));
    /// let err = ModelCache::builder(MemoryBackend::new())
    ///     .global_generation_hold(Duration::from_secs(60))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, ConfigError::InvalidGlobalHold { .. }));
    /// # }
    /// ```
    pub fn global_generation_hold(mut self, hold: Duration) -> Self {
        self.settings.global_hold = hold;
        self
    }

    /// Reads bypass the cache (status `Bypass`) while the change-capture invalidator behind
    /// `health` is starting, down, or more than its `max_lag` behind, so writes made outside
    /// this library are never served stale for longer than that bound. May be called once per
    /// invalidator (database) the cache depends on.
    ///
    /// ```
    /// use momento_seaorm_cache::{InvalidatorHealth, MemoryBackend, ModelCache};
    /// let health = InvalidatorHealth::new(std::time::Duration::from_millis(500));
    /// let cache = ModelCache::builder(MemoryBackend::new())
    ///     .bypass_unless_caught_up(health.clone())
    ///     .build()
    ///     .unwrap();
    /// // then: Invalidator::postgres(url, &cache).health(health).spawn()
    /// # let _ = cache;
    /// ```
    pub fn bypass_unless_caught_up(mut self, health: InvalidatorHealth) -> Self {
        self.gates.push(health);
        self
    }

    /// A near cache in front of the backend (off by default): hits served from process
    /// memory in about a microsecond, revalidated against the backend at least every
    /// `max_staleness`, dropped at once by this process's writes and, with a
    /// [`NearTopic`](crate::NearTopic), by every other process's (see [`NearCache`]).
    ///
    /// ```
    /// # mod user {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    /// #     #[derive(serde::Serialize, serde::Deserialize)]
    /// #     #[sea_orm(table_name = "users")]
    /// #     pub struct Model {
    /// #         #[sea_orm(primary_key)]
    /// #         pub id: i32,
    /// #         pub name: String,
    /// #     }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// # sea_orm::ConnectionTrait::execute_unprepared(
    /// #     &db,
    /// #     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    /// #      INSERT INTO users VALUES (1, 'alice'), (2, 'bob')",
    /// # )
    /// # .await?;
    /// use momento_seaorm_cache::{CacheStatus, MemoryBackend, ModelCache, NearCache};
    /// let cache = ModelCache::builder(MemoryBackend::new())
    ///     .near_cache(NearCache::new(8 * 1024 * 1024))
    ///     .build()?;
    /// let users = cache.wrap(user::Entity);
    /// let status = || async { users.find_by_pk_with_status(&db, 1).await.map(|r| r.status) };
    /// assert_eq!(status().await?, CacheStatus::Miss); // loaded and stored
    /// assert_eq!(status().await?, CacheStatus::Hit); // from the backend, kept near
    /// assert_eq!(status().await?, CacheStatus::NearHit); // from process memory
    /// # Ok(()) }
    /// ```
    pub fn near_cache(mut self, near: NearCache) -> Self {
        self.settings.near = Some(near);
        self
    }

    /// Checks the settings and builds the cache. Every mistake is a [`ConfigError`] that says
    /// what to change.
    ///
    /// ```
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{ConfigError, MemoryBackend, ModelCache};
    /// let err = ModelCache::builder(MemoryBackend::new())
    ///     .default_ttl(Duration::ZERO)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, ConfigError::ZeroTtl { .. }));
    /// assert!(err.to_string().contains("at least one millisecond"));
    /// ```
    pub fn build(self) -> Result<ModelCache, ConfigError> {
        let ModelCacheBuilder {
            backend,
            settings,
            gates,
        } = self;
        settings.validate(backend.as_ref())?;
        assemble::assemble(backend, settings, gates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FALLBACK_TTL;
    use crate::MemoryBackend;

    #[test]
    fn bad_settings_fail_at_build_with_a_fix() {
        for prefix in ["", "a:b"] {
            let err = ModelCache::builder(MemoryBackend::new())
                .key_prefix(prefix)
                .build()
                .unwrap_err();
            assert!(
                matches!(err, ConfigError::InvalidKeyPrefix { .. }),
                "{prefix:?}"
            );
            assert!(err
                .to_string()
                .contains("must be non-empty and contain no ':'"));
        }
        let build = |b: ModelCacheBuilder| b.build().unwrap_err().to_string();
        let memory = || ModelCache::builder(MemoryBackend::new());
        assert!(build(memory().default_ttl(Duration::ZERO)).contains("at least one millisecond"));
        assert!(build(memory().ttl_jitter(1.5)).contains("between 0.0 and 1.0"));
        assert!(build(memory().cache_timeout(Duration::ZERO)).contains("at least a millisecond"));
        let breaker = BreakerConfig {
            failure_threshold: 0,
            ..BreakerConfig::default()
        };
        assert!(build(memory().circuit_breaker(breaker)).contains("failure threshold"));
        assert!(build(memory().load_lease(Duration::ZERO)).contains("load lease"));
        let bounded = memory().consistency(Consistency::Bounded(Duration::ZERO));
        assert!(build(bounded).contains("bounded-staleness window"));
    }

    #[test]
    fn ttl_defaults_to_the_fallback_for_backends_without_one() {
        let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
        assert_eq!(cache.ttl(), FALLBACK_TTL);
    }
}
