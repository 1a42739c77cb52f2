//! The rules the core promises, end to end through momento-lite: real primary keys, injective
//! keys under hostile input, cross-compression reads, garbage values, transactions, TTLs, sizes.

mod common;

use std::time::Duration;

use common::entities::{membership, product, user};
use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{CacheQueryExt, CacheStatus, Compression, Envelope, SerdeFormat};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

async fn setup(kind: Db) -> Option<(TestDb, TestCache)> {
    let db = TestDb::new(kind).await?;
    db.seed().await;
    Some((db, TestCache::start("model-cache").await))
}

async fn primary_keys_use_real_columns(kind: Db) {
    let Some((db, momento)) = setup(kind).await else {
        return;
    };
    let cache = momento.model_cache(|b| b).await;
    product::ActiveModel {
        sku: Set("A:1\"x".to_owned()),
        title: Set("hostile sku".to_owned()),
    }
    .insert(&db.conn)
    .await
    .unwrap();
    membership::ActiveModel {
        org: Set("acme".to_owned()),
        member_no: Set(7),
        role: Set("owner".to_owned()),
    }
    .insert(&db.conn)
    .await
    .unwrap();

    let products = cache.wrap(product::Entity);
    for expected in [CacheStatus::Miss, CacheStatus::Hit] {
        let found = products
            .find_by_pk_with_status(&db.conn, "A:1\"x")
            .await
            .unwrap();
        assert_eq!(found.status, expected);
        assert_eq!(found.value.unwrap().title, "hostile sku");
        assert_eq!(
            found.key.unwrap().as_str(),
            common::pk_key::<product::Entity>(r#"{"sku":"A:1\"x"}"#)
        );
    }
    let members = cache.wrap(membership::Entity);
    for expected in [CacheStatus::Miss, CacheStatus::Hit] {
        let found = members
            .find_by_pk_with_status(&db.conn, ("acme".to_owned(), 7i64))
            .await
            .unwrap();
        assert_eq!(found.status, expected);
        assert_eq!(found.value.unwrap().role, "owner");
        assert_eq!(
            found.key.unwrap().as_str(),
            common::pk_key::<membership::Entity>(r#"{"org":"acme","member_no":7}"#)
        );
    }
    let absent = members
        .find_by_pk(&db.conn, ("acme".to_owned(), 8i64))
        .await
        .unwrap();
    assert_eq!(absent, None);
    db.cleanup().await;
}

async fn hostile_strings_never_share_a_key(kind: Db) {
    let Some((db, momento)) = setup(kind).await else {
        return;
    };
    let cache = momento.model_cache(|b| b).await;
    let hostile = [
        r#"a","b"#,
        "a:b",
        r#"{"id":1}"#,
        "'; DROP TABLE users; --",
        "]:SELECT 1",
        "a\\\"b",
        "null",
        "1",
    ];
    for name in hostile {
        common::insert_user(&db.conn, name, None).await;
    }
    let by_name = |name: &str| user::Entity::find().filter(user::Column::Username.eq(name));
    let mut keys = std::collections::HashSet::new();
    for round in [CacheStatus::Miss, CacheStatus::Hit] {
        for name in hostile {
            let found = by_name(name)
                .cached(&cache)
                .one_with_status(&db.conn)
                .await
                .unwrap();
            assert_eq!(found.status, round, "{name}");
            assert_eq!(
                found.value.unwrap().username,
                name,
                "each query gets its own row"
            );
            keys.insert(found.key.unwrap());
        }
    }
    assert_eq!(keys.len(), hostile.len(), "one key per distinct query");
    // The users table is intact.
    assert_eq!(
        user::Entity::find().all(&db.conn).await.unwrap().len(),
        2 + hostile.len()
    );
    db.cleanup().await;
}

async fn any_reader_reads_any_writer(kind: Db) {
    let Some((db, momento)) = setup(kind).await else {
        return;
    };
    let writers = [
        (SerdeFormat::Json, Compression::Zstd),
        (SerdeFormat::Postcard, Compression::Zlib),
        (SerdeFormat::Postcard, Compression::None),
    ];
    for (i, (format, compression)) in writers.into_iter().enumerate() {
        let prefix = format!("w{i}");
        let writer = momento
            .model_cache(|b| {
                b.key_prefix(&prefix)
                    .serde_format(format)
                    .compression(compression)
            })
            .await;
        let written = writer
            .wrap(user::Entity)
            .find_by_pk_with_status(&db.conn, 1)
            .await
            .unwrap();
        assert_eq!(written.status, CacheStatus::Miss);
        for reader_compression in [Compression::None, Compression::Zlib, Compression::Zstd] {
            let reader = momento
                .model_cache(|b| b.key_prefix(&prefix).compression(reader_compression))
                .await;
            let read = reader
                .wrap(user::Entity)
                .find_by_pk_with_status(&db.conn, 1)
                .await
                .unwrap();
            assert_eq!(
                read.status,
                CacheStatus::Hit,
                "{format:?}/{compression:?} by {reader_compression:?}"
            );
            assert_eq!(read.value, written.value);
        }
    }
    db.cleanup().await;
}

async fn garbage_values_are_misses_that_get_overwritten(kind: Db) {
    let Some((db, momento)) = setup(kind).await else {
        return;
    };
    let cache = momento.model_cache(|b| b).await;
    let key = &common::pk_key::<user::Entity>(r#"{"id":1}"#);
    let expected = user::Entity::find_by_id(1).one(&db.conn).await.unwrap();
    let garbage: [&[u8]; 5] = [
        b"",
        b"{\"id\":1}",
        b"MS\x01\x02not zstd",
        b"MS\x07\x00",
        b"MS\x01\x00[\"wrong shape\"]",
    ];
    for bytes in garbage {
        momento
            .client
            .set(momento.cache_name.as_str(), key.as_str(), bytes.to_vec())
            .await
            .unwrap();
        let found = cache
            .wrap(user::Entity)
            .find_by_pk_with_status(&db.conn, 1)
            .await
            .unwrap();
        assert_eq!(found.status, CacheStatus::Miss, "{bytes:?}");
        assert_eq!(found.value, expected);
        let stored: Option<user::Model> = Envelope::default()
            .decode(&momento.raw(key).await.unwrap())
            .unwrap();
        assert_eq!(stored, expected, "the garbage was overwritten");
    }
    db.cleanup().await;
}

async fn transactions_bypass_the_cache(kind: Db) {
    let Some((db, momento)) = setup(kind).await else {
        return;
    };
    let cache = momento.model_cache(|b| b).await;
    let all = || user::Entity::find().order_by_asc(user::Column::Id);
    let txn = db.conn.begin().await.unwrap();
    common::insert_user_in(&txn, "uncommitted").await;
    let inside = all().cached(&cache).all_with_status(&txn).await.unwrap();
    assert_eq!(inside.status, CacheStatus::Bypass);
    assert_eq!(inside.key, None);
    assert_eq!(inside.value.len(), 3, "the transaction sees its own write");
    let by_pk = cache
        .wrap(user::Entity)
        .find_by_pk_with_status(&txn, 3)
        .await
        .unwrap();
    assert_eq!(by_pk.status, CacheStatus::Bypass);
    assert_eq!(by_pk.value.unwrap().username, "uncommitted");
    txn.rollback().await.unwrap();

    // Nothing the transaction saw was stored for others.
    assert_eq!(
        momento
            .raw(&common::pk_key::<user::Entity>(r#"{"id":3}"#))
            .await,
        None
    );
    let outside = all()
        .cached(&cache)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    assert_eq!(outside.status, CacheStatus::Miss);
    assert_eq!(outside.value.len(), 2);
    db.cleanup().await;
}

/// Long enough that checking what the server holds right after a store never races the expiry
/// on a loaded machine; far below the default TTL, so only `.ttl()` can explain the expiry.
const SHORT_TTL: Duration = Duration::from_secs(2);

/// Checks that `key` is held with a TTL no longer than [`SHORT_TTL`], then waits until the
/// server no longer holds it (at most a generous while after the TTL).
async fn stored_for_the_short_ttl_then_gone(momento: &TestCache, key: &str) {
    let left = momento
        .raw_ttl(key)
        .await
        .unwrap_or_else(|| panic!("{key} was not stored"));
    assert!(
        left <= SHORT_TTL && left > Duration::ZERO,
        "stored for the query's TTL, not the default: {left:?} left"
    );
    assert!(momento.raw(key).await.is_some(), "{key} holds a value");
    tokio::time::sleep(SHORT_TTL).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while momento.raw(key).await.is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "{key} outlived its TTL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ttl_expiry_makes_a_miss(kind: Db) {
    let Some((db, momento)) = setup(kind).await else {
        return;
    };
    let cache = momento.model_cache(|b| b).await;
    assert!(cache.ttl() > SHORT_TTL * 10, "the default TTL is long");

    // A wrapped entity's TTL.
    let users = cache.wrap(user::Entity).ttl(SHORT_TTL);
    let first = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(first.status, CacheStatus::Miss);
    let key = first.key.unwrap();
    let stored: Option<user::Model> = Envelope::default()
        .decode(&momento.raw(key.as_str()).await.expect("stored"))
        .unwrap();
    assert_eq!(stored, first.value, "the row itself was stored");
    stored_for_the_short_ttl_then_gone(&momento, key.as_str()).await;
    let expired = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(expired.status, CacheStatus::Miss, "expired: a miss");
    assert_eq!(expired.value, first.value);
    assert!(
        momento.raw(key.as_str()).await.is_some(),
        "the miss stored it again"
    );

    // A query's TTL.
    let query = || user::Entity::find().cached(&cache).ttl(SHORT_TTL);
    let first = query().all_with_status(&db.conn).await.unwrap();
    assert_eq!(first.status, CacheStatus::Miss);
    let key = first.key.unwrap();
    stored_for_the_short_ttl_then_gone(&momento, key.as_str()).await;
    let expired = query().all_with_status(&db.conn).await.unwrap();
    assert_eq!(expired.status, CacheStatus::Miss, "expired: a miss");
    assert_eq!(expired.value, first.value);
    db.cleanup().await;
}

per_database!(
    primary_keys_use_real_columns,
    hostile_strings_never_share_a_key,
    any_reader_reads_any_writer,
    garbage_values_are_misses_that_get_overwritten,
    transactions_bypass_the_cache,
    ttl_expiry_makes_a_miss,
);

#[tokio::test]
async fn results_over_the_item_limit_are_returned_but_not_stored() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    let big = "x".repeat(1024 * 1024);
    for i in 0..6 {
        common::insert_user(&db.conn, &format!("{i}{big}"), None).await;
    }
    let first = user::Entity::find()
        .cached(&cache)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    assert_eq!(first.status, CacheStatus::Miss);
    assert_eq!(first.value.len(), 8);
    assert_eq!(
        momento.raw(first.key.unwrap().as_str()).await,
        None,
        "over 5 MB: not stored"
    );
    // Compressed, the same rows fit and are stored.
    let zstd = momento
        .model_cache(|b| b.compression(Compression::Zstd))
        .await;
    let packed = user::Entity::find()
        .cached(&zstd)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    assert_eq!(packed.status, CacheStatus::Miss);
    let again = user::Entity::find()
        .cached(&zstd)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    assert_eq!(again.status, CacheStatus::Hit);
    assert_eq!(again.value, first.value);
}

#[tokio::test]
async fn cached_reads_can_be_spawned() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    let conn = db.conn.clone();
    let task = tokio::spawn(async move {
        let users = cache.wrap(user::Entity);
        let a = users.find_by_pk(&conn, 1).await.unwrap();
        let b = user::Entity::find()
            .cached(&cache)
            .count(&conn)
            .await
            .unwrap();
        (a, b)
    });
    let (one, count) = task.await.unwrap();
    assert_eq!(one.unwrap().username, "user1");
    assert_eq!(count, 2);
}

#[tokio::test]
async fn a_changed_model_never_decodes_an_old_value() {
    use common::entities::user_v2;
    use momento_seaorm_cache::key::schema_fingerprint;
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    assert_ne!(
        schema_fingerprint::<user::Entity>(),
        schema_fingerprint::<user_v2::Entity>()
    );
    let old = cache
        .wrap(user::Entity)
        .find_by_pk_with_status(&db.conn, 1)
        .await
        .unwrap();
    let new = cache
        .wrap(user_v2::Entity)
        .find_by_pk_with_status(&db.conn, 1)
        .await
        .unwrap();
    assert_eq!(
        new.status,
        CacheStatus::Miss,
        "the new shape does not read the old value"
    );
    assert_ne!(old.key, new.key);
    assert_eq!(new.value.unwrap().age, 29);
    let again = user_v2::Entity::find()
        .cached(&cache)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    let before = user::Entity::find()
        .cached(&cache)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    assert_ne!(again.key, before.key);
}
