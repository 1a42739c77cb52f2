//! Loaders: how a cached read runs its query on the database when the cache cannot answer.
//!
//! A loader owns everything its query needs, so the same query can run in the caller's task or,
//! for a stale-while-revalidate refresh, in a background task on a detached connection.

use std::future::Future;
use std::marker::PhantomData;

use sea_orm::{
    ConnectionTrait, DbErr, JsonValue, PaginatorTrait, SelectModel, SelectorRaw, SelectorTrait,
    Statement,
};
use serde::{de::DeserializeOwned, Serialize};

/// A database query that a cached read runs on a miss.
pub trait Loader: Send + 'static {
    /// What the query returns (what the uncached SeaORM call returns).
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// Runs the query on `db`.
    fn load<C: ConnectionTrait>(
        self,
        db: &C,
    ) -> impl Future<Output = Result<Self::Output, DbErr>> + Send;
}

/// Every row of a statement, as SeaORM's `.all(db)` returns them.
///
/// ```
/// use momento_seaorm_cache::LoadAll;
/// use sea_orm::{DbBackend, JsonValue, SelectModel, Statement};
/// let statement = Statement::from_string(DbBackend::Sqlite, "SELECT id FROM users");
/// let loader = LoadAll::<SelectModel<JsonValue>>::new(statement);
/// # let _ = loader;
/// ```
pub struct LoadAll<S> {
    statement: Statement,
    selector: PhantomData<fn() -> S>,
}

/// The first row of a statement, as SeaORM's `.one(db)` returns it (the statement should
/// carry the `LIMIT 1` SeaORM adds, where it adds one).
///
/// ```
/// use momento_seaorm_cache::LoadOne;
/// use sea_orm::{DbBackend, JsonValue, SelectModel, Statement};
/// let statement = Statement::from_string(DbBackend::Sqlite, "SELECT id FROM users LIMIT 1");
/// let loader = LoadOne::<SelectModel<JsonValue>>::new(statement);
/// # let _ = loader;
/// ```
pub struct LoadOne<S> {
    statement: Statement,
    selector: PhantomData<fn() -> S>,
}

/// The number of rows of a statement, as SeaORM's `.count(db)` returns it (`COUNT(*)` over it
/// as a subquery).
///
/// ```
/// use momento_seaorm_cache::LoadCount;
/// use sea_orm::{DbBackend, Statement};
/// let loader = LoadCount::new(Statement::from_string(DbBackend::Sqlite, "SELECT id FROM users"));
/// # let _ = loader;
/// ```
pub struct LoadCount {
    statement: Statement,
}

impl<S> LoadAll<S> {
    /// Loads every row of `statement`, decoded by the selector `S`.
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
    /// use momento_seaorm_cache::{LoadAll, Loader};
    /// use sea_orm::{DbBackend, JsonValue, SelectModel, Statement};
    /// let statement = Statement::from_string(DbBackend::Sqlite, "SELECT name FROM users");
    /// let rows = LoadAll::<SelectModel<JsonValue>>::new(statement).load(&db).await?;
    /// assert_eq!(rows.len(), 2);
    /// assert_eq!(rows[0]["name"], "alice");
    /// # Ok(()) }
    /// ```
    pub fn new(statement: Statement) -> Self {
        LoadAll {
            statement,
            selector: PhantomData,
        }
    }
}

impl<S> LoadOne<S> {
    /// Loads the first row of `statement`, decoded by the selector `S`.
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
    /// use momento_seaorm_cache::{LoadOne, Loader};
    /// use sea_orm::{DbBackend, SelectModel, Statement};
    /// let sql = "SELECT id, name FROM users WHERE id = 2 LIMIT 1";
    /// let statement = Statement::from_string(DbBackend::Sqlite, sql);
    /// let bob = LoadOne::<SelectModel<user::Model>>::new(statement).load(&db).await?;
    /// assert_eq!(bob.map(|u| u.name), Some("bob".to_owned()));
    /// # Ok(()) }
    /// ```
    pub fn new(statement: Statement) -> Self {
        LoadOne {
            statement,
            selector: PhantomData,
        }
    }
}

impl LoadCount {
    /// Counts the rows of `statement`.
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
    /// use momento_seaorm_cache::{LoadCount, Loader};
    /// use sea_orm::{DbBackend, Statement};
    /// let statement = Statement::from_string(DbBackend::Sqlite, "SELECT id FROM users");
    /// assert_eq!(LoadCount::new(statement).load(&db).await?, 2);
    /// # Ok(()) }
    /// ```
    pub fn new(statement: Statement) -> Self {
        LoadCount { statement }
    }
}

impl<S> Loader for LoadAll<S>
where
    S: SelectorTrait + 'static,
    S::Item: Serialize + DeserializeOwned + Send + 'static,
{
    type Output = Vec<S::Item>;

    async fn load<C: ConnectionTrait>(self, db: &C) -> Result<Self::Output, DbErr> {
        db.query_all_raw(self.statement)
            .await?
            .into_iter()
            .map(S::from_raw_query_result)
            .collect()
    }
}

impl<S> Loader for LoadOne<S>
where
    S: SelectorTrait + 'static,
    S::Item: Serialize + DeserializeOwned + Send + 'static,
{
    type Output = Option<S::Item>;

    async fn load<C: ConnectionTrait>(self, db: &C) -> Result<Self::Output, DbErr> {
        db.query_one_raw(self.statement)
            .await?
            .map(S::from_raw_query_result)
            .transpose()
    }
}

/// The count a `SELECT COUNT(*) AS num_items FROM (…) AS sub_query` statement returns, read as
/// SeaORM's `count` and `Paginator::num_items` read it (no row: 0).
///
/// ```
/// use momento_seaorm_cache::LoadNumItems;
/// use sea_orm::{DbBackend, Statement};
/// let sql = "SELECT COUNT(*) AS num_items FROM (SELECT id FROM users) AS sub_query";
/// let loader = LoadNumItems::new(Statement::from_string(DbBackend::Sqlite, sql));
/// # let _ = loader;
/// ```
pub struct LoadNumItems {
    statement: Statement,
}

impl LoadNumItems {
    /// Reads the `num_items` column of `statement`'s row.
    pub fn new(statement: Statement) -> Self {
        LoadNumItems { statement }
    }
}

impl Loader for LoadNumItems {
    type Output = u64;

    async fn load<C: ConnectionTrait>(self, db: &C) -> Result<u64, DbErr> {
        match db.query_one_raw(self.statement).await? {
            Some(row) => Ok(row.try_get::<i64>("", "num_items")? as u64),
            None => Ok(0),
        }
    }
}

impl Loader for LoadCount {
    type Output = u64;

    async fn load<C: ConnectionTrait>(self, db: &C) -> Result<u64, DbErr> {
        let raw =
            SelectorRaw::<SelectModel<JsonValue>>::from_statement::<JsonValue>(self.statement);
        PaginatorTrait::count(raw, db).await
    }
}
