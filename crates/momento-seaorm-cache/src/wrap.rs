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
use crate::query::{count_statement, request};
use crate::read::ReadPlan;
use crate::status::ReadResult;

impl ModelCache {
    /// The four read operations of the Node library's `wrap(Model)`, for entity `E`.
    ///
    /// ```
    /// # use momento_seaorm_cache::{MemoryBackend, ModelCache};
    /// # mod user {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
    /// #     #[sea_orm(table_name = "users")]
    /// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub name: String }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    /// let users = cache.wrap(user::Entity).ttl(std::time::Duration::from_secs(30));
    /// // users.find_by_pk(&db, 1).await? ...
    /// # let _ = users;
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
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.options.ttl = Some(ttl);
        self
    }

    /// After the TTL, keep serving stored values for up to `window` while one background task
    /// refreshes each (status [`Stale`](crate::CacheStatus::Stale)).
    pub fn stale_while_revalidate(mut self, window: Duration) -> Self {
        self.options.stale = Some(window);
        self
    }

    /// The row with primary key `pk`, like `E::find_by_id(pk).one(db)`.
    ///
    /// Any primary-key type works, composite keys as tuples; the key names the entity's real
    /// primary-key columns and the entity's schema fingerprint:
    /// `model-cache:find_by_pk:users@1a2b3c4d:{"id":1}`.
    pub async fn find_by_pk<C, K>(&self, db: &C, pk: K) -> Result<Option<E::Model>, DbErr>
    where
        C: CacheableConnection,
        K: Into<<E::PrimaryKey as PrimaryKeyTrait>::ValueType>,
    {
        Ok(self.find_by_pk_with_status(db, pk).await?.value)
    }

    /// Like [`find_by_pk`](Self::find_by_pk), also saying whether it was a hit and the key.
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
        let plan = ReadPlan {
            operation: Operation::FindByPk,
            label,
            key: Some(self.primary_key(&values)),
            depends_on: self.cache.entity_dependencies::<E>(),
            options: self.options,
        };
        let loader = LoadByPk::<E> {
            values,
            entity: PhantomData,
        };
        self.cache.read_plan(plan, db, loader).await
    }

    /// Removes the cached result of `find_by_pk(pk)`.
    pub async fn invalidate_by_pk<K>(&self, pk: K)
    where
        K: Into<<E::PrimaryKey as PrimaryKeyTrait>::ValueType>,
    {
        let values: Vec<Value> = pk.into().into_value_tuple().into_iter().collect();
        self.cache.delete_key(&self.primary_key(&values)).await;
    }

    fn primary_key(&self, values: &[Value]) -> CacheKey {
        let columns = E::PrimaryKey::iter().map(|k| k.into_column().as_str());
        let label = key::entity_label::<E>();
        self.cache.keys().primary_key(label, columns.zip(values))
    }

    /// The first row `select` finds, like `select.one(db)`.
    pub async fn find_one<C: CacheableConnection>(
        &self,
        db: &C,
        select: Select<E>,
    ) -> Result<Option<E::Model>, DbErr> {
        Ok(self.find_one_with_status(db, select).await?.value)
    }

    /// Like [`find_one`](Self::find_one), also saying whether it was a hit and the key.
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
    pub async fn find_all<C: CacheableConnection>(
        &self,
        db: &C,
        select: Select<E>,
    ) -> Result<Vec<E::Model>, DbErr> {
        Ok(self.find_all_with_status(db, select).await?.value)
    }

    /// Like [`find_all`](Self::find_all), also saying whether it was a hit and the key.
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
    pub async fn count<C: CacheableConnection>(
        &self,
        db: &C,
        select: Select<E>,
    ) -> Result<u64, DbErr> {
        Ok(self.count_with_status(db, select).await?.value)
    }

    /// Like [`count`](Self::count), also saying whether it was a hit and the key.
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
