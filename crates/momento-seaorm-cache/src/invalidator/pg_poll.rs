//! One PostgreSQL poll: what was committed since the last one, bumped, and how far that is
//! caught up.
//!
//! ```text
//! t = now; target = pg_current_wal_insert_lsn()   every commit returned before t ends ≤ target
//! flush < target for a while, or someone waits?  ─► commit a transaction with
//!     synchronous_commit = local and an xid: the WAL is flushed past target (an asynchronous
//!     commit returns before its WAL is flushed, and logical decoding reads only flushed WAL)
//! rows = pg_logical_slot_peek_changes(...)        decodes up to the flush position, at least
//! tables ─► partitions/children → ancestors, base tables → views (pg_catalog)
//! row changes of row-precise tables ─► their rows' scopes (pg_rows, row_bumps)
//! catalog-only transaction, unknown relation, or DDL_CHECK_EVERY passed ─► reload the
//!     catalog; bump what DDL changed (old and new names)
//! bump ─► pg_replication_slot_advance ─► caught up as of the latest t whose target ≤ flush
//! ```

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use sqlx::postgres::PgConnection;
use sqlx::Row;
use tracing::{debug, warn};

use super::pg_catalog::{Name, PgCatalog};
use super::pg_rows::{images, RowData};
use super::postgres::database;
use super::row_bumps::{connect, key_columns, RowBumps, SchemaSource};
use super::test_decoding::{format_lsn, parse, parse_lsn, Line};
use super::{InvalidatorError, Settings, Shared};
use crate::catalog::Snapshot;

/// The catalog is compared at least this often (DDL in a transaction that also changes rows
/// is found by this check; DDL alone is found in the poll that decodes its commit).
pub(crate) const DDL_CHECK_EVERY: Duration = Duration::from_millis(500);

/// A probe waits at most this long for its WAL to be flushed by others (the WAL writer
/// flushes asynchronous commits only every `wal_writer_delay`, 200 ms by default) before the
/// invalidator flushes it.
const FLUSH_AFTER: Duration = Duration::from_millis(20);

/// Probes kept at most (one per poll; the oldest are dropped).
const MAX_PROBES: usize = 256;

/// A poll's start: every commit that returned before `at` ends at or before `lsn`.
#[derive(Debug, Clone, Copy)]
struct Probe {
    at: SystemTime,
    taken: Instant,
    lsn: u64,
}

/// Follows one slot over one connection.
pub(crate) struct Follower {
    conn: PgConnection,
    slot: String,
    catalog: PgCatalog,
    /// Where the table schemas are read (the statement path's catalog); `None` when it
    /// could not be opened: changes bump whole tables.
    schemas: Option<SchemaSource>,
    checked: Instant,
    probes: VecDeque<Probe>,
    /// The flush position the last read decoded to at least.
    flush: u64,
    /// When the last read took its probe.
    read_at: Instant,
    /// Where the slot is.
    advanced: u64,
    /// Where the slot may go once the next read moves it (everything before is bumped).
    advance_to: u64,
}

/// What one poll did.
pub(crate) enum Polled {
    /// Rows read (0: nothing new).
    Read(usize),
    /// Stopping: the batch was not finished.
    Stopping,
}

/// Moves the slot to `$3` (when given; everything before it is bumped), takes the probe (WAL
/// insert and flush positions) and peeks at the changes, in one round trip and in that order:
/// the peek's arguments depend on the probe, the probe on the advance.
const READ: &str = "\
WITH a AS MATERIALIZED (SELECT pg_replication_slot_advance($1, $3::pg_lsn) \
  FROM (SELECT 1) AS one WHERE $3::text IS NOT NULL), \
p AS MATERIALIZED (SELECT (SELECT count(*) FROM a) AS advanced, \
  pg_current_wal_insert_lsn()::text AS i, pg_current_wal_flush_lsn()::text AS f) \
SELECT p.i, p.f, c.lsn::text, c.data FROM p LEFT JOIN LATERAL \
  pg_logical_slot_peek_changes($1, NULL, CASE WHEN p.advanced >= 0 THEN $2::int END, \
  'include-xids', '1', 'skip-empty-xacts', '0', 'include-timestamp', '1') AS c ON true";

