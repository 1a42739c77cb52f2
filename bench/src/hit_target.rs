//! The populated cache that the hit, throughput and hit-loop scenarios read, in each
//! consistency mode, next to the raw SDK calls that are the physical limit of its hits.
//!
//! A hit's cost depends on the consistency mode: the default (`Strict`) fetches the value and
//! its tables' generations in one batch get, `Bounded` and `TtlOnly` fetch the value alone. So
//! each mode gets its own cache (its own key prefix, of equal length, so that stored values of
//! one mode never meet another's), and the yardsticks are the raw SDK `get` of the value's key
//! and the raw SDK `get_batch` of exactly the keys a `Strict` hit asks for.

use std::sync::Arc;
use std::time::Duration;

use momento::cache::GetResponse;
use momento::CacheClient;
use momento_seaorm_cache::{
    CacheBackend, CacheKey, CacheQueryExt, CacheStatus, Consistency, ModelCache, ModelCacheBuilder,
    MomentoBackend, WrappedEntity,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::Serialize;

use crate::fixtures::{user, BenchResult};

/// Longer than the library answers a key from its last load without a lookup (1 s).
pub const RECENTLY_LOADED: Duration = Duration::from_millis(1_100);

/// How many users' `find_by_pk` values are cached (one per task at the highest concurrency).
pub const KEYED_USERS: i32 = 256;

/// A cache configuration whose hits are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `ModelCache::builder(backend).build()`: `Consistency::Strict`, a batch get per hit.
    Default,
    /// `Consistency::TtlOnly`: one plain get per hit, as the Node library.
    TtlOnly,
    /// `Consistency::Bounded(1 s)`: one plain get per hit, generations held for a second.
    Bounded,
}

/// Every mode, in the order [`HitTarget::variant`] indexes them.
pub const MODES: [Mode; 3] = [Mode::Default, Mode::TtlOnly, Mode::Bounded];

impl Mode {
    /// The key prefix: all eleven bytes long, so every mode's keys have the same length.
    pub fn prefix(self) -> &'static str {
        match self {
            Mode::Default => "model-cache",
            Mode::TtlOnly => "mc-ttl-only",
            Mode::Bounded => "mc-bounded1",
        }
    }

    /// A cache over `backend` in this mode.
    pub fn cache(self, backend: impl CacheBackend) -> BenchResult<ModelCache> {
        Ok(self.builder(backend).build()?)
    }

    /// The builder of [`cache`](Self::cache), for a setting of its own.
    pub fn builder(self, backend: impl CacheBackend) -> ModelCacheBuilder {
        let builder = ModelCache::builder(backend).key_prefix(self.prefix());
        match self {
            Mode::Default => builder,
            Mode::TtlOnly => builder.consistency(Consistency::TtlOnly),
            Mode::Bounded => builder.consistency(Consistency::Bounded(Duration::from_secs(1))),
        }
    }
}

/// One mode's cache, populated with users 1..=[`KEYED_USERS`].
pub struct Variant {
    pub mode: Mode,
    pub cache: ModelCache,
    pub users: WrappedEntity<user::Entity>,
    /// The `find_by_pk` keys, at index `pk - 1`.
    pub pk_keys: Vec<String>,
}

impl Variant {
    /// Builds the mode's cache over `backend` and reads every user twice (miss, then hit).
    pub async fn populate(
        mode: Mode,
        backend: impl CacheBackend,
        db: &DatabaseConnection,
    ) -> BenchResult<Variant> {
        Variant::fill(mode, mode.cache(backend)?, db).await
    }

    /// Reads every user of `cache` (built in `mode`) twice: miss, then hit.
    pub async fn fill(
        mode: Mode,
        cache: ModelCache,
        db: &DatabaseConnection,
    ) -> BenchResult<Variant> {
        let users = cache.wrap(user::Entity);
        for pk in 1..=KEYED_USERS {
            users.find_by_pk(db, pk).await?;
        }
        // For a second after a load the library answers that key from the loaded value, without
        // a cache lookup (`flight.rs`, RECENT_FOR); wait it out so the reads below are real hits.
        tokio::time::sleep(RECENTLY_LOADED).await;
        let mut pk_keys = Vec::new();
        for pk in 1..=KEYED_USERS {
            let lookup = users.find_by_pk_with_status(db, pk).await?;
            pk_keys.push(hit_key(lookup.status, lookup.key)?);
        }
        Ok(Variant {
            mode,
            cache,
            users,
            pk_keys,
        })
    }
}

