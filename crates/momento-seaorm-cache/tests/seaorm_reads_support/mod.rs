//! Fixtures of the `seaorm_reads*` tests: the Node library's users and groups plus 21 more
//! users, tags on users through a junction table, a link and a partial model; SeaORM's
//! statements recorded with its metric callback; and the three checks every SeaORM read gets:
//! miss then hit equal to SeaORM's own call (running the statements SeaORM runs), a miss after a
//! write through the `CachedConnection` to each table it reads, and a bypass in a transaction.
#![allow(dead_code)]

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::common::entities::{user, user_group};
use crate::common::{insert_user, Db, TestCache, TestDb};
use momento_seaorm_cache::{CacheStatus, CachedConnection, ModelCache, ReadResult};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbErr, RelationTrait, Schema, Set,
    Statement, Values,
};

/// `tags`: labels on users, many to many through `user_tags`.
pub mod tag {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "tags")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::user_tag::Entity")]
        UserTag,
    }

    impl Related<super::user_tag::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::UserTag.def()
        }
    }

    impl Related<crate::common::entities::user::Entity> for Entity {
        fn to() -> RelationDef {
            super::user_tag::Relation::User.def()
        }
        fn via() -> Option<RelationDef> {
            Some(super::user_tag::Relation::Tag.def().rev())
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `user_tags`: the junction of users and tags.
pub mod user_tag {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "user_tags")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tag_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "crate::common::entities::user::Entity",
            from = "Column::UserId",
            to = "crate::common::entities::user::Column::Id"
        )]
        User,
        #[sea_orm(
            belongs_to = "super::tag::Entity",
            from = "Column::TagId",
            to = "super::tag::Column::Id"
        )]
        Tag,
    }

    impl Related<crate::common::entities::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl Related<super::tag::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Tag.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

impl sea_orm::Related<tag::Entity> for user::Entity {
    fn to() -> sea_orm::RelationDef {
        user_tag::Relation::Tag.def()
    }
    fn via() -> Option<sea_orm::RelationDef> {
        Some(user_tag::Relation::User.def().rev())
    }
}

impl sea_orm::Related<user_tag::Entity> for user::Entity {
    fn to() -> sea_orm::RelationDef {
        user_tag::Relation::User.def().rev()
    }
}

/// `staff`: a self-referencing entity (who reports to whom).
pub mod staff {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "staff")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
        pub reports_to_id: Option<i32>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(belongs_to = "Entity", from = "Column::ReportsToId", to = "Column::Id")]
        ReportsTo,
        #[sea_orm(has_many = "Entity", via_rel = "Relation::ReportsTo")]
        Manages,
    }

    impl sea_orm::RelatedSelfVia<super::follow::Entity> for Entity {
        fn to() -> RelationDef {
            super::follow::Relation::Follower.def()
        }
        fn via() -> RelationDef {
            super::follow::Relation::Staff.def().rev()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `follows`: staff following staff, a self-referencing junction.
pub mod follow {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "follows")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub staff_id: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub follower_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::staff::Entity",
            from = "Column::StaffId",
            to = "super::staff::Column::Id"
        )]
        Staff,
        #[sea_orm(
            belongs_to = "super::staff::Entity",
            from = "Column::FollowerId",
            to = "super::staff::Column::Id"
        )]
        Follower,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// A group's users, as a link (for `find_with_linked`).
pub struct GroupUsers;

impl sea_orm::Linked for GroupUsers {
    type FromEntity = user_group::Entity;
    type ToEntity = user::Entity;

    fn link(&self) -> Vec<sea_orm::RelationDef> {
        vec![user_group::Relation::User.def()]
    }
}

/// Two columns of a user, as a partial model.
#[derive(
    Debug, Clone, PartialEq, sea_orm::DerivePartialModel, serde::Serialize, serde::Deserialize,
)]
#[sea_orm(entity = "user::Entity")]
pub struct UserName {
    pub id: i32,
    pub username: String,
}

/// The statements SeaORM sent to the database, in order.
pub type Seen = Arc<Mutex<Vec<(String, Option<Values>)>>>;

/// A seeded database, a momento-lite cache, and a `CachedConnection` that records statements.
pub struct Fixture {
    pub db: TestDb,
    pub momento: TestCache,
    pub cache: ModelCache,
    pub conn: CachedConnection,
    seen: Seen,
}

