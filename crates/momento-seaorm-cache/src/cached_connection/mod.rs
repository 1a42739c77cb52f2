//! [`CachedConnection`]: a SeaORM connection that invalidates the cached reads of every table
//! it writes, and [`CachedTransaction`], its transaction, which invalidates after commit only.
//!
//! Every statement that goes through them is classified once (memoized by SQL text): a write
//! (INSERT/UPDATE/DELETE, `insert_many`, `update_many`, `delete_many`, ActiveModel save, raw
//! `execute`, `execute_unprepared`, DDL, and INSERT … RETURNING through the query methods)
//! gives each table it names a new generation once it has run; a statement that cannot be
//! parsed invalidates every table. Inside a transaction the tables are collected and
//! invalidated after the outermost commit; a rollback drops them; a nested transaction
//! (savepoint) hands its tables to its parent on commit.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::{self, Stream};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, IsolationLevel, QueryResult, Statement, StreamTrait, TransactionError,
    TransactionOptions, TransactionSession, TransactionTrait, Values,
};

use crate::cache::ModelCache;
use crate::connection::CacheableConnection;
use crate::tables::Touches;

mod written;

use written::{lookup, outcome, LookedUp, Opaque, Ran, Touched, Written};

/// A [`DatabaseConnection`] that invalidates cached reads of the tables it writes, in every
/// process sharing the cache backend. Pass it wherever the connection went.
///
/// A write invalidates once it has run; in a transaction, once the outermost commit has:
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
/// use momento_seaorm_cache::{CacheStatus, CachedConnection};
/// use sea_orm::{ConnectionTrait, TransactionSession, TransactionTrait};
/// let db = CachedConnection::new(db, &cache);
/// let users = cache.wrap(user::Entity);
/// users.find_by_pk(&db, 1).await?;
/// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Hit);
/// db.execute_unprepared("UPDATE users SET name = 'alicia' WHERE id = 1").await?;
/// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Miss);
///
/// let txn = db.begin().await?;
/// txn.execute_unprepared("UPDATE users SET name = 'ally' WHERE id = 1").await?;
/// txn.commit().await?; // invalidates `users` now
/// let read = users.find_by_pk_with_status(&db, 1).await?;
/// assert_eq!((read.status, read.value.unwrap().name), (CacheStatus::Miss, "ally".into()));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CachedConnection {
    inner: DatabaseConnection,
    cache: ModelCache,
}

impl CachedConnection {
    /// Wraps `db`; writes through the result invalidate reads cached in `cache`. Reads through
    /// it are cached as on `db`.
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
    /// use momento_seaorm_cache::{CacheStatus, CachedConnection};
    /// use sea_orm::{ConnectionTrait, EntityTrait};
    /// let db = CachedConnection::new(db, &cache);
    /// let users = cache.wrap(user::Entity);
    /// assert_eq!(users.count(&db, user::Entity::find()).await?, 2);
    /// db.execute_unprepared("INSERT INTO users VALUES (3, 'carol')").await?;
    /// let read = users.count_with_status(&db, user::Entity::find()).await?;
    /// assert_eq!((read.status, read.value), (CacheStatus::Miss, 3));
    /// # Ok(()) }
    /// ```
    pub fn new(db: DatabaseConnection, cache: &ModelCache) -> CachedConnection {
        CachedConnection {
            inner: db,
            cache: cache.clone(),
        }
    }

    /// The wrapped connection. Writes through it invalidate nothing, so cached reads of what
    /// they change stay served until their TTL.
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
    /// use momento_seaorm_cache::{CacheStatus, CachedConnection};
    /// use sea_orm::ConnectionTrait;
    /// let db = CachedConnection::new(db, &cache);
    /// let users = cache.wrap(user::Entity);
    /// users.find_by_pk(&db, 1).await?;
    /// db.inner().execute_unprepared("UPDATE users SET name = 'alicia' WHERE id = 1").await?;
    /// let read = users.find_by_pk_with_status(&db, 1).await?; // the cached row, now outdated
    /// assert_eq!((read.status, read.value.unwrap().name), (CacheStatus::Hit, "alice".into()));
    /// # Ok(()) }
    /// ```
    pub fn inner(&self) -> &DatabaseConnection {
        &self.inner
    }

    /// The cache this connection invalidates (a clone of the one it was made with: both share
    /// their entries and counters).
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
    /// use momento_seaorm_cache::CachedConnection;
    /// let db = CachedConnection::new(db, &cache);
    /// let alice = db.cache().wrap(user::Entity).find_by_pk(&db, 1).await?;
    /// assert_eq!(alice.unwrap().name, "alice");
    /// assert_eq!(cache.stats().misses, 1); // counted by the cache it was made with
    /// # Ok(()) }
    /// ```
    pub fn cache(&self) -> &ModelCache {
        &self.cache
    }

