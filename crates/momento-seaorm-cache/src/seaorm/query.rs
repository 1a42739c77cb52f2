//! `.cached(&cache)`: caching for every SeaORM selector, as a drop-in.
//!
//! ```
//! # mod user {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
//! #     #[derive(serde::Serialize, serde::Deserialize)]
//! #     #[sea_orm(table_name = "users")]
//! #     pub struct Model {
//! #         #[sea_orm(primary_key)]
//! #         pub id: i32,
//! #         pub name: String,
//! #     }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = sea_orm::Database::connect("sqlite::memory:").await?;
//! # sea_orm::ConnectionTrait::execute_unprepared(
//! #     &db,
//! #     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
//! #      INSERT INTO users VALUES (1, 'alice'), (2, 'bob')",
//! # )
//! # .await?;
//! # let backend = momento_seaorm_cache::MemoryBackend::new();
//! # let cache = momento_seaorm_cache::ModelCache::builder(backend).build()?;
//! use momento_seaorm_cache::CacheQueryExt;
//! use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
//! let alices: Vec<user::Model> = user::Entity::find()
//!     .filter(user::Column::Name.eq("alice"))
//!     .cached(&cache)
//!     .all(&db)
//!     .await?; // Result<Vec<user::Model>, DbErr>, exactly as `.all(&db)` returns
//! assert_eq!(alices.len(), 1);
//! # Ok(()) }
//! ```

use std::any::TypeId;
use std::borrow::Cow;
use std::time::Duration;

use sea_orm::{
    DbBackend, DbErr, EntityTrait, FromQueryResult, JsonValue, PaginatorTrait, QuerySelect,
    QueryTrait, Select, SelectModel, SelectTwo, SelectTwoModel, Selector, SelectorRaw,
    SelectorTrait, Statement,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::cache::ModelCache;
use crate::capture::{capture, Recorder};
use crate::codec::SerdeFormat;
use crate::connection::CacheableConnection;
use crate::key::{self, Operation};
use crate::limit;
use crate::load::{LoadAll, LoadNumItems, LoadOne};
use crate::policy::StoreOptions;
use crate::request::ReadRequest;
use crate::status::ReadResult;

/// A SeaORM query whose results can be cached: it turns into the statements SeaORM would run,
/// names its key label, and says how to decode its rows.
///
/// Implemented for `Select<E>` (`Entity::find()`), `SelectTwo<E, F>` (`find_also_related`),
/// `Selector<SelectModel<T>>` (`into_model::<T>()`, `into_json()`),
/// `Selector<SelectTwoModel<M, N>>` and raw SQL (`SelectorRaw<SelectModel<T>>`, from
/// `T::find_by_statement(..)`), when their rows are `Serialize + DeserializeOwned`.
pub trait CacheableSelect: Sized + Send {
    /// How SeaORM decodes one row of this query.
    type Selector: SelectorTrait<Item = Self::Row> + Send + 'static;
    /// One row of the result.
    type Row: Serialize + DeserializeOwned + Send + 'static;

    /// The statement SeaORM runs for `.all()` (and counts over for `.count()`).
    fn into_statement(self, backend: DbBackend) -> Statement;

    /// The statement SeaORM runs for `.one()`: with its `LIMIT 1` where SeaORM adds one.
    fn into_first(self, backend: DbBackend) -> Statement;

    /// The key's table segment: the main table, escaped, with the entities' schema
    /// fingerprints when they are known.
    fn key_label(statement: &Statement) -> Cow<'static, str>;

    /// A serde format the rows must be stored in, overriding the cache's.
    fn row_format() -> Option<SerdeFormat> {
        None
    }

    /// Teaches `cache` the entities this query reads (see [`ModelCache::register`]).
    fn learn_entities(_cache: &ModelCache) {}
}

/// Adds `.cached(&cache)` to every [`CacheableSelect`] query, to `find_with_related` /
/// `find_with_linked` and `consolidate()` selects, and to a `Vec` or slice of models (for the
/// loader API).
pub trait CacheQueryExt: Sized {
    /// This query, read through `cache`. Finish with the read SeaORM offers on it: `.all(&db)`,
    /// `.one(&db)`, `.count(&db)`, `.exists(&db)`, `.paginate(&db, n)`, `.cursor_by(..)`,
    /// `.stream(&db)`, `.load_many(..)` (see the table in docs/seaorm-api.md).
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
    /// use sea_orm::{EntityTrait, QueryOrder};
    /// let newest = || user::Entity::find().order_by_desc(user::Column::Id).cached(&cache);
    /// assert_eq!(newest().one_with_status(&db).await?.status, CacheStatus::Miss);
    /// let hit = newest().one_with_status(&db).await?;
    /// assert_eq!((hit.status, hit.value.unwrap().name), (CacheStatus::Hit, "bob".into()));
    /// # Ok(()) }
    /// ```
    fn cached(self, cache: &ModelCache) -> CachedQuery<Self> {
        CachedQuery {
            query: self,
            cache: cache.clone(),
            options: StoreOptions::default(),
        }
    }
}

impl<Q: CacheableSelect> CacheQueryExt for Q {
    fn cached(self, cache: &ModelCache) -> CachedQuery<Self> {
        Q::learn_entities(cache);
        CachedQuery {
            query: self,
            cache: cache.clone(),
            options: StoreOptions::default(),
        }
    }
}

/// A query bound to a cache; made by [`CacheQueryExt::cached`]. Its `.all`, `.one` and
/// `.count` return what SeaORM's return; the `_with_status` variants also say how the read was
/// served.
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
/// use sea_orm::{FromQueryResult, EntityTrait, QuerySelect};
/// #[derive(Debug, PartialEq, FromQueryResult, serde::Serialize, serde::Deserialize)]
/// struct Name { name: String }
/// let names = || user::Entity::find().select_only().column(user::Column::Name);
/// let read = names().into_model::<Name>().cached(&cache).all_with_status(&db).await?;
/// assert_eq!((read.status, read.value.len()), (CacheStatus::Miss, 2));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CachedQuery<Q> {
    pub(crate) query: Q,
    pub(crate) cache: ModelCache,
    pub(crate) options: StoreOptions,
}

