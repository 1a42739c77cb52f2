//! MariaDB / MySQL: the binary log in ROW format, streamed as a replica would (mysql_async).
//!
//! ```text
//! saved position (<prefix>:cdc:<name>:binlog in the cache) ── absent/purged ─► SHOW MASTER
//!    │ present                                     STATUS, invalidate everything, start there
//!    ▼
//! COM_BINLOG_DUMP from it ─► TABLE_MAP (db.table) ... XID / COMMIT / DDL query
//!    tables of each committed transaction, reached through the catalog (children of ON
//!    DELETE/UPDATE CASCADE and SET NULL foreign keys: InnoDB logs no rows for those; views
//!    over the tables; see binlog_batch, my_catalog) ─► one batch bump per burst
//!    ─► processed position ─► saved (throttled) ─► caught up as of every probe
//!       (SHOW MASTER STATUS at t: once processed ≥ that position, caught up as of t)
//! ```

use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{BinlogStreamRequest, Conn, Opts};
use tracing::{info, warn};

use super::binlog_follow::Follow;
use super::my_catalog::MyCatalog;
use super::{server_id_for, InvalidatorError, Settings, Shared};

/// How long a saved position lives in the cache (the generations' own lifetime).
const POSITION_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How often the processed position is saved at most.
pub(crate) const SAVE_EVERY: Duration = Duration::from_millis(100);
/// The server sends a heartbeat this often when idle; no event for 3× this is a dead link.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(1);
/// Commits bumped in one batch at most.
pub(crate) const MAX_BATCH: usize = 1000;

/// A binlog position: the file's sequence number and name, and the offset in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) file: String,
    pub(crate) pos: u64,
}

