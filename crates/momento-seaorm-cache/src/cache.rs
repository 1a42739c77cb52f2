//! [`ModelCache`]: the configured cache every cached read goes through (built by
//! [`ModelCacheBuilder`](crate::ModelCacheBuilder)).
//!
//! `ModelCache` owns its parts privately (the guarded backend, the generations, the read path,
//! the table index) and offers the front ends one way down: a [`ReadRequest`] for any
//! statement ([`ModelCache::read_statement`]), or a plan the front ends build themselves
//! (primary-key reads).

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DbErr, Statement};

use crate::backend::CacheBackend;
use crate::catalog::{Catalog, Snapshot};
use crate::connection::CacheableConnection;
use crate::generations::{GenerationKeys, Generations};
use crate::guarded::GuardedBackend;
use crate::health::InvalidatorHealth;
use crate::key::{self, CacheKey, KeyFormat};
use crate::load::Loader;
use crate::metrics::{CacheStats, Counters};
use crate::near::{Near, NearStats};
use crate::read::{ReadPath, ReadPlan};
use crate::report::{
    CacheReport, InvalidationCause, InvalidationScope, InvalidatorReport, Reporting,
};
use crate::request::ReadRequest;
use crate::rows::{RowIndex, Scope};
use crate::status::ReadResult;
use crate::tables::{TableIndex, Touches};

/// A read-aside query cache: SeaORM reads in, rows out, a [`CacheBackend`] in between.
///
/// Cheap to clone (an `Arc` inside) and safe to share across tasks.
///
/// ```
/// use momento_seaorm_cache::{Compression, MemoryBackend, ModelCache};
/// let cache = ModelCache::builder(MemoryBackend::new())
///     .compression(Compression::Zstd)
///     .build()
///     .unwrap();
/// assert_eq!(cache.prefix(), "model-cache");
/// ```
#[derive(Clone)]
pub struct ModelCache {
    parts: Arc<Parts>,
}

/// What a [`ModelCache`] and its clones share: its parts, assembled by the builder.
pub(crate) struct Parts {
    pub backend: Arc<GuardedBackend>,
    pub generations: Arc<Generations>,
    pub read_path: Arc<ReadPath>,
    pub keys: KeyFormat,
    pub tables: TableIndex,
    /// Row shapes, for row and condition generations.
    pub rows: RowIndex,
    /// The database's catalog: which tables' rows can be tracked, and how tables relate.
    pub catalog: Catalog,
    pub counters: Arc<Counters>,
    pub ttl: Duration,
    /// Change-capture invalidators whose lag gates the cache (reads bypass while one is behind).
    pub gates: Vec<InvalidatorHealth>,
    /// The near cache, if configured.
    pub near: Option<Arc<Near>>,
    /// Per-query counters and the invalidations made, for [`ModelCache::report`].
    pub report: Reporting,
}

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = &self.parts;
        f.debug_struct("ModelCache")
            .field("backend", &parts.backend.inner())
            .field("prefix", &parts.keys.prefix())
            .field("ttl", &parts.ttl)
            .field("envelope", &parts.read_path.policy.envelope)
            .field("breaker", &parts.backend.breaker_state())
            .finish_non_exhaustive()
    }
}

impl ModelCache {
    /// A cache over parts the builder assembled.
    pub(crate) fn from_parts(parts: Parts) -> ModelCache {
        ModelCache {
            parts: Arc::new(parts),
        }
    }

    /// The key prefix: the first segment of every key this cache reads and writes.
    ///
    /// ```
    /// # use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).key_prefix("app").build().unwrap();
    /// assert_eq!(cache.prefix(), "app");
    /// ```
    pub fn prefix(&self) -> &str {
        self.parts.keys.prefix()
    }

    /// The default TTL of stored results: the builder's, else the backend's, else
    /// [`FALLBACK_TTL`](crate::FALLBACK_TTL).
    ///
    /// ```
    /// # use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// # use std::time::Duration;
    /// let cache = ModelCache::builder(MemoryBackend::new())
    ///     .default_ttl(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(cache.ttl(), Duration::from_secs(5));
    /// ```
    pub fn ttl(&self) -> Duration {
        self.parts.ttl
    }

