//! The databases of the mixed matrix: a fresh, dropped-after database of each kind (in-memory
//! SQLite, a PostgreSQL schema, a MariaDB database), and the change-capture invalidator that
//! watches it when the writer is another service.

use std::time::Duration;

use momento_seaorm_cache::{Invalidator, InvalidatorHandle, ModelCache};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::fixtures::{BenchResult, PgSchema};

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
    MySql,
}

impl DbKind {
    /// The name in the report and the JSON suffix (`sqlite` has none).
    pub fn name(self) -> &'static str {
        match self {
            DbKind::Sqlite => "sqlite",
            DbKind::Postgres => "postgres",
            DbKind::MySql => "mysql",
        }
    }
}

/// A database of our own on a server (or in memory), dropped by [`ScopedDb::drop_db`].
pub struct ScopedDb {
    pub kind: DbKind,
    /// A connection to it.
    pub conn: DatabaseConnection,
    /// The server's URL (the invalidator's), and the schema or database name it watches.
    pub url: String,
    pub name: String,
    pg: Option<PgSchema>,
    admin: Option<DatabaseConnection>,
}

impl ScopedDb {
    /// A fresh database; `Err(reason)` when the server is not reachable.
    pub async fn create(kind: DbKind, url: &str) -> Result<ScopedDb, String> {
        match kind {
            DbKind::Sqlite => {
                let mut options = ConnectOptions::new("sqlite::memory:");
                options.sqlx_logging(false);
                let conn = Database::connect(options)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(ScopedDb {
                    kind,
                    conn,
                    url: String::new(),
                    name: String::new(),
                    pg: None,
                    admin: None,
                })
            }
            DbKind::Postgres => {
                let schema = PgSchema::create(url).await?;
                Ok(ScopedDb {
                    kind,
                    conn: schema.conn.clone(),
                    url: url.to_owned(),
                    name: schema.name().to_owned(),
                    pg: Some(schema),
                    admin: None,
                })
            }
            DbKind::MySql => {
                let admin = connect(url).await.map_err(|e| e.to_string())?;
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0);
                let name = format!("bench_{}_{nanos}", std::process::id());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE `{name}`"))
                    .await
                    .map_err(|e| e.to_string())?;
                let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
                let conn = connect(&format!("{base}/{name}"))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(ScopedDb {
                    kind,
                    conn,
                    url: url.to_owned(),
                    name,
                    pg: None,
                    admin: Some(admin),
                })
            }
        }
    }

    /// Drops the database and everything in it.
    pub async fn drop_db(self) -> BenchResult<()> {
        if let Some(schema) = self.pg {
            schema.drop_schema().await?;
        }
        if let Some(admin) = self.admin {
            self.conn.close().await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE `{}`", self.name))
                .await?;
        }
        Ok(())
    }

    /// On PostgreSQL, logs the old values of every column of `tables` (row-precise change
    /// capture of non-key columns needs them); nothing elsewhere.
    pub async fn replica_identity_full(&self, tables: &[&str]) -> BenchResult<()> {
        if self.kind == DbKind::Postgres {
            for table in tables {
                self.conn
                    .execute_unprepared(&format!("ALTER TABLE {table} REPLICA IDENTITY FULL"))
                    .await?;
            }
        }
        Ok(())
    }

    /// Starts an invalidator on this database for `cache`, and waits until it is healthy.
    pub async fn invalidator(
        &self,
        cache: &ModelCache,
        slot: &str,
    ) -> BenchResult<InvalidatorHandle> {
        let builder = match self.kind {
            DbKind::Postgres => Invalidator::postgres(self.url.clone(), cache),
            DbKind::MySql => Invalidator::mysql(self.url.clone(), cache),
            DbKind::Sqlite => return Err("no change capture on SQLite".into()),
        };
        let handle = builder
            .name(slot.to_owned())
            .watch_schemas([self.name.as_str()])
            .start()
            .await
            .map_err(|e| format!("change capture: {e}"))?;
        handle
            .healthy()
            .await
            .map_err(|e| format!("change capture: {e}"))?;
        Ok(handle)
    }

    /// Stops `handle` and drops its replication slot (PostgreSQL).
    pub async fn stop_invalidator(&self, handle: InvalidatorHandle, slot: &str) {
        handle.stop().await;
        if self.kind == DbKind::Postgres {
            let _ = Invalidator::drop_postgres_slot(&self.url, slot).await;
        }
    }
}

async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(3))
        .acquire_timeout(Duration::from_secs(3))
        .sqlx_logging(false);
    Database::connect(options).await
}
