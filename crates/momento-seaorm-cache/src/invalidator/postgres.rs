//! PostgreSQL: logical decoding through the SQL interface, polled over one ordinary connection.
//!
//! ```text
//! poll: t0 = now; flush = pg_current_wal_flush_lsn()
//!       rows = pg_logical_slot_peek_changes(slot, NULL, max, test_decoding options)
//!       tables of committed transactions ─► one batch bump (retried until recorded)
//!       pg_replication_slot_advance(slot, max(flush, last commit))   ◄─ only after the bump
//!       caught up as of t0 (every commit that returned before t0 is ≤ flush)
//! ```
//! Peek-then-advance means a crash between reading and bumping re-delivers the changes.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Row};
use tracing::{debug, info, warn};

use super::test_decoding::{format_lsn, parse, parse_lsn, Line};
use super::{InvalidatorError, Settings, Shared};

const PLUGIN: &str = "test_decoding";

fn database(e: sqlx::Error) -> InvalidatorError {
    if let sqlx::Error::Database(db) = &e {
        let message = db.message();
        if message.contains("must be superuser or replication role")
            || message.contains("permission denied to use replication slots")
        {
            return InvalidatorError::Setup(format!(
                "{message}: give the invalidator's role REPLICATION \
                 (ALTER ROLE <role> WITH REPLICATION) or connect as a superuser"
            ));
        }
        if message.contains("all replication slots are in use") {
            return InvalidatorError::Setup(format!(
                "{message}: raise max_replication_slots (ALTER SYSTEM SET max_replication_slots \
                 = 20; restart PostgreSQL) or drop unused slots \
                 (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots ...)"
            ));
        }
        if message.contains("logical decoding requires wal_level") {
            return wal_level_error("replica");
        }
    }
    InvalidatorError::Database(e.to_string())
}

fn wal_level_error(found: &str) -> InvalidatorError {
    InvalidatorError::Setup(format!(
        "wal_level is '{found}' but logical decoding needs wal_level = logical: run \
         ALTER SYSTEM SET wal_level = logical; (or set it in postgresql.conf) and restart \
         PostgreSQL"
    ))
}

async fn connect(url: &str) -> Result<PgConnection, InvalidatorError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| InvalidatorError::Config(format!("bad PostgreSQL URL: {e}")))?
        .application_name("momento-seaorm-cache invalidator")
        .options([("TimeZone", "UTC")])
        .disable_statement_logging();
    options.connect().await.map_err(database)
}

