//! Change-capture scenarios shared by `cdc_postgres.rs` and `cdc_mysql.rs`: writes made
//! outside the library (a plain `DatabaseConnection`, the command-line client, a trigger, an
//! `ON DELETE CASCADE`) invalidate cached reads once the invalidator has caught up, and an
//! invalidator killed in the middle of a stream of writes and restarted serves nothing stale
//! once it reports itself healthy.
#![allow(dead_code)]

pub mod edges;
pub mod load;
pub mod setup;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use momento_seaorm_cache::{
    CacheStatus, Invalidator, InvalidatorHandle, InvalidatorHealth, LoadAll, Loader, ModelCache,
    Operation, ReadRequest,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, JsonValue, SelectModel, Statement};

use crate::common::{Db, TestCache, TestDb};

/// Reads bypass the cache when the invalidator is further behind than this.
pub const MAX_LAG: Duration = Duration::from_millis(300);
/// No test waits longer than this for the invalidator.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn postgres_url() -> String {
    std::env::var("DATABASE_URL_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub fn mysql_url() -> String {
    std::env::var("DATABASE_URL_MYSQL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// A database of one's own with `parent`, `child` (ON DELETE CASCADE) and `audit` (kept by a
/// trigger on `parent`), a momento-lite cache gated by the invalidator's health, and the
/// invalidator, named after the test.
pub struct Cdc {
    pub db: TestDb,
    pub momento: TestCache,
    pub cache: ModelCache,
    pub health: InvalidatorHealth,
    pub kind: Db,
    /// The schema (PostgreSQL) or database (MariaDB) the test owns.
    pub schema: String,
    /// The slot name / position key.
    pub name: String,
    pub handle: Option<InvalidatorHandle>,
    _slot: SlotGuard,
}

/// Drops the test's replication slot however the test ends (a leftover slot keeps WAL).
struct SlotGuard {
    kind: Db,
    name: String,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if self.kind != Db::Postgres {
            return;
        }
        let sql = format!(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
             WHERE slot_name = '{}' AND NOT active",
            self.name
        );
        for _ in 0..50 {
            let left = std::process::Command::new("psql")
                .args([postgres_url().as_str(), "-tAc", &sql])
                .output();
            let gone = std::process::Command::new("psql")
                .args([
                    postgres_url().as_str(),
                    "-tAc",
                    &format!(
                        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{}'",
                        self.name
                    ),
                ])
                .output();
            match (left, gone) {
                (_, Ok(out)) if String::from_utf8_lossy(&out.stdout).trim() == "0" => return,
                (_, Err(_)) => return, // no psql: nothing more to do here
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        eprintln!("WARNING: replication slot {} was left behind", self.name);
    }
}

impl Cdc {
    /// `None` (skipped, with the reason and the fix) when the database is absent or not set
    /// up for change capture, and not required.
    pub async fn new(kind: Db, test: &str) -> Option<Cdc> {
        let db = TestDb::new(kind).await?;
        if !setup::capture_ready(&db).await {
            db.cleanup().await;
            return None;
        }
        let schema: String = {
            let sql = match kind {
                Db::Postgres => "SELECT current_schema()::text AS s",
                _ => "SELECT DATABASE() AS s",
            };
            let row = db
                .conn
                .query_one_raw(Statement::from_string(db.backend(), sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get("", "s").unwrap()
        };
        for sql in setup_sql(kind) {
            db.conn.execute_unprepared(sql).await.expect(sql);
        }
        let momento = TestCache::start("model-cache").await;
        let health = InvalidatorHealth::new(MAX_LAG);
        let gate = health.clone();
        let cache = momento
            .model_cache(|b| b.bypass_unless_caught_up(gate))
            .await;
        let name = format!("msc_{test}_{}", std::process::id());
        let mut cdc = Cdc {
            db,
            momento,
            cache,
            health,
            kind,
            schema,
            _slot: SlotGuard {
                kind,
                name: name.clone(),
            },
            name,
            handle: None,
        };
        cdc.handle = Some(cdc.start_invalidator().await);
        let handle = cdc.handle.as_ref().unwrap();
        if tokio::time::timeout(PATIENCE, handle.healthy())
            .await
            .is_err()
        {
            panic!("not healthy in time: {:?}", handle.status());
        }
        Some(cdc)
    }

    /// A new invalidator with this test's name and health (resumes where the last one was).
    pub async fn start_invalidator(&self) -> InvalidatorHandle {
        let builder = match self.kind {
            Db::Postgres => Invalidator::postgres(postgres_url(), &self.cache),
            Db::MySql => Invalidator::mysql(mysql_url(), &self.cache),
            Db::Sqlite => unreachable!("SQLite has no change capture"),
        };
        builder
            .name(self.name.clone())
            .health(self.health.clone())
            .watch_schemas([self.schema.clone()])
            .start()
            .await
            .expect("start the invalidator")
    }

    pub fn handle(&self) -> &InvalidatorHandle {
        self.handle.as_ref().expect("running")
    }

    /// Waits until every commit before now is invalidated; returns how long that took.
    pub async fn caught_up(&self) -> Duration {
        match tokio::time::timeout(PATIENCE, self.handle().caught_up_to_now()).await {
            Ok(took) => took.expect("caught up"),
            Err(_) => panic!("not caught up in time: {:?}", self.handle().status()),
        }
    }

    /// A cached read of `sql` (rows as JSON) and how it was served.
    pub async fn read(&self, sql: &str) -> (Vec<JsonValue>, CacheStatus) {
        read_with(&self.cache, &self.db.conn, sql).await
    }

    /// The same query straight from the database.
    pub async fn truth(&self, sql: &str) -> Vec<JsonValue> {
        let statement = Statement::from_string(self.db.backend(), sql);
        LoadAll::<SelectModel<JsonValue>>::new(statement)
            .load(&self.db.conn)
            .await
            .expect("database read")
    }

    /// A plain write, through the test's `DatabaseConnection` (not a `CachedConnection`).
    pub async fn write(&self, sql: &str) {
        self.db.conn.execute_unprepared(sql).await.expect(sql);
    }

    /// A write through the command-line client, as an operator would make it.
    pub fn write_with_cli(&self, sql: &str) {
        let output = match self.kind {
            Db::Postgres => std::process::Command::new("psql")
                .args([
                    postgres_url().as_str(),
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    &format!("SET search_path TO \"{}\"; {sql}", self.schema),
                ])
                .output(),
            _ => {
                let (user, host, port) = mysql_parts(&mysql_url());
                std::process::Command::new("mariadb")
                    .args([
                        "-h",
                        &host,
                        "-P",
                        &port,
                        "-u",
                        &user,
                        &self.schema,
                        "-e",
                        sql,
                    ])
                    .output()
            }
        }
        .expect("run the command-line client");
        assert!(
            output.status.success(),
            "client failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub async fn finish(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop().await;
        }
        if self.kind == Db::Postgres {
            Invalidator::drop_postgres_slot(&postgres_url(), &self.name)
                .await
                .expect("drop the slot");
        }
        let Cdc { db, .. } = self;
        db.cleanup().await;
    }
}

/// A cached read of `sql` (rows as JSON) through `cache`, and how it was served.
pub async fn read_with(
    cache: &ModelCache,
    conn: &DatabaseConnection,
    sql: &str,
) -> (Vec<JsonValue>, CacheStatus) {
    let statement = Statement::from_string(conn.get_database_backend(), sql);
    let request = ReadRequest::new(Operation::All, statement);
    let read = cache
        .read_statement(conn, request, LoadAll::<SelectModel<JsonValue>>::new)
        .await
        .expect("cached read");
    (read.value, read.status)
}

/// `mysql://user[:password]@host:port/db` → (user, host, port) for the `mariadb` client.
fn mysql_parts(url: &str) -> (String, String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (auth, rest) = rest.split_once('@').unwrap_or(("root", rest));
    let user = auth.split(':').next().unwrap_or("root").to_owned();
    let host_port = rest.split('/').next().unwrap_or("127.0.0.1:3306");
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "3306"));
    (user, host.to_owned(), port.to_owned())
}

fn setup_sql(kind: Db) -> Vec<&'static str> {
    match kind {
        Db::Postgres => vec![
            "CREATE TABLE parent (id INT PRIMARY KEY, name TEXT NOT NULL)",
            "CREATE TABLE child (id INT PRIMARY KEY, \
             parent_id INT NOT NULL REFERENCES parent(id) ON DELETE CASCADE, note TEXT NOT NULL)",
            "CREATE TABLE audit (id INT PRIMARY KEY, changes INT NOT NULL)",
            "INSERT INTO audit VALUES (1, 0)",
            "INSERT INTO parent VALUES (1, 'one'), (2, 'two')",
            "INSERT INTO child VALUES (10, 1, 'a'), (20, 2, 'b')",
            "CREATE FUNCTION count_parent_changes() RETURNS trigger AS $$ BEGIN \
             UPDATE audit SET changes = changes + 1 WHERE id = 1; RETURN NEW; END $$ \
             LANGUAGE plpgsql",
            "CREATE TRIGGER parent_audit AFTER INSERT OR UPDATE ON parent \
             FOR EACH ROW EXECUTE FUNCTION count_parent_changes()",
        ],
        _ => vec![
            "CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL) ENGINE=InnoDB",
            "CREATE TABLE child (id INT PRIMARY KEY, parent_id INT NOT NULL, \
             note VARCHAR(100) NOT NULL, \
             FOREIGN KEY (parent_id) REFERENCES parent(id) ON DELETE CASCADE) ENGINE=InnoDB",
            "CREATE TABLE audit (id INT PRIMARY KEY, changes INT NOT NULL) ENGINE=InnoDB",
            "INSERT INTO audit VALUES (1, 0)",
            "INSERT INTO parent VALUES (1, 'one'), (2, 'two')",
            "INSERT INTO child VALUES (10, 1, 'a'), (20, 2, 'b')",
            "CREATE TRIGGER parent_audit_insert AFTER INSERT ON parent FOR EACH ROW \
             UPDATE audit SET changes = changes + 1 WHERE id = 1",
            "CREATE TRIGGER parent_audit_update AFTER UPDATE ON parent FOR EACH ROW \
             UPDATE audit SET changes = changes + 1 WHERE id = 1",
        ],
    }
}

const PARENTS: &str = "SELECT id, name FROM parent ORDER BY id";
const CHILDREN: &str = "SELECT id, parent_id, note FROM child ORDER BY id";
const AUDIT: &str = "SELECT changes FROM audit WHERE id = 1";

fn names(rows: &[JsonValue]) -> Vec<String> {
    rows.iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Reads `sql` until it is a hit (the value is in the cache), for up to [`PATIENCE`].
///
/// Tests of this binary run side by side on one server, each in its own schema but with the
/// same table names, and generations are per unqualified table name: while another test
/// commits to its `parent` many times a second (the lag tests), this test's invalidator bumps
/// `parent` here too (wider, never staler), and a read over it keeps missing until that ends.
async fn cached(cdc: &Cdc, sql: &str) -> Vec<JsonValue> {
    let started = std::time::Instant::now();
    let mut misses = 0;
    while started.elapsed() < PATIENCE {
        let (rows, status) = cdc.read(sql).await;
        if status == CacheStatus::Hit {
            return rows;
        }
        misses += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "{sql} never became a hit in {PATIENCE:?} ({misses} reads); {:?}",
        cdc.cache.stats()
    );
}

fn report(kind: Db, what: &str, took: Duration) {
    println!(
        "cdc {kind:?}: {what}: caught up {:.1} ms after the commit returned",
        took.as_secs_f64() * 1e3
    );
}

pub async fn a_plain_connection_write_invalidates(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "plain").await else {
        return;
    };
    assert_eq!(names(&cached(&cdc, PARENTS).await), ["one", "two"]);
    if kind == Db::MySql {
        // The write lands in a new binlog file: the invalidator follows the rotation.
        cdc.write("FLUSH BINARY LOGS").await;
    }
    cdc.write("UPDATE parent SET name = 'uno' WHERE id = 1")
        .await;
    let took = cdc.caught_up().await;
    report(kind, "plain DatabaseConnection UPDATE", took);
    let (rows, status) = cdc.read(PARENTS).await;
    assert_eq!(names(&rows), ["uno", "two"], "{status:?}");
    assert_eq!(status, CacheStatus::Miss);
    // And a write to another table leaves `parent`'s generation alone. (Tests running in
    // parallel create tables of the same names in their own schemas, and generations are per
    // unqualified name: a few tries rule their DDL out.)
    let key = format!("{}:gen:parent", cdc.cache.prefix());
    let mut untouched = false;
    for i in 0..5 {
        let before = cdc.momento.raw(&key).await;
        cdc.write(&format!("UPDATE child SET note = 'z{i}' WHERE id = 10"))
            .await;
        cdc.caught_up().await;
        if cdc.momento.raw(&key).await == before {
            untouched = true;
            break;
        }
    }
    assert!(untouched, "a write to child bumped parent");
    cdc.read(PARENTS).await;
    assert_eq!(cdc.read(PARENTS).await.1, CacheStatus::Hit);
    cdc.finish().await;
}

pub async fn a_command_line_client_write_invalidates(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "cli").await else {
        return;
    };
    assert_eq!(names(&cached(&cdc, PARENTS).await), ["one", "two"]);
    cdc.write_with_cli("INSERT INTO parent VALUES (3, 'three'); DELETE FROM parent WHERE id = 2");
    let took = cdc.caught_up().await;
    report(kind, "command-line client INSERT + DELETE", took);
    let (rows, _) = cdc.read(PARENTS).await;
    assert_eq!(names(&rows), ["one", "three"]);
    cdc.finish().await;
}

pub async fn a_trigger_write_invalidates(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "trigger").await else {
        return;
    };
    let before = cached(&cdc, AUDIT).await;
    assert_eq!(before[0]["changes"], 0);
    // The write names only `parent`; the trigger changes `audit`.
    cdc.write("INSERT INTO parent VALUES (5, 'five')").await;
    let took = cdc.caught_up().await;
    report(kind, "trigger-made UPDATE", took);
    let (rows, status) = cdc.read(AUDIT).await;
    assert_eq!(rows[0]["changes"], 1, "{status:?}");
    assert_eq!(rows, cdc.truth(AUDIT).await);
    cdc.finish().await;
}

