//! `ModelCache::report()`: per query shape, figures that agree with the queries the database
//! ran (the quickstart's reads, counted on the connection), invalidations told apart by cause,
//! a bounded table of shapes, and per-shape metric series with a bounded fingerprint.

mod common;
mod report_support;

use std::collections::BTreeSet;

use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::report::{InvalidationCause, InvalidationScope};
use momento_seaorm_cache::{
    CacheStatus, LoadAll, MemoryBackend, ModelCache, Operation, ReadRequest,
};
use report_support::{expected, quickstart_reads, reported, seed_orders, CountingConnection};
use sea_orm::{DbBackend, JsonValue, SelectModel, Statement};

#[tokio::test]
async fn the_report_agrees_with_the_queries_the_database_ran_for_the_quickstart() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    db.seed().await;
    seed_orders(&db.conn).await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    // The catalog is read before counting starts: only the reads' own queries are counted.
    assert!(cache.refresh_catalog(&db.conn).await);
    let conn = CountingConnection::new(db.conn.clone());

    let seen = quickstart_reads(&cache, &conn).await;
    let report = cache.report();

    assert_eq!(
        report.queries.len(),
        8,
        "the quickstart's eight query shapes"
    );
    let want = expected(&report, cache.prefix(), &seen);
    assert_eq!(
        reported(&report),
        want,
        "per shape, the report agrees with what was counted"
    );
    let queries: u64 = seen.iter().map(|r| r.queries).sum();
    assert_eq!(
        report.totals.database_loads, queries,
        "every query the database ran"
    );
    assert_eq!(report.totals.reads, seen.len() as u64);
    // Each miss ran one query here; each hit none.
    for read in &seen {
        let ran = u64::from(read.status == CacheStatus::Miss);
        assert_eq!(read.queries, ran, "{read:?}");
    }

    let by_pk = report
        .queries
        .iter()
        .find(|q| q.operation == "find_by_pk")
        .unwrap();
    let f = &by_pk.figures;
    // find_by_pk(1) ×2, find_by_pk(2), then after the write find_by_pk(1) ×2, find_by_pk(2).
    assert_eq!((f.reads, f.misses, f.hits), (6, 3, 3));
    assert_eq!(f.saved_us, f.hits * f.mean_load_us);
    assert_eq!(f.mean_load_us, f.database_us / f.database_loads);
    assert_eq!(f.stored_values, 3, "each miss stored its value");
    assert!(f.bytes_stored > 0 && f.last_value_bytes > 0);
    assert!((f.hit_ratio - 0.5).abs() < 1e-9);
    let last = by_pk
        .last_invalidation
        .as_ref()
        .expect("the write invalidated users");
    assert_eq!(last.cause, InvalidationCause::Write);
    assert_eq!(last.scope, InvalidationScope::Rows, "user 1 only");
    assert_eq!(last.table.as_deref(), Some("users"));
    // The aggregate over orders joins users: the write to users is its last invalidation too.
    let totals = report
        .queries
        .iter()
        .find(|q| q.tables.contains(&"orders".to_owned()));
    let totals = totals.unwrap().last_invalidation.as_ref();
    assert_eq!(totals.and_then(|i| i.table.as_deref()), Some("users"));
    // Ranked by database time saved.
    let saved: Vec<u64> = report.queries.iter().map(|q| q.figures.saved_us).collect();
    assert!(saved.windows(2).all(|w| w[0] >= w[1]), "{saved:?}");
    // Serializable, and back.
    let json = serde_json::to_string(&report).unwrap();
    let back: momento_seaorm_cache::CacheReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    db.cleanup().await;
}