impl<Q> CachedQuery<Q> {
    /// Store this query's result for `ttl` instead of the cache's default (clamped to the
    /// backend's maximum; zero means do not store).
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
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{CacheQueryExt, CacheStatus};
    /// use sea_orm::EntityTrait;
    /// let never_stored = || user::Entity::find().cached(&cache).ttl(Duration::ZERO);
    /// assert_eq!(never_stored().all_with_status(&db).await?.status, CacheStatus::Miss);
    /// assert_eq!(never_stored().all_with_status(&db).await?.status, CacheStatus::Miss);
    /// let stored = user::Entity::find().cached(&cache).ttl(Duration::from_secs(300));
    /// assert_eq!(stored.all(&db).await?.len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.options.ttl = Some(ttl);
        self
    }

    /// After the TTL, keep serving the stored value for up to `window` while one background
    /// task refreshes it (status [`Stale`](crate::CacheStatus::Stale)).
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
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{CacheQueryExt, CacheStatus};
    /// use sea_orm::EntityTrait;
    /// let query = || {
    ///     let swr = user::Entity::find().cached(&cache).ttl(Duration::from_millis(50));
    ///     swr.stale_while_revalidate(Duration::from_secs(60))
    /// };
    /// query().count(&db).await?;
    /// tokio::time::sleep(Duration::from_millis(100)).await; // past the TTL
    /// let read = query().count_with_status(&db).await?; // served at once, refreshed behind
    /// assert_eq!((read.status, read.value), (CacheStatus::Stale, 2));
    /// # Ok(()) }
    /// ```
    pub fn stale_while_revalidate(mut self, window: Duration) -> Self {
        self.options.stale = Some(window);
        self
    }
}

