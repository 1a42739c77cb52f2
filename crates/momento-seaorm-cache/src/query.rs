//! `.cached(&cache)`: caching for every SeaORM selector, as a drop-in.
//!
//! ```no_run
//! # mod user {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
//! #     #[sea_orm(table_name = "users")]
//! #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub name: String }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! # async fn run(db: sea_orm::DatabaseConnection, cache: momento_seaorm_cache::ModelCache)
//! # -> Result<(), sea_orm::DbErr> {
//! use momento_seaorm_cache::CacheQueryExt;
//! use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
//! let alices: Vec<user::Model> = user::Entity::find()
//!     .filter(user::Column::Name.eq("alice"))
//!     .cached(&cache)
//!     .all(&db)
//!     .await?; // Result<Vec<user::Model>, DbErr>, exactly as `.all(&db)` returns
//! # Ok(()) }
//! ```

use std::any::TypeId;
use std::borrow::Cow;
use std::time::Duration;

use sea_orm::{
    DbBackend, DbErr, EntityTrait, FromQueryResult, JsonValue, QuerySelect, QueryTrait, Select,
    SelectModel, SelectTwo, SelectTwoModel, Selector, SelectorRaw, SelectorTrait, Statement,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::cache::{CacheLookup, ModelCache};
use crate::codec::SerdeFormat;
use crate::connection::CacheableConnection;
use crate::key::{self, CacheKey, Operation};
use crate::load::{LoadAll, LoadCount, LoadOne, Loader};
use crate::read::ReadPlan;
use crate::tables;

/// A SeaORM query whose results can be cached: it turns into the statement SeaORM would run,
/// names its main table, and says how to decode its rows.
///
/// Implemented for `Select<E>` (`Entity::find()`), `SelectTwo<E, F>` (`find_also_related`),
/// `Selector<SelectModel<T>>` (`into_model::<T>()`, `into_json()`),
/// `Selector<SelectTwoModel<M, N>>` and raw SQL (`SelectorRaw<SelectModel<T>>`, from
/// `T::find_by_statement(..)`), when their rows are `Serialize + DeserializeOwned`.
pub trait CacheableSelect: Sized + Send {
    /// How SeaORM decodes one row of this query.
    type Selector: SelectorTrait<Item = Self::Row> + 'static;
    /// One row of the result.
    type Row: Serialize + DeserializeOwned + Send + 'static;

    /// The statement SeaORM runs for `.all()`, or for `.one()` when `first_only` (which adds
    /// `LIMIT 1` where SeaORM does).
    fn into_statement(self, backend: DbBackend, first_only: bool) -> Statement;

    /// The key's table segment: the main table, escaped, with the entities' schema
    /// fingerprints when they are known.
    fn table(statement: &Statement) -> Cow<'static, str>;

    /// A serde format the rows must be stored in, overriding the cache's.
    fn row_format() -> Option<SerdeFormat> {
        None
    }
}

/// Adds `.cached(&cache)` to every [`CacheableSelect`] query.
pub trait CacheQueryExt: CacheableSelect {
    /// This query, read through `cache`. Finish with `.one(&db)`, `.all(&db)` or `.count(&db)`.
    fn cached(self, cache: &ModelCache) -> CachedQuery<Self> {
        CachedQuery {
            query: self,
            cache: cache.clone(),
            options: ReadOptions::default(),
        }
    }
}

impl<Q: CacheableSelect> CacheQueryExt for Q {}

/// A query bound to a cache; made by [`CacheQueryExt::cached`].
#[derive(Debug, Clone)]
pub struct CachedQuery<Q> {
    query: Q,
    cache: ModelCache,
    options: ReadOptions,
}

impl<Q: CacheableSelect> CachedQuery<Q> {
    /// Store this query's result for `ttl` instead of the cache's default (clamped to the
    /// backend's maximum; zero means do not store).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.options.ttl = Some(ttl);
        self
    }

    /// After the TTL, keep serving the stored value for up to `window` while one background
    /// task refreshes it (status [`Stale`](crate::CacheStatus::Stale)).
    pub fn stale_while_revalidate(mut self, window: Duration) -> Self {
        self.options.stale = Some(window);
        self
    }

    /// Removes this query's cached results (of `.all`, `.one` and `.count`) from the cache.
    pub async fn invalidate<C: sea_orm::ConnectionTrait>(self, db: &C)
    where
        Q: Clone,
    {
        let backend = db.get_database_backend();
        for operation in [Operation::All, Operation::One, Operation::Count] {
            let first_only = operation == Operation::One;
            let statement = self.query.clone().into_statement(backend, first_only);
            let table = Q::table(&statement);
            let key = CacheKey::for_statement(
                self.cache.prefix(),
                operation,
                &table,
                &statement,
                self.cache.max_key_len(),
            );
            self.cache.delete_key(&key).await;
        }
    }

    /// All rows, from the cache or the database: what SeaORM's `.all(db)` returns.
    pub async fn all<C: CacheableConnection>(self, db: &C) -> Result<Vec<Q::Row>, DbErr> {
        Ok(self.all_with_status(db).await?.value)
    }

    /// The first row, from the cache or the database: what SeaORM's `.one(db)` returns.
    pub async fn one<C: CacheableConnection>(self, db: &C) -> Result<Option<Q::Row>, DbErr> {
        Ok(self.one_with_status(db).await?.value)
    }

    /// The number of rows, from the cache or the database: what SeaORM's `.count(db)` returns.
    pub async fn count<C: CacheableConnection>(self, db: &C) -> Result<u64, DbErr> {
        Ok(self.count_with_status(db).await?.value)
    }

    /// Like [`all`](Self::all), also saying whether it was a hit and under which key.
    pub async fn all_with_status<C: CacheableConnection>(
        self,
        db: &C,
    ) -> Result<CacheLookup<Vec<Q::Row>>, DbErr> {
        read(
            &self.cache,
            self.query,
            Operation::All,
            self.options,
            db,
            LoadAll::<Q::Selector>::new,
        )
        .await
    }

    /// Like [`one`](Self::one), also saying whether it was a hit and under which key.
    pub async fn one_with_status<C: CacheableConnection>(
        self,
        db: &C,
    ) -> Result<CacheLookup<Option<Q::Row>>, DbErr> {
        read(
            &self.cache,
            self.query,
            Operation::One,
            self.options,
            db,
            LoadOne::<Q::Selector>::new,
        )
        .await
    }

    /// Like [`count`](Self::count), also saying whether it was a hit and under which key.
    pub async fn count_with_status<C: CacheableConnection>(
        self,
        db: &C,
    ) -> Result<CacheLookup<u64>, DbErr> {
        read(
            &self.cache,
            self.query,
            Operation::Count,
            self.options,
            db,
            LoadCount::new,
        )
        .await
    }
}

