//! `.cached(&cache)` on selects that gather related rows under each row: `find_with_related`
//! and `find_with_linked` (`SelectTwoMany`), and `consolidate()` of chained `find_also_related`
//! (`SelectThreeMany`, `SelectFourMany`).
//!
//! SeaORM runs one joined query and gathers the rows by the first entity's primary key. The
//! cached read is keyed by that query (operation `with_related`), depends on every table it
//! joins, and on a miss runs SeaORM's own `all`, so the value is exactly SeaORM's.
//!
//! ```no_run
//! # use momento_seaorm_cache::CacheQueryExt;
//! # async fn run<E, F>(db: sea_orm::DatabaseConnection, cache: momento_seaorm_cache::ModelCache)
//! # -> Result<(), sea_orm::DbErr>
//! # where
//! #     E: sea_orm::EntityTrait + sea_orm::Related<F>,
//! #     F: sea_orm::EntityTrait,
//! #     E::Model: serde::Serialize + serde::de::DeserializeOwned + Send + Sync,
//! #     F::Model: serde::Serialize + serde::de::DeserializeOwned + Send + Sync,
//! # {
//! // Each group with its users, like `.find_with_related(F).all(&db)`.
//! let groups = E::find().find_with_related(F::default()).cached(&cache).all(&db).await?;
//! # let _ = groups;
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::future::Future;

use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, SelectFourMany, SelectThreeMany, SelectTwoMany, Statement,
    TopologyChain, TopologyStar,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::capture::{capture, Recorder};
use crate::connection::CacheableConnection;
use crate::key::{self, Operation};
use crate::load::Loader;
use crate::seaorm::query::{CacheQueryExt, CachedQuery};
use crate::seaorm::selectors::joined_label;
use crate::seaorm::shape::{single, Shape};
use crate::status::ReadResult;

/// A select whose `all` SeaORM gathers by the first entity.
trait Gathered: Clone + Send + Sized + 'static {
    /// What SeaORM's `all` returns.
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// SeaORM's `all`.
    fn all_of<C: ConnectionTrait>(
        self,
        db: &C,
    ) -> impl Future<Output = Result<Self::Output, DbErr>> + Send;

    /// The key label: the entities' tables and fingerprints.
    fn label(statement: &Statement) -> Cow<'static, str>;
}

/// Reads a gathered select through the cache.
async fn read_gathered<Q: Gathered, C: CacheableConnection>(
    cached: CachedQuery<Q>,
    db: &C,
) -> Result<ReadResult<Q::Output>, DbErr> {
    let recorder = Recorder::of(db.get_database_backend());
    let (built, seen) = capture(cached.query.clone().all_of(recorder)).await;
    built?;
    let statement = single(seen, "all")?;
    let loader = |_| LoadGathered(cached.query);
    Shape::labelled::<Q::Output>(Q::label)
        .read(
            &cached.cache,
            db,
            Operation::WithRelated,
            statement,
            cached.options,
            loader,
        )
        .await
}

/// Runs SeaORM's own `all` of a gathered select.
struct LoadGathered<Q>(Q);

impl<Q: Gathered> Loader for LoadGathered<Q> {
    type Output = Q::Output;

    async fn load<C: ConnectionTrait>(self, db: &C) -> Result<Q::Output, DbErr> {
        self.0.all_of(db).await
    }
}

/// `Gathered`, `CacheQueryExt` and the cached `all` for one SeaORM select type.
macro_rules! gathered {
    ([$($param:ident),+] $select:ty, $output:ty) => {
        impl<$($param),+> Gathered for $select
        where
            $($param: EntityTrait, $param::Model: Serialize + DeserializeOwned + Send + Sync,)+
        {
            type Output = $output;

            async fn all_of<Conn: ConnectionTrait>(self, db: &Conn) -> Result<$output, DbErr> {
                self.all(db).await
            }

            fn label(_statement: &Statement) -> Cow<'static, str> {
                Cow::Borrowed(joined_label::<$select>(
                    gathered!(@first $($param),+),
                    &gathered!(@rest $($param),+),
                ))
            }
        }

        impl<$($param: EntityTrait),+> CacheQueryExt for $select {}

        impl<$($param),+> CachedQuery<$select>
        where
            $($param: EntityTrait, $param::Model: Serialize + DeserializeOwned + Send + Sync,)+
        {
            /// Every row with its related rows, like SeaORM's `all(db)`: from the cache, or
            /// the database.
            pub async fn all<Conn: CacheableConnection>(self, db: &Conn) -> Result<$output, DbErr> {
                Ok(read_gathered(self, db).await?.value)
            }

            /// Like [`all`](Self::all), also saying whether it was a hit and the key.
            pub async fn all_with_status<Conn: CacheableConnection>(
                self,
                db: &Conn,
            ) -> Result<ReadResult<$output>, DbErr> {
                read_gathered(self, db).await
            }
        }
    };
    (@first $first:ident $(, $other:ident)*) => { key::entity_label::<$first>() };
    (@rest $first:ident $(, $other:ident)*) => { [$(key::schema_fingerprint::<$other>()),*] };
}

gathered!([E, F] SelectTwoMany<E, F>, Vec<(E::Model, Vec<F::Model>)>);
gathered!(
    [E, F, G] SelectThreeMany<E, F, G, TopologyStar>,
    Vec<(E::Model, Vec<F::Model>, Vec<G::Model>)>
);
gathered!(
    [E, F, G] SelectThreeMany<E, F, G, TopologyChain>,
    Vec<(E::Model, Vec<(F::Model, Vec<G::Model>)>)>
);
gathered!(
    [E, F, G, H] SelectFourMany<E, F, G, H, TopologyStar>,
    Vec<(E::Model, Vec<F::Model>, Vec<G::Model>, Vec<H::Model>)>
);
