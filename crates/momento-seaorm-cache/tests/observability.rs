//! Every cached call leaves a debug span with its operation, table, key, status and timings, and
//! every cache fault a warning; a cache that is gone never fails a read.

mod common;

use common::entities::user;
use common::logs::capture;
use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{CacheQueryExt, CacheStatus, ModelCache};
use sea_orm::EntityTrait;

#[tokio::test]
async fn each_call_logs_a_span_with_key_status_and_timings() {
    let (captured, _guard) = capture(tracing::Level::DEBUG);
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    cache
        .wrap(user::Entity)
        .find_by_pk(&db.conn, 1)
        .await
        .unwrap();
    cache
        .wrap(user::Entity)
        .find_by_pk(&db.conn, 1)
        .await
        .unwrap();

    let lines: Vec<String> = captured
        .lines()
        .into_iter()
        .filter(|l| l.contains("momento_seaorm_cache::") && l.contains(": cached read"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    for (line, status) in lines.iter().zip(["miss", "hit"]) {
        assert!(line.contains("DEBUG"), "{line}");
        assert!(line.contains("operation=\"find_by_pk\""), "{line}");
        assert!(line.contains("table=\"users\""), "{line}");
        assert!(
            line.contains(&common::pk_key::<user::Entity>(r#"{\"id\":1}"#)),
            "{line}"
        );
        assert!(line.contains(&format!("status=\"{status}\"")), "{line}");
        assert!(line.contains("cache_us="), "{line}");
        assert!(line.contains("db_us="), "{line}");
    }
}

#[tokio::test]
async fn a_stopped_cache_server_degrades_to_the_database_with_warnings() {
    let (captured, _guard) = capture(tracing::Level::DEBUG);
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    let cache: ModelCache = momento.model_cache(|b| b).await;
    let expected = user::Entity::find().all(&db.conn).await.unwrap();
    let warm = user::Entity::find()
        .cached(&cache)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    assert_eq!(warm.status, CacheStatus::Miss);

    let TestCache { server, .. } = momento;
    server.shutdown().await;
    for _ in 0..3 {
        let read = user::Entity::find()
            .cached(&cache)
            .all_with_status(&db.conn)
            .await
            .unwrap();
        assert_eq!(read.value, expected, "the database answers");
        assert_eq!(read.status, CacheStatus::Miss);
    }
    let warnings: Vec<String> = captured
        .lines()
        .into_iter()
        .filter(|l| l.contains("WARN") && l.contains("cache get failed"))
        .collect();
    assert_eq!(warnings.len(), 3, "one warning per fault: {warnings:#?}");
}
