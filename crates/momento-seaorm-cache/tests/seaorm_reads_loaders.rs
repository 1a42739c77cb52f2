//! SeaORM's loader API through `.cached(&cache)` on a `Vec` (or slice) of models, on SQLite,
//! PostgreSQL and MariaDB: `load_one`, `load_many` (also through a junction), and
//! `load_many_to_many`. Each batch misses then hits with SeaORM's own value after running
//! SeaORM's statements; a write to each table the batch reads makes it a miss, a write to the
//! models' own table does not (the models are the input); a transaction bypasses.

mod common;
mod seaorm_reads_support;

use common::entities::{user, user_group};
use common::Db;
use momento_seaorm_cache::{CacheQueryExt, CacheStatus};
use sea_orm::{
    ColumnTrait, EntityTrait, LoaderTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
};
use seaorm_reads_support::{follow, staff, tag, user_tag, write_user, Fixture};

/// Users older than 20, last first.
fn members() -> sea_orm::Select<user::Entity> {
    user::Entity::find()
        .filter(user::Column::Age.gt(20))
        .order_by_desc(user::Column::Id)
}

/// Tags in id order.
fn tags() -> sea_orm::Select<tag::Entity> {
    tag::Entity::find().order_by_asc(tag::Column::Id)
}

/// Staff in id order.
fn by_id() -> sea_orm::Select<staff::Entity> {
    staff::Entity::find().order_by_asc(staff::Column::Id)
}

/// Users 1 to `last`, in id order, read without the cache.
async fn users_upto(fx: &Fixture, last: i32) -> Vec<user::Model> {
    let users = user::Entity::find().filter(user::Column::Id.lte(last));
    users
        .order_by_asc(user::Column::Id)
        .all(fx.plain())
        .await
        .unwrap()
}

/// Every group, in id order, read without the cache.
async fn all_groups(fx: &Fixture) -> Vec<user_group::Model> {
    let groups = user_group::Entity::find().order_by_asc(user_group::Column::Id);
    groups.all(fx.plain()).await.unwrap()
}

/// Every staff member, in id order, read without the cache.
async fn staff_rows(fx: &Fixture) -> Vec<staff::Model> {
    let staff = staff::Entity::find().order_by_asc(staff::Column::Id);
    staff.all(fx.plain()).await.unwrap()
}

async fn load_one_and_many(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    batches_miss_then_hit(&fx).await;
    batches_invalidated_by_writes(&fx).await;
    no_models_no_query(&fx).await;
    batches_bypass_in_a_transaction(&fx).await;
    fx.cleanup().await;
}

async fn batches_miss_then_hit(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let people = users_upto(fx, 10).await;
    let groups = fx
        .miss_then_hit(
            "load_one",
            people.load_one(user_group::Entity, plain),
            || async {
                people
                    .cached(cache)
                    .load_one_with_status(user_group::Entity, conn)
                    .await
            },
        )
        .await;
    assert_eq!(groups.len(), 10);
    assert!(groups[4].is_none(), "user5 has no group");

    let teams = all_groups(fx).await;
    let value = fx
        .miss_then_hit(
            "load_many with a select",
            teams.load_many(members(), plain),
            || async {
                teams
                    .cached(cache)
                    .load_many_with_status(members(), conn)
                    .await
            },
        )
        .await;
    assert_eq!(value[0][0].id, 22, "SeaORM's order within each model");
    let slice = teams.as_slice().cached(cache);
    let read = slice.load_many_with_status(members(), conn).await.unwrap();
    assert_eq!(
        read.status,
        CacheStatus::Hit,
        "a slice and a Vec share the batch's key"
    );
    assert_eq!(read.value, value);
}

async fn batches_invalidated_by_writes(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let people = users_upto(fx, 10).await;
    let teams = all_groups(fx).await;
    fx.invalidated_by(
        "load_one after a write to user_groups",
        || async {
            people
                .cached(cache)
                .load_one_with_status(user_group::Entity, conn)
                .await
        },
        fx.write_groups("renamed"),
        people.load_one(user_group::Entity, plain),
    )
    .await;
    fx.write_users("not read by load_one").await;
    let read = people.cached(cache).load_one(user_group::Entity, conn);
    assert_eq!(
        read.await.unwrap(),
        people.load_one(user_group::Entity, plain).await.unwrap()
    );
    let read = people
        .cached(cache)
        .load_one_with_status(user_group::Entity, conn);
    assert_eq!(
        read.await.unwrap().status,
        CacheStatus::Hit,
        "a write to the models' own table leaves the batch cached"
    );
    fx.invalidated_by(
        "load_many after a write to users",
        || async {
            teams
                .cached(cache)
                .load_many_with_status(members(), conn)
                .await
        },
        fx.write_users("late"),
        teams.load_many(members(), plain),
    )
    .await;
}

