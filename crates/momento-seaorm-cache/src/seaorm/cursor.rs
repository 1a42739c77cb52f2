//! `.cached(&cache).cursor_by(..)`: SeaORM's `Cursor`, with each `all` read through the cache.
//!
//! The cursor is SeaORM's own: its `before`/`after`/`first`/`last`/`asc`/`desc` settings and
//! its query are kept and changed exactly as SeaORM changes them, and `all` runs it on a
//! [`Recorder`] to learn the statement SeaORM would run (filters, order, limit), which is then a
//! cached read under operation `cursor` (rows in the cursor's order: reversed for `last`, as
//! SeaORM returns them).
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
//! use sea_orm::EntityTrait;
//! let mut cursor = user::Entity::find().cached(&cache).cursor_by(user::Column::Id);
//! let next_ten: Vec<user::Model> = cursor.after(100).first(10).all(&db).await?;
//! # let _ = next_ten;
//! # Ok(()) }
//! ```

use std::marker::PhantomData;

use sea_orm::sea_query::{DynIden, IntoValueTuple, SelectStatement};
use sea_orm::{
    ConnectionTrait, Cursor, DbErr, EntityTrait, FromQueryResult, Identity, IdentityOf,
    IntoIdentity, JsonValue, PartialModelTrait, QuerySelect, Select, SelectModel, SelectThree,
    SelectThreeModel, SelectTwo, SelectTwoModel, SelectorTrait, Statement, Topology,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::cache::ModelCache;
use crate::capture::{capture, Recorder};
use crate::connection::CacheableConnection;
use crate::key::{self, Operation};
use crate::load::Loader;
use crate::policy::StoreOptions;
use crate::seaorm::query::{CacheableSelect, CachedQuery};
use crate::seaorm::shape::{single, Shape};
use crate::status::ReadResult;

/// SeaORM's `Cursor` bound to a cache: the same methods, each `all` a cached read. Made by
/// `.cached(&cache).cursor_by(..)` (and `cursor_by_other` on `find_also_related`).
pub struct CachedCursor<S: SelectorTrait> {
    cursor: Cursor<S>,
    /// Whether SeaORM reverses the rows it reads (after `last`).
    reversed: bool,
    cache: ModelCache,
    options: StoreOptions,
    shape: Shape,
}

impl<Q: CacheableSelect> CachedQuery<Q> {
    /// `make`'s cursor over this query, with this query's cache, settings and key shape.
    fn cursor<S: SelectorTrait>(self, make: impl FnOnce(Q) -> Cursor<S>) -> CachedCursor<S> {
        CachedCursor {
            cursor: make(self.query),
            reversed: false,
            cache: self.cache,
            options: self.options,
            shape: Shape::of::<Q>(),
        }
    }
}

impl<E, M> CachedQuery<Select<E>>
where
    E: EntityTrait<Model = M>,
    M: FromQueryResult + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// SeaORM's `cursor_by(columns)`, read through the cache.
    pub fn cursor_by<C: IntoIdentity>(self, order_columns: C) -> CachedCursor<SelectModel<M>> {
        self.cursor(|select| select.cursor_by(order_columns))
    }
}

impl<E, F, M, N> CachedQuery<SelectTwo<E, F>>
where
    E: EntityTrait<Model = M>,
    F: EntityTrait<Model = N>,
    M: FromQueryResult + Serialize + DeserializeOwned + Send + Sync + 'static,
    N: FromQueryResult + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// SeaORM's `cursor_by(columns)` (columns of `E`), read through the cache.
    pub fn cursor_by<C: IdentityOf<E>>(
        self,
        order_columns: C,
    ) -> CachedCursor<SelectTwoModel<M, N>> {
        self.cursor(|select| select.cursor_by(order_columns))
    }

    /// SeaORM's `cursor_by_other(columns)` (columns of `F`), read through the cache.
    pub fn cursor_by_other<C: IdentityOf<F>>(
        self,
        order_columns: C,
    ) -> CachedCursor<SelectTwoModel<M, N>> {
        self.cursor(|select| select.cursor_by_other(order_columns))
    }
}

impl<E, F, G, M, N, O, TOP> CachedQuery<SelectThree<E, F, G, TOP>>
where
    E: EntityTrait<Model = M>,
    F: EntityTrait<Model = N>,
    G: EntityTrait<Model = O>,
    M: FromQueryResult + Serialize + DeserializeOwned + Send + Sync + 'static,
    N: FromQueryResult + Serialize + DeserializeOwned + Send + Sync + 'static,
    O: FromQueryResult + Serialize + DeserializeOwned + Send + Sync + 'static,
    TOP: Topology + Send + 'static,
{
    /// SeaORM's `cursor_by(columns)` (columns of `E`), read through the cache.
    pub fn cursor_by<C: IdentityOf<E>>(
        self,
        order_columns: C,
    ) -> CachedCursor<SelectThreeModel<M, N, O>> {
        self.cursor(|select| select.cursor_by(order_columns))
    }
}

