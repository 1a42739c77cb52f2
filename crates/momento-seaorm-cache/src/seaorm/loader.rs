//! `.cached(&cache)` on a `Vec` or slice of models (borrowed, as SeaORM's loader borrows them): SeaORM's loader API (`load_one`,
//! `load_many`, `load_many_to_many`), each batch read through the cache.
//!
//! One call is one batch: SeaORM's query of the related rows of every model given (with a
//! many-to-many relation, the junction query and the target query). SeaORM builds them on a
//! [`Recorder`]; the read is keyed by them (operation `load_one`, `load_many` or
//! `load_many_to_many`, the related entity's label), depends on every table they read (the
//! related table, and the junction table), and on a miss runs SeaORM's own loader, so the value
//! is exactly SeaORM's, in the order of the models given.
//!
//! ```no_run
//! # use momento_seaorm_cache::CacheQueryExt;
//! # async fn run<E, R>(db: sea_orm::DatabaseConnection, cache: momento_seaorm_cache::ModelCache)
//! # -> Result<(), sea_orm::DbErr>
//! # where
//! #     E: sea_orm::EntityTrait + sea_orm::Related<R>,
//! #     R: sea_orm::EntityTrait,
//! #     E::Model: Sync,
//! #     R::Model: serde::Serialize + serde::de::DeserializeOwned + Send + Sync,
//! # {
//! let groups: Vec<E::Model> = E::find().all(&db).await?;
//! // The users of each group, like `groups.load_many(R, &db)`.
//! let users = groups.cached(&cache).load_many(R::default(), &db).await?;
//! # let _ = users;
//! # Ok(()) }
//! ```

use std::future::Future;

use sea_orm::{
    ConnectionTrait, DbErr, EntityOrSelect, EntityTrait, LoaderTrait, ModelTrait, Related, Select,
    Statement,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::capture::{capture, Recorder};
use crate::connection::CacheableConnection;
use crate::key::Operation;
use crate::load::Loader;
use crate::seaorm::query::{CacheQueryExt, CachedQuery};
use crate::seaorm::shape::{joined, Shape};
use crate::status::ReadResult;

/// `models.cached(&cache)` borrows the models, as SeaORM's loader does.
impl<M: ModelTrait> CacheQueryExt for &Vec<M> {}

impl<M: ModelTrait> CacheQueryExt for &[M] {}

/// One of SeaORM's loader calls, on models of type `M`, loading rows of `R`.
pub(crate) trait Batch<M, R: EntityTrait>: Send + Sized + 'static {
    /// What SeaORM's call returns.
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// The operation its key is made under.
    const OPERATION: Operation;

    /// SeaORM's call.
    fn run<C: ConnectionTrait>(
        self,
        models: &[M],
        select: Select<R>,
        db: &C,
    ) -> impl Future<Output = Result<Self::Output, DbErr>> + Send;
}

/// `load_one`.
#[derive(Clone, Copy)]
struct One;
/// `load_many`.
#[derive(Clone, Copy)]
struct Many;
/// `load_many_to_many` through `V`.
#[derive(Clone, Copy)]
struct ManyToMany<V>(V);

impl<M, R> Batch<M, R> for One
where
    M: ModelTrait + Sync,
    M::Entity: Related<R>,
    R: EntityTrait,
    R::Model: Serialize + DeserializeOwned + Send + Sync,
{
    type Output = Vec<Option<R::Model>>;
    const OPERATION: Operation = Operation::LoadOne;

    async fn run<C: ConnectionTrait>(
        self,
        models: &[M],
        select: Select<R>,
        db: &C,
    ) -> Result<Self::Output, DbErr> {
        models.load_one(select, db).await
    }
}

impl<M, R> Batch<M, R> for Many
where
    M: ModelTrait + Sync,
    M::Entity: Related<R>,
    R: EntityTrait,
    R::Model: Serialize + DeserializeOwned + Send + Sync,
{
    type Output = Vec<Vec<R::Model>>;
    const OPERATION: Operation = Operation::LoadMany;

    async fn run<C: ConnectionTrait>(
        self,
        models: &[M],
        select: Select<R>,
        db: &C,
    ) -> Result<Self::Output, DbErr> {
        models.load_many(select, db).await
    }
}

impl<M, R, V> Batch<M, R> for ManyToMany<V>
where
    M: ModelTrait + Sync,
    M::Entity: Related<R>,
    R: EntityTrait,
    R::Model: Serialize + DeserializeOwned + Send + Sync,
    V: EntityTrait,
    V::Model: Send + Sync,
{
    type Output = Vec<Vec<R::Model>>;
    const OPERATION: Operation = Operation::LoadManyToMany;

    async fn run<C: ConnectionTrait>(
        self,
        models: &[M],
        select: Select<R>,
        db: &C,
    ) -> Result<Self::Output, DbErr> {
        models.load_many_to_many(select, self.0, db).await
    }
}