    /// Runs `run` and then invalidates what `sql` writes (also when it failed: a failed
    /// statement may have written part of its work).
    async fn write<T: Ran>(
        &self,
        sql: &str,
        values: Option<Values>,
        run: impl Future<Output = Result<T, DbErr>>,
    ) -> Result<T, DbErr> {
        let backend = ConnectionTrait::get_database_backend(&self.inner);
        let catalog = self.cache.catalog_for(self).await;
        let touched = Touched::of(&self.cache, backend, sql, catalog.as_deref());
        let result = run.await;
        let mut written = Written::default();
        written.start(&touched);
        let keys = touched.keys(
            &self.cache,
            backend,
            sql,
            outcome(&result, &values, backend),
            catalog.as_deref(),
        );
        written.finish(&touched, keys);
        if changes_schema(backend, sql, &touched) {
            self.cache.catalog().expire(backend);
        }
        if !written.is_empty() {
            written.invalidate(&self.cache).await;
        }
        result
    }
}

/// Whether `sql` changed the schema (DDL): the catalog is read again before it is next used.
/// (DDL hidden in a procedure or a `DO` block is seen when the catalog is next read anyway,
/// at most `catalog::MAX_AGE` later.)
fn changes_schema(backend: DbBackend, sql: &str, touched: &Touched) -> bool {
    !matches!(touched, Touched::Nothing) && crate::tables::is_ddl(backend, sql)
}

/// Implements `ConnectionTrait` by passing every statement to `self.inner` through
/// `self.write`, which invalidates (or records for the commit) what the statement writes.
macro_rules! connection_through_write {
    ($ty:ty) => {
        #[async_trait]
        impl ConnectionTrait for $ty {
            fn get_database_backend(&self) -> DbBackend {
                ConnectionTrait::get_database_backend(&self.inner)
            }

            async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
                let (sql, values) = (stmt.sql.clone(), stmt.values.clone());
                let backend = ConnectionTrait::get_database_backend(&self.inner);
                let catalog = self.cache.catalog_for(self).await;
                match lookup(&self.cache, backend, &stmt, catalog.as_deref()) {
                    Some(select) => {
                        let run = self.update_and_look_up(stmt, select);
                        self.write(&sql, values, run).await.map(|done| done.0)
                    }
                    None => self.write(&sql, values, self.inner.execute_raw(stmt)).await,
                }
            }

            async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
                self.write(sql, None, self.inner.execute_unprepared(sql))
                    .await
            }

            async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
                let (sql, values) = (stmt.sql.clone(), stmt.values.clone());
                self.write(&sql, values, self.inner.query_one_raw(stmt))
                    .await
            }

            async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
                let (sql, values) = (stmt.sql.clone(), stmt.values.clone());
                self.write(&sql, values, self.inner.query_all_raw(stmt))
                    .await
            }

            fn support_returning(&self) -> bool {
                self.inner.support_returning()
            }

            fn is_mock_connection(&self) -> bool {
                self.inner.is_mock_connection()
            }
        }
    };
}

connection_through_write!(CachedConnection);

impl CacheableConnection for CachedConnection {
    fn in_transaction(&self) -> bool {
        false
    }

    fn detached(&self) -> Option<DatabaseConnection> {
        Some(self.inner.clone())
    }
}

/// A transaction begun on a [`CachedConnection`]: what it writes is invalidated after the
/// outermost commit, and not at all on rollback. Reads on it bypass the cache.
pub struct CachedTransaction {
    inner: DatabaseTransaction,
    cache: ModelCache,
    written: Arc<Mutex<Written>>,
    /// What the enclosing transactions wrote, innermost first (nested transactions).
    ancestors: Vec<Arc<Mutex<Written>>>,
    /// Set once the server committed or ended the transaction on its own (MySQL's implicit
    /// commit before DDL, a `COMMIT` sent as SQL): what was written is invalidated at once,
    /// and so is everything written after. Shared by nested transactions.
    ended: Arc<AtomicBool>,
}

impl std::fmt::Debug for CachedTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedTransaction")
            .field("nested", &!self.ancestors.is_empty())
            .finish_non_exhaustive()
    }
}

impl CachedTransaction {
    fn new(
        inner: DatabaseTransaction,
        cache: ModelCache,
        ancestors: Vec<Arc<Mutex<Written>>>,
        ended: Arc<AtomicBool>,
    ) -> Self {
        CachedTransaction {
            inner,
            cache,
            written: Arc::default(),
            ancestors,
            ended,
        }
    }

