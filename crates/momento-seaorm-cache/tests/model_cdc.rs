//! The model-based differential test with a second writer: another service that writes only
//! through a plain SeaORM `DatabaseConnection` (not a `CachedConnection`), its writes reaching
//! the cache through change capture (`Invalidator::postgres` / `Invalidator::mysql`), while the
//! first writer writes through a `CachedConnection`. A seeded RNG picks writes and reads over a
//! small key space of integer, UUID and string (email) keys; after each plain write the test
//! waits for the invalidator (`caught_up_to_now`), then every cached read is compared with the
//! same read run directly on the database: 0 differences, on PostgreSQL (tables with
//! `REPLICA IDENTITY FULL` and one with `DEFAULT`) and MariaDB.
//!
//! Replay a failure with `MODEL_SEED=<seed> cargo test -p momento-seaorm-cache --all-features
//! --test model_cdc`; `MODEL_CDC_STEPS=<n>` changes the number of steps (default 300 per
//! database).
#![cfg(all(feature = "cdc-postgres", feature = "cdc-mysql"))]

mod cdc_common;
mod common;

use std::fmt::Write as _;

use cdc_common::Cdc;
use common::Db;
use momento_seaorm_cache::{
    CacheStatus, CachedConnection, LoadAll, Loader, Operation, ReadRequest,
};
use sea_orm::prelude::Uuid;
use sea_orm::{ConnectionTrait, JsonValue, SelectModel, Statement, Value};

/// Steps per database unless `MODEL_CDC_STEPS` says otherwise.
const STEPS: usize = 300;
/// Integer keys and group values: small, so writes and reads meet often.
const IDS: i32 = 12;
const GROUPS: i32 = 4;
/// UUID keys of `mc_accounts`.
const UUIDS: u128 = 10;
/// Emails (compared exactly: PostgreSQL deterministic `text`, MariaDB `utf8mb4_nopad_bin`).
const EMAILS: [&str; 6] = ["a@x", "b@x", "c@x", "d@x", "e@x", "f@x"];

fn uuid(i: u128) -> Value {
    Value::Uuid(Some(Uuid::from_u128(
        0x67e5_5044_10b1_426f_9247_bb68_0e5f_0000 + i,
    )))
}

/// A statement with `?` marks (rewritten to `$n` on PostgreSQL) and its values.
#[derive(Debug, Clone)]
struct Op {
    sql: String,
    values: Vec<Value>,
}

fn op(sql: impl Into<String>, values: Vec<Value>) -> Op {
    Op {
        sql: sql.into(),
        values,
    }
}

impl Op {
    fn statement(&self, kind: Db) -> Statement {
        let backend = match kind {
            Db::Postgres => sea_orm::DbBackend::Postgres,
            _ => sea_orm::DbBackend::MySql,
        };
        let mut sql = String::new();
        let mut n = 0;
        for c in self.sql.chars() {
            if c == '?' && kind == Db::Postgres {
                n += 1;
                let _ = write!(sql, "${n}");
            } else {
                sql.push(c);
            }
        }
        Statement::from_sql_and_values(backend, sql, self.values.clone())
    }
}

/// The integer-keyed tables: `mc_items` (FULL on PostgreSQL) and, on PostgreSQL,
/// `mc_plain` (`REPLICA IDENTITY DEFAULT`: old non-key values are not logged).
fn int_tables(kind: Db) -> Vec<&'static str> {
    match kind {
        Db::Postgres => vec!["mc_items", "mc_plain"],
        _ => vec!["mc_items"],
    }
}

fn ddl(kind: Db) -> Vec<String> {
    let mut out = Vec::new();
    for table in int_tables(kind) {
        let text = if kind == Db::Postgres {
            "TEXT"
        } else {
            "VARCHAR(100)"
        };
        out.push(format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY, grp INT NOT NULL, name {text} NOT NULL)"
        ));
    }
    if kind == Db::Postgres {
        out.push("ALTER TABLE mc_items REPLICA IDENTITY FULL".into());
        out.push("ALTER TABLE mc_plain REPLICA IDENTITY DEFAULT".into());
        out.push(
            "CREATE TABLE mc_accounts (id UUID PRIMARY KEY, email TEXT NOT NULL, n INT NOT NULL)"
                .into(),
        );
        out.push("ALTER TABLE mc_accounts REPLICA IDENTITY FULL".into());
    } else {
        out.push(
            "CREATE TABLE mc_accounts (id BINARY(16) PRIMARY KEY, email VARCHAR(100) \
             CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL, n INT NOT NULL)"
                .into(),
        );
    }
    out
}

/// The generator: a seeded RNG over the key space.
struct Gen {
    rng: fastrand::Rng,
    kind: Db,
}