/// Per-read options: TTL and stale-while-revalidate window.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReadOptions {
    pub ttl: Option<Duration>,
    pub stale: Option<Duration>,
}

/// The one path every statement-keyed read takes: bypass in a transaction, else key the
/// statement and read through the cache; `loader` runs the statement on a miss.
pub(crate) async fn read<Q, C, L>(
    cache: &ModelCache,
    query: Q,
    operation: Operation,
    options: ReadOptions,
    db: &C,
    loader: impl FnOnce(Statement) -> L,
) -> Result<CacheLookup<L::Output>, DbErr>
where
    Q: CacheableSelect,
    C: CacheableConnection,
    L: Loader,
{
    let first_only = matches!(operation, Operation::One | Operation::FindOne);
    let backend = db.get_database_backend();
    let statement = query.into_statement(backend, first_only);
    let table = Q::table(&statement);
    let tables = cache.tables_read(backend, &statement.sql);
    let cacheable = !db.in_transaction() && tables.is_ok();
    let key = cacheable.then(|| {
        CacheKey::for_statement(
            cache.prefix(),
            operation,
            &table,
            &statement,
            cache.max_key_len(),
        )
    });
    let plan = ReadPlan {
        operation,
        table: &table,
        key,
        ttl: options.ttl,
        stale: options.stale,
        format: Q::row_format(),
        generations: tables.unwrap_or_default(),
    };
    cache.read_through(plan, db, loader(statement)).await
}

fn sql_table(statement: &Statement) -> Cow<'static, str> {
    let table = tables::main_table(&statement.sql).unwrap_or_else(|| "query".to_owned());
    Cow::Owned(key::sql_label(&table))
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

    fn into_statement(self, backend: DbBackend, first_only: bool) -> Statement {
        if first_only {
            self.limit(1).build(backend)
        } else {
            self.build(backend)
        }
    }

    fn table(_statement: &Statement) -> Cow<'static, str> {
        Cow::Borrowed(key::entity_label::<E>())
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

    fn into_statement(self, backend: DbBackend, first_only: bool) -> Statement {
        if first_only {
            self.limit(1).build(backend)
        } else {
            self.build(backend)
        }
    }

    fn table(_statement: &Statement) -> Cow<'static, str> {
        Cow::Borrowed(key::pair_label::<E, F>())
    }
}

impl<M> CacheableSelect for Selector<SelectModel<M>>
where
    M: FromQueryResult + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Selector = SelectModel<M>;
    type Row = M;

    fn into_statement(self, backend: DbBackend, _first_only: bool) -> Statement {
        // A Selector's query is not reachable to add LIMIT 1; `.one()` reads the first row.
        Selector::into_statement(self, backend)
    }

    fn table(statement: &Statement) -> Cow<'static, str> {
        sql_table(statement)
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

    fn into_statement(self, _backend: DbBackend, _first_only: bool) -> Statement {
        // Raw SQL runs as written; `.one()` reads its first row.
        SelectorRaw::into_statement(self)
    }

    fn table(statement: &Statement) -> Cow<'static, str> {
        sql_table(statement)
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

    fn into_statement(self, backend: DbBackend, _first_only: bool) -> Statement {
        Selector::into_statement(self, backend)
    }

    fn table(statement: &Statement) -> Cow<'static, str> {
        sql_table(statement)
    }

    fn row_format() -> Option<SerdeFormat> {
        (is_json::<M>() || is_json::<N>()).then_some(SerdeFormat::Json)
    }
}
