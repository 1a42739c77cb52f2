//! Correctness while the load runs. Every row carries `version` (+1 on each write).
//!
//! * The write log: every write's row, the version it produced and when its response arrived.
//!   A read of a row sent at `t` must return at least the highest version whose write completed
//!   before `t - allowance`, where the allowance is the guarantee of the path the write took:
//!   - a write through the service, read back from the same process: 0 (the writer's own
//!     `CachedConnection` invalidates before it answers);
//!   - a write through the service, read from another process: the near cache's
//!     `max_staleness` (that process's near copy may live until the push or its bound);
//!   - a write on the plain connection (the second service): the invalidator's `max_lag` plus
//!     the near cache's `max_staleness` (change capture, then the push or the bound).
//!
//!   With the cache off every allowance is 0: the database is read every time.
//! * The checker: reads a row's version from the database at `t0`, waits the plain writers'
//!   allowance, then reads the row through the service; the service must answer at least the
//!   version the database already had at `t0`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde::Serialize;

use super::ops::{fetch, rows_of, user_id, Ctx};
use crate::mixed::Rng;

/// A row of the service's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKey {
    /// `svc_users.id`.
    User(u128),
    /// `svc_posts.id`.
    Post(i64),
}

/// The staleness a read may show: the guarantees of the cached service.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Bounds {
    /// The near cache's `max_staleness` (0 with the cache off).
    pub near_staleness: Duration,
    /// The invalidator's `max_lag` (0 with the cache off).
    pub max_lag: Duration,
}

impl Bounds {
    /// No staleness at all (the cache off).
    pub const STRICT: Bounds = Bounds {
        near_staleness: Duration::ZERO,
        max_lag: Duration::ZERO,
    };

    /// How long after a write completed a read may still miss it: `writer` is the process that
    /// wrote (`None`: the plain connection), `reader` the one read.
    pub fn allowance(&self, writer: Option<usize>, reader: usize) -> Duration {
        match writer {
            Some(w) if w == reader => Duration::ZERO,
            Some(_) => self.near_staleness,
            None => self.max_lag + self.near_staleness,
        }
    }
}

struct Entry {
    version: i64,
    done: Instant,
    writer: Option<usize>,
}

/// Every write of a run.
pub struct WriteLog {
    bounds: Bounds,
    start: Instant,
    rows: Mutex<HashMap<RowKey, Vec<Entry>>>,
}

impl WriteLog {
    /// An empty log judged by `bounds`; times in messages count from `start`.
    pub fn new(bounds: Bounds, start: Instant) -> WriteLog {
        WriteLog {
            bounds,
            start,
            rows: Mutex::new(HashMap::new()),
        }
    }

    /// The guarantees the log judges by.
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// A write of `key` that produced `version` completed now (`writer`: the app process, or
    /// `None` for the plain connection).
    pub fn record(&self, key: RowKey, version: i64, writer: Option<usize>) {
        let entry = Entry {
            version,
            done: Instant::now(),
            writer,
        };
        let mut rows = self.rows.lock().expect("write log lock");
        rows.entry(key).or_default().push(entry);
    }

    /// Writes recorded.
    pub fn writes(&self) -> usize {
        let rows = self.rows.lock().expect("write log lock");
        rows.values().map(Vec::len).sum()
    }

    /// Why a read of `key` answering `version`, sent at `sent` to process `reader`, is older
    /// than allowed; `None` when it is not.
    pub fn violation(
        &self,
        key: RowKey,
        version: i64,
        sent: Instant,
        reader: usize,
    ) -> Option<String> {
        let rows = self.rows.lock().expect("write log lock");
        let owed = rows
            .get(&key)?
            .iter()
            .filter(|e| e.done + self.bounds.allowance(e.writer, reader) <= sent)
            .max_by_key(|e| e.version)?;
        (version < owed.version).then(|| {
            format!(
                "{key:?} read from app{reader} at {:.3}s gave version {version}, but version {} \
                 (written by {}) completed at {:.3}s",
                (sent - self.start).as_secs_f64(),
                owed.version,
                owed.writer
                    .map_or("the plain connection".into(), |w| format!("app{w}")),
                (owed.done - self.start).as_secs_f64(),
            )
        })
    }
}

/// What the checker found.
#[derive(Debug, Default, Serialize)]
pub struct CheckerReport {
    /// Checks completed (database read, then service read).
    pub checks: u64,
    /// Service reads older than the database version read `wait_ms` before.
    pub stale: u64,
    /// Checks that failed (database or service error, no process up).
    pub errors: u64,
    /// How long each check waits between its database read and its service read.
    pub wait_ms: u64,
    /// The first few stale reads and errors.
    pub samples: Vec<String>,
}

