//! The statements SeaORM runs, learned from SeaORM itself: a [`Recorder`] is a connection that
//! runs nothing and answers every query with no rows, and [`capture`] collects what a SeaORM
//! call sent to it.
//!
//! The front ends use it to key a cached read by exactly the statement the uncached call would
//! run (a page of a `Paginator`, a `Cursor`'s query, the count of `num_items`, an `exists`
//! query, a loader's batch) without copying how SeaORM builds it:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use momento_seaorm_cache::capture::{capture, Recorder};
//! use sea_orm::{DbBackend, JsonValue, SelectorRaw, SelectModel, Statement};
//! let raw = SelectorRaw::<SelectModel<JsonValue>>::from_statement::<JsonValue>(
//!     Statement::from_string(DbBackend::Sqlite, "SELECT id FROM users"),
//! );
//! let (rows, seen) = capture(raw.all(Recorder::of(DbBackend::Sqlite))).await;
//! assert_eq!(rows.unwrap(), Vec::<JsonValue>::new());
//! assert_eq!(seen[0].sql, "SELECT id FROM users");
//! # }
//! ```

use std::cell::RefCell;
use std::future::Future;
use std::sync::Mutex;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, Statement};

tokio::task_local! {
    /// The statements recorded by the capture in progress in this task.
    static SEEN: RefCell<Vec<Statement>>;
}

/// A connection that runs nothing: it records every query it is given (inside [`capture`]) and
/// answers it with no rows; it refuses executions.
///
/// One recorder per database backend lives for the whole program ([`Recorder::of`]), so SeaORM
/// values that borrow a connection for their lifetime (a `Paginator`) can hold one.
#[derive(Debug)]
pub struct Recorder {
    backend: DbBackend,
}

static MYSQL: Recorder = Recorder {
    backend: DbBackend::MySql,
};
static POSTGRES: Recorder = Recorder {
    backend: DbBackend::Postgres,
};
static SQLITE: Recorder = Recorder {
    backend: DbBackend::Sqlite,
};

impl Recorder {
    /// The recorder that builds statements for `backend`.
    ///
    /// ```
    /// use momento_seaorm_cache::capture::Recorder;
    /// use sea_orm::{ConnectionTrait, DbBackend};
    /// assert_eq!(Recorder::of(DbBackend::Postgres).get_database_backend(), DbBackend::Postgres);
    /// ```
    pub fn of(backend: DbBackend) -> &'static Recorder {
        match backend {
            DbBackend::MySql => &MYSQL,
            DbBackend::Postgres => &POSTGRES,
            DbBackend::Sqlite => &SQLITE,
            other => other_backend(other),
        }
    }

    fn record(&self, statement: Statement) -> Result<(), DbErr> {
        SEEN.try_with(|seen| seen.borrow_mut().push(statement))
            .map_err(|_| DbErr::Custom("a Recorder runs queries only inside capture()".into()))
    }
}

/// A recorder for a backend SeaORM added after this crate was written: made once, kept.
fn other_backend(backend: DbBackend) -> &'static Recorder {
    static OTHERS: Mutex<Vec<&'static Recorder>> = Mutex::new(Vec::new());
    let mut others = OTHERS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = others.iter().find(|r| r.backend == backend) {
        return found;
    }
    let made: &'static Recorder = Box::leak(Box::new(Recorder { backend }));
    others.push(made);
    made
}

/// Runs `call` (a SeaORM call on a [`Recorder`]) and returns its result with every statement it
/// sent to a recorder, in order. Captures do not see each other's statements, even when they
/// run concurrently.
pub async fn capture<T>(call: impl Future<Output = T>) -> (T, Vec<Statement>) {
    SEEN.scope(RefCell::new(Vec::new()), async {
        let result = call.await;
        let seen = SEEN.with(|seen| seen.take());
        (result, seen)
    })
    .await
}

fn refused() -> DbErr {
    DbErr::Custom("a Recorder runs no statements that change data".into())
}

#[async_trait::async_trait]
impl ConnectionTrait for Recorder {
    fn get_database_backend(&self) -> DbBackend {
        self.backend
    }

    async fn execute_raw(&self, _statement: Statement) -> Result<ExecResult, DbErr> {
        Err(refused())
    }

    async fn execute_unprepared(&self, _sql: &str) -> Result<ExecResult, DbErr> {
        Err(refused())
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.record(statement)?;
        Ok(None)
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.record(statement)?;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn captures_are_separate_and_outside_one_nothing_runs() {
        let recorder = Recorder::of(DbBackend::Postgres);
        let one = |sql: &'static str| async move {
            let statement = Statement::from_string(DbBackend::Postgres, sql);
            recorder.query_all_raw(statement).await
        };
        let (a, b) = tokio::join!(capture(one("SELECT 1")), capture(one("SELECT 2")));
        assert_eq!(a.1.len(), 1);
        assert_eq!(a.1[0].sql, "SELECT 1");
        assert_eq!(b.1[0].sql, "SELECT 2");
        assert!(one("SELECT 3").await.is_err());
        assert!(recorder.execute_unprepared("DELETE FROM t").await.is_err());
    }
}
