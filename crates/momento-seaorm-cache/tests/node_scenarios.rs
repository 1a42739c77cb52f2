//! The Node library's own test scenarios, ported to SeaORM, on SQLite, PostgreSQL and MariaDB,
//! through momento-lite and the official SDK.

mod common;

use common::entities::{user, user_group, GroupCount};
use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::key::schema_fingerprint as fingerprint;
use momento_seaorm_cache::{CacheQueryExt, CacheStatus, Compression, Envelope};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

async fn setup(kind: Db, cache_name: &str) -> Option<(TestDb, TestCache)> {
    let db = TestDb::new(kind).await?;
    db.seed().await;
    Some((db, TestCache::start(cache_name).await))
}

async fn find_all_miss_then_hit(kind: Db) {
    let Some((db, momento)) = setup(kind, "model-cache").await else {
        return;
    };
    let cache = momento.model_cache(|b| b).await;
    let users = cache.wrap(user::Entity);

    let first = users
        .find_all_with_status(&db.conn, user::Entity::find())
        .await
        .unwrap();
    assert_eq!(first.status, CacheStatus::Miss);
    assert_eq!(first.value.len(), 2);
    let expected = user::Entity::find().all(&db.conn).await.unwrap();
    assert_eq!(first.value, expected);

    let second = users
        .find_all_with_status(&db.conn, user::Entity::find())
        .await
        .unwrap();
    assert_eq!(second.status, CacheStatus::Hit);
    assert_eq!(second.value, expected);

    // The stored value, read back by the raw SDK under the documented key.
    let key = first.key.unwrap();
    assert!(
        key.as_str().starts_with(&format!(
            "model-cache:all:users@{}:[]:SELECT ",
            fingerprint::<user::Entity>()
        )),
        "{key}"
    );
    assert_eq!(Some(&key), second.key.as_ref());
    let raw = momento
        .raw(key.as_str())
        .await
        .expect("stored under the key");
    assert_eq!(&raw[..2], b"MS");
    let stored: Vec<user::Model> = Envelope::default().decode(&raw).unwrap();
    assert_eq!(stored, expected);
    db.cleanup().await;
}

async fn find_one_by_filter(kind: Db) {
    let Some((db, momento)) = setup(kind, "model-cache").await else {
        return;
    };
    let cache = momento.model_cache(|b| b).await;
    let query = || user::Entity::find().filter(user::Column::Username.eq("user2"));
    let users = cache.wrap(user::Entity);
    let miss = users.find_one_with_status(&db.conn, query()).await.unwrap();
    let hit = users.find_one_with_status(&db.conn, query()).await.unwrap();
    assert_eq!(miss.status, CacheStatus::Miss);
    assert_eq!(hit.status, CacheStatus::Hit);
    assert_eq!(miss.value.as_ref().unwrap().username, "user2");
    assert_eq!(hit.value, miss.value);
    let key = hit.key.unwrap();
    assert!(
        key.as_str().starts_with(&format!(
            "model-cache:one:users@{}:[\"user2\"",
            fingerprint::<user::Entity>()
        )),
        "{key}"
    );
    db.cleanup().await;
}

