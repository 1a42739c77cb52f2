//! `cache.wrap(Entity)`: the Node library's four read operations, for one SeaORM entity.

use std::marker::PhantomData;
use std::time::Duration;

use sea_orm::sea_query::IntoValueTuple;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IdenStatic, Iterable, PrimaryKeyToColumn,
    PrimaryKeyTrait, QueryFilter, QueryTrait, Select, SelectModel, Value,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::cache::ModelCache;
use crate::connection::CacheableConnection;
use crate::key::{self, CacheKey, Operation};
use crate::load::{LoadAll, LoadNumItems, LoadOne, Loader};
use crate::policy::StoreOptions;
use crate::read::ReadPlan;
use crate::seaorm::query::{count_statement, request};
use crate::status::ReadResult;

impl ModelCache {
    /// The four read operations of the Node library's `wrap(Model)` (`find_by_pk`, `find_one`,
    /// `find_all`, `count`), for entity `E`. Cheap: wrap once and keep it, or wrap per call.
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
    /// let cache = ModelCache::builder(MemoryBackend::new()).build()?;
    /// let users = cache.wrap(user::Entity);
    /// let alice = users.find_by_pk(&db, 1).await?; // what find_by_id(1).one(&db) returns
    /// assert_eq!(alice.unwrap().name, "alice");
    /// # Ok(()) }
    /// ```
    pub fn wrap<E: EntityTrait>(&self, _entity: E) -> WrappedEntity<E> {
        WrappedEntity {
            cache: self.clone(),
            options: StoreOptions::default(),
            entity: PhantomData,
        }
    }
}

/// The cached read operations of one entity; made by [`ModelCache::wrap`].
///
/// Each takes a SeaORM selector where the Node library takes options, and returns what the
/// plain SeaORM call returns.
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
/// use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
/// let users = cache.wrap(user::Entity);
/// let bob = users.find_one(&db, user::Entity::find().filter(user::Column::Name.eq("bob")));
/// assert_eq!(bob.await?.map(|u| u.id), Some(2));
/// assert_eq!(users.count(&db, user::Entity::find()).await?, 2);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct WrappedEntity<E> {
    cache: ModelCache,
    options: StoreOptions,
    entity: PhantomData<fn() -> E>,
}

impl<E> Clone for WrappedEntity<E> {
    fn clone(&self) -> Self {
        WrappedEntity {
            cache: self.cache.clone(),
            options: self.options,
            entity: PhantomData,
        }
    }
}

