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
    /// A read of `statement`, keyed under `operation`.
    ///
    /// ```
    /// # use momento_seaorm_cache::{Operation, ReadRequest};
    /// # use sea_orm::{DbBackend, Statement};
    /// let request = ReadRequest::new(
    ///     Operation::Count,
    ///     Statement::from_string(DbBackend::Postgres, "SELECT COUNT(*) FROM users"),
    /// );
    /// # let _ = request;
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
    /// `:` and `@` are escaped.
    ///
    /// ```
    /// # use momento_seaorm_cache::{Operation, ReadRequest};
    /// # use sea_orm::{DbBackend, Statement};
    /// let statement = Statement::from_string(DbBackend::Sqlite, "SELECT 1");
    /// let request = ReadRequest::new(Operation::One, statement).label("health:check");
    /// # let _ = request;
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
    /// # use momento_seaorm_cache::{Operation, ReadRequest};
    /// # use sea_orm::{DbBackend, Statement};
    /// # let statement = Statement::from_string(DbBackend::Sqlite, "SELECT 1");
    /// let request = ReadRequest::new(Operation::One, statement).ttl(std::time::Duration::ZERO);
    /// # let _ = request;
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> ReadRequest {
        self.options.ttl = Some(ttl);
        self
    }

    /// After the TTL, keep serving the stored value for up to `window` while one background
    /// task refreshes it (status [`Stale`](crate::CacheStatus::Stale)).
    ///
    /// ```
    /// # use momento_seaorm_cache::{Operation, ReadRequest};
    /// # use sea_orm::{DbBackend, Statement};
    /// # let statement = Statement::from_string(DbBackend::Sqlite, "SELECT 1");
    /// let request = ReadRequest::new(Operation::One, statement)
    ///     .stale_while_revalidate(std::time::Duration::from_secs(10));
    /// # let _ = request;
    /// ```
    pub fn stale_while_revalidate(mut self, window: Duration) -> ReadRequest {
        self.options.stale = Some(window);
        self
    }

    /// Store the result in `format` whatever the cache's (e.g. JSON for rows that need a
    /// self-describing format, such as `serde_json::Value`).
    ///
    /// ```
    /// # use momento_seaorm_cache::{Operation, ReadRequest, SerdeFormat};
    /// # use sea_orm::{DbBackend, Statement};
    /// # let statement = Statement::from_string(DbBackend::Sqlite, "SELECT 1");
    /// let request = ReadRequest::new(Operation::All, statement).serde_format(SerdeFormat::Json);
    /// # let _ = request;
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