impl<Q: CacheableSelect> CachedQuery<Q> {
    /// Removes this query's cached results (of `.all`, `.one` and `.count`) from the cache and
    /// gives what they depend on new generations, so no value of them loaded before this call
    /// is served again — not even one that another process's miss, racing this call, stores
    /// after the delete. Queries that share those generations go with them (for a filter on a
    /// tracked column, the reads of the same values; otherwise the table's reads); other
    /// queries of its tables stay cached.
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
    /// use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    /// let bob = || user::Entity::find().filter(user::Column::Name.eq("bob")).cached(&cache);
    /// bob().all(&db).await?;
    /// bob().count(&db).await?;
    /// bob().invalidate(&db).await;
    /// assert_eq!(bob().all_with_status(&db).await?.status, CacheStatus::Miss);
    /// assert_eq!(bob().count_with_status(&db).await?.status, CacheStatus::Miss);
    /// # Ok(()) }
    /// ```
    pub async fn invalidate<C: sea_orm::ConnectionTrait>(self, db: &C)
    where
        Q: Clone + PaginatorTrait<'static, Recorder>,
    {
        let backend = db.get_database_backend();
        let all = self.query.clone().into_statement(backend);
        let first = self.query.clone().into_first(backend);
        let count = count_statement(self.query, backend).await;
        let keys = self.cache.keys();
        let mut reads = vec![(Operation::All, &all), (Operation::One, &first)];
        if let Ok(count) = &count {
            reads.push((Operation::Count, count));
        }
        let statements: Vec<&Statement> = reads.iter().map(|(_, statement)| *statement).collect();
        let generations = self.cache.reads_invalidation(&statements);
        let keys: Vec<_> = reads
            .into_iter()
            .map(|(operation, statement)| {
                let label = Q::key_label(statement);
                keys.statement(operation, &label, statement)
            })
            .collect();
        self.cache.forget(&keys, generations).await;
    }

    /// All rows, from the cache or the database: what SeaORM's `.all(db)` returns.
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
    /// use momento_seaorm_cache::CacheQueryExt;
    /// use sea_orm::{EntityTrait, QueryOrder};
    /// let query = user::Entity::find().order_by_asc(user::Column::Name);
    /// let users = query.clone().cached(&cache).all(&db).await?;
    /// assert_eq!(users, query.all(&db).await?); // exactly what SeaORM returns
    /// assert_eq!(users[0].name, "alice");
    /// # Ok(()) }
    /// ```
    pub async fn all<C: CacheableConnection>(self, db: &C) -> Result<Vec<Q::Row>, DbErr> {
        Ok(self.all_with_status(db).await?.value)
    }

    /// The first row, from the cache or the database: what SeaORM's `.one(db)` returns.
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
    /// use momento_seaorm_cache::CacheQueryExt;
    /// use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    /// let bob = user::Entity::find().filter(user::Column::Name.eq("bob"));
    /// assert_eq!(bob.cached(&cache).one(&db).await?.map(|u| u.id), Some(2));
    /// let nobody = user::Entity::find().filter(user::Column::Name.eq("zoe"));
    /// assert_eq!(nobody.cached(&cache).one(&db).await?, None); // cached as None
    /// # Ok(()) }
    /// ```
    pub async fn one<C: CacheableConnection>(self, db: &C) -> Result<Option<Q::Row>, DbErr> {
        Ok(self.one_with_status(db).await?.value)
    }