impl Gen {
    fn id(&mut self) -> Value {
        Value::Int(Some(self.rng.i32(1..=IDS)))
    }
    fn grp(&mut self) -> Value {
        Value::Int(Some(self.rng.i32(1..=GROUPS)))
    }
    fn uuid(&mut self) -> Value {
        uuid(self.rng.u128(0..UUIDS))
    }
    fn email(&mut self) -> Value {
        EMAILS[self.rng.usize(..EMAILS.len())].into()
    }
    fn table(&mut self) -> &'static str {
        let tables = int_tables(self.kind);
        tables[self.rng.usize(..tables.len())]
    }

    /// A write (may fail on a duplicate key: then nothing changed).
    fn write(&mut self) -> Op {
        let t = self.table();
        let name: Value = format!("n{}", self.rng.u32(0..1000)).into();
        match self.rng.u32(0..11) {
            0 | 1 => op(
                format!("INSERT INTO {t} (id, grp, name) VALUES (?, ?, ?)"),
                vec![self.id(), self.grp(), name],
            ),
            2 => op(
                format!("UPDATE {t} SET name = ? WHERE id = ?"),
                vec![name, self.id()],
            ),
            3 => op(
                format!("UPDATE {t} SET grp = ? WHERE id = ?"),
                vec![self.grp(), self.id()],
            ),
            4 => op(
                format!("UPDATE {t} SET id = ? WHERE id = ?"),
                vec![self.id(), self.id()],
            ),
            5 => op(
                format!("DELETE FROM {t} WHERE grp = ? AND id > ?"),
                vec![self.grp(), self.id()],
            ),
            6 => op(
                "INSERT INTO mc_accounts (id, email, n) VALUES (?, ?, ?)",
                vec![self.uuid(), self.email(), self.grp()],
            ),
            7 => op(
                "UPDATE mc_accounts SET email = ? WHERE id = ?",
                vec![self.email(), self.uuid()],
            ),
            8 => op(
                "UPDATE mc_accounts SET n = n + 1 WHERE email = ?",
                vec![self.email()],
            ),
            9 => op(
                "UPDATE mc_accounts SET id = ? WHERE id = ?",
                vec![self.uuid(), self.uuid()],
            ),
            _ => op(
                "DELETE FROM mc_accounts WHERE email = ? OR id = ?",
                vec![self.email(), self.uuid()],
            ),
        }
    }

    /// A read, bound values included.
    fn read(&mut self) -> Op {
        let t = self.table();
        match self.rng.u32(0..7) {
            0 => op(
                format!("SELECT id, grp, name FROM {t} WHERE id = ?"),
                vec![self.id()],
            ),
            1 => op(
                format!("SELECT id, grp, name FROM {t} WHERE grp = ? ORDER BY id"),
                vec![self.grp()],
            ),
            2 => op(format!("SELECT id, grp, name FROM {t} ORDER BY id"), vec![]),
            3 => op(
                "SELECT email, n FROM mc_accounts WHERE id = ?",
                vec![self.uuid()],
            ),
            4 => op(
                "SELECT n FROM mc_accounts WHERE email = ? ORDER BY n",
                vec![self.email()],
            ),
            5 => op("SELECT email, n FROM mc_accounts ORDER BY email, n", vec![]),
            _ => op(
                format!("SELECT id, name FROM {t} WHERE id IN (?, ?) ORDER BY id"),
                vec![self.id(), self.id()],
            ),
        }
    }
}

/// What a run saw.
#[derive(Debug, Default)]
struct Tally {
    reads: usize,
    hits: usize,
    plain_writes: usize,
    cached_writes: usize,
    failed_writes: usize,
    differences: Vec<String>,
}

struct Run {
    cdc: Cdc,
    cached: CachedConnection,
    gen: Gen,
    seed: u64,
    tally: Tally,
    history: Vec<String>,
}

impl Run {
    fn remember(&mut self, line: String) {
        self.history.push(line);
        if self.history.len() > 12 {
            self.history.remove(0);
        }
    }

    /// A cached read compared with the database; a difference is recorded with the seed,
    /// the step and the operations before it.
    async fn check(&mut self, step: usize, read: &Op) {
        let statement = read.statement(self.cdc.kind);
        let request = ReadRequest::new(Operation::All, statement.clone());
        let cached = self
            .cdc
            .cache
            .read_statement(
                &self.cdc.db.conn,
                request,
                LoadAll::<SelectModel<JsonValue>>::new,
            )
            .await
            .expect("cached read");
        let truth: Vec<JsonValue> = LoadAll::<SelectModel<JsonValue>>::new(statement)
            .load(&self.cdc.db.conn)
            .await
            .expect("database read");
        self.tally.reads += 1;
        if cached.status == CacheStatus::Hit {
            self.tally.hits += 1;
        }
        if cached.value != truth {
            self.tally.differences.push(format!(
                "seed={} step #{step}: {read:?} ({:?}) returned {:?}, the database {:?}\n  \
                 before it:\n    {}",
                self.seed,
                cached.status,
                cached.value,
                truth,
                self.history.join("\n    ")
            ));
        }
        self.remember(format!("#{step} read {read:?}: {:?}", cached.status));
    }