impl Follower {
    /// A follower of `slot` on `conn`, with the catalog read now.
    pub(crate) async fn new(
        mut conn: PgConnection,
        slot: &str,
        settings: &Settings,
    ) -> Result<Follower, InvalidatorError> {
        let catalog = PgCatalog::load(&mut conn, settings.schemas.as_ref())
            .await
            .map_err(database)?;
        Ok(Follower {
            conn,
            slot: slot.to_owned(),
            catalog,
            schemas: connect(
                &settings.url,
                sea_orm::DbBackend::Postgres,
                settings.schemas.as_ref(),
            )
            .await,
            checked: Instant::now(),
            probes: VecDeque::new(),
            flush: 0,
            read_at: Instant::now(),
            advanced: 0,
            advance_to: 0,
        })
    }

    /// Reads what was committed, bumps it and reports progress (the slot moves past it at
    /// the next read, or at [`finish`](Self::finish)).
    pub(crate) async fn poll(
        &mut self,
        shared: &Shared,
        settings: &Settings,
    ) -> Result<Polled, InvalidatorError> {
        if self.flush_due(shared) {
            flush_wal(&mut self.conn).await?;
        }
        let lines = self.read(settings).await?;
        let read = lines.len();
        let mut batch = Batch::default();
        for (lsn, data) in &lines {
            batch.line(*lsn, data);
        }
        // A commit is in the WAL a moment before other sessions see it: a reader in between
        // would store the old rows under the new generation. Bump once all are visible.
        if !batch.xids.is_empty() {
            visible(&mut self.conn, &batch.xids).await?;
        }
        let (tables, rows) = self.resolve(shared, &batch, settings).await?;
        let bumped = if batch.everything {
            shared
                .bump_all("a change whose table could not be read")
                .await
        } else {
            shared.bump_keys(&rows.keys(&shared.cache, &tables)).await
        };
        if bumped.is_err() {
            return Ok(Polled::Stopping);
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
            self.flush.max(batch.last_commit)
        } else {
            batch.last_commit
        };
        self.advance_to = self.advance_to.max(target);
        if complete {
            self.report(shared);
        }
        if !self.check_ddl(shared, settings).await? {
            return Ok(Polled::Stopping);
        }
        if batch.transactions > 0 {
            let rows = rows.precise_tables();
            debug!(slot = %self.slot, transactions = batch.transactions, ?tables, rows, "invalidated");
        }
        Ok(Polled::Read(read))
    }

    /// Whether a probe waited for WAL that was not flushed at the last read, and someone
    /// waits for it or it had waited [`FLUSH_AFTER`] by then (the flush position is only
    /// known as of the last read: under load other commits flush it soon after).
    pub(crate) fn flush_due(&self, shared: &Shared) -> bool {
        self.probes
            .iter()
            .find(|p| p.lsn > self.flush)
            .is_some_and(|p| {
                shared.awaited() || self.read_at.saturating_duration_since(p.taken) >= FLUSH_AFTER
            })
    }

