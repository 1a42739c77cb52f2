//! Relations through `.cached(&cache)`, on SQLite, PostgreSQL and MariaDB:
//! `find_with_related` / `find_with_linked` (`SelectTwoMany`), chained `find_also_related`
//! (`SelectThree`, star and chain, and their `consolidate()`), `find_both_related`
//! (`SelectTwoRequired`). Each misses then hits with SeaORM's own value after running SeaORM's
//! statement, is invalidated by a write to each table it joins, and bypasses in a transaction.

mod common;
mod seaorm_reads_support;

use common::entities::{user, user_group};
use common::Db;
use momento_seaorm_cache::{CacheQueryExt, CacheStatus};
use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
};
use seaorm_reads_support::{tag, user_tag, write_user, Fixture, GroupUsers};

/// Groups with their users 1 to 11.
fn groups() -> sea_orm::SelectTwoMany<user_group::Entity, user::Entity> {
    user_group::Entity::find()
        .find_with_related(user::Entity)
        .filter(user::Column::Id.lt(12))
        .order_by_asc(user::Column::Id)
}

/// Groups with their users, through a link.
fn linked() -> sea_orm::SelectTwoMany<user_group::Entity, user::Entity> {
    user_group::Entity::find()
        .find_with_linked(GroupUsers)
        .order_by_asc(user_group::Column::Id)
}

/// Tags on users, each with its user and the user's group: a chain.
fn chain(
) -> sea_orm::SelectThree<user_tag::Entity, user::Entity, user_group::Entity, sea_orm::TopologyChain>
{
    user_tag::Entity::find()
        .find_also_related(user::Entity)
        .and_also_related(user_group::Entity)
        .order_by_asc(user_tag::Column::UserId)
        .order_by_asc(user_tag::Column::TagId)
}

/// Users that have a group, with it.
fn both() -> sea_orm::SelectTwoRequired<user::Entity, user_group::Entity> {
    user::Entity::find()
        .find_both_related(user_group::Entity)
        .order_by_asc(user::Column::Id)
}

async fn find_with_related_and_linked(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    gathered_reads(&fx).await;
    gathered_invalidated_by_writes(&fx).await;
    gathered_bypass_in_a_transaction(&fx).await;
    fx.cleanup().await;
}

async fn gathered_reads(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let value = fx
        .miss_then_hit("find_with_related", groups().all(plain), || {
            groups().cached(cache).all_with_status(conn)
        })
        .await;
    assert_eq!(value.len(), 2);
    assert_eq!(
        value[0].1.iter().map(|u| u.id).collect::<Vec<_>>(),
        [1, 4, 6, 8]
    );
    fx.miss_then_hit("find_with_linked", linked().all(plain), || {
        linked().cached(cache).all_with_status(conn)
    })
    .await;
}

async fn gathered_invalidated_by_writes(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    fx.invalidated_by(
        "find_with_related after a write to users",
        || groups().cached(cache).all_with_status(conn),
        fx.write_users("late"),
        groups().all(plain),
    )
    .await;
    fx.invalidated_by(
        "find_with_related after a write to user_groups",
        || groups().cached(cache).all_with_status(conn),
        fx.write_groups("renamed"),
        groups().all(plain),
    )
    .await;
    fx.invalidated_by(
        "find_with_linked after a write to users",
        || linked().cached(cache).all_with_status(conn),
        fx.write_users("later"),
        linked().all(plain),
    )
    .await;
}

async fn gathered_bypass_in_a_transaction(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    let txn = conn.begin().await.unwrap();
    let added = write_user(&txn, "in_txn", Some(2)).await;
    let read = linked().cached(cache).all_with_status(&txn).await.unwrap();
    assert_eq!(read.status, CacheStatus::Bypass, "a transaction bypasses");
    assert!(read.value[1].1.contains(&added), "sees its own write");
    txn.rollback().await.unwrap();
}

/// Users with their group and their tags: a star of three entities.
fn star(
) -> sea_orm::SelectThree<user::Entity, user_group::Entity, tag::Entity, sea_orm::TopologyStar> {
    user::Entity::find()
        .find_also_related(user_group::Entity)
        .find_also(user::Entity, tag::Entity)
        .filter(user::Column::Id.lte(8))
        .order_by_asc(user::Column::Id)
        .order_by_asc(tag::Column::Id)
}

