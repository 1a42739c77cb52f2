//! Which connections may use the cache: a transaction never does.
//!
//! Whether a read runs inside a transaction is a property of the connection's type (or, for
//! SeaORM's `DatabaseExecutor`, of the variant it holds), not a runtime guess about its state.

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseExecutor, DatabaseTransaction};

/// A SeaORM connection that can say whether it is inside a transaction.
///
/// Cached reads on a connection in a transaction bypass the cache (they may see the
/// transaction's own uncommitted writes, which must neither be served to nor stored for others).
/// Implemented for `DatabaseConnection`, `DatabaseTransaction`, `DatabaseExecutor` and this
/// crate's [`CachedConnection`](crate::CachedConnection) and
/// [`CachedTransaction`](crate::CachedTransaction).
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
/// use momento_seaorm_cache::{CacheStatus, CacheableConnection};
/// use sea_orm::TransactionTrait;
/// assert!(!db.in_transaction());
/// let txn = db.begin().await?;
/// assert!(txn.in_transaction());
/// let read = cache.wrap(user::Entity).find_by_pk_with_status(&txn, 1).await?;
/// assert_eq!((read.status, read.key), (CacheStatus::Bypass, None));
/// # Ok(()) }
/// ```
pub trait CacheableConnection: ConnectionTrait {
    /// `true` when reads on this connection run inside a transaction.
    fn in_transaction(&self) -> bool;

    /// A connection a background task may own, for stale-while-revalidate refreshes; `None`
    /// makes a stale value refresh in the caller's task instead (the caller then waits for the
    /// database and gets the fresh value).
    fn detached(&self) -> Option<DatabaseConnection> {
        None
    }
}

impl CacheableConnection for DatabaseConnection {
    fn in_transaction(&self) -> bool {
        false
    }

    fn detached(&self) -> Option<DatabaseConnection> {
        Some(self.clone())
    }
}

impl CacheableConnection for DatabaseTransaction {
    fn in_transaction(&self) -> bool {
        true
    }
}

impl CacheableConnection for DatabaseExecutor<'_> {
    fn in_transaction(&self) -> bool {
        !matches!(self, DatabaseExecutor::Connection(_))
    }

    fn detached(&self) -> Option<DatabaseConnection> {
        match self {
            DatabaseExecutor::Connection(db) => Some((*db).clone()),
            _ => None,
        }
    }
}