/// Users `user3` .. `user23` (groups alternating, every fifth without one), tags `red`,
/// `green`, `blue`, and tags on users 1 to 6; staff Alan, Ben and Alice (reporting to Alan),
/// Elle; Alan followed by Ben and Alice, Ben by Alice.
async fn seed_more(db: &DatabaseConnection) {
    let schema = Schema::new(db.get_database_backend());
    for table in [
        schema.create_table_from_entity(tag::Entity),
        schema.create_table_from_entity(user_tag::Entity),
        schema.create_table_from_entity(staff::Entity),
        schema.create_table_from_entity(follow::Entity),
    ] {
        db.execute(&table).await.expect("create table");
    }
    for n in 3..=23 {
        let group = (n % 5 != 0).then_some(1 + n % 2);
        insert_user(db, &format!("user{n}"), group).await;
    }
    for name in ["red", "green", "blue"] {
        let name = Set(name.to_owned());
        let tag = tag::ActiveModel {
            name,
            ..Default::default()
        };
        tag.insert(db).await.expect("insert tag");
    }
    for (name, reports_to_id) in [
        ("Alan", None),
        ("Ben", Some(1)),
        ("Alice", Some(1)),
        ("Elle", None),
    ] {
        let row = staff::ActiveModel {
            name: Set(name.to_owned()),
            reports_to_id: Set(reports_to_id),
            ..Default::default()
        };
        row.insert(db).await.expect("insert staff");
    }
    for (staff_id, follower_id) in [(1, 2), (1, 3), (2, 3)] {
        let row = follow::ActiveModel {
            staff_id: Set(staff_id),
            follower_id: Set(follower_id),
        };
        row.insert(db).await.expect("insert follow");
    }
    for (user_id, tag_id) in [(1, 1), (1, 2), (2, 2), (3, 3), (4, 1), (4, 3), (6, 2)] {
        user_tag::ActiveModel {
            user_id: Set(user_id),
            tag_id: Set(tag_id),
        }
        .insert(db)
        .await
        .expect("insert user tag");
    }
}

impl Fixture {
    /// A fixture on `kind`, or `None` when its server is absent.
    pub async fn new(kind: Db) -> Option<Fixture> {
        let mut db = TestDb::new(kind).await?;
        db.seed().await;
        seed_more(&db.conn).await;
        let seen: Seen = Arc::default();
        let log = seen.clone();
        db.conn.set_metric_callback(move |info| {
            let statement: &Statement = info.statement;
            let entry = (statement.sql.clone(), statement.values.clone());
            log.lock().unwrap().push(entry);
        });
        let momento = TestCache::start("model-cache").await;
        // A deadline no healthy cache call reaches on a loaded test machine: these tests
        // check what is read, and a timeout would turn a hit into a miss or a bypass.
        let patient = std::time::Duration::from_secs(5);
        let cache = momento.model_cache(|b| b.cache_timeout(patient)).await;
        let conn = CachedConnection::new(db.conn.clone(), &cache);
        // The catalog is read once, on first use: read it now, so only the reads are compared.
        assert!(cache.refresh_catalog(&db.conn).await);
        Some(Fixture {
            db,
            momento,
            cache,
            conn,
            seen,
        })
    }

    /// The plain SeaORM connection (no cache, no invalidation).
    pub fn plain(&self) -> &DatabaseConnection {
        self.conn.inner()
    }

    /// Runs `f` and returns its output with the statements it sent to the database.
    pub async fn statements<T>(
        &self,
        f: impl Future<Output = T>,
    ) -> (T, Vec<(String, Option<Values>)>) {
        self.seen.lock().unwrap().clear();
        let out = f.await;
        (out, std::mem::take(&mut *self.seen.lock().unwrap()))
    }

    /// Checks that `cached` misses, then hits, each time with what `uncached` (SeaORM's own
    /// call) returns, and that the miss runs exactly SeaORM's statements and the hit none.
    /// Returns SeaORM's value.
    pub async fn miss_then_hit<T, U, C, F>(&self, what: &str, uncached: U, cached: C) -> T
    where
        T: Debug + PartialEq,
        U: Future<Output = Result<T, DbErr>>,
        C: Fn() -> F,
        F: Future<Output = Result<ReadResult<T>, DbErr>>,
    {
        self.check_miss_then_hit(what, uncached, cached, |s| s)
            .await
    }

    /// Like [`miss_then_hit`](Self::miss_then_hit), for SeaORM calls whose statements bind
    /// their values in an order of their own choosing each time (`load_many_to_many` collects
    /// keys through a `HashMap`): the statements are compared with their values sorted.
    pub async fn miss_then_hit_any_order<T, U, C, F>(&self, what: &str, uncached: U, cached: C) -> T
    where
        T: Debug + PartialEq,
        U: Future<Output = Result<T, DbErr>>,
        C: Fn() -> F,
        F: Future<Output = Result<ReadResult<T>, DbErr>>,
    {
        let sorted = |statements: Vec<(String, Option<Values>)>| {
            let sort = |(sql, values): (String, Option<Values>)| {
                let mut values: Vec<String> = values
                    .into_iter()
                    .flat_map(|v| v.0)
                    .map(|v| format!("{v:?}"))
                    .collect();
                values.sort();
                (
                    sql,
                    Some(Values(values.into_iter().map(Into::into).collect())),
                )
            };
            statements.into_iter().map(sort).collect()
        };
        self.check_miss_then_hit(what, uncached, cached, sorted)
            .await
    }

