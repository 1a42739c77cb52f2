//! Selector conversions, `exists`, `require_one`, `stream` and shared keys through
//! `.cached(&cache)`, on SQLite, PostgreSQL and MariaDB: each misses then hits with SeaORM's own
//! value after running SeaORM's statement, is invalidated by a write through the
//! `CachedConnection`, and bypasses in a transaction.

mod common;
mod seaorm_reads_support;

use common::entities::{user, user_group};
use common::Db;
use futures::TryStreamExt;
use momento_seaorm_cache::{CacheQueryExt, CacheStatus, ModelCache};
use sea_orm::{
    ColumnTrait, DbErr, DeriveColumn, EntityTrait, EnumIter, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, SelectExt, Statement, TransactionSession, TransactionTrait,
};
use seaorm_reads_support::{write_user, Fixture, UserName};

#[derive(Copy, Clone, Debug, EnumIter, DeriveColumn)]
enum AsColumns {
    Name,
    Years,
}

fn users() -> sea_orm::Select<user::Entity> {
    user::Entity::find()
        .filter(user::Column::Id.lte(9))
        .order_by_desc(user::Column::Id)
}

/// Ids and names of users 9 to 1.
fn tuples() -> sea_orm::Selector<sea_orm::SelectGetableTuple<(i32, String)>> {
    users()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Username)
        .into_tuple::<(i32, String)>()
}

/// Names and ages of users 9 to 1, as values.
fn values() -> sea_orm::Selector<sea_orm::SelectGetableValue<(String, i32), AsColumns>> {
    users()
        .select_only()
        .column_as(user::Column::Username, AsColumns::Name)
        .column_as(user::Column::Age, AsColumns::Years)
        .into_values::<(String, i32), AsColumns>()
}

/// Users 9 to 1 with their groups.
fn pairs() -> sea_orm::SelectTwo<user::Entity, user_group::Entity> {
    users().find_also_related(user_group::Entity)
}

/// Users 9 to 1 with their groups, into models.
fn models() -> sea_orm::Selector<sea_orm::SelectTwoModel<user::Model, user_group::Model>> {
    pairs().into_model::<user::Model, user_group::Model>()
}

/// Users named `name`.
fn named(name: &'static str) -> sea_orm::Select<user::Entity> {
    user::Entity::find()
        .filter(user::Column::Username.eq(name))
        .order_by_asc(user::Column::Id)
}

/// Every user, in id order.
fn everyone() -> sea_orm::Select<user::Entity> {
    user::Entity::find().order_by_asc(user::Column::Id)
}

async fn conversions(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    tuple_conversions(&fx).await;
    other_conversions(&fx).await;
    conversions_invalidated_by_writes(&fx).await;
    conversions_bypass_in_a_transaction(&fx).await;
    fx.cleanup().await;
}

async fn tuple_conversions(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let rows = fx
        .miss_then_hit("into_tuple: all", tuples().all(plain), || {
            tuples().cached(cache).all_with_status(conn)
        })
        .await;
    assert_eq!(rows[0], (9, "user9".to_owned()));
    fx.miss_then_hit("into_tuple: one", tuples().one(plain), || {
        tuples().cached(cache).one_with_status(conn)
    })
    .await;
    fx.miss_then_hit("into_tuple: count", tuples().count(plain), || {
        tuples().cached(cache).count_with_status(conn)
    })
    .await;
    // Converting before or after `.cached()` is one query, one key.
    let after = users()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Username)
        .cached(cache)
        .into_tuple::<(i32, String)>()
        .all_with_status(conn)
        .await
        .unwrap();
    assert_eq!((after.status, after.value), (CacheStatus::Hit, rows));
}

async fn other_conversions(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    fx.miss_then_hit("into_values: all", values().all(plain), || {
        values().cached(cache).all_with_status(conn)
    })
    .await;
    let partial = || users().into_partial_model::<UserName>();
    fx.miss_then_hit("into_partial_model: all", partial().all(plain), || {
        users()
            .cached(cache)
            .into_partial_model::<UserName>()
            .all_with_status(conn)
    })
    .await;
    fx.miss_then_hit("into_json: all", users().into_json().all(plain), || {
        users().cached(cache).into_json().all_with_status(conn)
    })
    .await;
    fx.miss_then_hit(
        "SelectTwo into_json: one",
        pairs().into_json().one(plain),
        || pairs().cached(cache).into_json().one_with_status(conn),
    )
    .await;
    fx.miss_then_hit("SelectTwo into_model: all", models().all(plain), || {
        let cached = pairs().cached(cache);
        cached
            .into_model::<user::Model, user_group::Model>()
            .all_with_status(conn)
    })
    .await;
}