impl<E> WrappedEntity<E>
where
    E: EntityTrait,
    E::Model: Serialize + DeserializeOwned + Send + Sync,
{
    /// Store this entity's results for `ttl` instead of the cache's default (clamped to the
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
    /// use momento_seaorm_cache::CacheStatus;
    /// let users = cache.wrap(user::Entity).ttl(Duration::from_millis(50));
    /// users.find_by_pk(&db, 1).await?; // stored for (at most) 50 ms
    /// tokio::time::sleep(Duration::from_millis(100)).await;
    /// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Miss);
    /// # Ok(()) }
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.options.ttl = Some(ttl);
        self
    }

    /// After the TTL, keep serving stored values for up to `window` while one background task
    /// refreshes each (status [`Stale`](crate::CacheStatus::Stale)).
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
    /// use momento_seaorm_cache::CacheStatus;
    /// let users = cache
    ///     .wrap(user::Entity)
    ///     .ttl(Duration::from_millis(50))
    ///     .stale_while_revalidate(Duration::from_secs(60));
    /// users.find_by_pk(&db, 1).await?;
    /// tokio::time::sleep(Duration::from_millis(100)).await; // past the TTL
    /// let read = users.find_by_pk_with_status(&db, 1).await?; // served at once, refreshed behind
    /// assert_eq!((read.status, read.value.unwrap().name), (CacheStatus::Stale, "alice".into()));
    /// # Ok(()) }
    /// ```
    pub fn stale_while_revalidate(mut self, window: Duration) -> Self {
        self.options.stale = Some(window);
        self
    }

    /// The row with primary key `pk`, like `E::find_by_id(pk).one(db)`.
    ///
    /// Any primary-key type works, composite keys as tuples; the key names the entity's real
    /// primary-key columns and the entity's schema fingerprint:
    /// `model-cache:find_by_pk:users@1a2b3c4d:{"id":1}`. A missing row is cached too, as `None`.
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
    /// let alice = users.find_by_pk(&db, 1).await?;
    /// assert_eq!(alice.map(|u| u.name), Some("alice".to_owned()));
    /// assert_eq!(users.find_by_pk(&db, 99).await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn find_by_pk<C, K>(&self, db: &C, pk: K) -> Result<Option<E::Model>, DbErr>
    where
        C: CacheableConnection,
        K: Into<<E::PrimaryKey as PrimaryKeyTrait>::ValueType>,
    {
        Ok(self.find_by_pk_with_status(db, pk).await?.value)
    }

    /// Like [`find_by_pk`](Self::find_by_pk), also saying whether it was a hit and the key.
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
    /// use momento_seaorm_cache::{CacheStatus, ReadResult};
    /// let users = cache.wrap(user::Entity);
    /// let ReadResult { value, status, key } = users.find_by_pk_with_status(&db, 1).await?;
    /// assert_eq!((value.unwrap().name.as_str(), status), ("alice", CacheStatus::Miss));
    /// let key = key.unwrap(); // model-cache:find_by_pk:users@<fingerprint>:{"id":1}
    /// assert!(key.as_str().starts_with("model-cache:find_by_pk:users@"));
    /// assert!(key.as_str().ends_with(r#":{"id":1}"#));
    /// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Hit);
    /// # Ok(()) }
    /// ```
    pub async fn find_by_pk_with_status<C, K>(
        &self,
        db: &C,
        pk: K,
    ) -> Result<ReadResult<Option<E::Model>>, DbErr>
    where
        C: CacheableConnection,
        K: Into<<E::PrimaryKey as PrimaryKeyTrait>::ValueType>,
    {
        let values: Vec<Value> = pk.into().into_value_tuple().into_iter().collect();
        let label = key::entity_label::<E>();
        let catalog = self.cache.catalog_for(db).await;
        let plan = ReadPlan {
            operation: Operation::FindByPk,
            label,
            key: Some(self.primary_key(label, &values)),
            depends_on: self
                .cache
                .row_dependencies::<E>(&values, catalog.as_deref()),
            options: self.options,
        };
        let loader = LoadByPk::<E> {
            values,
            entity: PhantomData,
        };
        self.cache.read_plan(plan, db, loader).await
    }

    /// Removes the cached result of `find_by_pk(pk)` and gives the row a new generation, so no
    /// value of it loaded before this call is served again — not even one that another
    /// process's miss, racing this call, stores after the delete. Reads that depend on the
    /// row's generation go with it; other reads of the table stay cached (see
    /// [`ModelCache::invalidate`] for those). Before this process has read the entity it
    /// cannot know whether its rows are tracked, and bumps the table's generations instead.
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
    /// users.invalidate_by_pk(1).await;
    /// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Miss);
    /// # Ok(()) }
    /// ```
    pub async fn invalidate_by_pk<K>(&self, pk: K)
    where
        K: Into<<E::PrimaryKey as PrimaryKeyTrait>::ValueType>,
    {
        let values: Vec<Value> = pk.into().into_value_tuple().into_iter().collect();
        let label = key::entity_label::<E>();
        let key = self.primary_key(label, &values);
        let generations = self.cache.row_invalidation_of::<E>(&values);
        self.cache.forget(&[key], generations).await;
    }

    /// The key of the primary-key read of `values`, under the entity's `label`.
    fn primary_key(&self, label: &str, values: &[Value]) -> CacheKey {
        let columns = E::PrimaryKey::iter().map(|k| k.into_column().as_str());
        self.cache.keys().primary_key(label, columns.zip(values))
    }

    /// The first row `select` finds, like `select.one(db)`.
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
    /// use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    /// let users = cache.wrap(user::Entity);
    /// let select = user::Entity::find().filter(user::Column::Name.eq("bob"));
    /// let bob = users.find_one(&db, select).await?;
    /// assert_eq!(bob.map(|u| u.id), Some(2));
    /// # Ok(()) }
    /// ```
    pub async fn find_one<C: CacheableConnection>(
        &self,
        db: &C,
        select: Select<E>,
    ) -> Result<Option<E::Model>, DbErr> {
        Ok(self.find_one_with_status(db, select).await?.value)
    }

    /// Like [`find_one`](Self::find_one), also saying whether it was a hit and the key.
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
    /// use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    /// let users = cache.wrap(user::Entity);
    /// let bob = || user::Entity::find().filter(user::Column::Name.eq("bob"));
    /// assert_eq!(users.find_one_with_status(&db, bob()).await?.status, CacheStatus::Miss);
    /// let hit = users.find_one_with_status(&db, bob()).await?;
    /// assert_eq!((hit.status, hit.value.map(|u| u.id)), (CacheStatus::Hit, Some(2)));
    /// # Ok(()) }
    /// ```
    pub async fn find_one_with_status<C: CacheableConnection>(
        &self,
        db: &C,
        select: Select<E>,
    ) -> Result<ReadResult<Option<E::Model>>, DbErr> {
        use sea_orm::QuerySelect;
        let statement = select.limit(1).build(db.get_database_backend());
        let request = request::<Select<E>>(Operation::One, statement, self.options);
        let loader = LoadOne::<SelectModel<E::Model>>::new;
        self.cache.read_statement(db, request, loader).await
    }

    /// Every row `select` finds, like `select.all(db)`.
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
    /// use sea_orm::{EntityTrait, QueryOrder};
    /// let users = cache.wrap(user::Entity);
    /// let all = users.find_all(&db, user::Entity::find().order_by_asc(user::Column::Id)).await?;
    /// let names: Vec<_> = all.into_iter().map(|u| u.name).collect();
    /// assert_eq!(names, ["alice", "bob"]);
    /// # Ok(()) }
    /// ```
    pub async fn find_all<C: CacheableConnection>(
        &self,
        db: &C,
        select: Select<E>,
    ) -> Result<Vec<E::Model>, DbErr> {
        Ok(self.find_all_with_status(db, select).await?.value)
    }

    /// Like [`find_all`](Self::find_all), also saying whether it was a hit and the key.
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
    /// use sea_orm::EntityTrait;
    /// let users = cache.wrap(user::Entity);
    /// let miss = users.find_all_with_status(&db, user::Entity::find()).await?;
    /// let hit = users.find_all_with_status(&db, user::Entity::find()).await?;
    /// assert_eq!((miss.status, hit.status), (CacheStatus::Miss, CacheStatus::Hit));
    /// assert_eq!((hit.value.len(), hit.value), (2, miss.value));
    /// let key = hit.key.unwrap(); // model-cache:all:users@<fingerprint>:[]:SELECT ...
    /// assert!(key.as_str().starts_with("model-cache:all:users@"));
    /// # Ok(()) }
    /// ```
    pub async fn find_all_with_status<C: CacheableConnection>(
        &self,
        db: &C,
        select: Select<E>,
    ) -> Result<ReadResult<Vec<E::Model>>, DbErr> {
        let statement = select.build(db.get_database_backend());
        let request = request::<Select<E>>(Operation::All, statement, self.options);
        let loader = LoadAll::<SelectModel<E::Model>>::new;
        self.cache.read_statement(db, request, loader).await
    }

    /// How many rows `select` finds, like `select.count(db)`.
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
    /// use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    /// let users = cache.wrap(user::Entity);
    /// assert_eq!(users.count(&db, user::Entity::find()).await?, 2);
    /// let named_a = user::Entity::find().filter(user::Column::Name.starts_with("a"));
    /// assert_eq!(users.count(&db, named_a).await?, 1);
    /// # Ok(()) }
    /// ```
    pub async fn count<C: CacheableConnection>(
        &self,
        db: &C,
        select: Select<E>,
    ) -> Result<u64, DbErr> {
        Ok(self.count_with_status(db, select).await?.value)
    }

    /// Like [`count`](Self::count), also saying whether it was a hit and the key.
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
    /// use sea_orm::EntityTrait;
    /// let users = cache.wrap(user::Entity);
    /// let miss = users.count_with_status(&db, user::Entity::find()).await?;
    /// let hit = users.count_with_status(&db, user::Entity::find()).await?;
    /// assert_eq!((miss.value, miss.status), (2, CacheStatus::Miss));
    /// assert_eq!((hit.value, hit.status), (2, CacheStatus::Hit));
    /// # Ok(()) }
    /// ```
    pub async fn count_with_status<C: CacheableConnection>(
        &self,
        db: &C,
        select: Select<E>,
    ) -> Result<ReadResult<u64>, DbErr> {
        let statement = count_statement(select, db.get_database_backend()).await?;
        let request = request::<Select<E>>(Operation::Count, statement, self.options);
        self.cache
            .read_statement(db, request, LoadNumItems::new)
            .await
    }
}

/// Loads one row by primary key, like `E::find_by_id(pk).one(db)`.
struct LoadByPk<E> {
    values: Vec<Value>,
    entity: PhantomData<fn() -> E>,
}

impl<E> Loader for LoadByPk<E>
where
    E: EntityTrait,
    E::Model: Serialize + DeserializeOwned + Send + Sync,
{
    type Output = Option<E::Model>;

    async fn load<C: ConnectionTrait>(self, db: &C) -> Result<Self::Output, DbErr> {
        let mut select = E::find();
        for (key, value) in E::PrimaryKey::iter().zip(self.values) {
            select = select.filter(key.into_column().eq(value));
        }
        select.one(db).await
    }
}
