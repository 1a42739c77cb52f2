//! PostgreSQL: logical decoding through the SQL interface, polled over one ordinary connection
//! (the setup checks, the slot, the session; one poll is in [`pg_poll`](super::pg_poll)).
//! Peek-then-advance means a crash between reading and bumping re-delivers the changes.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Row};
use tracing::info;

use super::pg_poll::{Follower, Polled};
use super::{InvalidatorError, Settings, Shared};

const PLUGIN: &str = "test_decoding";

pub(crate) fn database(e: sqlx::Error) -> InvalidatorError {
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
    let mut follower = Follower::new(conn, slot, settings).await?;
    loop {
        if shared.stopping() {
            return follower.finish().await;
        }
        match follower.poll(shared, settings).await? {
            Polled::Stopping => return Ok(()),
            Polled::Read(0) if !follower.flush_due(shared) => {
                shared.pause(settings.poll_interval).await
            }
            Polled::Read(_) => {}
        }
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