impl Position {
    fn sequence(&self) -> u64 {
        self.file
            .rsplit('.')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    pub(crate) fn at_least(&self, other: &Position) -> bool {
        (self.sequence(), self.pos) >= (other.sequence(), other.pos)
    }

    fn encode(&self) -> Vec<u8> {
        format!("{}\t{}", self.file, self.pos).into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Position> {
        let text = std::str::from_utf8(bytes).ok()?;
        let (file, pos) = text.split_once('\t')?;
        Some(Position {
            file: file.to_owned(),
            pos: pos.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

pub(crate) fn database(e: mysql_async::Error) -> InvalidatorError {
    if let mysql_async::Error::Server(server) = &e {
        match server.code {
            // ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR
            1227 | 1045 | 1044 => {
                return InvalidatorError::Setup(format!(
                    "{}: the invalidator's user needs GRANT REPLICATION SLAVE, REPLICATION \
                     CLIENT ON *.* TO <user> (MariaDB 10.5+: also BINLOG MONITOR), and SELECT \
                     on information_schema",
                    server.message
                ))
            }
            // ER_NO_BINARY_LOGGING
            1381 => return binlog_off(),
            _ => {}
        }
    }
    InvalidatorError::Database(e.to_string())
}

fn binlog_off() -> InvalidatorError {
    InvalidatorError::Setup(
        "the binary log is off: add log_bin = mariadb-bin, binlog_format = ROW and server_id \
         = 1 under [mysqld] (e.g. /etc/mysql/mariadb.conf.d/90-binlog.cnf) and restart the \
         server"
            .to_owned(),
    )
}

async fn connect(url: &str) -> Result<Conn, InvalidatorError> {
    let opts =
        Opts::from_url(url).map_err(|e| InvalidatorError::Config(format!("bad MySQL URL: {e}")))?;
    Conn::new(opts).await.map_err(database)
}

/// The binary log is on, in ROW format, and the user may read it.
async fn check(conn: &mut Conn) -> Result<(), InvalidatorError> {
    let row: Option<(String, String)> = conn
        .query_first("SELECT CAST(@@GLOBAL.log_bin AS CHAR), @@GLOBAL.binlog_format")
        .await
        .map_err(database)?;
    let (log_bin, format) = row.unwrap_or_default();
    if log_bin != "1" && !log_bin.eq_ignore_ascii_case("ON") {
        return Err(binlog_off());
    }
    if !format.eq_ignore_ascii_case("ROW") {
        return Err(InvalidatorError::Setup(format!(
            "binlog_format is {format} but change capture needs ROW (rows changed by triggers \
             and by statements are logged only then): set binlog_format = ROW under [mysqld] \
             and restart, or SET GLOBAL binlog_format = 'ROW' for new sessions"
        )));
    }
    master_position(conn).await?;
    Ok(())
}

/// The server's current binlog position (needs REPLICATION CLIENT / BINLOG MONITOR).
pub(crate) async fn master_position(conn: &mut Conn) -> Result<Position, InvalidatorError> {
    let row: Option<mysql_async::Row> = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .map_err(database)?;
    let row = row.ok_or_else(binlog_off)?;
    let file: Option<String> = row.get(0);
    let pos: Option<u64> = row.get(1);
    match (file, pos) {
        (Some(file), Some(pos)) => Ok(Position { file, pos }),
        _ => Err(binlog_off()),
    }
}

/// Waits until every transaction logged before `upto` is visible: MariaDB reports the binlog
/// position of a consistent snapshot (`binlog_snapshot_file`/`_position`), and everything
/// logged before it is visible in it. Servers without it (MySQL) get a 5 ms pause instead.
pub(crate) async fn visible(conn: &mut Conn, upto: &Position) -> Result<(), InvalidatorError> {
    let started = Instant::now();
    loop {
        let rows = snapshot_status(conn).await.map_err(database)?;
        let get = |name: &str| {
            rows.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let snapshot = match (get("binlog_snapshot_file"), get("binlog_snapshot_position")) {
            (Some(file), Some(pos)) if !file.is_empty() => Position {
                file,
                pos: pos.parse().unwrap_or(0),
            },
            _ => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                return Ok(());
            }
        };
        if snapshot.at_least(upto) {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(2) {
            warn!(%snapshot, %upto, "logged transactions still invisible after 2 s; invalidating anyway");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `binlog_snapshot_%` of a consistent snapshot, in one round trip (three statements).
async fn snapshot_status(conn: &mut Conn) -> Result<Vec<(String, String)>, mysql_async::Error> {
    let mut result = conn
        .query_iter(
            "START TRANSACTION WITH CONSISTENT SNAPSHOT; \
             SHOW SESSION STATUS LIKE 'binlog_snapshot_%'; COMMIT",
        )
        .await?;
    let mut rows = Vec::new();
    while !result.is_empty() {
        rows.extend(result.collect::<(String, String)>().await?);
    }
    Ok(rows)
}

pub(crate) async fn preflight(settings: &Settings) -> Result<(), InvalidatorError> {
    let mut conn = connect(&settings.url).await?;
    check(&mut conn).await?;
    let _ = conn.disconnect().await;
    Ok(())
}

fn position_key(shared: &Shared) -> String {
    format!("{}:cdc:{}:binlog", shared.cache.prefix(), shared.name)
}

async fn load_position(shared: &Shared) -> Option<Position> {
    match shared.cache.backend().get(&position_key(shared)).await {
        Ok(Some(bytes)) => Position::decode(&bytes),
        Ok(None) => None,
        Err(e) => {
            warn!(invalidator = %shared.name, error = %e, "could not read the saved binlog position");
            None
        }
    }
}

pub(crate) async fn save_position(shared: &Shared, position: &Position) -> bool {
    let backend = shared.cache.backend();
    let ttl = backend
        .max_ttl()
        .map_or(POSITION_TTL, |m| m.min(POSITION_TTL));
    let saved = backend
        .set(&position_key(shared), position.encode(), ttl)
        .await;
    if let Err(e) = &saved {
        warn!(invalidator = %shared.name, error = %e, "could not save the binlog position");
    }
    saved.is_ok()
}

pub(crate) async fn session(shared: &Shared, settings: &Settings) -> Result<(), InvalidatorError> {
    let mut control = connect(&settings.url).await?;
    check(&mut control).await?;
    let catalog = MyCatalog::load(&mut control, &shared.cache)
        .await
        .map_err(database)?;
    let mut start = load_position(shared).await;
    if start.is_none() {
        let now = master_position(&mut control).await?;
        if shared
            .bump_all("no saved binlog position to resume from")
            .await
            .is_err()
        {
            return Ok(());
        }
        save_position(shared, &now).await;
        start = Some(now);
    }
    let start = start.unwrap_or_else(|| Position {
        file: String::new(),
        pos: 4,
    });
    info!(invalidator = %shared.name, position = %start, "following the binary log");

    let mut streamer = connect(&settings.url).await?;
    let period = HEARTBEAT.as_nanos() as u64;
    streamer
        .query_drop(format!("SET @master_heartbeat_period = {period}"))
        .await
        .map_err(database)?;
    let server_id = settings
        .server_id
        .unwrap_or_else(|| server_id_for(&settings.name));
    let request = BinlogStreamRequest::new(server_id)
        .with_filename(start.file.as_bytes())
        .with_pos(start.pos);
    let mut stream = streamer.get_binlog_stream(request).await.map_err(|e| {
        if let mysql_async::Error::Server(s) = &e {
            if s.code == 1236 {
                // The saved file was purged: that gap cannot be followed.
                return InvalidatorError::Database(format!("binlog gap: {}", s.message));
            }
        }
        database(e)
    })?;

    let source = super::row_bumps::connect(
        &settings.url,
        sea_orm::DbBackend::MySql,
        settings.schemas.as_ref(),
    )
    .await;
    let rows = super::binlog_follow::RowSource {
        source,
        snapshot: None,
    };
    Follow::new(shared, settings, control, catalog, start, rows)
        .run(&mut stream)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_compare_by_file_sequence_then_offset() {
        let p = |file: &str, pos| Position {
            file: file.to_owned(),
            pos,
        };
        assert!(p("bin.000002", 4).at_least(&p("bin.000001", 9_000)));
        assert!(!p("bin.000001", 10).at_least(&p("bin.000001", 11)));
        assert_eq!(
            Position::decode(&p("bin.000003", 77).encode()),
            Some(p("bin.000003", 77))
        );
    }
}
