//! SeaORM's self-referencing loaders on a `Vec` or slice of models bound to a cache:
//! `load_self`, `load_self_many`, `load_self_via`, `load_self_via_rev`. Each call is one batch
//! read like [`loader`](crate::seaorm::loader)'s: keyed by SeaORM's statement (operation `load_one` for
//! `load_self`, `load_many` for the others), dependent on the tables it reads, and on a miss
//! SeaORM's own loader.

use sea_orm::{
    ConnectionTrait, DbErr, EntityOrSelect, EntityTrait, LoaderTrait, ModelTrait, RelatedSelfVia,
    Select,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::connection::CacheableConnection;
use crate::key::Operation;
use crate::seaorm::loader::{read_batch, Batch};
use crate::seaorm::query::CachedQuery;
use crate::status::ReadResult;

/// `load_self` along a relation of the models' own entity.
#[derive(Clone, Copy)]
struct SelfOne<Rel>(Rel);
/// `load_self_many` along a relation of the models' own entity.
#[derive(Clone, Copy)]
struct SelfMany<Rel>(Rel);
/// `load_self_via` (`reverse`: `load_self_via_rev`) through the junction `V`.
#[derive(Clone, Copy)]
struct SelfVia<V> {
    via: V,
    reverse: bool,
}

/// The relations of the models' entity.
type RelationOf<M> = <<M as ModelTrait>::Entity as EntityTrait>::Relation;
/// The models' entity's model (the models' own type, as SeaORM names it).
type ModelOf<M> = <<M as ModelTrait>::Entity as EntityTrait>::Model;

impl<M> Batch<M, M::Entity> for SelfOne<RelationOf<M>>
where
    M: ModelTrait + Sync,
    ModelOf<M>: Serialize + DeserializeOwned + Send + Sync,
    RelationOf<M>: Send,
{
    type Output = Vec<Option<ModelOf<M>>>;
    const OPERATION: Operation = Operation::LoadOne;

    async fn run<C: ConnectionTrait>(
        self,
        models: &[M],
        select: Select<M::Entity>,
        db: &C,
    ) -> Result<Self::Output, DbErr> {
        models.load_self(select, self.0, db).await
    }
}

impl<M> Batch<M, M::Entity> for SelfMany<RelationOf<M>>
where
    M: ModelTrait + Sync,
    ModelOf<M>: Serialize + DeserializeOwned + Send + Sync,
    RelationOf<M>: Send,
{
    type Output = Vec<Vec<ModelOf<M>>>;
    const OPERATION: Operation = Operation::LoadMany;

    async fn run<C: ConnectionTrait>(
        self,
        models: &[M],
        select: Select<M::Entity>,
        db: &C,
    ) -> Result<Self::Output, DbErr> {
        models.load_self_many(select, self.0, db).await
    }
}

impl<M, V> Batch<M, M::Entity> for SelfVia<V>
where
    M: ModelTrait + Sync,
    M::Entity: RelatedSelfVia<V>,
    ModelOf<M>: Serialize + DeserializeOwned + Send + Sync,
    V: EntityTrait,
{
    type Output = Vec<Vec<ModelOf<M>>>;
    const OPERATION: Operation = Operation::LoadMany;

    async fn run<C: ConnectionTrait>(
        self,
        models: &[M],
        _select: Select<M::Entity>,
        db: &C,
    ) -> Result<Self::Output, DbErr> {
        match self.reverse {
            false => models.load_self_via(self.via, db).await,
            true => models.load_self_via_rev(self.via, db).await,
        }
    }
}

/// The self-referencing loader methods on models held as `$models`.
macro_rules! self_loader_methods {
    ([$life:lifetime] $models:ty) => {
        impl<$life, M> CachedQuery<$models>
        where
            M: ModelTrait + Clone + Send + Sync + 'static,
            ModelOf<M>: Serialize + DeserializeOwned + Send + Sync,
        {
            /// The model each model points to along the self-referencing `belongs_to`
            /// `relation_enum`, like SeaORM's `load_self(stmt, relation_enum, db)`: one batch,
            /// from the cache or the database.
            pub async fn load_self<S, C>(
                self,
                stmt: S,
                relation_enum: RelationOf<M>,
                db: &C,
            ) -> Result<Vec<Option<ModelOf<M>>>, DbErr>
            where
                C: CacheableConnection,
                S: EntityOrSelect<M::Entity>,
                RelationOf<M>: Clone + Send,
            {
                Ok(self
                    .load_self_with_status(stmt, relation_enum, db)
                    .await?
                    .value)
            }

            /// Like [`load_self`](Self::load_self), also saying whether it was a hit and the
            /// key.
            pub async fn load_self_with_status<S, C>(
                self,
                stmt: S,
                relation_enum: RelationOf<M>,
                db: &C,
            ) -> Result<ReadResult<Vec<Option<ModelOf<M>>>>, DbErr>
            where
                C: CacheableConnection,
                S: EntityOrSelect<M::Entity>,
                RelationOf<M>: Clone + Send,
            {
                read_batch(&self, SelfOne(relation_enum), stmt.select(), db).await
            }

            /// The models pointing to each model along the self-referencing
            /// `relation_enum`, like SeaORM's `load_self_many(stmt, relation_enum, db)`.
            pub async fn load_self_many<S, C>(
                self,
                stmt: S,
                relation_enum: RelationOf<M>,
                db: &C,
            ) -> Result<Vec<Vec<ModelOf<M>>>, DbErr>
            where
                C: CacheableConnection,
                S: EntityOrSelect<M::Entity>,
                RelationOf<M>: Clone + Send,
            {
                Ok(self
                    .load_self_many_with_status(stmt, relation_enum, db)
                    .await?
                    .value)
            }

            /// Like [`load_self_many`](Self::load_self_many), also saying whether it was a
            /// hit and the key.
            pub async fn load_self_many_with_status<S, C>(
                self,
                stmt: S,
                relation_enum: RelationOf<M>,
                db: &C,
            ) -> Result<ReadResult<Vec<Vec<ModelOf<M>>>>, DbErr>
            where
                C: CacheableConnection,
                S: EntityOrSelect<M::Entity>,
                RelationOf<M>: Clone + Send,
            {
                read_batch(&self, SelfMany(relation_enum), stmt.select(), db).await
            }

            /// The models related to each model through the self-referencing junction `via`,
            /// like SeaORM's `load_self_via(via, db)`.
            pub async fn load_self_via<V, C>(
                self,
                via: V,
                db: &C,
            ) -> Result<Vec<Vec<ModelOf<M>>>, DbErr>
            where
                C: CacheableConnection,
                V: EntityTrait,
                M::Entity: RelatedSelfVia<V>,
            {
                Ok(self.load_self_via_with_status(via, db).await?.value)
            }

            /// Like [`load_self_via`](Self::load_self_via), also saying whether it was a hit
            /// and the key.
            pub async fn load_self_via_with_status<V, C>(
                self,
                via: V,
                db: &C,
            ) -> Result<ReadResult<Vec<Vec<ModelOf<M>>>>, DbErr>
            where
                C: CacheableConnection,
                V: EntityTrait,
                M::Entity: RelatedSelfVia<V>,
            {
                let batch = SelfVia {
                    via,
                    reverse: false,
                };
                read_batch(&self, batch, M::Entity::find(), db).await
            }

            /// The same relation the other way round, like SeaORM's
            /// `load_self_via_rev(via, db)`.
            pub async fn load_self_via_rev<V, C>(
                self,
                via: V,
                db: &C,
            ) -> Result<Vec<Vec<ModelOf<M>>>, DbErr>
            where
                C: CacheableConnection,
                V: EntityTrait,
                M::Entity: RelatedSelfVia<V>,
            {
                Ok(self.load_self_via_rev_with_status(via, db).await?.value)
            }

            /// Like [`load_self_via_rev`](Self::load_self_via_rev), also saying whether it was
            /// a hit and the key.
            pub async fn load_self_via_rev_with_status<V, C>(
                self,
                via: V,
                db: &C,
            ) -> Result<ReadResult<Vec<Vec<ModelOf<M>>>>, DbErr>
            where
                C: CacheableConnection,
                V: EntityTrait,
                M::Entity: RelatedSelfVia<V>,
            {
                let batch = SelfVia { via, reverse: true };
                read_batch(&self, batch, M::Entity::find(), db).await
            }
        }
    };
}

self_loader_methods!(['a] &'a Vec<M>);
self_loader_methods!(['a] &'a [M]);
