//! `.cached(&cache).stream(&db)`: SeaORM's `stream`, served from the cache.
//!
//! A stream reads the same statement as `.all()` and shares its key (operation `all`): a hit
//! streams the cached rows; a miss loads the rows once (one flight per key, like every read),
//! stores them when they fit the backend's item limit, and streams them. Inside a transaction
//! the rows stream straight from the database, as SeaORM streams them. docs/seaorm-api.md says why a miss
//! loads before it streams.
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
//! use futures::TryStreamExt;
//! use momento_seaorm_cache::CacheQueryExt;
//! use sea_orm::EntityTrait;
//! let mut users = user::Entity::find().cached(&cache).stream(&db).await?;
//! while let Some(user) = users.try_next().await? {
//!     # let _ = user;
//! }
//! # Ok(()) }
//! ```

use std::pin::Pin;

use futures::{Stream, TryStreamExt};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, PartialModelTrait, Select, SelectFour,
    SelectFourModel, SelectThree, SelectThreeModel, SelectTwo, SelectTwoModel, SelectTwoRequired,
    SelectTwoRequiredModel, SelectorTrait, StreamTrait, Topology,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::connection::CacheableConnection;
use crate::seaorm::query::{CacheableSelect, CachedQuery};

/// The stream `stream` returns: rows, or the error that ended it.
pub type RowsStream<'b, T> = Pin<Box<dyn Stream<Item = Result<T, DbErr>> + Send + 'b>>;

impl<Q: CacheableSelect> CachedQuery<Q> {
    /// The rows as a stream, like SeaORM's `stream(db)`: from the cache, or loaded from the
    /// database (streamed directly inside a transaction).
    pub async fn stream<'a: 'b, 'b, C>(self, db: &'a C) -> Result<RowsStream<'b, Q::Row>, DbErr>
    where
        C: CacheableConnection + StreamTrait + Send,
    {
        if db.in_transaction() {
            let statement = self
                .query
                .into_statement(ConnectionTrait::get_database_backend(db));
            let rows = db.stream_raw(statement).await?;
            let decode = |row| futures::future::ready(Q::Selector::from_raw_query_result(row));
            return Ok(Box::pin(rows.and_then(decode)));
        }
        let rows = self.all(db).await?;
        Ok(Box::pin(futures::stream::iter(rows.into_iter().map(Ok))))
    }
}

impl<E: EntityTrait> CachedQuery<Select<E>> {
    /// The rows as the partial model `M`, as a stream, like SeaORM's `stream_partial_model`.
    pub async fn stream_partial_model<'a: 'b, 'b, C, M>(
        self,
        db: &'a C,
    ) -> Result<RowsStream<'b, M>, DbErr>
    where
        C: CacheableConnection + StreamTrait + Send,
        M: PartialModelTrait
            + FromQueryResult
            + Serialize
            + DeserializeOwned
            + Send
            + Sync
            + 'static,
    {
        self.into_partial_model::<M>().stream(db).await
    }
}

/// `stream_partial_model` on a join, as SeaORM has it.
macro_rules! stream_partial {
    ([$($entity:ident),+ $(; $top:ident)?] $select:ty => $selector:ident<$($model:ident),+>) => {
        impl<$($entity: EntityTrait,)+ $($top: Topology)?> CachedQuery<$select> {
            /// The rows as the partial models, as a stream, like SeaORM's
            /// `stream_partial_model`.
            pub async fn stream_partial_model<'a: 'b, 'b, C, $($model),+>(
                self,
                db: &'a C,
            ) -> Result<RowsStream<'b, <$selector<$($model),+> as SelectorTrait>::Item>, DbErr>
            where
                C: CacheableConnection + StreamTrait + Send,
                $($model: PartialModelTrait + Serialize + DeserializeOwned + Send + Sync + 'static,)+
            {
                self.into_partial_model::<$($model),+>().stream(db).await
            }
        }
    };
}

stream_partial!([E, F] SelectTwo<E, F> => SelectTwoModel<M, N>);
stream_partial!([E, F] SelectTwoRequired<E, F> => SelectTwoRequiredModel<M, N>);
stream_partial!([E, F, G; TOP] SelectThree<E, F, G, TOP> => SelectThreeModel<M, N, O>);
stream_partial!([E, F, G, H; TOP] SelectFour<E, F, G, H, TOP> => SelectFourModel<M, N, O, P>);