async fn find_by_pk(kind: Db) {
    let Some((db, momento)) = setup(kind, "model-cache").await else {
        return;
    };
    let cache = momento.model_cache(|b| b).await;
    let users = cache.wrap(user::Entity);
    let miss = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    let hit = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(miss.status, CacheStatus::Miss);
    assert_eq!(hit.status, CacheStatus::Hit);
    assert_eq!(
        miss.value,
        user::Entity::find_by_id(1).one(&db.conn).await.unwrap()
    );
    assert_eq!(hit.value, miss.value);
    assert_eq!(
        hit.key.unwrap().as_str(),
        &common::pk_key::<user::Entity>(r#"{"id":1}"#)
    );
    let raw = momento
        .raw(&common::pk_key::<user::Entity>(r#"{"id":1}"#))
        .await
        .unwrap();
    let stored: Option<user::Model> = Envelope::default().decode(&raw).unwrap();
    assert_eq!(stored, miss.value);
    db.cleanup().await;
}

async fn find_by_pk_compressed(kind: Db, compression: Compression, cache_name: &str) {
    let Some((db, momento)) = setup(kind, cache_name).await else {
        return;
    };
    let cache = momento.model_cache(|b| b.compression(compression)).await;
    let users = cache.wrap(user::Entity);
    let miss = users.find_by_pk_with_status(&db.conn, 2).await.unwrap();
    let hit = users.find_by_pk_with_status(&db.conn, 2).await.unwrap();
    assert_eq!(
        (miss.status, hit.status),
        (CacheStatus::Miss, CacheStatus::Hit)
    );
    assert_eq!(hit.value.as_ref().unwrap().username, "user2");
    assert_eq!(hit.value, miss.value);
    let raw = momento
        .raw(&common::pk_key::<user::Entity>(r#"{"id":2}"#))
        .await
        .unwrap();
    let tag = match compression {
        Compression::None => 0,
        Compression::Zlib => 1,
        Compression::Zstd => 2,
    };
    assert_eq!(raw[3] & 0x0f, tag, "header records the compression");
    db.cleanup().await;
}

async fn find_by_pk_zlib(kind: Db) {
    find_by_pk_compressed(kind, Compression::Zlib, "model-cache-zlib").await
}

async fn find_by_pk_zstd(kind: Db) {
    find_by_pk_compressed(kind, Compression::Zstd, "model-cache-zstd").await
}

async fn null_and_zero_count_misses_asked_twice(kind: Db) {
    let Some((db, momento)) = setup(kind, "model-cache-zlib").await else {
        return;
    };
    let cache = momento
        .model_cache(|b| b.compression(Compression::Zlib))
        .await;
    let users = cache.wrap(user::Entity);
    let nobody = || user::Entity::find().filter(user::Column::Username.eq("nobody"));
    for expected in [CacheStatus::Miss, CacheStatus::Hit] {
        let by_pk = users.find_by_pk_with_status(&db.conn, 999).await.unwrap();
        assert_eq!((by_pk.value, by_pk.status), (None, expected));
        let one = users
            .find_one_with_status(&db.conn, nobody())
            .await
            .unwrap();
        assert_eq!((one.value, one.status), (None, expected));
        let all = users
            .find_all_with_status(&db.conn, nobody())
            .await
            .unwrap();
        assert_eq!((all.value, all.status), (vec![], expected));
        let count = users.count_with_status(&db.conn, nobody()).await.unwrap();
        assert_eq!((count.value, count.status), (0, expected));
    }
    db.cleanup().await;
}

async fn ordered_find_all(kind: Db) {
    let Some((db, momento)) = setup(kind, "model-cache").await else {
        return;
    };
    let cache = momento.model_cache(|b| b).await;
    let users = cache.wrap(user::Entity);
    let names = |rows: &[user::Model]| rows.iter().map(|u| u.username.clone()).collect::<Vec<_>>();
    for _ in 0..2 {
        let asc = users
            .find_all(
                &db.conn,
                user::Entity::find().order_by_asc(user::Column::Username),
            )
            .await
            .unwrap();
        let desc = users
            .find_all(
                &db.conn,
                user::Entity::find().order_by_desc(user::Column::Username),
            )
            .await
            .unwrap();
        assert_eq!(names(&asc), ["user1", "user2"]);
        assert_eq!(names(&desc), ["user2", "user1"]);
    }
    let asc = user::Entity::find()
        .order_by_asc(user::Column::Username)
        .cached(&cache)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    assert_eq!(
        asc.status,
        CacheStatus::Hit,
        "`.cached().all` and `find_all` share one key"
    );
    db.cleanup().await;
}

async fn group_by_count_into_struct(kind: Db) {
    let Some((db, momento)) = setup(kind, "model-cache").await else {
        return;
    };
    let cache = momento.model_cache(|b| b).await;
    common::insert_user(&db.conn, "user3", Some(1)).await;
    let query = || {
        user::Entity::find()
            .select_only()
            .column(user::Column::GroupId)
            .column_as(user::Column::Id.count(), "user_count")
            .group_by(user::Column::GroupId)
            .order_by_asc(user::Column::GroupId)
            .into_model::<GroupCount>()
    };
    let expected = vec![
        GroupCount {
            group_id: Some(1),
            user_count: 2,
        },
        GroupCount {
            group_id: Some(2),
            user_count: 1,
        },
    ];
    let miss = query()
        .cached(&cache)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    let hit = query()
        .cached(&cache)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    assert_eq!(
        (miss.status, hit.status),
        (CacheStatus::Miss, CacheStatus::Hit)
    );
    assert_eq!(miss.value, expected);
    assert_eq!(hit.value, expected);
    assert!(hit
        .key
        .unwrap()
        .as_str()
        .starts_with("model-cache:all:users:"));
    db.cleanup().await;
}

async fn find_one_joined_to_users(kind: Db) {
    let Some((db, momento)) = setup(kind, "model-cache").await else {
        return;
    };
    let cache = momento.model_cache(|b| b).await;
    let query = || {
        user_group::Entity::find()
            .find_also_related(user::Entity)
            .filter(user::Column::Username.eq("user1"))
    };
    let plain = query().one(&db.conn).await.unwrap();
    let miss = query()
        .cached(&cache)
        .one_with_status(&db.conn)
        .await
        .unwrap();
    let hit = query()
        .cached(&cache)
        .one_with_status(&db.conn)
        .await
        .unwrap();
    assert_eq!(
        (miss.status, hit.status),
        (CacheStatus::Miss, CacheStatus::Hit)
    );
    let (group, member) = hit.value.clone().unwrap();
    assert_eq!(group.name, "admins");
    assert_eq!(member.unwrap().username, "user1");
    assert_eq!(hit.value, plain);
    assert!(hit.key.unwrap().as_str().starts_with(&format!(
        "model-cache:one:user_groups@{}+{}:",
        fingerprint::<user_group::Entity>(),
        fingerprint::<user::Entity>()
    )));
    db.cleanup().await;
}

async fn raw_json_with_aliased_column(kind: Db) {
    let Some((db, momento)) = setup(kind, "model-cache").await else {
        return;
    };
    let cache = momento.model_cache(|b| b).await;
    let query = || {
        user::Entity::find()
            .select_only()
            .column_as(user::Column::Username, "name")
            .filter(user::Column::Id.eq(1))
            .into_json()
    };
    let plain = query().all(&db.conn).await.unwrap();
    let miss = query()
        .cached(&cache)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    let hit = query()
        .cached(&cache)
        .all_with_status(&db.conn)
        .await
        .unwrap();
    assert_eq!(
        (miss.status, hit.status),
        (CacheStatus::Miss, CacheStatus::Hit)
    );
    assert_eq!(hit.value, plain);
    assert_eq!(hit.value, vec![serde_json::json!({ "name": "user1" })]);
    db.cleanup().await;
}

per_database!(
    find_all_miss_then_hit,
    find_one_by_filter,
    find_by_pk,
    find_by_pk_zlib,
    find_by_pk_zstd,
    null_and_zero_count_misses_asked_twice,
    ordered_find_all,
    group_by_count_into_struct,
    find_one_joined_to_users,
    raw_json_with_aliased_column,
);
