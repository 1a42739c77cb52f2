//! The invalidator as a program, started as a real child process against momento-lite and
//! PostgreSQL / MariaDB. The test itself plays a second process (the "app"): its ModelCache does
//! not run the invalidator, it gates on the program's heartbeat. Kill the program and the app's
//! reads bypass the cache within max_lag; restart it and they are served from the cache again.
//! /healthz and /metrics are read over real HTTP.

mod support;

use std::time::Duration;

use momento_seaorm_cache::heartbeat::{heartbeat_interval, heartbeat_key, HeartbeatRecord};
use momento_seaorm_cache::CacheStatus;
use sea_orm::ConnectionTrait;
use support::{app_cache, http_get, read, read_until_hit, unique, Db, Program, Store, TestDb};

const MAX_LAG: Duration = Duration::from_secs(1);

/// After this long without a heartbeat the gate must be closed, whatever was read last: every
/// reading's caught-up instant is at or before the writer's own, which is before the kill.
fn closed_by() -> Duration {
    MAX_LAG + Duration::from_millis(50)
}

async fn heartbeat(
    cache: &momento_seaorm_cache::ModelCache,
    name: &str,
) -> Option<HeartbeatRecord> {
    let bytes = cache
        .backend()
        .get(&heartbeat_key(cache.prefix(), name))
        .await
        .expect("read the heartbeat")?;
    HeartbeatRecord::decode(&bytes)
}

async fn gate_follows_the_program(kind: Db, server: Store) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    let name = unique("inv");
    let app = app_cache(&server, &[&name], MAX_LAG).await;

    // No program yet: no heartbeat, so every read goes to the database.
    for _ in 0..3 {
        assert_eq!(
            read(&app, &db).await.0,
            CacheStatus::Bypass,
            "no heartbeat: bypass"
        );
        tokio::time::sleep(heartbeat_interval(MAX_LAG)).await;
    }

    let program = Program::start(&db, &server, &name, MAX_LAG).await;
    let (code, body) = program.healthy(300).await;
    assert_eq!(code, 200, "/healthz: {body}");
    assert!(body.contains("\"caught_up\":true"), "{body}");
    let seen = read_until_hit(&app, &db, 200).await;
    assert_eq!(
        seen.last(),
        Some(&CacheStatus::Hit),
        "the gate opened: {seen:?}"
    );
    let record = heartbeat(&app, &name).await.expect("a heartbeat");
    assert_eq!(
        (record.state.as_str(), record.name.as_str()),
        ("healthy", name.as_str())
    );

    // The program invalidates a write made outside the app.
    db.conn
        .execute_unprepared("UPDATE items SET name = 'uno' WHERE id = 1")
        .await
        .unwrap();
    let mut names = Vec::new();
    for _ in 0..200 {
        let (status, value) = read(&app, &db).await;
        names.push((status, value.clone()));
        if value == "uno" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(names.last().map(|n| n.1.as_str()), Some("uno"), "{names:?}");
    assert_eq!(read(&app, &db).await, (CacheStatus::Hit, "uno".to_owned()));

    let (code, metrics) = http_get(program.addr, "/metrics").await;
    assert_eq!(code, 200);
    let label = format!("invalidator=\"{name}\"");
    for series in [
        "momento_seaorm_cache_cdc_heartbeats_total",
        "momento_seaorm_cache_cdc_transactions_total",
        "momento_seaorm_cache_cdc_lag_seconds",
        "momento_seaorm_cache_cdc_healthy",
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(series) && l.contains(&label)),
            "{series} for {name} in:\n{metrics}"
        );
    }

    // A crash: the gate closes within max_lag of the last heartbeat, with no one telling it.
    program.kill();
    tokio::time::sleep(closed_by()).await;
    for _ in 0..3 {
        assert_eq!(
            read(&app, &db).await.0,
            CacheStatus::Bypass,
            "killed: bypass"
        );
    }
    // Meanwhile a write is not invalidated by anyone: the bypassing reads still see it.
    db.conn
        .execute_unprepared("UPDATE items SET name = 'eins' WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(
        read(&app, &db).await,
        (CacheStatus::Bypass, "eins".to_owned())
    );

    // Restarted under the same name: it resumes (and invalidates what it missed); the gate opens.
    let program = Program::start(&db, &server, &name, MAX_LAG).await;
    let seen = read_until_hit(&app, &db, 200).await;
    assert_eq!(
        seen.last(),
        Some(&CacheStatus::Hit),
        "the gate opened again: {seen:?}"
    );
    assert_eq!(read(&app, &db).await, (CacheStatus::Hit, "eins".to_owned()));

    // A clean stop says so at once: the last heartbeat is `stopped`.
    let exit = program.terminate();
    assert!(exit.success(), "{exit:?}");
    let record = heartbeat(&app, &name).await.expect("the last heartbeat");
    assert_eq!(record.state, "stopped");
    tokio::time::sleep(closed_by()).await;
    assert_eq!(read(&app, &db).await.0, CacheStatus::Bypass);

    db.cleanup(&[&name]).await;
}