#[derive(Default)]
struct Counts {
    checks: AtomicU64,
    stale: AtomicU64,
    errors: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl Counts {
    fn note(&self, counter: &AtomicU64, sample: String) {
        counter.fetch_add(1, Ordering::Relaxed);
        let mut samples = self.samples.lock().expect("samples lock");
        if samples.len() < 10 {
            samples.push(sample);
        }
    }
}

/// Runs `rate` checks per second for `secs` seconds on Zipf-chosen rows (users and posts
/// alternately), each waiting the plain writers' allowance between its two reads.
pub async fn run(ctx: Arc<Ctx>, mix: Arc<super::ops::Mix>, rate: f64, secs: f64) -> CheckerReport {
    let bounds = ctx.log.bounds();
    let wait = bounds.max_lag + bounds.near_staleness;
    let counts = Arc::new(Counts::default());
    let mut rng = Rng::new(0x5eed_c4ec);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..(rate * secs) as u64 {
        tokio::time::sleep_until((start + Duration::from_secs_f64(i as f64 / rate)).into()).await;
        let key = if i % 2 == 0 {
            RowKey::User(user_id(mix.user(&mut rng)).as_u128())
        } else {
            RowKey::Post(mix.post(&mut rng))
        };
        let (ctx, counts) = (ctx.clone(), counts.clone());
        tasks.spawn(async move { check_one(&ctx, key, wait, &counts).await });
    }
    while tasks.join_next().await.is_some() {}
    let samples = std::mem::take(&mut *counts.samples.lock().expect("samples lock"));
    CheckerReport {
        checks: counts.checks.load(Ordering::Relaxed),
        stale: counts.stale.load(Ordering::Relaxed),
        errors: counts.errors.load(Ordering::Relaxed),
        wait_ms: wait.as_millis() as u64,
        samples,
    }
}

async fn check_one(ctx: &Ctx, key: RowKey, wait: Duration, counts: &Counts) {
    let (sql, path, id): (_, _, sea_orm::Value) = match key {
        RowKey::User(u) => (
            "SELECT version FROM svc_users WHERE id = $1",
            format!("/users/{}", uuid::Uuid::from_u128(u)),
            uuid::Uuid::from_u128(u).into(),
        ),
        RowKey::Post(p) => (
            "SELECT version FROM svc_posts WHERE id = $1",
            format!("/posts/{p}"),
            p.into(),
        ),
    };
    let stmt = Statement::from_sql_and_values(DbBackend::Postgres, sql, vec![id]);
    let db_version = match ctx.db.query_one_raw(stmt).await {
        Ok(Some(row)) => row.try_get::<i64>("", "version").unwrap_or(i64::MAX),
        other => return counts.note(&counts.errors, format!("checker db read: {other:?}")),
    };
    tokio::time::sleep(wait).await;
    let Some((proc, base)) = ctx.targets.pick() else {
        return counts.note(&counts.errors, "checker: no process up".into());
    };
    let url = format!("{base}{path}");
    match fetch(ctx.http.get(&url)).await {
        Ok(body) => {
            counts.checks.fetch_add(1, Ordering::Relaxed);
            let got = rows_of(&body).first().map_or(-1, |&(_, v)| v);
            if got < db_version {
                let why = format!("checker: {url} on app{proc} gave {got}, database had {db_version} {} ms before", wait.as_millis());
                counts.note(&counts.stale, why);
            }
        }
        Err(e) => counts.note(&counts.errors, format!("checker {url}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_read_must_show_every_write_older_than_its_allowance() {
        let bounds = Bounds {
            near_staleness: 100 * MS,
            max_lag: 1_000 * MS,
        };
        let start = Instant::now();
        let log = WriteLog::new(bounds, start);
        let post = RowKey::Post(7);
        log.record(post, 2, Some(0));
        let done = Instant::now();
        // The writer's own process: no allowance at all.
        assert!(log.violation(post, 1, done + MS, 0).is_some());
        assert!(log.violation(post, 2, done + MS, 0).is_none());
        // Another process: the near cache's bound.
        assert!(log.violation(post, 1, done + 50 * MS, 1).is_none());
        assert!(log.violation(post, 1, done + 200 * MS, 1).is_some());
        // A plain-connection write: max_lag plus the near bound.
        let user = RowKey::User(1);
        log.record(user, 5, None);
        let done = Instant::now();
        assert!(log.violation(user, 4, done + 1_000 * MS, 0).is_none());
        assert!(log.violation(user, 4, done + 1_200 * MS, 0).is_some());
        // Newer than anything logged, or a row never written: fine.
        assert!(log.violation(user, 6, done + 5_000 * MS, 0).is_none());
        assert!(log.violation(RowKey::Post(8), 1, done, 0).is_none());
        assert_eq!(log.writes(), 2);
    }

    #[test]
    fn strict_bounds_allow_nothing() {
        assert_eq!(Bounds::STRICT.allowance(None, 0), Duration::ZERO);
        assert_eq!(Bounds::STRICT.allowance(Some(1), 0), Duration::ZERO);
    }
}