    /// The backend, for direct reads and writes (e.g. to inspect a stored value).
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
    /// # let backend = momento_seaorm_cache::MemoryBackend::new();
    /// # let cache = momento_seaorm_cache::ModelCache::builder(backend).build()?;
    /// use momento_seaorm_cache::Envelope;
    /// assert_eq!(cache.backend().name(), "memory");
    /// let read = cache.wrap(user::Entity).find_by_pk_with_status(&db, 1).await?;
    /// let stored = cache.backend().get(read.key.unwrap().as_str()).await?.unwrap();
    /// let alice: Option<user::Model> = Envelope::default().decode(&stored)?;
    /// assert_eq!(alice.unwrap().name, "alice");
    /// # Ok(()) }
    /// ```
    pub fn backend(&self) -> &dyn CacheBackend {
        self.parts.backend.inner()
    }

    /// A snapshot of this cache's counters (shared by its clones) since it was built.
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
    /// # let backend = momento_seaorm_cache::MemoryBackend::new();
    /// # let cache = momento_seaorm_cache::ModelCache::builder(backend).build()?;
    /// use momento_seaorm_cache::BreakerState;
    /// let users = cache.wrap(user::Entity);
    /// users.find_by_pk(&db, 1).await?; // a miss: loaded from the database and stored
    /// users.find_by_pk(&db, 1).await?; // a hit
    /// let stats = cache.stats();
    /// assert_eq!((stats.hits, stats.misses, stats.database_loads), (1, 1, 1));
    /// assert_eq!(stats.breaker_state, Some(BreakerState::Closed));
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> CacheStats {
        let owed = self.parts.generations.owed_count() as u64;
        let state = self.parts.backend.breaker_state();
        self.parts.counters.snapshot(state, owed)
    }

    /// The near cache's counters and size; `None` without a near cache.
    ///
    /// ```
    /// use momento_seaorm_cache::{MemoryBackend, ModelCache, NearCache};
    /// let plain = ModelCache::builder(MemoryBackend::new()).build()?;
    /// assert!(plain.near_stats().is_none());
    /// let near = NearCache::new(1 << 20);
    /// let cache = ModelCache::builder(MemoryBackend::new()).near_cache(near).build()?;
    /// let stats = cache.near_stats().unwrap();
    /// assert!(stats.healthy); // no topic: always serving
    /// assert_eq!(stats.entries, 0);
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn near_stats(&self) -> Option<NearStats> {
        self.parts.near.as_ref().map(|near| near.stats())
    }

    /// A cached read of any statement: served from the cache, or `loader(statement)` runs on
    /// `db` and its result is stored. The key is made from the request's operation, label,
    /// bound values and SQL; the read depends on every table the SQL reads (a statement that is
    /// not understood as a read, or a read on a connection in a transaction, bypasses the
    /// cache). Every front end of this crate ends here or in the primary-key path beside it.
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
    /// # let backend = momento_seaorm_cache::MemoryBackend::new();
    /// # let cache = momento_seaorm_cache::ModelCache::builder(backend).build()?;
    /// use momento_seaorm_cache::{CacheStatus, LoadAll, Operation, ReadRequest};
    /// use sea_orm::{DbBackend, JsonValue, SelectModel, Statement};
    /// let sql = "SELECT id, name FROM users ORDER BY id";
    /// let statement = Statement::from_string(DbBackend::Sqlite, sql);
    /// let request = || ReadRequest::new(Operation::All, statement.clone());
    /// let load = LoadAll::<SelectModel<JsonValue>>::new;
    /// let first = cache.read_statement(&db, request(), load).await?;
    /// assert_eq!((first.status, first.value.len()), (CacheStatus::Miss, 2));
    /// let again = cache.read_statement(&db, request(), load).await?;
    /// assert_eq!((again.status, again.value), (CacheStatus::Hit, first.value));
    /// # Ok(()) }
    /// ```
    pub async fn read_statement<C, L>(
        &self,
        db: &C,
        request: ReadRequest,
        loader: impl FnOnce(Statement) -> L,
    ) -> Result<ReadResult<L::Output>, DbErr>
    where
        C: CacheableConnection,
        L: Loader,
    {
        let ReadRequest {
            operation,
            statement,
            label,
            options,
        } = request;
        let label = label.unwrap_or_else(|| key::statement_label(&statement));
        let catalog = self.catalog_for(db).await;
        let depends_on = self.depends_on(&statement, catalog.as_deref());
        let key = depends_on
            .is_ok()
            .then(|| self.parts.keys.statement(operation, &label, &statement));
        let shape = self.parts.report.shapes.counters(
            operation,
            &label,
            Some(&statement.sql),
            || match self.touches(statement.db_backend, &statement.sql) {
                Touches::Reads(tables) | Touches::Writes(tables) => tables.to_vec(),
                Touches::Nothing | Touches::Unknown => Vec::new(),
            },
        );
        let plan = ReadPlan {
            operation,
            label: &label,
            key,
            depends_on: depends_on.unwrap_or_default(),
            options,
        };
        let loader = loader(statement);
        crate::report::recorded(shape, loader, |loader| self.read_gated(plan, db, loader)).await
    }