    /// The first row, or `DbErr::RecordNotFound` when there is none: what SeaORM's
    /// `.require_one(db)` returns (cached as `.one()`, under its key).
    pub async fn require_one<C: CacheableConnection>(self, db: &C) -> Result<Q::Row, DbErr> {
        self.one(db)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("None of the models match the query".to_owned()))
    }

    /// The number of rows, from the cache or the database: what SeaORM's `.count(db)` returns
    /// (SeaORM's `COUNT(*)` statement, keyed by itself).
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
    /// use momento_seaorm_cache::CacheQueryExt;
    /// use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    /// let not_bob = user::Entity::find().filter(user::Column::Name.ne("bob"));
    /// assert_eq!(not_bob.cached(&cache).count(&db).await?, 1);
    /// # Ok(()) }
    /// ```
    pub async fn count<C: CacheableConnection>(self, db: &C) -> Result<u64, DbErr>
    where
        Q: PaginatorTrait<'static, Recorder>,
    {
        Ok(self.count_with_status(db).await?.value)
    }

    /// Like [`all`](Self::all), also saying whether it was a hit and under which key.
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
    /// let miss = user::Entity::find().cached(&cache).all_with_status(&db).await?;
    /// let hit = user::Entity::find().cached(&cache).all_with_status(&db).await?;
    /// assert_eq!((miss.status, hit.status), (CacheStatus::Miss, CacheStatus::Hit));
    /// assert_eq!(hit.value, miss.value);
    /// assert!(hit.key.unwrap().as_str().starts_with("model-cache:all:users@"));
    /// # Ok(()) }
    /// ```
    pub async fn all_with_status<C: CacheableConnection>(
        self,
        db: &C,
    ) -> Result<ReadResult<Vec<Q::Row>>, DbErr> {
        let statement = self.query.into_statement(db.get_database_backend());
        let request = request::<Q>(Operation::All, statement, self.options);
        let loader = LoadAll::<Q::Selector>::new;
        self.cache.read_statement(db, request, loader).await
    }

    /// Like [`one`](Self::one), also saying whether it was a hit and under which key.
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
    /// let first = || user::Entity::find().cached(&cache).one_with_status(&db);
    /// assert_eq!(first().await?.status, CacheStatus::Miss);
    /// let hit = first().await?;
    /// assert_eq!((hit.status, hit.value.map(|u| u.id)), (CacheStatus::Hit, Some(1)));
    /// assert!(hit.key.unwrap().as_str().starts_with("model-cache:one:users@"));
    /// # Ok(()) }
    /// ```
    pub async fn one_with_status<C: CacheableConnection>(
        self,
        db: &C,
    ) -> Result<ReadResult<Option<Q::Row>>, DbErr> {
        let statement = self.query.into_first(db.get_database_backend());
        let request = request::<Q>(Operation::One, statement, self.options);
        let loader = LoadOne::<Q::Selector>::new;
        self.cache.read_statement(db, request, loader).await
    }

    /// Like [`count`](Self::count), also saying whether it was a hit and under which key.
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
    /// let hit = count().await?;
    /// assert_eq!((hit.status, hit.value), (CacheStatus::Hit, 2));
    /// assert!(hit.key.unwrap().as_str().starts_with("model-cache:count:users@"));
    /// # Ok(()) }
    /// ```
    pub async fn count_with_status<C: CacheableConnection>(
        self,
        db: &C,
    ) -> Result<ReadResult<u64>, DbErr>
    where
        Q: PaginatorTrait<'static, Recorder>,
    {
        let statement = count_statement(self.query, db.get_database_backend()).await?;
        let request = request::<Q>(Operation::Count, statement, self.options);
        self.cache
            .read_statement(db, request, LoadNumItems::new)
            .await
    }
}

/// The statement SeaORM's `count` runs for `query` on `backend`
/// (`SELECT COUNT(*) AS num_items FROM (…) AS sub_query`), built by SeaORM on a [`Recorder`].
pub(crate) async fn count_statement<Q>(query: Q, backend: DbBackend) -> Result<Statement, DbErr>
where
    Q: PaginatorTrait<'static, Recorder> + Send,
{
    let (counted, seen) = capture(PaginatorTrait::count(query, Recorder::of(backend))).await;
    counted?;
    seen.into_iter()
        .next()
        .ok_or_else(|| DbErr::Custom("SeaORM's count ran no statement".to_owned()))
}

/// The request of a read of `Q`: its label, its row format, the per-read options.
pub(crate) fn request<Q: CacheableSelect>(
    operation: Operation,
    statement: Statement,
    options: StoreOptions,
) -> ReadRequest {
    let label = Q::key_label(&statement);
    let options = StoreOptions {
        format: options.format.or_else(Q::row_format),
        ..options
    };
    ReadRequest::new(operation, statement)
        .key_label(label)
        .options(options)
}