async fn no_models_no_query(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    let none: Vec<user::Model> = Vec::new();
    let (read, ran) = fx
        .statements(
            none.cached(cache)
                .load_one_with_status(user_group::Entity, conn),
        )
        .await;
    let read = read.unwrap();
    assert_eq!((read.value, read.status), (Vec::new(), CacheStatus::Bypass));
    assert!(ran.is_empty(), "no models, no query (like SeaORM)");
}

async fn batches_bypass_in_a_transaction(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    let teams = all_groups(fx).await;
    let txn = conn.begin().await.unwrap();
    let added = write_user(&txn, "in_txn", Some(1)).await;
    let read = teams
        .cached(cache)
        .load_many_with_status(members(), &txn)
        .await;
    let read = read.unwrap();
    assert_eq!(read.status, CacheStatus::Bypass, "a transaction bypasses");
    assert_eq!(read.value[0][0], added, "sees its own write");
    txn.rollback().await.unwrap();
}

async fn many_to_many(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    many_to_many_miss_then_hit(&fx).await;
    many_to_many_invalidated_by_writes(&fx).await;
    many_to_many_bypass_in_a_transaction(&fx).await;
    fx.cleanup().await;
}

async fn many_to_many_miss_then_hit(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let people = users_upto(fx, 7).await;
    let value = fx
        .miss_then_hit_any_order(
            "load_many_to_many",
            people.load_many_to_many(tags(), user_tag::Entity, plain),
            || async {
                let cached = people.cached(cache);
                cached
                    .load_many_to_many_with_status(tags(), user_tag::Entity, conn)
                    .await
            },
        )
        .await;
    let names = |i: usize| value[i].iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        (names(0), names(4)),
        (vec!["red".into(), "green".into()], vec![])
    );
    let via = fx
        .miss_then_hit(
            "load_many through the junction",
            people.load_many(tag::Entity, plain),
            || async {
                people
                    .cached(cache)
                    .load_many_with_status(tag::Entity, conn)
                    .await
            },
        )
        .await;
    assert_eq!(via.len(), 7);
}

async fn many_to_many_invalidated_by_writes(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let people = users_upto(fx, 7).await;
    let both = || async {
        let cached = people.cached(cache);
        cached
            .load_many_to_many_with_status(tags(), user_tag::Entity, conn)
            .await
    };
    let truth = || people.load_many_to_many(tags(), user_tag::Entity, plain);
    fx.invalidated_by(
        "load_many_to_many after user_tags",
        both,
        fx.write_user_tags(5, 2),
        truth(),
    )
    .await;
    fx.invalidated_by(
        "load_many_to_many after tags",
        both,
        fx.write_tags(2, "lime"),
        truth(),
    )
    .await;
    let through = || async {
        people
            .cached(cache)
            .load_many_with_status(tag::Entity, conn)
            .await
    };
    let truth = || people.load_many(tag::Entity, plain);
    fx.invalidated_by(
        "junction load_many after user_tags",
        through,
        fx.write_user_tags(7, 3),
        truth(),
    )
    .await;
    fx.invalidated_by(
        "junction load_many after tags",
        through,
        fx.write_tags(3, "navy"),
        truth(),
    )
    .await;
}

async fn many_to_many_bypass_in_a_transaction(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    let people = users_upto(fx, 7).await;
    let txn = conn.begin().await.unwrap();
    user_tag_in(&txn, 2, 1).await;
    let read = people
        .cached(cache)
        .load_many_to_many_with_status(tags(), user_tag::Entity, &txn)
        .await
        .unwrap();
    assert_eq!(read.status, CacheStatus::Bypass, "a transaction bypasses");
    assert!(
        read.value[1].iter().any(|t| t.id == 1),
        "sees its own write"
    );
    txn.rollback().await.unwrap();
}

