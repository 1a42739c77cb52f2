//! `.cached(&cache).exists(&db)`: SeaORM's `SelectExt::exists`, read through the cache under
//! operation `exists`. SeaORM builds the statement (`SELECT 1 FROM … WHERE …`, the query's
//! columns, order, limit and offset dropped; raw SQL wrapped in a subquery with `LIMIT 1`) on a
//! [`Recorder`](crate::capture::Recorder), and the cached read runs it.
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
//! let taken: bool = user::Entity::find()
//!     .filter(user::Column::Name.eq("alice"))
//!     .cached(&cache)
//!     .exists(&db)
//!     .await?;
//! # let _ = taken;
//! # Ok(()) }
//! ```

use sea_orm::{ConnectionTrait, DbErr, SelectExt, Statement};

use crate::capture::{capture, Recorder};
use crate::connection::CacheableConnection;
use crate::key::Operation;
use crate::load::Loader;
use crate::seaorm::query::{CacheableSelect, CachedQuery};
use crate::seaorm::shape::{single, Shape};
use crate::status::ReadResult;

impl<Q: CacheableSelect + SelectExt> CachedQuery<Q> {
    /// Whether the query finds any row, like SeaORM's `exists(db)`: from the cache, or the
    /// database.
    pub async fn exists<C: CacheableConnection>(self, db: &C) -> Result<bool, DbErr> {
        Ok(self.exists_with_status(db).await?.value)
    }

    /// Like [`exists`](Self::exists), also saying whether it was a hit and the key.
    pub async fn exists_with_status<C: CacheableConnection>(
        self,
        db: &C,
    ) -> Result<ReadResult<bool>, DbErr> {
        let recorder = Recorder::of(db.get_database_backend());
        let (built, seen) = capture(self.query.exists(recorder)).await;
        built?;
        let statement = single(seen, "SelectExt::exists")?;
        let loader = |statement| LoadExists { statement };
        Shape::of::<Q>()
            .read(
                &self.cache,
                db,
                Operation::Exists,
                statement,
                self.options,
                loader,
            )
            .await
    }
}

/// Whether a statement returns a row, read as SeaORM's `exists` reads it.
struct LoadExists {
    statement: Statement,
}

impl Loader for LoadExists {
    type Output = bool;

    async fn load<C: ConnectionTrait>(self, db: &C) -> Result<bool, DbErr> {
        Ok(db.query_one_raw(self.statement).await?.is_some())
    }
}