async fn conversions_invalidated_by_writes(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    fx.invalidated_by(
        "into_tuple after a write to users",
        || tuples().cached(cache).all_with_status(conn),
        async {
            let renamed = user::ActiveModel {
                id: sea_orm::Set(9),
                username: sea_orm::Set("nine".to_owned()),
                ..Default::default()
            };
            sea_orm::ActiveModelTrait::update(renamed, conn)
                .await
                .unwrap();
        },
        tuples().all(plain),
    )
    .await;
    fx.invalidated_by(
        "SelectTwo into_model after a write to user_groups",
        || models().cached(cache).all_with_status(conn),
        fx.write_groups("renamed"),
        models().all(plain),
    )
    .await;
}

async fn conversions_bypass_in_a_transaction(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    let txn = conn.begin().await.unwrap();
    let added = write_user(&txn, "in_txn", None).await;
    let all = || {
        user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .order_by_desc(user::Column::Id)
            .into_tuple::<i32>()
    };
    let read = all().cached(cache).all_with_status(&txn).await.unwrap();
    assert_eq!(read.status, CacheStatus::Bypass, "a transaction bypasses");
    assert_eq!(read.value[0], added.id, "sees its own write");
    txn.rollback().await.unwrap();
}

async fn exists_and_require_one(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    exists_reads(&fx).await;
    exists_invalidated_by_a_write(&fx).await;
    require_one_reads(&fx).await;
    exists_bypass_in_a_transaction(&fx).await;
    fx.cleanup().await;
}

async fn exists_reads(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let found = fx
        .miss_then_hit("exists: yes", named("user7").exists(plain), || {
            named("user7").cached(cache).exists_with_status(conn)
        })
        .await;
    assert!(found);
    let found = fx
        .miss_then_hit("exists: no", named("newbie").exists(plain), || {
            named("newbie").cached(cache).exists_with_status(conn)
        })
        .await;
    assert!(!found);
    let pairs = || named("user7").find_also_related(user_group::Entity);
    fx.miss_then_hit("SelectTwo exists", pairs().exists(plain), || {
        pairs().cached(cache).exists_with_status(conn)
    })
    .await;
    let raw = || {
        let sql = "SELECT id FROM users WHERE age > 28";
        user::Entity::find().from_raw_sql(Statement::from_string(fx.db.backend(), sql))
    };
    fx.miss_then_hit("raw SQL exists", raw().exists(plain), || {
        raw().cached(cache).exists_with_status(conn)
    })
    .await;
}

async fn exists_invalidated_by_a_write(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    fx.invalidated_by(
        "exists after a write to users",
        || named("newbie").cached(cache).exists_with_status(conn),
        fx.write_users("newbie"),
        named("newbie").exists(plain),
    )
    .await;
    assert!(named("newbie").cached(cache).exists(conn).await.unwrap());
}

async fn require_one_reads(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let one = named("user7")
        .cached(cache)
        .require_one(conn)
        .await
        .unwrap();
    assert_eq!(one, named("user7").require_one(plain).await.unwrap());
    let missing = named("nobody").cached(cache).require_one(conn).await;
    let truth = named("nobody").require_one(plain).await;
    match (missing, truth) {
        (Err(DbErr::RecordNotFound(a)), Err(DbErr::RecordNotFound(b))) => assert_eq!(a, b),
        other => panic!("require_one of nothing: {other:?}"),
    }
}

async fn exists_bypass_in_a_transaction(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    let txn = conn.begin().await.unwrap();
    write_user(&txn, "ghost", None).await;
    let read = named("ghost")
        .cached(cache)
        .exists_with_status(&txn)
        .await
        .unwrap();
    assert_eq!((read.status, read.value), (CacheStatus::Bypass, true));
    txn.rollback().await.unwrap();
    assert!(!named("ghost").cached(cache).exists(conn).await.unwrap());
}

/// Hits and misses of `cache` since `before`.
fn reads(cache: &ModelCache, before: (u64, u64)) -> (u64, u64) {
    let stats = cache.stats();
    (stats.hits - before.0, stats.misses - before.1)
}