fn is_json<T: 'static>() -> bool {
    TypeId::of::<T>() == TypeId::of::<JsonValue>()
}

impl<E> CacheableSelect for Select<E>
where
    E: EntityTrait,
    E::Model: Serialize + DeserializeOwned + Send + Sync,
{
    type Selector = SelectModel<E::Model>;
    type Row = E::Model;

    fn into_statement(self, backend: DbBackend) -> Statement {
        self.build(backend)
    }

    fn into_first(self, backend: DbBackend) -> Statement {
        self.limit(1).build(backend)
    }

    fn key_label(_statement: &Statement) -> Cow<'static, str> {
        Cow::Borrowed(key::entity_label::<E>())
    }

    fn learn_entities(cache: &ModelCache) {
        cache.register::<E>();
    }
}

impl<E, F> CacheableSelect for SelectTwo<E, F>
where
    E: EntityTrait,
    F: EntityTrait,
    E::Model: Serialize + DeserializeOwned + Send + Sync,
    F::Model: Serialize + DeserializeOwned + Send + Sync,
{
    type Selector = SelectTwoModel<E::Model, F::Model>;
    type Row = (E::Model, Option<F::Model>);

    fn into_statement(self, backend: DbBackend) -> Statement {
        self.build(backend)
    }

    fn into_first(self, backend: DbBackend) -> Statement {
        self.limit(1).build(backend)
    }

    fn key_label(_statement: &Statement) -> Cow<'static, str> {
        Cow::Borrowed(key::pair_label::<E, F>())
    }

    fn learn_entities(cache: &ModelCache) {
        cache.register::<E>();
        cache.register::<F>();
    }
}

impl<M> CacheableSelect for Selector<SelectModel<M>>
where
    M: FromQueryResult + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Selector = SelectModel<M>;
    type Row = M;

    fn into_statement(self, backend: DbBackend) -> Statement {
        Selector::into_statement(self, backend)
    }

    fn into_first(self, backend: DbBackend) -> Statement {
        // A Selector's query is SeaORM's alone to change: add its LIMIT 1 to the statement.
        limit::limit_one(Selector::into_statement(self, backend))
    }

    fn key_label(statement: &Statement) -> Cow<'static, str> {
        key::statement_label(statement)
    }

    fn row_format() -> Option<SerdeFormat> {
        // serde_json::Value needs a self-describing format.
        is_json::<M>().then_some(SerdeFormat::Json)
    }
}

impl<M> CacheableSelect for SelectorRaw<SelectModel<M>>
where
    M: FromQueryResult + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Selector = SelectModel<M>;
    type Row = M;

    fn into_statement(self, _backend: DbBackend) -> Statement {
        SelectorRaw::into_statement(self)
    }

    fn into_first(self, _backend: DbBackend) -> Statement {
        // Raw SQL runs as written; SeaORM's `.one()` reads its first row.
        SelectorRaw::into_statement(self)
    }

    fn key_label(statement: &Statement) -> Cow<'static, str> {
        key::statement_label(statement)
    }

    fn row_format() -> Option<SerdeFormat> {
        is_json::<M>().then_some(SerdeFormat::Json)
    }
}

impl<M, N> CacheableSelect for Selector<SelectTwoModel<M, N>>
where
    M: FromQueryResult + Serialize + DeserializeOwned + Send + Sync + 'static,
    N: FromQueryResult + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Selector = SelectTwoModel<M, N>;
    type Row = (M, Option<N>);

    fn into_statement(self, backend: DbBackend) -> Statement {
        Selector::into_statement(self, backend)
    }

    fn into_first(self, backend: DbBackend) -> Statement {
        limit::limit_one(Selector::into_statement(self, backend))
    }

    fn key_label(statement: &Statement) -> Cow<'static, str> {
        key::statement_label(statement)
    }

    fn row_format() -> Option<SerdeFormat> {
        (is_json::<M>() || is_json::<N>()).then_some(SerdeFormat::Json)
    }
}