    /// Invalidates every cached read of entity `E`'s table, in every process sharing the
    /// backend. For writes that do not go through a [`CachedConnection`](crate::CachedConnection).
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
    /// # let backend = momento_seaorm_cache::MemoryBackend::new();
    /// # let cache = momento_seaorm_cache::ModelCache::builder(backend).build()?;
    /// use momento_seaorm_cache::CacheStatus;
    /// use sea_orm::ConnectionTrait;
    /// let users = cache.wrap(user::Entity);
    /// users.find_by_pk(&db, 1).await?; // now cached
    /// db.execute_unprepared("UPDATE users SET name = 'alicia' WHERE id = 1").await?;
    /// cache.invalidate::<user::Entity>().await;
    /// let read = users.find_by_pk_with_status(&db, 1).await?;
    /// assert_eq!((read.status, read.value.unwrap().name), (CacheStatus::Miss, "alicia".into()));
    /// # Ok(()) }
    /// ```
    pub async fn invalidate<E: sea_orm::EntityTrait>(&self) {
        // The entity's table name is a name, not SQL: no quotes or schema to strip.
        let table = E::default().table_name().to_lowercase();
        self.bump_tables(&[table], InvalidationCause::Explicit)
            .await;
    }

    /// Invalidates every cached read of `table`, in every process sharing the backend: for
    /// tables written by other programs, or read by raw SQL. Case, quotes and schema are
    /// ignored, as when statements are read (`"App"."Users"` is `users`).
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
    /// # let backend = momento_seaorm_cache::MemoryBackend::new();
    /// # let cache = momento_seaorm_cache::ModelCache::builder(backend).build()?;
    /// use momento_seaorm_cache::{CacheQueryExt, CacheStatus};
    /// use sea_orm::EntityTrait;
    /// let count = || user::Entity::find().cached(&cache).count_with_status(&db);
    /// assert_eq!(count().await?.status, CacheStatus::Miss);
    /// assert_eq!(count().await?.status, CacheStatus::Hit);
    /// cache.invalidate_table("\"App\".\"USERS\"").await; // case, quotes and schema do not matter
    /// assert_eq!(count().await?.status, CacheStatus::Miss);
    /// # Ok(()) }
    /// ```
    pub async fn invalidate_table(&self, table: &str) {
        self.bump_tables(&table_names(table), InvalidationCause::Explicit)
            .await;
    }

    /// Invalidates every cached read of every table, in every process sharing the backend
    /// (one write: the global generation every read depends on).
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
    /// # let backend = momento_seaorm_cache::MemoryBackend::new();
    /// # let cache = momento_seaorm_cache::ModelCache::builder(backend).build()?;
    /// use momento_seaorm_cache::CacheStatus;
    /// let users = cache.wrap(user::Entity);
    /// users.find_by_pk(&db, 1).await?;
    /// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Hit);
    /// cache.invalidate_all().await;
    /// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Miss);
    /// # Ok(()) }
    /// ```
    pub async fn invalidate_all(&self) {
        self.bump_all(InvalidationCause::Explicit).await;
    }