    /// Moves the slot (when due), takes this poll's probe and reads the changes.
    async fn read(&mut self, settings: &Settings) -> Result<Vec<(u64, String)>, InvalidatorError> {
        let at = SystemTime::now();
        let taken = Instant::now();
        let advance = (self.advance_to > self.advanced).then(|| format_lsn(self.advance_to));
        let rows = sqlx::query(READ)
            .bind(&self.slot)
            .bind(settings.max_changes as i32)
            .bind(advance)
            .fetch_all(&mut self.conn)
            .await
            .map_err(database)?;
        self.advanced = self.advanced.max(self.advance_to);
        self.read_at = taken;
        let mut lines = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            if i == 0 {
                let lsn = |i| -> Result<u64, InvalidatorError> {
                    let text: String = row.try_get(i).map_err(database)?;
                    Ok(parse_lsn(&text).unwrap_or(0))
                };
                if self.probes.len() == MAX_PROBES {
                    self.probes.pop_front();
                }
                let insert = lsn(0)?;
                self.probes.push_back(Probe {
                    at,
                    taken,
                    lsn: insert,
                });
                self.flush = self.flush.max(lsn(1)?);
            }
            let lsn: Option<String> = row.try_get(2).map_err(database)?;
            let data: Option<String> = row.try_get(3).map_err(database)?;
            if let (Some(lsn), Some(data)) = (lsn, data) {
                lines.push((parse_lsn(&lsn).unwrap_or(0), data));
            }
        }
        Ok(lines)
    }

    /// Moves the slot past everything bumped (when stopping).
    pub(crate) async fn finish(&mut self) -> Result<(), InvalidatorError> {
        if self.advance_to > self.advanced {
            sqlx::query("SELECT pg_replication_slot_advance($1, $2::pg_lsn)")
                .bind(&self.slot)
                .bind(format_lsn(self.advance_to))
                .execute(&mut self.conn)
                .await
                .map_err(database)?;
            self.advanced = self.advance_to;
        }
        Ok(())
    }

    /// Caught up as of the latest probe whose position was decoded (everything up to
    /// `self.flush` was).
    fn report(&mut self, shared: &Shared) {
        let flush = self.flush;
        let mut latest = None;
        while let Some(p) = self.probes.front().copied() {
            if p.lsn > flush {
                break;
            }
            latest = Some(p.at);
            self.probes.pop_front();
        }
        if let Some(at) = latest {
            shared.caught_up(at, format_lsn(self.advance_to.max(flush)));
        }
    }

    /// Reads the catalog again; what DDL changed since the last read (the table schemas are
    /// then read again too).
    async fn reload(
        &mut self,
        shared: &Shared,
        settings: &Settings,
    ) -> Result<BTreeSet<Name>, InvalidatorError> {
        let newer = PgCatalog::load(&mut self.conn, settings.schemas.as_ref())
            .await
            .map_err(database)?;
        let changed = self.catalog.changed(&newer);
        if !changed.is_empty() {
            debug!(slot = %self.slot, ?changed, "the catalog changed");
            shared.cache.catalog().expire(sea_orm::DbBackend::Postgres);
        }
        self.catalog = newer;
        self.checked = Instant::now();
        Ok(changed)
    }

    /// The periodic comparison (DDL in a transaction that also changed rows): at most every
    /// [`DDL_CHECK_EVERY`], after the batch's bumps so it never delays them.
    async fn check_ddl(
        &mut self,
        shared: &Shared,
        settings: &Settings,
    ) -> Result<bool, InvalidatorError> {
        if self.checked.elapsed() < DDL_CHECK_EVERY {
            return Ok(true);
        }
        let changed = self.reload(shared, settings).await?;
        Ok(shared.bump(&names(changed, settings)).await.is_ok())
    }

    /// The generation names the batch's tables reach at table level, after reading the
    /// catalog again when the batch shows DDL (a transaction without row changes) or names a
    /// relation the catalog does not know; and the rows of the tables bumped row by row.
    async fn resolve(
        &mut self,
        shared: &Shared,
        batch: &Batch,
        settings: &Settings,
    ) -> Result<(BTreeSet<String>, RowBumps), InvalidatorError> {
        let unknown = batch.tables.iter().any(|(s, t)| !self.catalog.knows(s, t));
        let mut reached: BTreeSet<Name> = BTreeSet::new();
        if batch.catalog_only || unknown {
            reached.extend(self.reload(shared, settings).await?);
        }
        let rows = self.rows(shared, batch, settings).await;
        for (schema, table) in &batch.tables {
            let mut reach = BTreeSet::new();
            self.catalog.reach(schema, table, &mut reach);
            if rows.is_precise(&table.to_lowercase()) {
                reach.remove(&(schema.clone(), table.clone()));
            }
            reached.extend(reach);
        }
        if !batch.tables.is_empty() {
            self.catalog.opaque_views(&mut reached);
        }
        Ok((names(reached, settings), rows))
    }

    /// The batch's row changes as row images, each bumped row by row where the table's schema
    /// is row-precise in the statement path's catalog.
    async fn rows(&self, shared: &Shared, batch: &Batch, settings: &Settings) -> RowBumps {
        let snapshot: Option<std::sync::Arc<Snapshot>> = match &self.schemas {
            Some(source) if !batch.changes.is_empty() => {
                shared.cache.catalog().ensure(&source.db).await
            }
            _ => None,
        };
        let mut rows = RowBumps::default();
        for ((schema, table), row) in &batch.changes {
            if !settings.watches(schema) {
                continue;
            }
            let name = table.to_lowercase();
            let known = snapshot
                .as_deref()
                .filter(|_| {
                    let covers = self.schemas.as_ref().map(|s| &s.covers);
                    covers.is_some_and(|c| c.contains(&schema.to_lowercase()))
                })
                .and_then(|s| s.table(&name));
            let decoded = known.zip(row.as_ref()).and_then(|(known, row)| {
                let identity = self.catalog.identity(schema, table);
                images(row, identity, &key_columns(known))
            });
            match decoded {
                Some((before, after)) => {
                    rows.change(&name, known.map(|k| &**k), before.as_ref(), after.as_ref())
                }
                None => rows.table(&name),
            }
        }
        rows
    }
}