    async fn check_miss_then_hit<T, U, C, F>(
        &self,
        what: &str,
        uncached: U,
        cached: C,
        normal: impl Fn(Vec<(String, Option<Values>)>) -> Vec<(String, Option<Values>)>,
    ) -> T
    where
        T: Debug + PartialEq,
        U: Future<Output = Result<T, DbErr>>,
        C: Fn() -> F,
        F: Future<Output = Result<ReadResult<T>, DbErr>>,
    {
        let (truth, plain) = self.statements(uncached).await;
        let truth = truth.unwrap_or_else(|e| panic!("{what}: SeaORM failed: {e}"));
        let (miss, on_miss) = self.statements(cached()).await;
        let miss = miss.unwrap_or_else(|e| panic!("{what}: cached read failed: {e}"));
        assert_eq!(miss.status, CacheStatus::Miss, "{what}: first read");
        assert_eq!(miss.value, truth, "{what}: the miss returns SeaORM's value");
        assert_eq!(
            normal(on_miss),
            normal(plain),
            "{what}: the miss runs SeaORM's statements"
        );
        let (hit, on_hit) = self.statements(cached()).await;
        let hit = hit.unwrap();
        assert_eq!(hit.status, CacheStatus::Hit, "{what}: second read");
        assert_eq!(hit.value, truth, "{what}: the hit returns SeaORM's value");
        assert!(on_hit.is_empty(), "{what}: a hit runs nothing: {on_hit:?}");
        assert_eq!(hit.key, miss.key, "{what}: one key");
        truth
    }

    /// Checks that `cached` is a hit, that `write` (through the `CachedConnection`) makes it
    /// a miss, and that the miss returns what `uncached` returns after the write.
    pub async fn invalidated_by<T, C, F, U>(
        &self,
        what: &str,
        cached: C,
        write: impl Future<Output = ()>,
        uncached: U,
    ) where
        T: Debug + PartialEq,
        C: Fn() -> F,
        F: Future<Output = Result<ReadResult<T>, DbErr>>,
        U: Future<Output = Result<T, DbErr>>,
    {
        cached().await.unwrap();
        let warm = cached().await.unwrap();
        assert_eq!(
            warm.status,
            CacheStatus::Hit,
            "{what}: warm before the write"
        );
        write.await;
        let after = cached().await.unwrap();
        assert_eq!(after.status, CacheStatus::Miss, "{what}: invalidated");
        assert_eq!(
            after.value,
            uncached.await.unwrap(),
            "{what}: the new value"
        );
        assert_eq!(
            cached().await.unwrap().status,
            CacheStatus::Hit,
            "{what}: cached again"
        );
    }

    /// Inserts a user through the `CachedConnection` (a write to `users`).
    pub async fn write_users(&self, name: &str) {
        write_user(&self.conn, name, Some(1)).await;
    }

    /// Renames group 1 through the `CachedConnection` (a write to `user_groups`).
    pub async fn write_groups(&self, name: &str) {
        user_group::ActiveModel {
            id: Set(1),
            name: Set(name.to_owned()),
        }
        .update(&self.conn)
        .await
        .expect("update group");
    }

    /// Tags user `user_id` with `tag_id` through the `CachedConnection` (a write to
    /// `user_tags`).
    pub async fn write_user_tags(&self, user_id: i32, tag_id: i32) {
        user_tag::ActiveModel {
            user_id: Set(user_id),
            tag_id: Set(tag_id),
        }
        .insert(&self.conn)
        .await
        .expect("insert user tag");
    }

    /// Renames tag `id` through the `CachedConnection` (a write to `tags`).
    pub async fn write_tags(&self, id: i32, name: &str) {
        tag::ActiveModel {
            id: Set(id),
            name: Set(name.to_owned()),
        }
        .update(&self.conn)
        .await
        .expect("update tag");
    }

    /// Drops what the fixture made.
    pub async fn cleanup(self) {
        drop(self.conn);
        self.db.cleanup().await;
    }
}

/// Inserts a user through any connection.
pub async fn write_user<C: ConnectionTrait>(db: &C, name: &str, group: Option<i32>) -> user::Model {
    user::ActiveModel {
        username: Set(name.to_owned()),
        birthday: Set(chrono::DateTime::from_timestamp(946_684_800, 0).unwrap()),
        age: Set(41),
        is_active: Set(true),
        account_balance: Set(2.5),
        group_id: Set(group),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert user")
}

/// Ids of users, for readable assertions.
pub fn ids(users: &[user::Model]) -> Vec<i32> {
    users.iter().map(|u| u.id).collect()
}
