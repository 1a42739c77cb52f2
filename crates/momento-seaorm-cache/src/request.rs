//! [`ReadRequest`]: a cached read of any SeaORM [`Statement`], described for
//! [`ModelCache::read_statement`](crate::ModelCache::read_statement).

use std::borrow::Cow;
use std::time::Duration;

use sea_orm::Statement;

use crate::codec::SerdeFormat;
use crate::key::{self, Operation};
use crate::policy::StoreOptions;

/// One cached read of a statement: what to key it by and how to store its result. The
/// statement's bound values and SQL make the key; the tables its SQL reads make its
/// dependencies.
///
/// ```
/// use momento_seaorm_cache::{Operation, ReadRequest};
/// use sea_orm::{DbBackend, Statement};
/// let statement = Statement::from_string(DbBackend::Sqlite, "SELECT id FROM users");
/// let request = ReadRequest::new(Operation::All, statement)
///     .ttl(std::time::Duration::from_secs(30));
/// assert_eq!(request.operation(), Operation::All);
/// ```
#[derive(Debug, Clone)]
pub struct ReadRequest {
    pub(crate) operation: Operation,
    pub(crate) statement: Statement,
    /// The key's table segment, already escaped; found from the SQL when `None`.
    pub(crate) label: Option<Cow<'static, str>>,
    pub(crate) options: StoreOptions,
}

impl ReadRequest {
    /// A read of `statement`, keyed under `operation`, with the cache's default TTL and
    /// format.
    ///
    /// ```
    /// # use momento_seaorm_cache::{Operation, ReadRequest};
    /// # use sea_orm::{DbBackend, Statement};
    /// let request = ReadRequest::new(
    ///     Operation::Count,
    ///     Statement::from_string(DbBackend::Postgres, "SELECT COUNT(*) FROM users"),
    /// );
    /// assert_eq!(request.operation(), Operation::Count);
    /// assert_eq!(request.statement().sql, "SELECT COUNT(*) FROM users");
    /// ```
    pub fn new(operation: Operation, statement: Statement) -> ReadRequest {
        ReadRequest {
            operation,
            statement,
            label: None,
            options: StoreOptions::default(),
        }
    }

    /// The key's table segment (default: the first table after the top-level `FROM`); `%`,
    /// `:` and `@` are escaped. It names the key only: the read still depends on every table
    /// its SQL reads.
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
    /// use momento_seaorm_cache::{LoadAll, Operation, ReadRequest};
    /// use sea_orm::{DbBackend, JsonValue, SelectModel, Statement};
    /// let statement = Statement::from_string(DbBackend::Sqlite, "SELECT id FROM users");
    /// let request = ReadRequest::new(Operation::All, statement).label("users:ids");
    /// let load = LoadAll::<SelectModel<JsonValue>>::new;
    /// let read = cache.read_statement(&db, request, load).await?;
    /// let key = read.key.unwrap();
    /// assert_eq!(key.as_str(), "model-cache:all:users%3Aids:[]:SELECT id FROM users");
    /// # Ok(()) }
    /// ```
    pub fn label(mut self, label: &str) -> ReadRequest {
        self.label = Some(Cow::Owned(key::sql_label(label)));
        self
    }

    /// A label that is already a key segment (entity labels: `table@fingerprint`).
    pub(crate) fn key_label(mut self, label: Cow<'static, str>) -> ReadRequest {
        self.label = Some(label);
        self
    }

    /// Store the result for `ttl` instead of the cache's default (clamped to the backend's
    /// maximum; zero means do not store).
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
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{CacheStatus, LoadCount, Operation, ReadRequest};
    /// use sea_orm::{DbBackend, Statement};
    /// let statement = Statement::from_string(DbBackend::Sqlite, "SELECT id FROM users");
    /// let request = ReadRequest::new(Operation::Count, statement).ttl(Duration::ZERO);
    /// let read = cache.read_statement(&db, request.clone(), LoadCount::new).await?;
    /// assert_eq!((read.status, read.value), (CacheStatus::Miss, 2));
    /// let again = cache.read_statement(&db, request, LoadCount::new).await?;
    /// assert_eq!(again.status, CacheStatus::Miss); // a zero TTL stores nothing
    /// # Ok(()) }
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> ReadRequest {
        self.options.ttl = Some(ttl);
        self
    }