    /// A write through the plain connection (`plain`) or the `CachedConnection`.
    async fn write(&mut self, step: usize, write: &Op, plain: bool) {
        let statement = write.statement(self.cdc.kind);
        let result = if plain {
            self.cdc.db.conn.execute_raw(statement).await
        } else {
            self.cached.execute_raw(statement).await
        };
        match &result {
            Ok(_) if plain => self.tally.plain_writes += 1,
            Ok(_) => self.tally.cached_writes += 1,
            Err(_) => self.tally.failed_writes += 1,
        }
        let who = if plain { "plain" } else { "cached" };
        let outcome = result.map(|r| r.rows_affected()).map_err(|e| e.to_string());
        self.remember(format!("#{step} {who} write {write:?}: {outcome:?}"));
    }
}

fn seed() -> u64 {
    match std::env::var("MODEL_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("MODEL_SEED={text} is not a u64")),
        Err(_) => fastrand::u64(..),
    }
}

fn steps() -> usize {
    std::env::var("MODEL_CDC_STEPS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(STEPS)
}

async fn model_with_a_cdc_writer(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "model_cdc").await else {
        return;
    };
    let seed = seed();
    let steps = steps();
    eprintln!("model_cdc seed={seed} ({kind:?}, {steps} steps)");
    for sql in ddl(kind) {
        cdc.write(&sql).await;
    }
    let cached = CachedConnection::new(cdc.db.conn.clone(), &cdc.cache);
    let mut run = Run {
        cdc,
        cached,
        gen: Gen {
            rng: fastrand::Rng::with_seed(seed),
            kind,
        },
        seed,
        tally: Tally::default(),
        history: Vec::new(),
    };
    // Seed rows, written plainly: ids 1..=8 of each integer table, 6 accounts.
    for table in int_tables(kind) {
        for id in 1..=8 {
            let grp = Value::Int(Some(1 + id % GROUPS));
            let sql = format!("INSERT INTO {table} (id, grp, name) VALUES (?, ?, 'seed')");
            run.write(0, &op(sql, vec![Value::Int(Some(id)), grp]), true)
                .await;
        }
    }
    for (i, email) in EMAILS.iter().enumerate() {
        let sql = "INSERT INTO mc_accounts (id, email, n) VALUES (?, ?, 0)";
        run.write(0, &op(sql, vec![uuid(i as u128), (*email).into()]), true)
            .await;
    }
    run.cdc.caught_up().await;
    let started = std::time::Instant::now();
    for step in 1..=steps {
        // Reads first, so the cache holds what the write may make stale.
        for _ in 0..4 {
            let read = run.gen.read();
            run.check(step, &read).await;
        }
        let write = run.gen.write();
        let plain = run.gen.rng.u32(0..3) != 0;
        run.write(step, &write, plain).await;
        if plain {
            run.cdc.caught_up().await;
        }
        for _ in 0..4 {
            let read = run.gen.read();
            run.check(step, &read).await;
        }
    }
    let tally = &run.tally;
    eprintln!(
        "model_cdc {kind:?} seed={seed}: {} reads ({} hits), {} plain writes, {} cached writes, \
         {} failed writes (duplicate keys), {} differences in {:.1?}",
        tally.reads,
        tally.hits,
        tally.plain_writes,
        tally.cached_writes,
        tally.failed_writes,
        tally.differences.len(),
        started.elapsed()
    );
    if let Some(first) = tally.differences.first() {
        panic!(
            "model_cdc {kind:?}: {} differences; the first:\n{first}\n  replay: MODEL_SEED={seed} \
             MODEL_CDC_STEPS={steps} cargo test -p momento-seaorm-cache --all-features --test \
             model_cdc",
            tally.differences.len()
        );
    }
    assert!(
        tally.plain_writes * 2 > tally.cached_writes,
        "most writes go through the plain connection: {tally:?}"
    );
    assert!(
        tally.hits * 5 > tally.reads,
        "the cache served hits (else nothing was compared): {tally:?}"
    );
    run.cdc.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_model_with_a_cdc_writer() {
    model_with_a_cdc_writer(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_model_with_a_cdc_writer() {
    model_with_a_cdc_writer(Db::MySql).await;
}
