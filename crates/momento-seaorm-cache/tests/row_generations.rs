//! Row and condition generations: a write to one row keeps reads of other rows cached, on
//! SQLite, PostgreSQL and MariaDB, and every read a write can change is a miss after it — also
//! when the row generation was evicted, when the writer does not know the entity, in a
//! transaction, and when a read's condition is too wide to track.

mod common;

use common::entities::{user, user_group};
use common::{insert_user, Db, TestCache, TestDb};
use momento_seaorm_cache::{CacheQueryExt, CacheStatus, CachedConnection, ModelCache};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionSession, TransactionTrait,
};

struct Fixture {
    test: TestDb,
    momento: TestCache,
    cache: ModelCache,
    db: CachedConnection,
    groups: [i32; 2],
    /// Users: two in the first group, one in the second.
    users: [user::Model; 3],
}

async fn fixture(kind: Db) -> Option<Fixture> {
    let test = TestDb::new(kind).await?;
    test.seed().await;
    let momento = TestCache::start("rows").await;
    let cache = momento.model_cache(|b| b).await;
    let db = CachedConnection::new(test.conn.clone(), &cache);
    let mut groups = [0; 2];
    for (i, name) in ["red", "blue"].into_iter().enumerate() {
        let group = user_group::ActiveModel {
            name: Set(name.into()),
            ..Default::default()
        };
        groups[i] = group.insert(&test.conn).await.expect("group").id;
    }
    let users = [
        insert_user(&test.conn, "ann", Some(groups[0])).await,
        insert_user(&test.conn, "bob", Some(groups[0])).await,
        insert_user(&test.conn, "cyd", Some(groups[1])).await,
    ];
    Some(Fixture {
        test,
        momento,
        cache,
        db,
        groups,
        users,
    })
}

impl Fixture {
    async fn by_pk(&self, id: i32) -> (CacheStatus, Option<user::Model>) {
        let read = self
            .cache
            .wrap(user::Entity)
            .find_by_pk_with_status(&self.db, id)
            .await
            .expect("find_by_pk");
        (read.status, read.value)
    }

    /// The users of `group`, by id, through `.cached()`.
    async fn group(&self, group: i32) -> (CacheStatus, Vec<i32>) {
        let read = user::Entity::find()
            .filter(user::Column::GroupId.eq(group))
            .order_by_asc(user::Column::Id)
            .cached(&self.cache)
            .all_with_status(&self.db)
            .await
            .expect("group list");
        (read.status, read.value.iter().map(|u| u.id).collect())
    }

    /// The ids `group` holds in the database.
    async fn group_in_db(&self, group: i32) -> Vec<i32> {
        user::Entity::find()
            .filter(user::Column::GroupId.eq(group))
            .order_by_asc(user::Column::Id)
            .all(&self.test.conn)
            .await
            .expect("group in db")
            .iter()
            .map(|u| u.id)
            .collect()
    }

    async fn set_age(&self, id: i32, age: i32) {
        let mut row = self
            .users
            .iter()
            .find(|u| u.id == id)
            .unwrap()
            .clone()
            .into_active_model();
        row.age = Set(age);
        row.update(&self.db).await.expect("update age");
    }

    async fn cleanup(self) {
        self.momento.server.shutdown().await;
        self.test.cleanup().await;
    }
}