    /// Runs `run` and records what `sql` writes, for after the commit.
    async fn write<T: Ran>(
        &self,
        sql: &str,
        values: Option<Values>,
        run: impl Future<Output = Result<T, DbErr>>,
    ) -> Result<T, DbErr> {
        let backend = ConnectionTrait::get_database_backend(&self.inner);
        let catalog = self.cache.catalog().current(backend);
        let touched = Touched::of(&self.cache, backend, sql, catalog.as_deref());
        self.written().start(&touched);
        let result = run.await;
        let keys = touched.keys(
            &self.cache,
            backend,
            sql,
            outcome(&result, &values, backend),
            catalog.as_deref(),
        );
        self.written().finish(&touched, keys);
        if changes_schema(backend, sql, &touched) {
            self.cache.catalog().expire(backend);
            self.written().changed_schema();
        }
        if crate::tables::ends_transaction(backend, sql) {
            self.ended.store(true, Ordering::SeqCst);
        }
        if self.ended.load(Ordering::SeqCst) {
            self.invalidate_committed().await;
        }
        result
    }

    /// Invalidates now what this transaction and the ones around it wrote: the server has
    /// committed it (a rollback can no longer take it back).
    async fn invalidate_committed(&self) {
        let mut written = self.take_written();
        for ancestor in &self.ancestors {
            written.merge(std::mem::take(
                &mut *ancestor.lock().unwrap_or_else(|e| e.into_inner()),
            ));
        }
        if !written.is_empty() {
            written.invalidate(&self.cache).await;
        }
    }

    fn written(&self) -> std::sync::MutexGuard<'_, Written> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_written(&self) -> Written {
        std::mem::take(&mut *self.written())
    }
}

connection_through_write!(CachedTransaction);

impl CacheableConnection for CachedTransaction {
    fn in_transaction(&self) -> bool {
        true
    }
}

#[async_trait]
impl TransactionSession for CachedTransaction {
    async fn commit(self) -> Result<(), DbErr> {
        let written = self.take_written();
        let result = TransactionSession::commit(self.inner).await;
        match self.ancestors.first() {
            // Committed on its own already: what the server committed is invalidated, also
            // when this commit fails.
            _ if self.ended.load(Ordering::SeqCst) => written.invalidate(&self.cache).await,
            Some(parent) => parent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .merge(written),
            None => written.invalidate(&self.cache).await,
        }
        result
    }

    async fn rollback(self) -> Result<(), DbErr> {
        let written = self.take_written();
        let result = TransactionSession::rollback(self.inner).await;
        if self.ended.load(Ordering::SeqCst) {
            written.invalidate(&self.cache).await;
        }
        result
    }
}

type Callback<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// Runs `callback` in `txn`, committing on `Ok` and rolling back on `Err`, as SeaORM does.
async fn run_in<F, T, E>(txn: CachedTransaction, callback: F) -> Result<T, TransactionError<E>>
where
    F: for<'c> FnOnce(&'c CachedTransaction) -> Callback<'c, T, E> + Send,
    T: Send,
    E: std::fmt::Display + std::fmt::Debug + Send,
{
    match callback(&txn).await {
        Ok(value) => {
            txn.commit().await.map_err(TransactionError::Connection)?;
            Ok(value)
        }
        Err(error) => {
            txn.rollback().await.map_err(TransactionError::Connection)?;
            Err(TransactionError::Transaction(error))
        }
    }
}

macro_rules! transactions {
    ($ty:ty) => {
        #[async_trait]
        impl TransactionTrait for $ty {
            type Transaction = CachedTransaction;

            async fn begin(&self) -> Result<CachedTransaction, DbErr> {
                // The catalog is read before, not inside, the transaction.
                self.cache.catalog_for(self).await;
                let inner = self.inner.begin().await?;
                Ok(self.wrap_transaction(inner))
            }

            async fn begin_with_config(
                &self,
                isolation_level: Option<IsolationLevel>,
                access_mode: Option<AccessMode>,
            ) -> Result<CachedTransaction, DbErr> {
                self.cache.catalog_for(self).await;
                let inner = self
                    .inner
                    .begin_with_config(isolation_level, access_mode)
                    .await?;
                Ok(self.wrap_transaction(inner))
            }

            async fn begin_with_options(
                &self,
                options: TransactionOptions,
            ) -> Result<CachedTransaction, DbErr> {
                self.cache.catalog_for(self).await;
                let inner = self.inner.begin_with_options(options).await?;
                Ok(self.wrap_transaction(inner))
            }

            async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
            where
                F: for<'c> FnOnce(&'c CachedTransaction) -> Callback<'c, T, E> + Send,
                T: Send,
                E: std::fmt::Display + std::fmt::Debug + Send,
            {
                let txn = self.begin().await.map_err(TransactionError::Connection)?;
                run_in(txn, callback).await
            }

            async fn transaction_with_config<F, T, E>(
                &self,
                callback: F,
                isolation_level: Option<IsolationLevel>,
                access_mode: Option<AccessMode>,
            ) -> Result<T, TransactionError<E>>
            where
                F: for<'c> FnOnce(&'c CachedTransaction) -> Callback<'c, T, E> + Send,
                T: Send,
                E: std::fmt::Display + std::fmt::Debug + Send,
            {
                let txn = self
                    .begin_with_config(isolation_level, access_mode)
                    .await
                    .map_err(TransactionError::Connection)?;
                run_in(txn, callback).await
            }
        }
    };
}