/// The generation names of the relations in followed schemas.
fn names(reached: BTreeSet<Name>, settings: &Settings) -> BTreeSet<String> {
    reached
        .into_iter()
        .filter(|(schema, _)| settings.watches(schema))
        .map(|(_, table)| table.to_lowercase())
        .collect()
}

/// Flushes the WAL past everything inserted so far: a transaction that wrote WAL (a
/// transactional logical message, which also gives it an xid) committed with
/// `synchronous_commit = local` waits until its commit record, and all before it, is flushed.
/// (An xid alone writes no WAL, and such a commit is not flushed.) The message decodes as a
/// transaction of its own, which is not taken for DDL.
async fn flush_wal(conn: &mut PgConnection) -> Result<(), InvalidatorError> {
    // One statement, one round trip: `set_config(.., true)` holds until the commit.
    sqlx::raw_sql(
        "DO $$ BEGIN PERFORM set_config('synchronous_commit', 'local', true); \
         PERFORM pg_logical_emit_message(true, 'momento_seaorm_cache', ''); END $$",
    )
    .execute(&mut *conn)
    .await
    .map_err(database)?;
    Ok(())
}

/// What one poll found.
#[derive(Debug, Default)]
struct Batch {
    /// `(schema, table)` of committed transactions, as stored.
    tables: BTreeSet<(String, String)>,
    /// Those of the transaction being read.
    open: BTreeSet<(String, String)>,
    /// Each change of the committed transactions: its table and the row it shows, if any.
    changes: Vec<((String, String), Option<RowData>)>,
    /// Those of the transaction being read.
    open_changes: Vec<((String, String), Option<RowData>)>,
    everything: bool,
    open_everything: bool,
    /// The transaction being read carries a logical message (ours: a WAL flush).
    open_message: bool,
    /// A committed transaction changed no table row: it changed only the catalog (DDL).
    catalog_only: bool,
    transactions: u64,
    last_commit: u64,
    commit_times: Vec<SystemTime>,
    /// Transaction ids of the committed transactions read.
    xids: Vec<i64>,
}

impl Batch {
    fn line(&mut self, lsn: u64, data: &str) {
        match parse(data) {
            Line::Begin => {
                self.open.clear();
                self.open_changes.clear();
                self.open_everything = false;
                self.open_message = false;
            }
            Line::Tables(tables, row) => {
                if let [table] = tables.as_slice() {
                    self.open_changes.push((table.clone(), row));
                } else {
                    // TRUNCATE of several tables: no rows.
                    let none = tables.iter().map(|t| (t.clone(), None));
                    self.open_changes.extend(none);
                }
                self.open.extend(tables);
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
                self.catalog_only |=
                    self.open.is_empty() && !self.open_everything && !self.open_message;
                self.tables.append(&mut self.open);
                self.changes.append(&mut self.open_changes);
                self.everything |= self.open_everything;
                self.open_everything = false;
                self.transactions += 1;
                self.last_commit = self.last_commit.max(lsn);
                if let Some(at) = at {
                    self.commit_times.push(at);
                }
            }
            Line::Other => self.open_message |= data.starts_with("message: "),
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
    let started = Instant::now();
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
