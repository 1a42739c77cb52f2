//! The database's own description of its tables (its catalog), read per process and kept: the
//! facts that decide whether what the SQL parser concluded about a write can be trusted.
//!
//! **Precision only where the catalog proves it.** Row-level invalidation trusts a statement's
//! text only for base tables the catalog has, with no trigger, rule, generated column, conflict
//! clause, partition or inheritance family; and it tracks exactly the catalog's integer,
//! UUID and exactly compared text columns (`kind.rs`), so every process (and every deploy of every process) tracks the same ones whatever
//! entity version it runs. A write also reaches, at table level, every table the catalog
//! relates to the one it names: views over it, the tables under a view, partitions, parents
//! and children, tables whose foreign keys cascade from it.
//!
//! The catalog is read on first use through the application's connection (PostgreSQL's
//! `pg_catalog`, `information_schema` on MariaDB/MySQL, `sqlite_master` and pragmas on SQLite),
//! re-read after DDL through a [`CachedConnection`](crate::CachedConnection) and at the latest
//! [`MAX_AGE`] after it was read. While none is held (it cannot be read, or DDL just ran in a
//! transaction), writes invalidate everything: nothing shows what else they reach.

mod kind;
mod load;
mod mysql;
mod postgres;
mod sqlite;
mod table;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend};

pub(crate) use kind::{Kind, UuidForm};
pub(crate) use table::{Snapshot, TableSchema};

/// How long a catalog is used before it is read again (DDL run elsewhere is seen by then).
pub(crate) const MAX_AGE: Duration = Duration::from_secs(30);

/// After a failed read, how long before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// One database's catalog as this process last read it.
#[derive(Debug, Default)]
struct Slot {
    current: RwLock<Option<(Arc<Snapshot>, Instant)>>,
    /// When the last read failed.
    failed: RwLock<Option<Instant>>,
    loading: tokio::sync::Mutex<()>,
}

/// The catalogs of the databases this process writes and reads through the cache, one per
/// dialect.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    slots: [Slot; 3],
    ids: AtomicU64,
}

fn slot_of(backend: DbBackend) -> usize {
    match backend {
        DbBackend::MySql => 0,
        DbBackend::Sqlite => 1,
        _ => 2,
    }
}

impl Catalog {
    /// The catalog last read for `backend`, however old (`None` if none is held).
    pub(crate) fn current(&self, backend: DbBackend) -> Option<Arc<Snapshot>> {
        let slot = &self.slots[slot_of(backend)];
        let current = slot.current.read().unwrap_or_else(|e| e.into_inner());
        current.as_ref().map(|(snapshot, _)| snapshot.clone())
    }

    /// The catalog of `db`'s database, read through `db` if none is held or it is older than
    /// [`MAX_AGE`]. While another task reads it, the one held is returned, or, when none is,
    /// the one that task reads (so concurrent first reads agree on what they depend on).
    pub(crate) async fn ensure<C: ConnectionTrait>(&self, db: &C) -> Option<Arc<Snapshot>> {
        let backend = db.get_database_backend();
        let slot = &self.slots[slot_of(backend)];
        if let Some(fresh) = self.fresh(slot) {
            return Some(fresh);
        }
        let _loading = match slot.loading.try_lock() {
            Ok(loading) => loading,
            Err(_) => match self.current(backend) {
                Some(held) => return Some(held),
                None => slot.loading.lock().await,
            },
        };
        if let Some(fresh) = self.fresh(slot) {
            return Some(fresh);
        }
        let failed = *slot.failed.read().unwrap_or_else(|e| e.into_inner());
        if failed.is_some_and(|at| at.elapsed() < RETRY_AFTER) {
            return self.current(backend);
        }
        self.load(slot, db).await
    }

    /// The catalog held for `backend` if it is younger than [`MAX_AGE`].
    pub(crate) fn fresh_for(&self, backend: DbBackend) -> Option<Arc<Snapshot>> {
        self.fresh(&self.slots[slot_of(backend)])
    }

    fn fresh(&self, slot: &Slot) -> Option<Arc<Snapshot>> {
        let current = slot.current.read().unwrap_or_else(|e| e.into_inner());
        match current.as_ref() {
            Some((snapshot, at)) if at.elapsed() < MAX_AGE => Some(snapshot.clone()),
            _ => None,
        }
    }

    async fn load<C: ConnectionTrait>(&self, slot: &Slot, db: &C) -> Option<Arc<Snapshot>> {
        let backend = db.get_database_backend();
        let facts = match backend {
            DbBackend::MySql => mysql::facts(db).await,
            DbBackend::Sqlite => sqlite::facts(db).await,
            _ => postgres::facts(db).await,
        };
        match facts {
            Ok(facts) => {
                let id = self.ids.fetch_add(1, Ordering::Relaxed) + 1;
                let snapshot = Arc::new(Snapshot::build(id, facts));
                *slot.current.write().unwrap_or_else(|e| e.into_inner()) =
                    Some((snapshot.clone(), Instant::now()));
                *slot.failed.write().unwrap_or_else(|e| e.into_inner()) = None;
                Some(snapshot)
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    "could not read the database catalog: writes invalidate everything until it can be read"
                );
                *slot.failed.write().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                self.current(backend)
            }
        }
    }

    /// Forgets every catalog (after DDL whose database is not known here).
    pub(crate) fn expire_all(&self) {
        for backend in [DbBackend::MySql, DbBackend::Sqlite, DbBackend::Postgres] {
            self.expire(backend);
        }
    }

    /// Forgets `backend`'s catalog (after DDL): until it is read again, writes invalidate
    /// everything and reads depend on whole tables.
    pub(crate) fn expire(&self, backend: DbBackend) {
        let slot = &self.slots[slot_of(backend)];
        *slot.current.write().unwrap_or_else(|e| e.into_inner()) = None;
        *slot.failed.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