async fn joins_of_three(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    star_reads(&fx).await;
    chain_and_required_reads(&fx).await;
    joins_invalidated_by_writes(&fx).await;
    joins_bypass_in_a_transaction(&fx).await;
    fx.cleanup().await;
}

async fn star_reads(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let rows = fx
        .miss_then_hit("SelectThree::all", star().all(plain), || {
            star().cached(cache).all_with_status(conn)
        })
        .await;
    assert!(rows.len() > 8, "a user with two tags is two rows");
    fx.miss_then_hit("SelectThree::one", star().one(plain), || {
        star().cached(cache).one_with_status(conn)
    })
    .await;
    fx.miss_then_hit("SelectThree::count", star().count(plain), || {
        star().cached(cache).count_with_status(conn)
    })
    .await;
    let gathered = fx
        .miss_then_hit(
            "SelectThree::consolidate (star)",
            star().consolidate().all(plain),
            || star().consolidate().cached(cache).all_with_status(conn),
        )
        .await;
    assert_eq!(gathered.len(), 8);
    assert_eq!(
        gathered[0].2.iter().map(|t| t.id).collect::<Vec<_>>(),
        [1, 2]
    );
}

async fn chain_and_required_reads(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    fx.miss_then_hit(
        "SelectThree .cached().into_json()",
        star().into_json().all(plain),
        || star().cached(cache).into_json().all_with_status(conn),
    )
    .await;
    fx.miss_then_hit(
        "SelectThree::consolidate (chain)",
        chain().consolidate().all(plain),
        || chain().consolidate().cached(cache).all_with_status(conn),
    )
    .await;
    let pairs = fx
        .miss_then_hit("find_both_related::all", both().all(plain), || {
            both().cached(cache).all_with_status(conn)
        })
        .await;
    assert!(pairs.iter().all(|(u, g)| u.group_id == Some(g.id)));
    let models = || both().into_model::<user::Model, user_group::Model>();
    fx.miss_then_hit(
        "find_both_related .cached().into_model()",
        models().all(plain),
        || {
            both()
                .cached(cache)
                .into_model::<user::Model, user_group::Model>()
                .all_with_status(conn)
        },
    )
    .await;
    fx.miss_then_hit("find_both_related::one", both().one(plain), || {
        both().cached(cache).one_with_status(conn)
    })
    .await;
}

async fn joins_invalidated_by_writes(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let all = || star().cached(cache).all_with_status(conn);
    fx.invalidated_by(
        "star after users",
        all,
        fx.write_users("late"),
        star().all(plain),
    )
    .await;
    fx.invalidated_by(
        "star after user_groups",
        all,
        fx.write_groups("g"),
        star().all(plain),
    )
    .await;
    let tagged = fx.write_user_tags(5, 1);
    fx.invalidated_by("star after user_tags", all, tagged, star().all(plain))
        .await;
    fx.invalidated_by(
        "star after tags",
        all,
        fx.write_tags(1, "crimson"),
        star().all(plain),
    )
    .await;
    let gathered = || chain().consolidate().cached(cache).all_with_status(conn);
    let (write, truth) = (fx.write_groups("chained"), chain().consolidate().all(plain));
    fx.invalidated_by("chain after user_groups", gathered, write, truth)
        .await;
}

async fn joins_bypass_in_a_transaction(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    let txn = conn.begin().await.unwrap();
    write_user(&txn, "in_txn", Some(1)).await;
    let read = both().cached(cache).all_with_status(&txn).await.unwrap();
    assert_eq!(read.status, CacheStatus::Bypass, "a transaction bypasses");
    assert_eq!(
        read.value,
        both().all(&txn).await.unwrap(),
        "sees its own write"
    );
    assert_eq!(read.value.last().unwrap().0.username, "in_txn");
    let read = star()
        .consolidate()
        .cached(cache)
        .all_with_status(&txn)
        .await;
    assert_eq!(read.unwrap().status, CacheStatus::Bypass);
    txn.rollback().await.unwrap();
}

per_database!(find_with_related_and_linked, joins_of_three);
