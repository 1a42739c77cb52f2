//! [`ModelCache`]: the configured cache every cached read goes through, and its builder.
//!
//! `ModelCache` owns its parts privately (the guarded backend, the generations, the read path,
//! the table index) and offers the front ends one way down: a [`ReadRequest`] for any
//! statement ([`ModelCache::read_statement`]), or a plan the front ends build themselves
//! (primary-key reads).

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DbErr, Statement};

use crate::backend::CacheBackend;
use crate::breaker::{Breaker, BreakerConfig};
use crate::codec::{Compression, SerdeFormat};
use crate::config::Settings;
use crate::connection::CacheableConnection;
use crate::error::ConfigError;
use crate::flight::Flights;
use crate::generations::{Consistency, GenerationKeys, Generations, GENERATION_TTL};
use crate::guarded::GuardedBackend;
use crate::health::InvalidatorHealth;
use crate::key::{self, CacheKey, KeyFormat};
use crate::load::Loader;
use crate::metrics::{CacheStats, Counters};
use crate::policy::StoringPolicy;
use crate::read::{ReadPath, ReadPlan};
use crate::request::ReadRequest;
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

/// What a [`ModelCache`] and its clones share.
struct Parts {
    backend: Arc<GuardedBackend>,
    generations: Arc<Generations>,
    read_path: Arc<ReadPath>,
    keys: KeyFormat,
    tables: TableIndex,
    counters: Arc<Counters>,
    ttl: Duration,
    /// Change-capture invalidators whose lag gates the cache (reads bypass while one is behind).
    gates: Vec<InvalidatorHealth>,
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
    /// A builder over `backend` with prefix `model-cache`, the backend's default TTL, JSON, no
    /// compression, a 200 ms deadline per cache call, the default circuit breaker, one loader
    /// per key, up to 10% TTL jitter and [`Consistency::Strict`].
    ///
    /// ```
    /// use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// # let _ = cache;
    /// ```
    pub fn builder(backend: impl CacheBackend) -> ModelCacheBuilder {
        ModelCacheBuilder {
            backend: Box::new(backend),
            settings: Settings::default(),
            gates: Vec::new(),
        }
    }

    /// The key prefix.
    ///
    /// ```
    /// # use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).key_prefix("app").build().unwrap();
    /// assert_eq!(cache.prefix(), "app");
    /// ```
    pub fn prefix(&self) -> &str {
        self.parts.keys.prefix()
    }

    /// The default TTL of stored results.
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
    /// # use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// assert_eq!(cache.backend().name(), "memory");
    /// ```
    pub fn backend(&self) -> &dyn CacheBackend {
        self.parts.backend.inner()
    }

    /// A snapshot of this cache's counters (shared by its clones) since it was built.
    ///
    /// ```
    /// # use momento_seaorm_cache::{MemoryBackend, ModelCache, BreakerState};
    /// let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// let stats = cache.stats();
    /// assert_eq!((stats.hits, stats.misses), (0, 0));
    /// assert_eq!(stats.breaker_state, Some(BreakerState::Closed));
    /// ```
    pub fn stats(&self) -> CacheStats {
        let owed = self.parts.generations.owed_count() as u64;
        let state = self.parts.backend.breaker_state();
        self.parts.counters.snapshot(state, owed)
    }

