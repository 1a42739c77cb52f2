//! Following the binary log stream: events read in bursts, each burst's committed transactions
//! bumped once visible, the processed position saved (throttled) and the caught-up progress
//! reported against `SHOW MASTER STATUS` probes.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use mysql_async::binlog::events::{Event, EventData, QueryEvent, RowsEventData};
use mysql_async::binlog::EventType;
use mysql_async::{BinlogStream, Conn};
use tracing::debug;

use super::binlog_batch::{Bump, Pending};
use super::binlog_rows::image;
use super::binlog_statement::{classify, QueryKind};
use super::my_catalog::MyCatalog;
use super::mysql::{
    database, master_position, save_position, visible, Position, HEARTBEAT, MAX_BATCH, SAVE_EVERY,
};
use super::row_bumps::SchemaSource;
use super::{InvalidatorError, Settings, Shared};
use crate::catalog::Snapshot;

/// Probes kept at most.
const MAX_PROBES: usize = 64;

/// Where row events' tables get their schemas: the statement path's catalog of one database.
pub(crate) struct RowSource {
    /// `None` when it could not be opened: every change bumps its tables.
    pub(crate) source: Option<SchemaSource>,
    /// The catalog as of the last burst.
    pub(crate) snapshot: Option<Arc<Snapshot>>,
}

/// One session's state between events.
pub(crate) struct Follow<'a> {
    shared: &'a Shared,
    settings: &'a Settings,
    /// The connection for queries (the stream has its own).
    control: Conn,
    catalog: MyCatalog,
    /// Position after the last event read.
    seen: Position,
    /// Recorded up to here.
    processed: Position,
    /// Position after the last commit read (where a restart may resume).
    last_commit: Position,
    saved: Position,
    saved_at: Instant,
    probes: VecDeque<(SystemTime, Position)>,
    next_probe: Instant,
    in_transaction: bool,
    format_known: bool,
    pending: Pending,
    last_event: Instant,
    rows: RowSource,
}