pub async fn a_cascade_delete_invalidates_the_child(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "cascade").await else {
        return;
    };
    assert_eq!(cached(&cdc, CHILDREN).await.len(), 2);
    // The write names only `parent`; the database deletes the child row.
    cdc.write("DELETE FROM parent WHERE id = 1").await;
    let took = cdc.caught_up().await;
    report(kind, "ON DELETE CASCADE into child", took);
    let (rows, status) = cdc.read(CHILDREN).await;
    assert_eq!(rows.len(), 1, "{status:?}: {rows:?}");
    assert_eq!(rows[0]["id"], 20);
    cdc.finish().await;
}

/// The invalidator is aborted (as a crash would end it) in the middle of a stream of writes
/// and started again under the same name: once it reports itself healthy, no read is stale.
pub async fn killed_mid_stream_and_restarted_nothing_stale(kind: Db) {
    let Some(mut cdc) = Cdc::new(kind, "restart").await else {
        return;
    };
    let written = Arc::new(AtomicI64::new(0));
    let writer = {
        let conn = cdc.db.conn.clone();
        let written = written.clone();
        tokio::spawn(async move {
            for i in 1..=300i64 {
                conn.execute_unprepared(&format!("UPDATE parent SET name = 'v{i}' WHERE id = 1"))
                    .await
                    .unwrap();
                written.store(i, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };
    let version = |rows: &[JsonValue]| -> i64 {
        rows[0]["name"]
            .as_str()
            .and_then(|n| n.strip_prefix('v'))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    // Reads keep the cache full while the invalidator follows.
    while written.load(Ordering::SeqCst) < 60 {
        cdc.read(PARENTS).await;
    }
    cdc.handle.take().unwrap().abort();
    let killed_at = Instant::now();
    // Writes go on with nobody invalidating; a read stores what it sees.
    while killed_at.elapsed() < Duration::from_millis(150) {
        cdc.read(PARENTS).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Past the lag bound, reads bypass the cache: the database answers.
    tokio::time::sleep(MAX_LAG).await;
    // Every write that returned before the read began (the writer goes on meanwhile).
    let floor = written.load(Ordering::SeqCst);
    let (rows, status) = cdc.read(PARENTS).await;
    assert_eq!(
        status,
        CacheStatus::Bypass,
        "a dead invalidator closes the cache"
    );
    assert!(version(&rows) >= floor, "read {rows:?} after write {floor}");

    cdc.handle = Some(cdc.start_invalidator().await);
    let restarted = Instant::now();
    if tokio::time::timeout(PATIENCE, cdc.handle().healthy())
        .await
        .is_err()
    {
        panic!("not healthy after the restart: {:?}", cdc.handle().status());
    }
    println!(
        "cdc {kind:?}: restarted; healthy {:.1} ms later (writes ongoing: {} of 300)",
        restarted.elapsed().as_secs_f64() * 1e3,
        written.load(Ordering::SeqCst)
    );
    // Every read from now on sees at least every write that returned before the invalidator
    // caught up to the moment the read was asked for.
    let mut checked = 0;
    let mut waits = Vec::new();
    while !writer.is_finished() {
        let floor = written.load(Ordering::SeqCst);
        waits.push(cdc.caught_up().await);
        let (rows, status) = cdc.read(PARENTS).await;
        assert!(
            version(&rows) >= floor,
            "stale after restart: read v{} ({status:?}) after v{floor} returned",
            version(&rows)
        );
        checked += 1;
    }
    writer.await.unwrap();
    cdc.caught_up().await;
    let (rows, _) = cdc.read(PARENTS).await;
    assert_eq!(version(&rows), 300);
    assert_eq!(rows, cdc.truth(PARENTS).await);
    waits.sort();
    if !waits.is_empty() {
        println!(
            "cdc {kind:?}: {checked} reads checked after the restart; caught_up_to_now p50 {:.1} ms, max {:.1} ms",
            waits[waits.len() / 2].as_secs_f64() * 1e3,
            waits[waits.len() - 1].as_secs_f64() * 1e3
        );
    }
    let status = cdc.handle().status();
    println!("cdc {kind:?}: status after the run: {status:?}");
    assert!(
        status.full_invalidations <= 1,
        "resumed, not restarted from scratch"
    );
    cdc.finish().await;
}

/// Commit-to-invalidation lag: a write through a plain connection, then the table's
/// generation key is watched (raw SDK) until it changes. Prints p50/p99.
pub async fn commit_to_invalidation_lag(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "lag").await else {
        return;
    };
    let key = format!("{}:gen:parent", cdc.cache.prefix());
    let mut lags = Vec::new();
    for i in 0..100 {
        let before = cdc.momento.raw(&key).await;
        let started = Instant::now();
        cdc.write(&format!("UPDATE parent SET name = 'lag{i}' WHERE id = 2"))
            .await;
        let committed = Instant::now();
        loop {
            if cdc.momento.raw(&key).await != before {
                break;
            }
            assert!(started.elapsed() < PATIENCE, "never invalidated");
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        lags.push(committed.elapsed());
        tokio::time::sleep(Duration::from_millis(fastrand_ms(i))).await;
    }
    lags.sort();
    let p = |q: f64| lags[((lags.len() as f64 * q) as usize).min(lags.len() - 1)];
    println!(
        "cdc {kind:?}: commit-to-invalidation lag over {} commits: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lags.len(),
        p(0.50).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        p(1.0).as_secs_f64() * 1e3
    );
    assert!(p(0.99) < Duration::from_secs(2));
    cdc.finish().await;
}

/// A spread of pauses between commits (0–19 ms), so commits land at every point of a poll.
fn fastrand_ms(i: u64) -> u64 {
    (i * 7919) % 20
}

/// A database user without replication rights gets an error that says what to grant.
pub async fn a_user_without_replication_rights_gets_a_clear_error(kind: Db) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    if !setup::capture_ready(&db).await {
        return db.cleanup().await;
    }
    let user = format!("msc_norepl_{}", std::process::id());
    let (create, drop, url) = match kind {
        Db::Postgres => {
            let url = postgres_url().replacen("postgres@", &format!("{user}@"), 1);
            (
                format!("CREATE ROLE {user} LOGIN"),
                format!("DROP ROLE {user}"),
                url,
            )
        }
        _ => {
            let url = mysql_url().replacen("root@", &format!("{user}@"), 1);
            (
                format!("CREATE USER '{user}'@'%'"),
                format!("DROP USER '{user}'@'%'"),
                url,
            )
        }
    };
    db.conn
        .execute_unprepared(&create)
        .await
        .expect("create user");
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    let builder = match kind {
        Db::Postgres => Invalidator::postgres(url, &cache),
        _ => Invalidator::mysql(url, &cache),
    };
    let error = builder
        .name(format!("msc_denied_{}", std::process::id()))
        .start()
        .await
        .expect_err("no replication rights");
    println!("cdc {kind:?}: {error}");
    let message = error.to_string();
    assert!(
        matches!(error, momento_seaorm_cache::InvalidatorError::Setup(_)),
        "{error:?}"
    );
    assert!(message.contains("REPLICATION"), "{message}");
    db.conn.execute_unprepared(&drop).await.expect("drop user");
    db.cleanup().await;
}

/// A name that cannot be a slot name is refused before anything starts.
pub async fn a_bad_name_is_refused(kind: Db) {
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    let builder = match kind {
        Db::Postgres => Invalidator::postgres(postgres_url(), &cache),
        _ => Invalidator::mysql(mysql_url(), &cache),
    };
    let error = builder
        .name("Not A Slot!")
        .start()
        .await
        .expect_err("bad name");
    assert!(error.to_string().contains("lowercase letters"), "{error}");
}