    /// Invalidates everything for `cause`, noting it for the report.
    pub(crate) async fn bump_all(&self, cause: InvalidationCause) {
        self.note_invalidation::<&str>(cause, InvalidationScope::Everything, None);
        self.parts.generations.bump_all().await;
    }

    /// Notes an invalidation of `tables` (`None`: everything) for the report.
    pub(crate) fn note_invalidation<S: AsRef<str>>(
        &self,
        cause: InvalidationCause,
        scope: InvalidationScope,
        tables: Option<&[S]>,
    ) {
        self.parts.report.invalidations.record(cause, scope, tables);
    }

    /// What this cache did per query shape, since it was built, in this process: reads, hits,
    /// misses, the database time spent and saved, bytes stored, the last invalidation (see
    /// [`CacheReport`] and [`QueryReport`](crate::report::QueryReport)).
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
    /// # let backend = momento_seaorm_cache::MemoryBackend::new();
    /// # let cache = momento_seaorm_cache::ModelCache::builder(backend).build()?;
    /// let users = cache.wrap(user::Entity);
    /// users.find_by_pk(&db, 1).await?; // a miss: one query
    /// users.find_by_pk(&db, 1).await?; // a hit
    /// users.find_by_pk(&db, 2).await?; // a miss: the same shape, another bound value
    /// let report = cache.report();
    /// let shape = &report.queries[0];
    /// assert_eq!((shape.operation.as_str(), shape.table.as_str()), ("find_by_pk", "users"));
    /// let f = &shape.figures;
    /// assert_eq!((f.reads, f.hits, f.misses, f.database_loads), (3, 1, 2, 2));
    /// assert_eq!(f.stored_values, 2);
    /// assert_eq!(f.saved_us, f.mean_load_us); // one hit, at the measured mean
    /// # Ok(()) }
    /// ```
    pub fn report(&self) -> CacheReport {
        let gates = self.parts.gates.iter().enumerate();
        let invalidators = gates
            .map(|(i, health)| InvalidatorReport::of(&format!("gate {}", i + 1), health))
            .collect();
        self.parts.report.report(self.near_stats(), invalidators)
    }

    /// Invalidates every cached read of each of `tables` (any case) in one batch set, and says
    /// whether it was recorded. Unlike [`invalidate_table`](Self::invalidate_table) nothing is
    /// owed when it is not: the caller (a change-capture invalidator) keeps its position and
    /// tries again. Always `true` with [`Consistency::TtlOnly`](crate::Consistency::TtlOnly).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// assert!(cache.try_invalidate_tables(&["users", "orders"]).await);
    /// # }
    /// ```
    pub async fn try_invalidate_tables<S: AsRef<str>>(&self, tables: &[S]) -> bool {
        let tables: Vec<String> = tables
            .iter()
            .flat_map(|t| table_names(t.as_ref()))
            .collect();
        let recorded = self.parts.generations.try_bump_tables(&tables).await;
        if recorded {
            let scope = InvalidationScope::Table;
            self.note_invalidation(InvalidationCause::ChangeCapture, scope, Some(&tables));
        }
        recorded
    }

    /// [`invalidate_all`](Self::invalidate_all) that says whether it was recorded, owing nothing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// assert!(cache.try_invalidate_all().await);
    /// # }
    /// ```
    pub async fn try_invalidate_all(&self) -> bool {
        let recorded = self.parts.generations.try_bump_all().await;
        if recorded {
            let scope = InvalidationScope::Everything;
            self.note_invalidation::<&str>(InvalidationCause::ChangeCapture, scope, None);
        }
        recorded
    }

    /// Gives each generation key (from [`table_keys`](Self::table_keys) and
    /// [`row_keys`](Self::row_keys)) a new value in one batch; `true` when recorded, nothing
    /// owed otherwise (change capture retries).
    #[cfg(any(feature = "cdc-postgres", feature = "cdc-mysql"))]
    pub(crate) async fn try_invalidate_keys(&self, keys: &[String]) -> bool {
        let recorded = self.parts.generations.try_bump_keys(keys).await;
        if recorded {
            // The tables, as the generation keys name them (`<prefix>gen:<table>[#scope]`).
            let mut rows = false;
            let mut tables: Vec<&str> = keys
                .iter()
                .filter_map(|key| key.rsplit_once(":gen:").map(|(_, rest)| rest))
                .map(|rest| match rest.split_once('#') {
                    Some((table, _)) => {
                        rows = true;
                        table
                    }
                    None => rest,
                })
                .collect();
            tables.sort_unstable();
            tables.dedup();
            let scope = if rows {
                InvalidationScope::Rows
            } else {
                InvalidationScope::Table
            };
            self.note_invalidation(InvalidationCause::ChangeCapture, scope, Some(&tables));
        }
        recorded
    }