impl<'a> Follow<'a> {
    /// Starts at `start` (saved and processed).
    pub(crate) fn new(
        shared: &'a Shared,
        settings: &'a Settings,
        control: Conn,
        catalog: MyCatalog,
        start: Position,
        rows: RowSource,
    ) -> Follow<'a> {
        Follow {
            shared,
            settings,
            control,
            catalog,
            seen: start.clone(),
            processed: start.clone(),
            last_commit: start.clone(),
            saved: start,
            saved_at: Instant::now(),
            probes: VecDeque::new(),
            next_probe: Instant::now(),
            in_transaction: false,
            format_known: false,
            pending: Pending::default(),
            last_event: Instant::now(),
            rows,
        }
    }

    /// Follows `stream` until stopped (`Ok`) or the link fails.
    pub(crate) async fn run(mut self, stream: &mut BinlogStream) -> Result<(), InvalidatorError> {
        loop {
            if self.shared.stopping() {
                if self.saved != self.processed {
                    save_position(self.shared, &self.processed).await;
                }
                return Ok(());
            }
            self.probe().await?;
            if self.last_event.elapsed() > HEARTBEAT * 3 {
                return Err(InvalidatorError::Database(
                    "no binlog event or heartbeat for 3 s: reconnecting".to_owned(),
                ));
            }
            let wait = self.next_probe.saturating_duration_since(Instant::now());
            let event = tokio::select! {
                event = stream.next() => event,
                _ = tokio::time::sleep(wait) => continue,
                _ = self.shared.probe.notified() => { self.next_probe = Instant::now(); continue }
                _ = self.shared.stopped() => continue,
            };
            if let Some(source) = &self.rows.source {
                self.rows.snapshot = self.shared.cache.catalog().ensure(&source.db).await;
            }
            self.burst(event, stream)?;
            if !self.pending.is_empty() && !self.bump().await? {
                return Ok(());
            }
            self.record().await;
        }
    }

    /// Probes the server's position when due; once processed reaches a probe, caught up as of
    /// the instant it was asked.
    async fn probe(&mut self) -> Result<(), InvalidatorError> {
        if Instant::now() >= self.next_probe {
            let asked = SystemTime::now();
            let now = master_position(&mut self.control).await?;
            self.probes.push_back((asked, now));
            if self.probes.len() > MAX_PROBES {
                self.probes.pop_front();
            }
            self.next_probe = Instant::now() + self.settings.probe_interval;
        }
        while let Some((asked, at)) = self.probes.front() {
            if !self.processed.at_least(at) {
                break;
            }
            self.shared.caught_up(*asked, self.processed.to_string());
            self.probes.pop_front();
        }
        Ok(())
    }

    /// Reads `first` and what is already here after it, so a burst is bumped in one batch.
    fn burst(
        &mut self,
        first: Option<Result<Event, mysql_async::Error>>,
        stream: &mut BinlogStream,
    ) -> Result<(), InvalidatorError> {
        let mut next = first;
        loop {
            let Some(event) = next else {
                return Err(InvalidatorError::Database(
                    "the server ended the binlog stream".to_owned(),
                ));
            };
            let event = event.map_err(|e| match &e {
                mysql_async::Error::Server(s) if s.code == 1236 => {
                    InvalidatorError::Database(format!("binlog gap: {}", s.message))
                }
                _ => database(e),
            })?;
            self.event(&event, stream);
            if self.pending.transactions as usize >= MAX_BATCH {
                return Ok(());
            }
            match stream.next().now_or_never() {
                Some(more) => next = more,
                None => return Ok(()),
            }
        }
    }

    /// One event: positions, tables, transaction boundaries.
    fn event(&mut self, event: &Event, stream: &BinlogStream) {
        self.last_event = Instant::now();
        let header = event.header();
        let kind = header.event_type_raw();
        let log_pos = u64::from(header.log_pos());
        let artificial = log_pos == 0 || kind == EventType::ROTATE_EVENT as u8;
        if !artificial && log_pos > self.seen.pos {
            self.seen.pos = log_pos;
        }
        let commits_before = self.pending.transactions;
        match event.read_data() {
            Ok(Some(EventData::RotateEvent(rotate))) => {
                // The first, artificial rotate names the file asked for, read before the
                // checksum algorithm is known (its name may end in the checksum bytes).
                let file = if self.format_known {
                    rotate.name().into_owned()
                } else {
                    self.seen.file.clone()
                };
                self.seen = Position {
                    file,
                    pos: rotate.position(),
                };
            }
            Ok(Some(EventData::FormatDescriptionEvent(_))) => self.format_known = true,
            Ok(Some(EventData::TableMapEvent(map))) => {
                self.pending.table(&map.database_name(), &map.table_name());
            }
            Ok(Some(EventData::XidEvent(_))) => {
                self.pending.commit();
                self.in_transaction = false;
            }
            Ok(Some(EventData::QueryEvent(query))) => self.query(&query),
            Ok(Some(EventData::RowsEvent(rows))) => self.row_event(&rows, stream),
            Ok(_) => {}
            Err(e) => debug!(kind, error = %e, "unreadable binlog event skipped"),
        }
        if self.pending.transactions > commits_before {
            self.last_commit = self.seen.clone();
        }
    }

    /// A row event: its rows as row images where its table is row-precise in the catalog of
    /// the home database and its columns are those the catalog read; else its table.
    fn row_event(&mut self, data: &RowsEventData<'_>, stream: &BinlogStream) {
        let Some(map) = stream.get_tme(data.table_id()) else {
            return; // Its TABLE_MAP was not seen: the table is bumped whole.
        };
        let node = (
            map.database_name().to_lowercase(),
            map.table_name().to_lowercase(),
        );
        if !self.settings.watches(&node.0) {
            return;
        }
        let rows = &mut self.pending.open_rows;
        let schema = self
            .rows
            .snapshot
            .as_deref()
            .filter(|_| {
                let covers = self.rows.source.as_ref().map(|s| &s.covers);
                covers.is_some_and(|c| c.contains(&node.0))
            })
            .and_then(|s| s.table(&node.1));
        let names = self
            .catalog
            .columns(&node)
            .filter(|names| names.len() as u64 == map.columns_count());
        let (Some(schema), Some(names)) = (schema, names) else {
            return rows.table(&node.1);
        };
        for row in data.rows(map) {
            let Ok((before, after)) = row else {
                return rows.table(&node.1);
            };
            let before = before.map(|r| image(&r, names, schema));
            let after = after.map(|r| image(&r, names, schema));
            if matches!(before, Some(None)) || matches!(after, Some(None)) {
                return rows.table(&node.1);
            }
            rows.change(
                &node.1,
                Some(schema),
                before.flatten().as_ref(),
                after.flatten().as_ref(),
            );
        }
    }

    /// A statement in the log: its tables, and what it does to the transaction around it.
    fn query(&mut self, query: &QueryEvent<'_>) {
        let sql = query.query();
        let kind = classify(&sql);
        if matches!(kind, QueryKind::Ddl | QueryKind::Dml) {
            let db = query.schema();
            self.pending
                .statement(&self.shared.cache, self.settings, &db, &sql, kind);
        }
        match kind {
            QueryKind::Begin => self.in_transaction = true,
            QueryKind::Savepoint => {}
            QueryKind::Dml if self.in_transaction => {}
            QueryKind::Ddl => {
                self.pending.ddl = true;
                self.pending.commit();
                self.in_transaction = false;
            }
            // The end of a transaction, an implicit commit, or a data change logged as a
            // statement outside BEGIN (it commits by itself).
            QueryKind::End | QueryKind::Admin | QueryKind::Dml => {
                self.pending.commit();
                self.in_transaction = false;
            }
        }
    }

    /// Bumps what the committed transactions read so far reach; `false` when stopping.
    async fn bump(&mut self) -> Result<bool, InvalidatorError> {
        // The binary log is written a moment before the engine makes the transaction
        // visible: a reader in between would store the old rows under the new generation.
        // Bump once the last commit read is visible.
        visible(&mut self.control, &self.last_commit).await?;
        if self.pending.ddl {
            self.shared
                .cache
                .catalog()
                .expire(sea_orm::DbBackend::MySql);
        }
        let bump = self
            .pending
            .resolve(
                &mut self.catalog,
                &mut self.control,
                &self.shared.cache,
                self.settings,
            )
            .await
            .map_err(database)?;
        let bumped = match &bump {
            Bump::Everything => {
                self.shared
                    .bump_all("a statement whose tables could not be read")
                    .await
            }
            Bump::Tables(tables) => {
                let keys = self.pending.rows.keys(&self.shared.cache, tables);
                self.shared.bump_keys(&keys).await
            }
        };
        if bumped.is_err() {
            return Ok(false);
        }
        let lags: Vec<Duration> = self.pending.received.iter().map(|r| r.elapsed()).collect();
        self.shared
            .transactions_done(self.pending.transactions, &lags);
        self.pending = self.pending.next();
        Ok(true)
    }

    /// Moves the processed position and saves it (at most every [`SAVE_EVERY`]).
    async fn record(&mut self) {
        self.processed = if !self.in_transaction && !self.pending.open() {
            self.seen.clone()
        } else {
            self.last_commit.clone()
        };
        if self.processed != self.saved
            && self.saved_at.elapsed() >= SAVE_EVERY
            && save_position(self.shared, &self.processed).await
        {
            self.saved = self.processed.clone();
            self.saved_at = Instant::now();
        }
    }
}