    /// After the TTL, keep serving the stored value for up to `window` while one background
    /// task refreshes it (status [`Stale`](crate::CacheStatus::Stale)).
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
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{CacheStatus, LoadCount, Operation, ReadRequest};
    /// use sea_orm::{DbBackend, Statement};
    /// let statement = Statement::from_string(DbBackend::Sqlite, "SELECT id FROM users");
    /// let request = ReadRequest::new(Operation::Count, statement)
    ///     .ttl(Duration::from_millis(50))
    ///     .stale_while_revalidate(Duration::from_secs(60));
    /// cache.read_statement(&db, request.clone(), LoadCount::new).await?;
    /// tokio::time::sleep(Duration::from_millis(100)).await; // past the TTL
    /// let read = cache.read_statement(&db, request, LoadCount::new).await?;
    /// assert_eq!((read.status, read.value), (CacheStatus::Stale, 2));
    /// # Ok(()) }
    /// ```
    pub fn stale_while_revalidate(mut self, window: Duration) -> ReadRequest {
        self.options.stale = Some(window);
        self
    }

    /// Store the result in `format` whatever the cache's (e.g. JSON for rows that need a
    /// self-describing format, such as `serde_json::Value`).
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
    /// use momento_seaorm_cache::{CacheStatus, LoadAll, MemoryBackend, ModelCache};
    /// use momento_seaorm_cache::{Operation, ReadRequest, SerdeFormat};
    /// use sea_orm::{DbBackend, JsonValue, SelectModel, Statement};
    /// let backend = MemoryBackend::new();
    /// let cache = ModelCache::builder(backend).serde_format(SerdeFormat::Postcard).build()?;
    /// let statement = Statement::from_string(DbBackend::Sqlite, "SELECT name FROM users");
    /// let request = ReadRequest::new(Operation::All, statement).serde_format(SerdeFormat::Json);
    /// let load = LoadAll::<SelectModel<JsonValue>>::new;
    /// cache.read_statement(&db, request.clone(), load).await?;
    /// let hit = cache.read_statement(&db, request, load).await?; // JSON rows read back
    /// assert_eq!((hit.status, hit.value.len()), (CacheStatus::Hit, 2));
    /// # Ok(()) }
    /// ```
    pub fn serde_format(mut self, format: SerdeFormat) -> ReadRequest {
        self.options.format = Some(format);
        self
    }

    /// The operation the key is made under.
    ///
    /// ```
    /// # use momento_seaorm_cache::{Operation, ReadRequest};
    /// # use sea_orm::{DbBackend, Statement};
    /// # let statement = Statement::from_string(DbBackend::Sqlite, "SELECT 1");
    /// assert_eq!(ReadRequest::new(Operation::One, statement).operation(), Operation::One);
    /// ```
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The statement run on a miss.
    ///
    /// ```
    /// # use momento_seaorm_cache::{Operation, ReadRequest};
    /// # use sea_orm::{DbBackend, Statement};
    /// # let statement = Statement::from_string(DbBackend::Sqlite, "SELECT 1");
    /// assert_eq!(ReadRequest::new(Operation::One, statement).statement().sql, "SELECT 1");
    /// ```
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// Replaces the options with `options` where they are set (the front ends' per-read
    /// settings).
    pub(crate) fn options(mut self, options: StoreOptions) -> ReadRequest {
        self.options.ttl = options.ttl.or(self.options.ttl);
        self.options.stale = options.stale.or(self.options.stale);
        self.options.format = options.format.or(self.options.format);
        self
    }
}