    /// Gives each of `tables` (lowercase, unqualified) a new generation, for a write.
    pub(crate) async fn invalidate_tables(&self, tables: &[String]) {
        self.bump_tables(tables, InvalidationCause::Write).await;
    }

    /// Gives each of `tables` a new generation, noting why for the report.
    async fn bump_tables(&self, tables: &[String], cause: InvalidationCause) {
        self.note_invalidation(cause, InvalidationScope::Table, Some(tables));
        self.parts.generations.bump_tables(tables).await;
    }

    /// Gives each generation key a new value in one batch (owed if not recorded).
    pub(crate) async fn invalidate_keys(&self, keys: Vec<String>) {
        self.parts.generations.bump_keys(keys).await;
    }

    /// The keys a write with unknown rows bumps in each of `tables`.
    pub(crate) fn table_keys(&self, tables: &[String]) -> Vec<String> {
        self.parts.generations.table_keys(tables)
    }

    /// The keys a write to known rows of `table` bumps.
    pub(crate) fn row_keys<'a>(
        &self,
        table: &str,
        scopes: impl IntoIterator<Item = &'a Scope>,
    ) -> Vec<String> {
        self.parts.generations.row_keys(table, scopes)
    }

    /// Schemas and row shapes.
    pub(crate) fn rows(&self) -> &RowIndex {
        &self.parts.rows
    }

    /// Kept for code written for earlier versions, and does nothing: which columns of `E`'s
    /// table are tracked row by row now comes from the database's catalog, read on first use,
    /// so that every process and every deploy tracks the same ones (a process that only
    /// writes gets row-level invalidation without it).
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
    /// # let backend = momento_seaorm_cache::MemoryBackend::new();
    /// # let cache = momento_seaorm_cache::ModelCache::builder(backend).build()?;
    /// use momento_seaorm_cache::{CacheStatus, CachedConnection};
    /// use sea_orm::ConnectionTrait;
    /// cache.register::<user::Entity>();
    /// let db = CachedConnection::new(db, &cache);
    /// let users = cache.wrap(user::Entity);
    /// users.find_by_pk(&db, 1).await?;
    /// db.execute_unprepared("UPDATE users SET name = 'robert' WHERE id = 2").await?;
    /// // Row 2 changed: row 1 is still served from the cache.
    /// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Hit);
    /// # Ok(()) }
    /// ```
    pub fn register<E: sea_orm::EntityTrait>(&self) {
        let _ = E::default();
    }

    /// How this cache names keys.
    pub(crate) fn keys(&self) -> &KeyFormat {
        &self.parts.keys
    }

    /// What a statement reads or writes (memoized).
    pub(crate) fn touches(&self, backend: sea_orm::DbBackend, sql: &str) -> Touches {
        self.parts.tables.touches(backend, sql)
    }

    /// The generation keys a read of `E`'s row with primary key `values` depends on: the
    /// row's own when the catalog shows the key is one tracked column (or several) of a table
    /// whose rows can be tracked, else the table's.
    pub(crate) fn row_dependencies<E: sea_orm::EntityTrait>(
        &self,
        values: &[sea_orm::Value],
        catalog: Option<&Snapshot>,
    ) -> Option<GenerationKeys> {
        let id = catalog.map_or(0, |c| c.id);
        let entity = self.parts.generations.entity::<E>(id, || {
            let table = E::default().table_name().to_lowercase();
            let schema = catalog
                .and_then(|c| c.table(&table))
                .filter(|s| s.row_precise)
                .cloned();
            (table, schema)
        })?;
        self.entity_row_dependencies::<E>(&entity, values)
    }

    /// Deletes the stored values `keys` and, concurrently, gives `generations` new values:
    /// the bump makes a value loaded before this call stale wherever it is stored — even one
    /// another process's miss stores after the delete — and the delete frees it now.
    pub(crate) async fn forget(&self, keys: &[CacheKey], generations: Vec<String>) {
        tokio::join!(
            self.parts.generations.bump_keys(generations),
            self.delete_keys(keys)
        );
    }

    /// What to bump so no value of a primary-key read of `E`'s row `values` loaded before is
    /// served again (see [`Generations::row_invalidation`]). Before this process has read `E`
    /// it does not know whether its rows are tracked: the table's generations then (wider,
    /// never narrower). Empty with generations off.
    pub(crate) fn row_invalidation_of<E: sea_orm::EntityTrait>(
        &self,
        values: &[sea_orm::Value],
    ) -> Vec<String> {
        let generations = &self.parts.generations;
        if !generations.enabled() {
            return Vec::new();
        }
        match generations.known_entity::<E>() {
            Some(entity) => match self.entity_row_dependencies::<E>(&entity, values) {
                Some(depends_on) => generations.row_invalidation(&entity.table, &depends_on),
                None => generations.table_keys(std::slice::from_ref(&entity.table)),
            },
            None => generations.table_keys(&[E::default().table_name().to_lowercase()]),
        }
    }

    /// What to bump so no value of `reads` loaded before is served again (see
    /// [`Generations::row_invalidation`]). Without a catalog held here, which shows whether
    /// their rows are tracked, every generation of the tables they read (wider). Empty with
    /// generations off.
    pub(crate) fn reads_invalidation(&self, reads: &[&Statement]) -> Vec<String> {
        let generations = &self.parts.generations;
        if !generations.enabled() {
            return Vec::new();
        }
        let mut keys = Vec::new();
        for statement in reads {
            let Touches::Reads(tables) = self.touches(statement.db_backend, &statement.sql) else {
                continue;
            };
            let catalog = self.parts.catalog.current(statement.db_backend);
            match (&catalog, self.depends_on(statement, catalog.as_deref())) {
                (Some(_), Ok(Some(depends_on))) if !tables.is_empty() => {
                    keys.extend(generations.row_invalidation(&tables[0], &depends_on));
                }
                _ => keys.extend(generations.table_keys(&tables)),
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }

    /// [`row_dependencies`](Self::row_dependencies) once the entity's keys are made.
    fn entity_row_dependencies<E: sea_orm::EntityTrait>(
        &self,
        entity: &crate::generations::EntityKeys,
        values: &[sea_orm::Value],
    ) -> Option<GenerationKeys> {
        let schema = entity.schema.as_deref();
        if let Some(schema) = schema.filter(|s| !s.key_columns.is_empty()) {
            return self.composite_dependencies::<E>(&entity.table, schema, values);
        }
        let value = match (values, schema.and_then(|s| s.primary_key.as_deref())) {
            ([value], Some(key)) => crate::rows::tracked_value(schema?, key, value)
                .ok()
                .flatten(),
            _ => None,
        };
        Some(self.parts.generations.for_entity_row(entity, value))
    }

    /// The dependencies of a read of one row by its composite key: its tuple's (the entity's
    /// key columns matched to the catalog's by name), else the table's.
    fn composite_dependencies<E: sea_orm::EntityTrait>(
        &self,
        table: &str,
        schema: &crate::rows::TableSchema,
        values: &[sea_orm::Value],
    ) -> Option<GenerationKeys> {
        use sea_orm::{IdenStatic, Iterable};
        let named: std::collections::BTreeMap<String, &sea_orm::Value> =
            <E::PrimaryKey as Iterable>::iter()
                .map(|k| k.as_str().to_lowercase())
                .zip(values)
                .collect();
        let tuple: Option<Vec<crate::rows::RowValue>> = schema
            .key_columns
            .iter()
            .map(|c| {
                crate::rows::tracked_value(schema, c, named.get(c)?)
                    .ok()
                    .flatten()
            })
            .collect();
        match tuple {
            Some(tuple) if named.len() == schema.key_columns.len() => {
                let condition = crate::rows::Condition {
                    column: schema.key_columns[0].clone(),
                    values: Vec::new(),
                    primary: false,
                    key: Some((schema.key_columns.clone(), vec![tuple])),
                };
                self.parts.generations.for_condition(table, &condition)
            }
            _ => self.parts.generations.for_tables(&[table.to_owned()]),
        }
    }

    /// The database catalog for reads and writes on `db`, read through it (or the pool it
    /// came from) when none is held or it is old; in a transaction, only the one held.
    pub(crate) async fn catalog_for<C>(&self, db: &C) -> Option<Arc<Snapshot>>
    where
        C: crate::connection::CacheableConnection,
    {
        if !self.parts.generations.enabled() {
            return None;
        }
        let backend = db.get_database_backend();
        let catalog = &self.parts.catalog;
        if let Some(fresh) = catalog.fresh_for(backend) {
            return Some(fresh);
        }
        if db.in_transaction() {
            return catalog.current(backend);
        }
        match (db.detached(), catalog.current(backend)) {
            // An old catalog is used while a new one is read in the background.
            (Some(pool), Some(old)) => {
                let cache = self.clone();
                tokio::spawn(async move { cache.parts.catalog.ensure(&pool).await });
                Some(old)
            }
            (Some(pool), None) => catalog.ensure(&pool).await,
            (None, _) => catalog.ensure(db).await,
        }
    }

    /// Reads `db`'s catalog now (the tables, their integer columns and keys, views,
    /// partitions, cascades and triggers that decide what a write invalidates), instead of on
    /// the first cached read or write through it, and says whether it could be read. Useful
    /// at startup, and after DDL run outside a [`CachedConnection`](crate::CachedConnection)
    /// (otherwise it is read again at most 30 s later).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// let cache = ModelCache::builder(MemoryBackend::new()).build()?;
    /// assert!(cache.refresh_catalog(&db).await);
    /// # Ok(()) }
    /// ```
    pub async fn refresh_catalog<C: sea_orm::ConnectionTrait>(&self, db: &C) -> bool {
        let catalog = &self.parts.catalog;
        catalog.expire(db.get_database_backend());
        catalog.ensure(db).await.is_some()
    }

    /// The database catalogs this process holds.
    pub(crate) fn catalog(&self) -> &Catalog {
        &self.parts.catalog
    }

    /// Runs a plan down the read path; in a transaction, or while this process owes an
    /// invalidation the read depends on, it bypasses the cache.
    pub(crate) async fn read_plan<C, L>(
        &self,
        plan: ReadPlan<'_>,
        db: &C,
        loader: L,
    ) -> Result<ReadResult<L::Output>, DbErr>
    where
        C: CacheableConnection,
        L: Loader,
    {
        let label = plan.label;
        let shape = self
            .parts
            .report
            .shapes
            .counters(plan.operation, label, None, || {
                // A primary-key read's label is its entity's table (and schema fingerprint).
                let table = label.split('@').next().unwrap_or(label);
                vec![table_name(table)]
            });
        crate::report::recorded(shape, loader, |loader| self.read_gated(plan, db, loader)).await
    }

    /// [`read_plan`](Self::read_plan) past the shape's recording.
    async fn read_gated<C, L>(
        &self,
        mut plan: ReadPlan<'_>,
        db: &C,
        loader: L,
    ) -> Result<ReadResult<L::Output>, DbErr>
    where
        C: CacheableConnection,
        L: Loader,
    {
        let owed = |keys: &GenerationKeys| self.parts.generations.owes_any(keys);
        for gate in &self.parts.gates {
            crate::heartbeat::ensure_watching(gate, &self.parts.backend, self.prefix());
        }
        let behind = || self.parts.gates.iter().any(|g| !g.allows_cache());
        if db.in_transaction() || plan.depends_on.as_ref().is_some_and(owed) || behind() {
            plan.key = None;
        }
        self.parts.read_path.read(plan, db, loader).await
    }

    /// Deletes cached values (a fault is logged), then drops them from the near cache here and
    /// tells the other processes on its topic to drop theirs. Waits first for this process's
    /// background stores of the keys, each bounded by the deadline, so none lands after.
    pub(crate) async fn delete_keys(&self, keys: &[CacheKey]) {
        self.parts.read_path.stores_landed(keys).await;
        let admission = crate::breaker::Admission::Use;
        for key in keys {
            let _ = self.parts.backend.delete(admission, key.as_str()).await;
        }
        if let Some(near) = &self.parts.near {
            let keys: Vec<String> = keys.iter().map(|k| k.as_str().to_owned()).collect();
            near.dropped(&keys);
        }
    }

    /// The generation keys of the tables `statement` reads: `Ok(None)` when generations are
    /// off, `Err(NotARead)` when it is not understood as a read (it is then not cached).
    fn depends_on(
        &self,
        statement: &Statement,
        catalog: Option<&Snapshot>,
    ) -> Result<Option<GenerationKeys>, NotARead> {
        let generations = &self.parts.generations;
        if !generations.enabled() {
            return Ok(None);
        }
        match self.touches(statement.db_backend, &statement.sql) {
            Touches::Reads(tables) if tables.len() == 1 => {
                let condition = catalog.and_then(|c| self.parts.rows.condition(statement, c));
                match condition {
                    Some((schema, condition)) if schema.table == tables[0] => {
                        Ok(generations.for_condition(&schema.table, &condition))
                    }
                    _ => Ok(generations.for_tables(&tables)),
                }
            }
            Touches::Reads(tables) => Ok(generations.for_tables(&tables)),
            Touches::Writes(_) | Touches::Nothing | Touches::Unknown => {
                tracing::debug!(
                    sql = statement.sql,
                    "statement not understood as a read; not cached"
                );
                Err(NotARead)
            }
        }
    }
}

/// The generation names `table` may mean: as statements name tables (see [`table_name`]),
/// and, for an unquoted name with a dot (`my.items`), also the whole name, since it may be a
/// table whose name has a dot rather than a schema-qualified one: both are invalidated.
fn table_names(table: &str) -> Vec<String> {
    let named = table_name(table);
    let whole = table.trim().to_lowercase();
    let quoted = table.contains(['"', '`', '[']);
    if !quoted && whole.contains('.') && whole != named {
        vec![named, whole]
    } else {
        vec![named]
    }
}

/// A table name as statements name tables, so both meet on one generation: the last part,
/// unquoted, lower-cased (`"App"."Users"` is `users`; a quoted part keeps its dots:
/// `"my.items"` is `my.items`).
fn table_name(table: &str) -> String {
    let table = table.trim();
    let close = table.chars().last();
    let open = match close {
        Some('"') => '"',
        Some('`') => '`',
        Some(']') => '[',
        _ => {
            let name = table.rsplit('.').next().unwrap_or(table);
            return name.to_lowercase();
        }
    };
    let close = close.unwrap_or(open);
    // The quoted last part: scan back to its opening quote (a doubled quote is an escape).
    let body = &table[..table.len() - close.len_utf8()];
    let mut start = None;
    let mut chars = body.char_indices().rev().peekable();
    while let Some((i, c)) = chars.next() {
        if c == open {
            if open == close && chars.peek().is_some_and(|&(_, p)| p == open) {
                chars.next();
                continue;
            }
            start = Some(i + c.len_utf8());
            break;
        }
    }
    let inner = &body[start.unwrap_or(0)..];
    let doubled: String = [close, close].iter().collect();
    inner.replace(&doubled, &close.to_string()).to_lowercase()
}

/// A statement that is not understood as a read, so its result is not cached.
#[derive(Debug, Clone, Copy)]
struct NotARead;

#[cfg(test)]
mod tests {
    use super::table_name;

    #[test]
    fn table_names_keep_the_dots_of_a_quoted_part() {
        assert_eq!(table_name("users"), "users");
        assert_eq!(table_name(r#""App"."USERS""#), "users");
        assert_eq!(table_name("app.users"), "users");
        assert_eq!(table_name(r#""my.items""#), "my.items");
        assert_eq!(table_name(r#"public."my.items""#), "my.items");
        assert_eq!(table_name("`shop`.`my.items`"), "my.items");
        assert_eq!(table_name(r#""a""b.c""#), r#"a"b.c"#);
        assert_eq!(table_name("[dbo].[x.y]"), "x.y");
    }
}