#[tokio::test]
async fn explicit_invalidations_and_change_capture_are_told_apart() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    db.seed().await;
    let cache = ModelCache::builder(MemoryBackend::new()).build().unwrap();
    let users = cache.wrap(common::entities::user::Entity);
    users.find_by_pk(&db.conn, 1).await.unwrap();
    let last = || cache.report().queries[0].last_invalidation.clone();
    assert_eq!(last(), None);

    cache.invalidate_table("users").await;
    let explicit = last().unwrap();
    assert_eq!(
        (explicit.cause, explicit.scope),
        (InvalidationCause::Explicit, InvalidationScope::Table)
    );

    std::thread::sleep(std::time::Duration::from_millis(2));
    assert!(cache.try_invalidate_tables(&["users"]).await);
    assert_eq!(last().unwrap().cause, InvalidationCause::ChangeCapture);

    std::thread::sleep(std::time::Duration::from_millis(2));
    cache.invalidate_all().await;
    let everything = last().unwrap();
    assert_eq!(
        (everything.cause, everything.scope),
        (InvalidationCause::Explicit, InvalidationScope::Everything)
    );
    assert_eq!(
        cache.report().last_invalidation_of_everything,
        Some(everything)
    );
    // The next read is a miss, counted as one.
    let read = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(read.status, CacheStatus::Miss);
    assert_eq!(cache.report().queries[0].figures.misses, 2);
}

/// A read of raw SQL through the public entry point.
async fn raw_read(cache: &ModelCache, db: &sea_orm::DatabaseConnection, sql: &str) {
    let statement = Statement::from_string(DbBackend::Sqlite, sql);
    let request = ReadRequest::new(Operation::All, statement);
    cache
        .read_statement(db, request, LoadAll::<SelectModel<JsonValue>>::new)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_table_of_shapes_stays_bounded_and_folds_what_it_drops() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    db.seed().await;
    let cache = ModelCache::builder(MemoryBackend::new())
        .report_queries(3)
        .build()
        .unwrap();
    // One heavy shape, read three times, then 20 shapes read once each (SQL with literals).
    for _ in 0..3 {
        raw_read(
            &cache,
            &db.conn,
            "SELECT id, username FROM users ORDER BY id",
        )
        .await;
    }
    for i in 0..20 {
        let sql = format!("SELECT id FROM users WHERE id > {i}");
        raw_read(&cache, &db.conn, &sql).await;
    }
    let report = cache.report();
    assert!(
        report.queries.len() <= 6,
        "at most twice the bound between prunings"
    );
    assert_eq!(
        report.totals.reads, 23,
        "dropped shapes' reads are folded, not lost"
    );
    assert_eq!(
        report.totals.reads,
        report.untracked.reads + report.queries.iter().map(|q| q.figures.reads).sum::<u64>()
    );
    assert!(report.untracked.reads > 0);
    // Which shapes stay depends on measured database time; the unit test
    // `report::shapes::tests` checks the ranking with given durations.
}

#[test]
fn per_shape_series_carry_a_bounded_fingerprint() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let db = TestDb::new(Db::Sqlite).await.unwrap();
            db.seed().await;
            let cache = ModelCache::builder(MemoryBackend::new())
                .report_queries(2)
                .build()
                .unwrap();
            for i in 0..5 {
                let sql = format!("SELECT id FROM users WHERE id > {i}");
                raw_read(&cache, &db.conn, &sql).await;
                raw_read(&cache, &db.conn, &sql).await;
            }
            cache.report()
        })
    });
    let mut fingerprints = BTreeSet::new();
    let (mut hits, mut misses) = (0, 0);
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        if key.name() != "momento_seaorm_cache_query_reads_total" {
            continue;
        }
        let label = |name: &str| {
            key.labels()
                .find(|l| l.key() == name)
                .map(|l| l.value().to_owned())
        };
        fingerprints.insert(label("query").unwrap());
        let DebugValue::Counter(count) = value else {
            panic!("a counter")
        };
        match label("status").unwrap().as_str() {
            "hit" => hits += count,
            "miss" => misses += count,
            _ => assert_eq!(count, 0),
        }
    }
    assert_eq!((hits, misses), (5, 5), "every read counted once");
    assert_eq!(
        fingerprints.len(),
        3,
        "two fingerprints, then `other`: {fingerprints:?}"
    );
    assert!(fingerprints.contains("other"));
    for q in report.queries.iter().take(2) {
        assert_eq!(q.fingerprint.len(), 8);
    }
}
