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

async fn load_one_and_many(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let people = user::Entity::find()
        .filter(user::Column::Id.lte(10))
        .order_by_asc(user::Column::Id)
        .all(plain)
        .await
        .unwrap();
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

    let teams = user_group::Entity::find()
        .order_by_asc(user_group::Column::Id)
        .all(plain)
        .await
        .unwrap();
    let members = || {
        user::Entity::find()
            .filter(user::Column::Age.gt(20))
            .order_by_desc(user::Column::Id)
    };
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
    fx.cleanup().await;
}

async fn many_to_many(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let people = user::Entity::find()
        .filter(user::Column::Id.lte(7))
        .order_by_asc(user::Column::Id)
        .all(plain)
        .await
        .unwrap();
    let tags = || tag::Entity::find().order_by_asc(tag::Column::Id);
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
    fx.cleanup().await;
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
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let people = staff::Entity::find()
        .order_by_asc(staff::Column::Id)
        .all(plain)
        .await
        .unwrap();
    let by_id = || staff::Entity::find().order_by_asc(staff::Column::Id);
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
    fx.cleanup().await;
}

per_database!(load_one_and_many, many_to_many, self_referencing);