    /// A cached read of any statement: served from the cache, or `loader(statement)` runs on
    /// `db` and its result is stored. The key is made from the request's operation, label,
    /// bound values and SQL; the read depends on every table the SQL reads (a statement that is
    /// not understood as a read, or a read on a connection in a transaction, bypasses the
    /// cache). Every front end of this crate ends here or in the primary-key path beside it.
    ///
    /// ```no_run
    /// # async fn run(db: sea_orm::DatabaseConnection, cache: momento_seaorm_cache::ModelCache)
    /// # -> Result<(), sea_orm::DbErr> {
    /// use momento_seaorm_cache::{LoadAll, Operation, ReadRequest};
    /// use sea_orm::{DbBackend, JsonValue, SelectModel, Statement};
    /// let statement = Statement::from_string(DbBackend::Sqlite, "SELECT id FROM users");
    /// let request = ReadRequest::new(Operation::All, statement);
    /// let rows = cache
    ///     .read_statement(&db, request, LoadAll::<SelectModel<JsonValue>>::new)
    ///     .await?;
    /// # let _ = rows;
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
        let depends_on = self.depends_on(&statement);
        let key = depends_on
            .is_ok()
            .then(|| self.parts.keys.statement(operation, &label, &statement));
        let plan = ReadPlan {
            operation,
            label: &label,
            key,
            depends_on: depends_on.unwrap_or_default(),
            options,
        };
        self.read_plan(plan, db, loader(statement)).await
    }

    /// Invalidates every cached read of entity `E`'s table, in every process sharing the
    /// backend. For writes that do not go through a [`CachedConnection`](crate::CachedConnection).
    ///
    /// ```no_run
    /// # mod user {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
    /// #     #[sea_orm(table_name = "users")]
    /// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub name: String }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// # async fn run(cache: momento_seaorm_cache::ModelCache) {
    /// cache.invalidate::<user::Entity>().await;
    /// # }
    /// ```
    pub async fn invalidate<E: sea_orm::EntityTrait>(&self) {
        self.invalidate_table(E::default().table_name()).await;
    }

    /// Invalidates every cached read of `table` (any case, schema ignored).
    ///
    /// ```no_run
    /// # async fn run(cache: momento_seaorm_cache::ModelCache) {
    /// cache.invalidate_table("users").await;
    /// # }
    /// ```
    pub async fn invalidate_table(&self, table: &str) {
        self.invalidate_tables(&[table.to_lowercase()]).await;
    }

    /// Invalidates every cached read of every table.
    ///
    /// ```no_run
    /// # async fn run(cache: momento_seaorm_cache::ModelCache) {
    /// cache.invalidate_all().await;
    /// # }
    /// ```
    pub async fn invalidate_all(&self) {
        self.parts.generations.bump_all().await;
    }

    /// Invalidates every cached read of each of `tables` (any case, schema ignored) in one batch
    /// set, and says whether it was recorded. Unlike [`invalidate_table`](Self::invalidate_table)
    /// nothing is owed when it is not: the caller (a change-capture invalidator) keeps its
    /// position and tries again. Always `true` with [`Consistency::TtlOnly`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// assert!(cache.try_invalidate_tables(&["users", "orders"]).await);
    /// # }
    /// ```
    pub async fn try_invalidate_tables<S: AsRef<str>>(&self, tables: &[S]) -> bool {
        let tables: Vec<String> = tables.iter().map(|t| t.as_ref().to_lowercase()).collect();
        self.parts.generations.try_bump_tables(&tables).await
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
        self.parts.generations.try_bump_all().await
    }

    /// Gives each of `tables` (lowercase, unqualified) a new generation.
    pub(crate) async fn invalidate_tables(&self, tables: &[String]) {
        self.parts.generations.bump_tables(tables).await;
    }

    /// How this cache names keys.
    pub(crate) fn keys(&self) -> &KeyFormat {
        &self.parts.keys
    }

    /// What a statement reads or writes (memoized).
    pub(crate) fn touches(&self, backend: sea_orm::DbBackend, sql: &str) -> Touches {
        self.parts.tables.touches(backend, sql)
    }

    /// The generation keys a primary-key read of `E` depends on.
    pub(crate) fn entity_dependencies<E: sea_orm::EntityTrait>(&self) -> Option<GenerationKeys> {
        self.parts.generations.for_entity::<E>()
    }

    /// Runs a plan down the read path; in a transaction, or while this process owes an
    /// invalidation the read depends on, it bypasses the cache.
    pub(crate) async fn read_plan<C, L>(
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
        let behind = || self.parts.gates.iter().any(|g| !g.allows_cache());
        if db.in_transaction() || plan.depends_on.as_ref().is_some_and(owed) || behind() {
            plan.key = None;
        }
        self.parts.read_path.read(plan, db, loader).await
    }

    /// Deletes one cached value (a fault is logged).
    pub(crate) async fn delete_key(&self, key: &CacheKey) {
        let admission = crate::breaker::Admission::Use;
        let _ = self.parts.backend.delete(admission, key.as_str()).await;
    }

    /// The generation keys of the tables `statement` reads: `Ok(None)` when generations are
    /// off, `Err(NotARead)` when it is not understood as a read (it is then not cached).
    fn depends_on(&self, statement: &Statement) -> Result<Option<GenerationKeys>, NotARead> {
        let generations = &self.parts.generations;
        if !generations.enabled() {
            return Ok(None);
        }
        match self.touches(statement.db_backend, &statement.sql) {
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

/// A statement that is not understood as a read, so its result is not cached.
#[derive(Debug, Clone, Copy)]
struct NotARead;

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
    /// The first part of every key (default `model-cache`); must not contain `:`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.prefix = prefix.into();
        self
    }

    /// The default TTL of stored results (default: the backend's, else 60 s).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.settings.ttl = Some(ttl);
        self
    }

    /// How values are compressed when written (any compression is read).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.settings.envelope.compression = compression;
        self
    }

    /// How rows are serialized when written (any format is read).
    pub fn serde_format(mut self, format: SerdeFormat) -> Self {
        self.settings.envelope.format = format;
        self
    }

    /// Keys longer than this many bytes are stored under a hash of their query (default 1024).
    pub fn max_key_len(mut self, len: usize) -> Self {
        self.settings.max_key_len = len;
        self
    }

    /// The deadline of each cache call, separate from the SDK's own (default 200 ms). A call
    /// that takes longer counts as a fault and the read goes to the database.
    pub fn cache_timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// The circuit breaker's thresholds (on by default with [`BreakerConfig::default`]).
    pub fn circuit_breaker(mut self, config: BreakerConfig) -> Self {
        self.settings.breaker = Some(config);
        self
    }

    /// Never skip the cache, however often it faults.
    pub fn without_circuit_breaker(mut self) -> Self {
        self.settings.breaker = None;
        self
    }

    /// Whether concurrent reads of one key in this process share one database query
    /// (default `true`).
    pub fn single_flight(mut self, enabled: bool) -> Self {
        self.settings.single_flight = enabled;
        self
    }

    /// Across processes, let one loader per key run the query: a miss first takes a lease (a
    /// set-if-absent key living `lease`); others wait up to `lease` for the value to appear,
    /// then query themselves. Off by default; needs a backend with `set_if_absent`.
    pub fn load_lease(mut self, lease: Duration) -> Self {
        self.settings.lease = Some(lease);
        self
    }

    /// Shorten each stored TTL by a random fraction up to `jitter` (0.0 to 1.0, default 0.1),
    /// so entries written together do not expire together.
    pub fn ttl_jitter(mut self, jitter: f64) -> Self {
        self.settings.ttl_jitter = jitter;
        self
    }

    /// Write the cache in a background task on a miss, so the caller does not wait for the
    /// set (default `false`).
    pub fn background_writes(mut self, enabled: bool) -> Self {
        self.settings.background_writes = enabled;
        self
    }

    /// How reads stay consistent with writes (default [`Consistency::Strict`]); see the
    /// README's invalidation section for what each costs.
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.settings.consistency = consistency;
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

    /// Checks the settings and builds the cache.
    ///
    /// ```
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{ConfigError, MemoryBackend, ModelCache};
    /// let err = ModelCache::builder(MemoryBackend::new())
    ///     .default_ttl(Duration::ZERO)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, ConfigError::ZeroTtl { .. }));
    /// ```
    pub fn build(self) -> Result<ModelCache, ConfigError> {
        let ModelCacheBuilder {
            backend,
            settings,
            gates,
        } = self;
        settings.validate(backend.as_ref())?;
        let ttl = settings.resolved_ttl(backend.as_ref());
        let counters = Arc::new(Counters::default());
        let keys = KeyFormat::new(settings.prefix.clone(), settings.max_key_len);
        let max_item_bytes = backend.max_item_bytes();
        let max_ttl = match (backend.max_ttl(), settings.consistency) {
            (max, Consistency::TtlOnly) => max,
            (max, _) => Some(max.map_or(GENERATION_TTL, |max| max.min(GENERATION_TTL))),
        };
        let breaker = settings.breaker.map(Breaker::new);
        let guarded = GuardedBackend::new(backend, settings.timeout, breaker, counters.clone());
        let backend = Arc::new(guarded);
        let generations = Arc::new(Generations::new(
            backend.clone(),
            keys.clone(),
            settings.consistency,
            counters.clone(),
        ));
        let policy = StoringPolicy {
            ttl,
            max_ttl,
            max_item_bytes,
            envelope: settings.envelope,
            ttl_jitter: settings.ttl_jitter,
            counters: counters.clone(),
        };
        let read_path = Arc::new(ReadPath {
            backend: backend.clone(),
            generations: generations.clone(),
            policy,
            keys: keys.clone(),
            flights: settings.single_flight.then(Flights::default),
            lease: settings.lease,
            background_writes: settings.background_writes,
            refreshing: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            counters: counters.clone(),
        });
        let parts = Parts {
            backend,
            generations,
            read_path,
            keys,
            tables: TableIndex::default(),
            counters,
            ttl,
            gates,
        };
        Ok(ModelCache {
            parts: Arc::new(parts),
        })
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