impl CachedConnection {
    /// Runs `update` in a transaction of its own, reads `select` after it there, and commits.
    async fn update_and_look_up(
        &self,
        update: Statement,
        select: Statement,
    ) -> Result<LookedUp, DbErr> {
        let txn = self.inner.begin().await?;
        match txn.execute_raw(update).await {
            Ok(done) => {
                let rows = txn.query_all_raw(select).await.ok();
                txn.commit().await?;
                Ok(LookedUp(done, rows))
            }
            Err(error) => {
                let _ = txn.rollback().await;
                Err(error)
            }
        }
    }

    fn wrap_transaction(&self, inner: DatabaseTransaction) -> CachedTransaction {
        CachedTransaction::new(inner, self.cache.clone(), Vec::new(), Arc::default())
    }
}

impl CachedTransaction {
    /// Runs `update` in this transaction and reads `select` after it.
    async fn update_and_look_up(
        &self,
        update: Statement,
        select: Statement,
    ) -> Result<LookedUp, DbErr> {
        let done = self.inner.execute_raw(update).await?;
        let rows = self.inner.query_all_raw(select).await.ok();
        Ok(LookedUp(done, rows))
    }

    /// A nested transaction hands what it wrote to this one on commit.
    fn wrap_transaction(&self, inner: DatabaseTransaction) -> CachedTransaction {
        let mut ancestors = vec![self.written.clone()];
        ancestors.extend(self.ancestors.iter().cloned());
        CachedTransaction::new(inner, self.cache.clone(), ancestors, self.ended.clone())
    }
}

transactions!(CachedConnection);
transactions!(CachedTransaction);

/// The rows of a statement streamed through a [`CachedConnection`] or [`CachedTransaction`].
pub type RowStream<'a> = Pin<Box<dyn Stream<Item = Result<QueryResult, DbErr>> + Send + 'a>>;

/// Whether a statement can be streamed as it runs: it writes nothing cached.
fn streams_as_it_runs(touches: &Touches) -> bool {
    matches!(touches, Touches::Reads(_) | Touches::Nothing)
}

impl StreamTrait for CachedConnection {
    type Stream<'a> = RowStream<'a>;

    fn get_database_backend(&self) -> DbBackend {
        ConnectionTrait::get_database_backend(&self.inner)
    }

    /// Streams a read as it runs; a statement that writes (`INSERT ... RETURNING`, say) runs
    /// to completion first, so its invalidation follows the write, and its rows are then
    /// streamed from memory.
    fn stream_raw<'a>(
        &'a self,
        stmt: Statement,
    ) -> Pin<Box<dyn Future<Output = Result<RowStream<'a>, DbErr>> + 'a + Send>> {
        Box::pin(async move {
            let touches = self.cache.touches(
                ConnectionTrait::get_database_backend(&self.inner),
                &stmt.sql,
            );
            if streams_as_it_runs(&touches) {
                let rows = StreamTrait::stream_raw(&self.inner, stmt).await?;
                return Ok(Box::pin(rows) as RowStream<'a>);
            }
            let (sql, values) = (stmt.sql.clone(), stmt.values.clone());
            let rows = self
                .write(&sql, values, self.inner.query_all_raw(stmt))
                .await?;
            Ok(Box::pin(stream::iter(rows.into_iter().map(Ok))) as RowStream<'a>)
        })
    }
}

impl StreamTrait for CachedTransaction {
    type Stream<'a> = RowStream<'a>;

    fn get_database_backend(&self) -> DbBackend {
        ConnectionTrait::get_database_backend(&self.inner)
    }

    /// Records what the statement writes for after the commit, then streams it as it runs.
    fn stream_raw<'a>(
        &'a self,
        stmt: Statement,
    ) -> Pin<Box<dyn Future<Output = Result<RowStream<'a>, DbErr>> + 'a + Send>> {
        Box::pin(async move {
            let sql = stmt.sql.clone();
            let stream = async { StreamTrait::stream_raw(&self.inner, stmt).await.map(Opaque) };
            let Opaque(rows) = self.write(&sql, None, stream).await?;
            Ok(Box::pin(rows) as RowStream<'a>)
        })
    }
}