fn counters(cache: &ModelCache) -> (u64, u64) {
    let stats = cache.stats();
    (stats.hits, stats.misses)
}

async fn streams(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    stream_miss_then_hit(&fx).await;
    stream_partial_models(&fx).await;
    stream_invalidated_by_a_write(&fx).await;
    stream_in_a_transaction(&fx).await;
    fx.cleanup().await;
}

async fn stream_miss_then_hit(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let truth: Vec<user::Model> = users()
        .stream(plain)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let before = counters(cache);
    let (first, ran) = fx
        .statements(async {
            let rows = users().cached(cache).stream(conn).await.unwrap();
            rows.try_collect::<Vec<_>>().await.unwrap()
        })
        .await;
    assert_eq!(first, truth, "a miss streams SeaORM's rows");
    assert_eq!(ran.len(), 1, "one query");
    assert_eq!(reads(cache, before), (0, 1), "a miss");
    let (second, ran) = fx
        .statements(async {
            let rows = users().cached(cache).stream(conn).await.unwrap();
            rows.try_collect::<Vec<_>>().await.unwrap()
        })
        .await;
    assert_eq!(second, truth, "a hit streams the cached rows");
    assert!(ran.is_empty(), "a hit runs nothing");
    assert_eq!(reads(cache, before), (1, 1), "a hit");
    let all = users().cached(cache).all_with_status(conn).await.unwrap();
    assert_eq!(
        (all.status, all.value),
        (CacheStatus::Hit, truth),
        "`all` shares the key"
    );
}

async fn stream_partial_models(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let partial: Vec<UserName> = users()
        .stream_partial_model::<_, UserName>(plain)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    for round in 0..2 {
        let rows = users()
            .cached(cache)
            .stream_partial_model::<_, UserName>(conn)
            .await;
        let rows: Vec<UserName> = rows.unwrap().try_collect().await.unwrap();
        assert_eq!(rows, partial, "stream_partial_model, round {round}");
    }
}

async fn stream_invalidated_by_a_write(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    fx.write_users("late").await;
    let before = counters(cache);
    let rows: Vec<user::Model> = everyone()
        .cached(cache)
        .stream(conn)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.last().unwrap().username, "late", "a write invalidates");
    assert_eq!(reads(cache, before), (0, 1));
}

async fn stream_in_a_transaction(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    let txn = conn.begin().await.unwrap();
    write_user(&txn, "in_txn", None).await;
    let before = counters(cache);
    let rows: Vec<user::Model> = everyone()
        .cached(cache)
        .stream(&txn)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        rows,
        everyone().all(&txn).await.unwrap(),
        "streamed from the transaction"
    );
    assert_eq!(
        rows.last().unwrap().username,
        "in_txn",
        "sees its own write"
    );
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses),
        before,
        "a transaction's stream never touches the cache"
    );
    txn.rollback().await.unwrap();
}

async fn wrap_and_cached_share_keys(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    let (cache, conn) = (&fx.cache, &fx.conn);
    let users_of = cache.wrap(user::Entity);
    let all = users_of.find_all_with_status(conn, users()).await.unwrap();
    let cached = users().cached(cache).all_with_status(conn).await.unwrap();
    assert_eq!(
        (all.status, cached.status),
        (CacheStatus::Miss, CacheStatus::Hit)
    );
    assert_eq!((&all.key, &all.value), (&cached.key, &cached.value));
    assert!(all
        .key
        .unwrap()
        .as_str()
        .starts_with("model-cache:all:users@"));
    let one = users().cached(cache).one_with_status(conn).await.unwrap();
    let found = users_of.find_one_with_status(conn, users()).await.unwrap();
    assert_eq!(
        (one.status, found.status),
        (CacheStatus::Miss, CacheStatus::Hit)
    );
    assert_eq!((one.key, one.value), (found.key, found.value));
    let count = users_of.count_with_status(conn, users()).await.unwrap();
    let counted = users().cached(cache).count_with_status(conn).await.unwrap();
    assert_eq!(
        (count.status, counted.status),
        (CacheStatus::Miss, CacheStatus::Hit)
    );
    assert_eq!(counted.value, users().count(fx.plain()).await.unwrap());
    fx.cleanup().await;
}

per_database!(
    conversions,
    exists_and_require_one,
    streams,
    wrap_and_cached_share_keys
);