impl<S: SelectorTrait> CachedCursor<S> {
    /// Rows before `values` of the order columns, like SeaORM's `before`.
    pub fn before<V: IntoValueTuple>(&mut self, values: V) -> &mut Self {
        self.cursor.before(values);
        self
    }

    /// Rows after `values` of the order columns, like SeaORM's `after`.
    pub fn after<V: IntoValueTuple>(&mut self, values: V) -> &mut Self {
        self.cursor.after(values);
        self
    }

    /// Ascending order (the default), like SeaORM's `asc`.
    pub fn asc(&mut self) -> &mut Self {
        self.cursor.asc();
        self
    }

    /// Descending order, like SeaORM's `desc`.
    pub fn desc(&mut self) -> &mut Self {
        self.cursor.desc();
        self
    }

    /// The first `num_rows` rows, like SeaORM's `first`.
    pub fn first(&mut self, num_rows: u64) -> &mut Self {
        self.cursor.first(num_rows);
        self.reversed = false;
        self
    }

    /// The last `num_rows` rows, like SeaORM's `last`.
    pub fn last(&mut self, num_rows: u64) -> &mut Self {
        self.cursor.last(num_rows);
        self.reversed = true;
        self
    }

    /// Also orders by these columns after the cursor's, like SeaORM's
    /// `set_secondary_order_by`.
    pub fn set_secondary_order_by(&mut self, tbl_col: Vec<(DynIden, Identity)>) -> &mut Self {
        self.cursor.set_secondary_order_by(tbl_col);
        self
    }

    /// Rows as `M`, like SeaORM's `into_model` (keyed by the statement's table).
    pub fn into_model<M: FromQueryResult>(self) -> CachedCursor<SelectModel<M>> {
        let shape = Shape::labelled::<M>(key::statement_label);
        self.convert(|cursor| cursor.into_model(), shape)
    }

    /// Rows as the partial model `M`, like SeaORM's `into_partial_model`.
    pub fn into_partial_model<M: PartialModelTrait>(self) -> CachedCursor<SelectModel<M>> {
        let shape = Shape::labelled::<M>(key::statement_label);
        self.convert(|cursor| cursor.into_partial_model(), shape)
    }

    /// Rows as JSON, like SeaORM's `into_json`.
    pub fn into_json(self) -> CachedCursor<SelectModel<JsonValue>> {
        let shape = Shape::labelled::<JsonValue>(key::statement_label);
        self.convert(|cursor| cursor.into_json(), shape)
    }

    fn convert<T: SelectorTrait>(
        self,
        f: impl FnOnce(Cursor<S>) -> Cursor<T>,
        shape: Shape,
    ) -> CachedCursor<T> {
        CachedCursor {
            cursor: f(self.cursor),
            reversed: self.reversed,
            cache: self.cache,
            options: self.options,
            shape,
        }
    }
}

impl<S> CachedCursor<S>
where
    S: SelectorTrait + Send + 'static,
    S::Item: Serialize + DeserializeOwned + Send + 'static,
{
    /// The cursor's rows, like SeaORM's `all`: from the cache, or the database.
    pub async fn all<C: CacheableConnection>(&mut self, db: &C) -> Result<Vec<S::Item>, DbErr> {
        Ok(self.all_with_status(db).await?.value)
    }

    /// Like [`all`](Self::all), also saying whether it was a hit and the key.
    pub async fn all_with_status<C: CacheableConnection>(
        &mut self,
        db: &C,
    ) -> Result<ReadResult<Vec<S::Item>>, DbErr> {
        let recorder = Recorder::of(db.get_database_backend());
        // SeaORM changes its cursor on every `all` (and fails here on a key arity mismatch).
        let (built, seen) = capture(self.cursor.all(recorder)).await;
        built?;
        let statement = single(seen, "Cursor::all")?;
        let reversed = self.reversed;
        let loader = |statement| LoadCursor::<S> {
            statement,
            reversed,
            selector: PhantomData,
        };
        let (cache, options) = (&self.cache, self.options);
        self.shape
            .read(cache, db, Operation::Cursor, statement, options, loader)
            .await
    }
}

impl<S: SelectorTrait> QuerySelect for CachedCursor<S> {
    type QueryStatement = SelectStatement;

    fn query(&mut self) -> &mut SelectStatement {
        QuerySelect::query(&mut self.cursor)
    }
}

/// A cursor's rows, read as SeaORM's `Cursor::all` reads them.
struct LoadCursor<S> {
    statement: Statement,
    reversed: bool,
    selector: PhantomData<fn() -> S>,
}

impl<S> Loader for LoadCursor<S>
where
    S: SelectorTrait + 'static,
    S::Item: Serialize + DeserializeOwned + Send + 'static,
{
    type Output = Vec<S::Item>;

    async fn load<C: ConnectionTrait>(self, db: &C) -> Result<Self::Output, DbErr> {
        let rows = db.query_all_raw(self.statement).await?;
        let mut items = rows
            .into_iter()
            .map(S::from_raw_query_result)
            .collect::<Result<Vec<_>, DbErr>>()?;
        if self.reversed {
            items.reverse();
        }
        Ok(items)
    }
}