async fn user_tag_in<C: sea_orm::ConnectionTrait>(db: &C, user_id: i32, tag_id: i32) {
    use sea_orm::{ActiveModelTrait, Set};
    let row = user_tag::ActiveModel {
        user_id: Set(user_id),
        tag_id: Set(tag_id),
    };
    row.insert(db).await.unwrap();
}

async fn self_referencing(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    self_loads_miss_then_hit(&fx).await;
    self_loads_invalidated_by_writes(&fx).await;
    self_loads_bypass_in_a_transaction(&fx).await;
    fx.cleanup().await;
}

async fn self_loads_miss_then_hit(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let people = staff_rows(fx).await;
    let bosses = fx
        .miss_then_hit(
            "load_self",
            people.load_self(staff::Entity, staff::Relation::ReportsTo, plain),
            || async {
                let cached = people.cached(cache);
                cached
                    .load_self_with_status(staff::Entity, staff::Relation::ReportsTo, conn)
                    .await
            },
        )
        .await;
    assert_eq!(bosses[1].as_ref().map(|b| b.name.as_str()), Some("Alan"));
    let reports = fx
        .miss_then_hit(
            "load_self_many",
            people.load_self_many(by_id(), staff::Relation::Manages, plain),
            || async {
                let cached = people.cached(cache);
                cached
                    .load_self_many_with_status(by_id(), staff::Relation::Manages, conn)
                    .await
            },
        )
        .await;
    assert_eq!(reports[0].len(), 2);
    let followers = fx
        .miss_then_hit(
            "load_self_via",
            people.load_self_via(follow::Entity, plain),
            || async {
                people
                    .cached(cache)
                    .load_self_via_with_status(follow::Entity, conn)
                    .await
            },
        )
        .await;
    assert_eq!(
        followers[0].iter().map(|f| f.id).collect::<Vec<_>>(),
        [2, 3]
    );
    fx.miss_then_hit(
        "load_self_via_rev",
        people.load_self_via_rev(follow::Entity, plain),
        || async {
            people
                .as_slice()
                .cached(cache)
                .load_self_via_rev_with_status(follow::Entity, conn)
                .await
        },
    )
    .await;
}

async fn self_loads_invalidated_by_writes(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let people = staff_rows(fx).await;
    fx.invalidated_by(
        "load_self after a write to staff",
        || async {
            let cached = people.cached(cache);
            cached
                .load_self_with_status(staff::Entity, staff::Relation::ReportsTo, conn)
                .await
        },
        async {
            let renamed = staff::ActiveModel {
                id: sea_orm::Set(1),
                name: sea_orm::Set("Alan T.".to_owned()),
                ..Default::default()
            };
            sea_orm::ActiveModelTrait::update(renamed, conn)
                .await
                .unwrap();
        },
        people.load_self(staff::Entity, staff::Relation::ReportsTo, plain),
    )
    .await;
    fx.invalidated_by(
        "load_self_via after a write to follows",
        || async {
            people
                .cached(cache)
                .load_self_via_with_status(follow::Entity, conn)
                .await
        },
        async {
            let row = follow::ActiveModel {
                staff_id: sea_orm::Set(4),
                follower_id: sea_orm::Set(1),
            };
            sea_orm::ActiveModelTrait::insert(row, conn).await.unwrap();
        },
        people.load_self_via(follow::Entity, plain),
    )
    .await;
}

async fn self_loads_bypass_in_a_transaction(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    let people = staff_rows(fx).await;
    let txn = conn.begin().await.unwrap();
    let row = follow::ActiveModel {
        staff_id: sea_orm::Set(3),
        follower_id: sea_orm::Set(4),
    };
    sea_orm::ActiveModelTrait::insert(row, &txn).await.unwrap();
    let read = people
        .cached(cache)
        .load_self_via_with_status(follow::Entity, &txn)
        .await;
    let read = read.unwrap();
    assert_eq!(read.status, CacheStatus::Bypass, "a transaction bypasses");
    assert_eq!(read.value[2].len(), 1, "sees its own write");
    txn.rollback().await.unwrap();
}

per_database!(load_one_and_many, many_to_many, self_referencing);