/// `find_by_pk(a)` and `find_by_id(a).cached().one()` stay hits when row `b` is written by an
/// ActiveModel update or by raw SQL, and miss with the new row when `a` is.
async fn a_write_to_one_row_keeps_other_rows_cached(kind: Db) {
    let Some(f) = fixture(kind).await else { return };
    let [a, b, _] = [f.users[0].id, f.users[1].id, f.users[2].id];
    let one = || user::Entity::find_by_id(a).cached(&f.cache);
    assert_eq!(f.by_pk(a).await.0, CacheStatus::Miss);
    assert_eq!(
        one().one_with_status(&f.db).await.unwrap().status,
        CacheStatus::Miss
    );

    f.set_age(b, 40).await;
    f.db.execute_unprepared(&format!(
        "UPDATE users SET username = 'bobby' WHERE id = {b}"
    ))
    .await
    .unwrap();
    assert_eq!(
        f.by_pk(a).await.0,
        CacheStatus::Hit,
        "row {b} written, not {a}"
    );
    assert_eq!(
        one().one_with_status(&f.db).await.unwrap().status,
        CacheStatus::Hit
    );
    let (status, row) = f.by_pk(b).await;
    let row = row.unwrap();
    assert_eq!(
        (status, row.age, row.username.as_str()),
        (CacheStatus::Miss, 40, "bobby")
    );

    f.set_age(a, 41).await;
    let (status, row) = f.by_pk(a).await;
    assert_eq!((status, row.unwrap().age), (CacheStatus::Miss, 41));
    let read = one().one_with_status(&f.db).await.unwrap();
    assert_eq!(
        (read.status, read.value.unwrap().age),
        (CacheStatus::Miss, 41)
    );
    f.db.execute_unprepared(&format!("DELETE FROM users WHERE id = {a}"))
        .await
        .unwrap();
    assert_eq!(f.by_pk(a).await, (CacheStatus::Miss, None));
    f.cleanup().await;
}

/// A list by foreign key (`group_id = g`) stays a hit when rows of another group are inserted
/// or written with their group known, and misses when a row joins or leaves it.
async fn an_equality_condition_sees_only_writes_to_its_rows(kind: Db) {
    let Some(f) = fixture(kind).await else { return };
    let [red, blue] = f.groups;
    let cyd = f.users[2].id;
    assert_eq!(f.group(red).await.0, CacheStatus::Miss);
    assert_eq!(f.group(red).await.0, CacheStatus::Hit);

    // A new user in blue: its group and id are known (VALUES, RETURNING or the generated id).
    let dan = insert_user(f.db.inner(), "dan", Some(blue)).await;
    let dan_through_cache = common::insert_user_in(&f.db, "eve").await; // group NULL
    assert_eq!(
        f.group(red).await.0,
        CacheStatus::Hit,
        "inserted into blue and NULL"
    );
    // A write to a blue row that pins its group.
    f.db.execute_unprepared(&format!(
        "UPDATE users SET age = 7 WHERE id = {cyd} AND group_id = {blue}"
    ))
    .await
    .unwrap();
    assert_eq!(f.group(red).await.0, CacheStatus::Hit, "blue row written");

    // Moving cyd from blue to red: both lists change.
    assert_eq!(f.group(blue).await.0, CacheStatus::Miss);
    f.db.execute_unprepared(&format!(
        "UPDATE users SET group_id = {red} WHERE id = {cyd}"
    ))
    .await
    .unwrap();
    let (status, red_ids) = f.group(red).await;
    assert_eq!(
        (status, red_ids),
        (CacheStatus::Miss, f.group_in_db(red).await)
    );
    assert!(f.group(red).await.1.contains(&cyd));
    let (status, blue_ids) = f.group(blue).await;
    assert_eq!(
        (status, blue_ids),
        (CacheStatus::Miss, f.group_in_db(blue).await)
    );

    // A user inserted into red through the cache, and one deleted from it.
    insert_user_through(&f.db, "fay", red).await;
    let (status, ids) = f.group(red).await;
    assert_eq!((status, ids), (CacheStatus::Miss, f.group_in_db(red).await));
    user::Entity::delete_by_id(cyd).exec(&f.db).await.unwrap();
    let (status, ids) = f.group(red).await;
    assert_eq!((status, ids), (CacheStatus::Miss, f.group_in_db(red).await));
    let _ = (dan, dan_through_cache);
    f.cleanup().await;
}