async fn two_instances(kind: Db) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    let server = Store::lite().await;
    let (a, b) = (unique("inva"), unique("invb"));
    // A wider bound: two programs and the test share the machine's cores.
    let max_lag = Duration::from_secs(2);
    let app = app_cache(&server, &[&a, &b], max_lag).await;
    let first = Program::start(&db, &server, &a, max_lag).await;
    let second = Program::start(&db, &server, &b, max_lag).await;
    for program in [&first, &second] {
        let (code, body) = program.healthy(300).await;
        assert_eq!(code, 200, "/healthz: {body}");
    }
    let seen = read_until_hit(&app, &db, 200).await;
    assert_eq!(seen.last(), Some(&CacheStatus::Hit), "{seen:?}");

    // One instance dies: the other's heartbeat keeps the gate open past max_lag.
    first.kill();
    tokio::time::sleep(max_lag + Duration::from_millis(500)).await;
    assert!(heartbeat(&app, &a)
        .await
        .is_none_or(|r| r.state != "stopped"));
    for _ in 0..5 {
        assert_eq!(
            read(&app, &db).await.0,
            CacheStatus::Hit,
            "one instance alive: open"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The survivor still invalidates.
    db.conn
        .execute_unprepared("UPDATE items SET name = 'uno' WHERE id = 1")
        .await
        .unwrap();
    let mut last = String::new();
    for _ in 0..200 {
        last = read(&app, &db).await.1;
        if last == "uno" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(last, "uno");

    // Both gone: closed.
    second.kill();
    tokio::time::sleep(max_lag + Duration::from_millis(50)).await;
    assert_eq!(
        read(&app, &db).await.0,
        CacheStatus::Bypass,
        "no instance alive: bypass"
    );

    db.cleanup(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_gate_follows_the_program() {
    gate_follows_the_program(Db::Postgres, Store::lite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_gate_follows_the_program() {
    gate_follows_the_program(Db::MySql, Store::lite().await).await;
}

/// The same with the applications' cache on Redis (`--redis-url`): heartbeats, gate and
/// invalidation all go through Redis.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_gate_follows_the_program_on_redis() {
    if let Some(store) = Store::redis().await {
        gate_follows_the_program(Db::Postgres, store).await;
    }
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_gate_follows_the_program_on_redis() {
    if let Some(store) = Store::redis().await {
        gate_follows_the_program(Db::MySql, store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_instances_keep_the_gate_open() {
    two_instances(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_two_instances_keep_the_gate_open() {
    two_instances(Db::MySql).await;
}

#[tokio::test]
async fn help_names_the_flags_and_hides_secrets() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_momento-seaorm-invalidator"))
        .arg("--help")
        .env("DATABASE_URL", "postgres://cdc:hunter2@db/app")
        .env("MOMENTO_LITE_AUTH_TOKEN", "topsecret")
        .output()
        .expect("run --help");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--database-url",
        "--name",
        "--max-lag-ms",
        "--momento-lite-endpoint",
        "--listen",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
    assert!(
        !help.contains("hunter2") && !help.contains("topsecret"),
        "{help}"
    );
}