/// Everything the hit-path scenarios read: one populated cache per mode over momento-lite,
/// the SDK client for raw calls, and the `.cached().all()` key of user 1 (default mode).
pub struct HitTarget {
    pub db: DatabaseConnection,
    pub client: CacheClient,
    pub cache_name: String,
    pub variants: Vec<Variant>,
    pub all_key: String,
    /// What a `Strict` hit of user 1 fetches: the value's key, then the generation keys
    /// (global, then the table's), named as the library names them (`invalidate.rs`).
    pub strict_batch: Vec<String>,
}

impl HitTarget {
    /// Populates every mode's cache; `db` must hold users 1..=[`KEYED_USERS`].
    pub async fn new(
        db: DatabaseConnection,
        backend: &MomentoBackend,
    ) -> BenchResult<Arc<HitTarget>> {
        let mut variants = Vec::new();
        for mode in MODES {
            variants.push(Variant::populate(mode, backend.clone(), &db).await?);
        }
        let cache = &variants[0].cache;
        by_id(1).cached(cache).all(&db).await?;
        tokio::time::sleep(RECENTLY_LOADED).await;
        let all = by_id(1).cached(cache).all_with_status(&db).await?;
        let prefix = Mode::Default.prefix();
        // What a primary-key hit fetches while gen-all is held: the value, `#*`, the row's.
        let strict_batch = vec![
            variants[0].pk_keys[0].clone(),
            format!("{prefix}:gen:bench_users#*"),
            format!("{prefix}:gen:bench_users#id=1"),
        ];
        Ok(Arc::new(HitTarget {
            all_key: hit_key(all.status, all.key)?,
            db,
            client: backend.client().clone(),
            cache_name: backend.cache_name().to_owned(),
            variants,
            strict_batch,
        }))
    }

    /// The cache of `mode`.
    pub fn variant(&self, mode: Mode) -> &Variant {
        &self.variants[MODES.iter().position(|&m| m == mode).unwrap_or(0)]
    }

    /// The raw SDK `get` of `key`; an error unless it hits. Returns the value's size.
    pub async fn raw_get(&self, key: &str) -> BenchResult<usize> {
        match self.client.get(self.cache_name.as_str(), key).await? {
            GetResponse::Hit { value } => Ok(Vec::<u8>::from(value).len()),
            GetResponse::Miss => Err(format!("raw get of {key} missed").into()),
        }
    }

    /// The raw SDK `get_batch` of the keys a `Strict` hit of user 1 fetches.
    pub async fn raw_get_batch(&self) -> BenchResult<()> {
        let response = self
            .client
            .get_batch(self.cache_name.as_str(), self.strict_batch.clone())
            .await?;
        let found: std::collections::HashMap<Vec<u8>, GetResponse> = response.into();
        if found.len() != self.strict_batch.len() {
            return Err("get_batch answered a different number of keys".into());
        }
        Ok(())
    }

    /// One `find_by_pk` hit of user `pk` in `mode` (the row must be there).
    pub async fn find_by_pk(&self, mode: Mode, pk: i32) -> BenchResult<()> {
        let users = &self.variant(mode).users;
        users.find_by_pk(&self.db, pk).await?.ok_or("no row")?;
        Ok(())
    }

    /// One `.cached().all()` hit of user 1 (default mode).
    pub async fn cached_all(&self) -> BenchResult<()> {
        let cache = &self.variant(Mode::Default).cache;
        let rows = by_id(1).cached(cache).all(&self.db).await?;
        if rows.len() != 1 {
            return Err("expected one row".into());
        }
        Ok(())
    }
}

/// The key of a read that must have hit.
pub fn hit_key(status: CacheStatus, key: Option<CacheKey>) -> BenchResult<String> {
    if status != CacheStatus::Hit {
        return Err(format!("a populated key did not hit: {status}").into());
    }
    Ok(key.ok_or("no key")?.as_str().to_owned())
}

/// `SELECT … FROM bench_users WHERE id = ?`.
pub fn by_id(id: i32) -> sea_orm::Select<user::Entity> {
    user::Entity::find().filter(user::Column::Id.eq(id))
}