async fn insert_user_through(db: &CachedConnection, name: &str, group: i32) -> user::Model {
    user::ActiveModel {
        username: Set(name.into()),
        birthday: Set(chrono::Utc::now()),
        age: Set(3),
        is_active: Set(true),
        account_balance: Set(1.5),
        group_id: Set(Some(group)),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert through the cache")
}

/// An ActiveModel update of a row of another group keeps the list cached: on PostgreSQL it
/// returns its row; on SQLite and MariaDB the row's group is read in the update's transaction.
/// Inside a `CachedTransaction` too.
async fn activemodel_updates_keep_other_groups_cached(kind: Db) {
    let Some(f) = fixture(kind).await else { return };
    let [red, _] = f.groups;
    let cyd = f.users[2].id; // blue
    f.group(red).await;
    f.set_age(cyd, 50).await;
    let (status, ids) = f.group(red).await;
    assert_eq!((status, ids), (CacheStatus::Hit, f.group_in_db(red).await));
    let txn = f.db.begin().await.unwrap();
    let mut row = f.users[2].clone().into_active_model();
    row.age = Set(51);
    row.update(&txn).await.unwrap();
    txn.commit().await.unwrap();
    let (status, ids) = f.group(red).await;
    assert_eq!((status, ids), (CacheStatus::Hit, f.group_in_db(red).await));
    // A member of red updated the same way: the list misses and shows the new age.
    let ann = f.users[0].id;
    f.set_age(ann, 52).await;
    let read = user::Entity::find()
        .filter(user::Column::GroupId.eq(red))
        .order_by_asc(user::Column::Id)
        .cached(&f.cache)
        .all_with_status(&f.db)
        .await
        .unwrap();
    assert_eq!(read.status, CacheStatus::Miss);
    assert_eq!(read.value.iter().find(|u| u.id == ann).unwrap().age, 52);
    f.cleanup().await;
}

/// Reads that are not one table pinned by an integer column depend on the table: a range, and
/// an `IN` of more than 16 values; writes whose rows are not known (a filter on a range)
/// invalidate every row read of the table.
async fn wide_reads_and_unknown_rows_use_the_whole_table(kind: Db) {
    let Some(f) = fixture(kind).await else { return };
    let [a, b, c] = [f.users[0].id, f.users[1].id, f.users[2].id];
    let range = || {
        user::Entity::find()
            .filter(user::Column::Age.gt(10))
            .cached(&f.cache)
    };
    let many: Vec<i32> = (a..a + 17).collect();
    let wide = || {
        user::Entity::find()
            .filter(user::Column::Id.is_in(many.clone()))
            .cached(&f.cache)
    };
    let narrow = || {
        user::Entity::find()
            .filter(user::Column::Id.is_in([a, c]))
            .cached(&f.cache)
    };
    for read in [range(), wide(), narrow()] {
        assert_eq!(
            read.all_with_status(&f.db).await.unwrap().status,
            CacheStatus::Miss
        );
    }
    f.set_age(b, 60).await;
    assert_eq!(
        range().all_with_status(&f.db).await.unwrap().status,
        CacheStatus::Miss
    );
    assert_eq!(
        wide().all_with_status(&f.db).await.unwrap().status,
        CacheStatus::Miss
    );
    assert_eq!(
        narrow().all_with_status(&f.db).await.unwrap().status,
        CacheStatus::Hit
    );

    f.by_pk(a).await;
    user::Entity::update_many()
        .col_expr(
            user::Column::IsActive,
            sea_orm::sea_query::Expr::value(false),
        )
        .filter(user::Column::Age.gt(50))
        .exec(&f.db)
        .await
        .unwrap();
    assert_eq!(
        f.by_pk(a).await.0,
        CacheStatus::Miss,
        "rows of a range are not known"
    );
    let read = narrow().all_with_status(&f.db).await.unwrap();
    assert_eq!(read.status, CacheStatus::Miss);
    f.cleanup().await;
}

/// A row generation evicted between a write and a read is a miss with the new row, and one
/// evicted with nothing written is a miss, never a hit on a value it stamped.
async fn an_evicted_row_generation_is_a_miss(kind: Db) {
    let Some(f) = fixture(kind).await else { return };
    let a = f.users[0].id;
    f.by_pk(a).await;
    let row_key = format!("model-cache:gen:users#id={a}");
    assert!(
        f.momento.raw(&row_key).await.is_some(),
        "{row_key} is the row's generation"
    );
    for key in [row_key.as_str(), "model-cache:gen:users#*"] {
        assert_eq!(f.by_pk(a).await.0, CacheStatus::Hit);
        f.momento
            .client
            .delete(f.momento.cache_name.as_str(), key)
            .await
            .unwrap();
        assert_eq!(f.by_pk(a).await.0, CacheStatus::Miss, "{key} evicted");
    }
    // Written through another connection with no invalidation, then the generation evicted:
    // the read loads the new row.
    f.db.inner()
        .execute_unprepared(&format!("UPDATE users SET age = 77 WHERE id = {a}"))
        .await
        .unwrap();
    f.momento
        .client
        .delete(f.momento.cache_name.as_str(), row_key.as_str())
        .await
        .unwrap();
    let (status, row) = f.by_pk(a).await;
    assert_eq!((status, row.unwrap().age), (CacheStatus::Miss, 77));
    f.cleanup().await;
}

/// A process that never read `users` through the cache, and has no entity for it, still writes
/// by row: the columns come from the database's catalog, not from an entity (two deploys of one
/// service track the same columns). A write to a table the catalog does not have invalidates
/// everything.
async fn a_writer_without_the_entity_writes_by_row(kind: Db) {
    let Some(f) = fixture(kind).await else { return };
    let [a, b, _] = [f.users[0].id, f.users[1].id, f.users[2].id];
    let other = f.momento.model_cache(|b| b).await; // another process, same backend and prefix
    let writer = CachedConnection::new(f.test.conn.clone(), &other);
    let write_b = |age: i32| format!("UPDATE users SET age = {age} WHERE id = {b}");
    f.by_pk(a).await;
    writer.execute_unprepared(&write_b(1)).await.unwrap();
    assert_eq!(
        f.by_pk(a).await.0,
        CacheStatus::Hit,
        "row {b} only, though the writer has no entity"
    );
    assert_eq!(f.by_pk(b).await.1.unwrap().age, 1);
    f.by_pk(b).await;
    writer.execute_unprepared(&write_b(2)).await.unwrap();
    let (status, row) = f.by_pk(b).await;
    assert_eq!((status, row.unwrap().age), (CacheStatus::Miss, 2));
    f.cleanup().await;
}

/// Rows written in a transaction are bumped when it commits, not before, and not on rollback.
async fn a_transaction_bumps_its_rows_at_commit(kind: Db) {
    let Some(f) = fixture(kind).await else { return };
    let [a, b, _] = [f.users[0].id, f.users[1].id, f.users[2].id];
    f.by_pk(a).await;
    f.by_pk(b).await;
    let txn = f.db.begin().await.unwrap();
    txn.execute_unprepared(&format!("UPDATE users SET age = 90 WHERE id = {b}"))
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(f.by_pk(b).await.0, CacheStatus::Hit, "rolled back");
    let txn = f.db.begin().await.unwrap();
    txn.execute_unprepared(&format!("UPDATE users SET age = 91 WHERE id = {b}"))
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let (status, row) = f.by_pk(b).await;
    assert_eq!((status, row.unwrap().age), (CacheStatus::Miss, 91));
    assert_eq!(f.by_pk(a).await.0, CacheStatus::Hit);
    f.cleanup().await;
}

per_database!(
    a_write_to_one_row_keeps_other_rows_cached,
    an_equality_condition_sees_only_writes_to_its_rows,
    activemodel_updates_keep_other_groups_cached,
    wide_reads_and_unknown_rows_use_the_whole_table,
    an_evicted_row_generation_is_a_miss,
    a_writer_without_the_entity_writes_by_row,
    a_transaction_bumps_its_rows_at_commit,
);