/// wal_level and the role's right to use slots.
async fn check(conn: &mut PgConnection) -> Result<(), InvalidatorError> {
    let level: String = sqlx::query_scalar("SHOW wal_level")
        .fetch_one(&mut *conn)
        .await
        .map_err(database)?;
    if level != "logical" {
        return Err(wal_level_error(&level));
    }
    let allowed: Option<bool> = sqlx::query_scalar(
        "SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(database)?;
    if allowed != Some(true) {
        return Err(InvalidatorError::Setup(
            "the role may not use replication slots: ALTER ROLE <role> WITH REPLICATION \
             (or connect as a superuser)"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Checks the setup before the task starts, so `start()` can say what is wrong.
pub(crate) async fn preflight(settings: &Settings) -> Result<(), InvalidatorError> {
    let mut conn = connect(&settings.url).await?;
    check(&mut conn).await?;
    slot_state(&mut conn, &settings.name).await?;
    let _ = conn.close().await;
    Ok(())
}

/// The slot, if it exists and is usable: `Ok(None)` when it must be (re)created.
async fn slot_state(conn: &mut PgConnection, slot: &str) -> Result<Option<()>, InvalidatorError> {
    let row = sqlx::query(
        "SELECT plugin::text, database::text, current_database()::text, \
         coalesce(wal_status, '')::text, slot_type::text \
         FROM pg_replication_slots WHERE slot_name = $1",
    )
    .bind(slot)
    .fetch_optional(&mut *conn)
    .await
    .map_err(database)?;
    let Some(row) = row else { return Ok(None) };
    let plugin: Option<String> = row.try_get(0).map_err(database)?;
    let db: Option<String> = row.try_get(1).map_err(database)?;
    let current: String = row.try_get(2).map_err(database)?;
    let wal_status: String = row.try_get(3).map_err(database)?;
    let kind: String = row.try_get(4).map_err(database)?;
    if kind != "logical" || plugin.as_deref() != Some(PLUGIN) {
        return Err(InvalidatorError::Setup(format!(
            "replication slot {slot:?} exists but is a {kind} slot with plugin {plugin:?}, not \
             a logical {PLUGIN} slot: choose another name, or drop it \
             (SELECT pg_drop_replication_slot('{slot}'))"
        )));
    }
    if db.as_deref() != Some(current.as_str()) {
        return Err(InvalidatorError::Setup(format!(
            "replication slot {slot:?} belongs to database {db:?}, not {current:?}: choose \
             another name"
        )));
    }
    if wal_status == "lost" {
        return Ok(None);
    }
    Ok(Some(()))
}

/// One connection's worth of following; `Ok` when stopped.
pub(crate) async fn session(shared: &Shared, settings: &Settings) -> Result<(), InvalidatorError> {
    let slot = settings.name.as_str();
    let mut conn = connect(&settings.url).await?;
    check(&mut conn).await?;
    let resumed = slot_state(&mut conn, slot).await?.is_some();
    if !resumed {
        // Drop a lost slot (its WAL is gone), then make one: what was committed before it is
        // not known, so everything is invalidated before the first report of health.
        sqlx::query(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
             WHERE slot_name = $1",
        )
        .bind(slot)
        .execute(&mut conn)
        .await
        .map_err(database)?;
        sqlx::query("SELECT pg_create_logical_replication_slot($1, $2)")
            .bind(slot)
            .bind(PLUGIN)
            .execute(&mut conn)
            .await
            .map_err(database)?;
        info!(slot, "created the replication slot");
        if shared.bump_all("a new replication slot").await.is_err() {
            return Ok(());
        }
    } else {
        info!(slot, "resuming from the replication slot");
    }
    let mut advanced: u64 = 0;
    loop {
        if shared.stopping() {
            return Ok(());
        }
        let started = SystemTime::now();
        let flush: String = sqlx::query_scalar("SELECT pg_current_wal_flush_lsn()::text")
            .fetch_one(&mut conn)
            .await
            .map_err(database)?;
        let flush = parse_lsn(&flush).unwrap_or(0);
        let rows = sqlx::query(
            "SELECT lsn::text, data FROM pg_logical_slot_peek_changes($1, NULL, $2, \
             'include-xids', '1', 'skip-empty-xacts', '1', 'include-timestamp', '1')",
        )
        .bind(slot)
        .bind(settings.max_changes as i32)
        .fetch_all(&mut conn)
        .await
        .map_err(database)?;
        let read = rows.len();
        let mut batch = Batch::default();
        for row in &rows {
            let lsn: String = row.try_get(0).map_err(database)?;
            let data: String = row.try_get(1).map_err(database)?;
            batch.line(settings, parse_lsn(&lsn).unwrap_or(0), &data);
        }
        // A commit is in the WAL a moment before other sessions see it: a reader in between
        // would store the old rows under the new generation. Bump once all are visible.
        if !batch.xids.is_empty() {
            visible(&mut conn, &batch.xids).await?;
        }
        if batch.everything {
            if shared
                .bump_all("a change whose table could not be read")
                .await
                .is_err()
            {
                return Ok(());
            }
        } else if shared.bump(&batch.tables).await.is_err() {
            return Ok(());
        }
        let recorded = SystemTime::now();
        let lags: Vec<Duration> = batch
            .commit_times
            .iter()
            .filter_map(|at| recorded.duration_since(*at).ok())
            .collect();
        shared.transactions_done(batch.transactions, &lags);
        // All of the WAL up to `flush` was decoded unless the row limit cut the read short.
        let complete = (read as i64) < settings.max_changes;
        let target = if complete {
            flush.max(batch.last_commit)
        } else {
            batch.last_commit
        };
        if target > advanced {
            sqlx::query("SELECT pg_replication_slot_advance($1, $2::pg_lsn)")
                .bind(slot)
                .bind(format_lsn(target))
                .execute(&mut conn)
                .await
                .map_err(database)?;
            advanced = target;
        }
        if complete {
            shared.caught_up(started, format_lsn(advanced.max(flush)));
        }
        if batch.transactions > 0 {
            debug!(slot, transactions = batch.transactions, tables = ?batch.tables, "invalidated");
        }
        if read == 0 {
            shared.pause(settings.poll_interval).await;
        }
    }
}

/// What one poll found.
#[derive(Debug, Default)]
struct Batch {
    /// Tables of committed transactions.
    tables: BTreeSet<String>,
    /// Tables of the transaction being read.
    open: BTreeSet<String>,
    everything: bool,
    open_everything: bool,
    transactions: u64,
    last_commit: u64,
    commit_times: Vec<SystemTime>,
    /// Transaction ids of the committed transactions read.
    xids: Vec<i64>,
}

impl Batch {
    fn line(&mut self, settings: &Settings, lsn: u64, data: &str) {
        match parse(data) {
            Line::Begin => {
                self.open.clear();
                self.open_everything = false;
            }
            Line::Tables(tables) => {
                for (schema, table) in tables {
                    if settings.watches(&schema) {
                        self.open.insert(table.to_lowercase());
                    }
                }
            }
            Line::Unreadable => {
                warn!(
                    line = data,
                    "unreadable change: everything will be invalidated"
                );
                self.open_everything = true;
            }
            Line::Commit(xid, at) => {
                if let Some(xid) = xid {
                    self.xids.push(i64::from(xid));
                }
                self.tables.append(&mut self.open);
                self.everything |= self.open_everything;
                self.open_everything = false;
                self.transactions += 1;
                self.last_commit = self.last_commit.max(lsn);
                if let Some(at) = at {
                    self.commit_times.push(at);
                }
            }
            Line::Other => {}
        }
    }
}

/// Waits until every transaction of `xids` (32-bit ids, as decoded) is visible to a new
/// snapshot, i.e. no longer in progress for other sessions.
async fn visible(conn: &mut PgConnection, xids: &[i64]) -> Result<(), InvalidatorError> {
    // Extends each 32-bit id with the epoch of the snapshot's xmax (the previous epoch for ids
    // above xmax's low half: they were assigned before the last wrap-around).
    const QUERY: &str = "WITH s AS (SELECT txid_current_snapshot() AS snap), \
        e AS (SELECT snap, txid_snapshot_xmax(snap) AS xmax FROM s) \
        SELECT count(*) FROM e, unnest($1::bigint[]) AS x \
        WHERE NOT txid_visible_in_snapshot(CASE WHEN x < e.xmax % 4294967296 \
          THEN e.xmax / 4294967296 * 4294967296 + x \
          ELSE (e.xmax / 4294967296 - 1) * 4294967296 + x END, e.snap)";
    let started = std::time::Instant::now();
    loop {
        let invisible: i64 = sqlx::query_scalar(QUERY)
            .bind(xids)
            .fetch_one(&mut *conn)
            .await
            .map_err(database)?;
        if invisible == 0 {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(2) {
            warn!(
                invisible,
                "committed transactions still invisible after 2 s; invalidating anyway"
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Drops `slot` if it exists.
pub(crate) async fn drop_slot(url: &str, slot: &str) -> Result<bool, InvalidatorError> {
    let mut conn = connect(url).await?;
    let mut tries = 0;
    loop {
        let dropped = sqlx::query(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
             WHERE slot_name = $1",
        )
        .bind(slot)
        .execute(&mut conn)
        .await;
        match dropped {
            Ok(done) => {
                let _ = conn.close().await;
                return Ok(done.rows_affected() > 0);
            }
            // Active for a moment (an aborted poll's backend still finishing): try again.
            Err(e) if tries < 50 && e.to_string().contains("is active") => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(database(e)),
        }
    }
}