/// Reads one loader batch through the cache: SeaORM's statements on a recorder make the key;
/// a batch that runs none (no models) is SeaORM's answer as it is.
pub(crate) async fn read_batch<M, R, B, C>(
    cached: &CachedQuery<impl AsRef<[M]>>,
    batch: B,
    select: Select<R>,
    db: &C,
) -> Result<ReadResult<B::Output>, DbErr>
where
    M: ModelTrait + Clone + Send + Sync + 'static,
    R: EntityTrait,
    B: Batch<M, R> + Clone,
    C: CacheableConnection,
{
    let models = cached.query.as_ref();
    let recorder = Recorder::of(db.get_database_backend());
    let (built, seen) = capture(batch.clone().run(models, select.clone(), recorder)).await;
    let built = built?;
    let Some(statement) = joined(seen) else {
        return Ok(ReadResult {
            value: built,
            status: crate::status::CacheStatus::Bypass,
            key: None,
        });
    };
    let loader = |_: Statement| LoadBatch {
        models: models.to_vec(),
        select,
        batch,
    };
    Shape::entity::<R, B::Output>()
        .read(
            &cached.cache,
            db,
            B::OPERATION,
            statement,
            cached.options,
            loader,
        )
        .await
}

/// Runs SeaORM's loader call on owned models.
struct LoadBatch<M, R: EntityTrait, B> {
    models: Vec<M>,
    select: Select<R>,
    batch: B,
}

impl<M, R, B> Loader for LoadBatch<M, R, B>
where
    M: ModelTrait + Send + Sync + 'static,
    R: EntityTrait,
    B: Batch<M, R>,
{
    type Output = B::Output;

    async fn load<C: ConnectionTrait>(self, db: &C) -> Result<B::Output, DbErr> {
        self.batch.run(&self.models, self.select, db).await
    }
}

/// The loader methods on models held as `$models`.
macro_rules! loader_methods {
    ([$life:lifetime] $models:ty) => {
        impl<$life, M> CachedQuery<$models>
        where
            M: ModelTrait + Clone + Send + Sync + 'static,
        {
            /// The related row of each model (a `has_one` or `belongs_to` relation), like
            /// SeaORM's `load_one(stmt, db)`: one batch, from the cache or the database.
            pub async fn load_one<R, S, C>(
                self,
                stmt: S,
                db: &C,
            ) -> Result<Vec<Option<R::Model>>, DbErr>
            where
                C: CacheableConnection,
                R: EntityTrait,
                R::Model: Serialize + DeserializeOwned + Send + Sync,
                S: EntityOrSelect<R>,
                M::Entity: Related<R>,
            {
                Ok(self.load_one_with_status(stmt, db).await?.value)
            }

            /// Like [`load_one`](Self::load_one), also saying whether it was a hit and the
            /// key.
            pub async fn load_one_with_status<R, S, C>(
                self,
                stmt: S,
                db: &C,
            ) -> Result<ReadResult<Vec<Option<R::Model>>>, DbErr>
            where
                C: CacheableConnection,
                R: EntityTrait,
                R::Model: Serialize + DeserializeOwned + Send + Sync,
                S: EntityOrSelect<R>,
                M::Entity: Related<R>,
            {
                read_batch(&self, One, stmt.select(), db).await
            }

            /// The related rows of each model (a `has_many` relation, or one `via` a junction),
            /// like SeaORM's `load_many(stmt, db)`: one batch, from the cache or the database.
            pub async fn load_many<R, S, C>(
                self,
                stmt: S,
                db: &C,
            ) -> Result<Vec<Vec<R::Model>>, DbErr>
            where
                C: CacheableConnection,
                R: EntityTrait,
                R::Model: Serialize + DeserializeOwned + Send + Sync,
                S: EntityOrSelect<R>,
                M::Entity: Related<R>,
            {
                Ok(self.load_many_with_status(stmt, db).await?.value)
            }

            /// Like [`load_many`](Self::load_many), also saying whether it was a hit and the
            /// key.
            pub async fn load_many_with_status<R, S, C>(
                self,
                stmt: S,
                db: &C,
            ) -> Result<ReadResult<Vec<Vec<R::Model>>>, DbErr>
            where
                C: CacheableConnection,
                R: EntityTrait,
                R::Model: Serialize + DeserializeOwned + Send + Sync,
                S: EntityOrSelect<R>,
                M::Entity: Related<R>,
            {
                read_batch(&self, Many, stmt.select(), db).await
            }

            /// The related rows of each model through the junction entity `via`, like SeaORM's
            /// `load_many_to_many(stmt, via, db)`: one batch (both of SeaORM's queries), from
            /// the cache or the database.
            pub async fn load_many_to_many<R, S, V, C>(
                self,
                stmt: S,
                via: V,
                db: &C,
            ) -> Result<Vec<Vec<R::Model>>, DbErr>
            where
                C: CacheableConnection,
                R: EntityTrait,
                R::Model: Serialize + DeserializeOwned + Send + Sync,
                S: EntityOrSelect<R>,
                V: EntityTrait,
                V::Model: Send + Sync,
                M::Entity: Related<R>,
            {
                Ok(self
                    .load_many_to_many_with_status(stmt, via, db)
                    .await?
                    .value)
            }

            /// Like [`load_many_to_many`](Self::load_many_to_many), also saying whether it was
            /// a hit and the key.
            pub async fn load_many_to_many_with_status<R, S, V, C>(
                self,
                stmt: S,
                via: V,
                db: &C,
            ) -> Result<ReadResult<Vec<Vec<R::Model>>>, DbErr>
            where
                C: CacheableConnection,
                R: EntityTrait,
                R::Model: Serialize + DeserializeOwned + Send + Sync,
                S: EntityOrSelect<R>,
                V: EntityTrait,
                V::Model: Send + Sync,
                M::Entity: Related<R>,
            {
                read_batch(&self, ManyToMany(via), stmt.select(), db).await
            }
        }
    };
}

loader_methods!(['a] &'a Vec<M>);
loader_methods!(['a] &'a [M]);
