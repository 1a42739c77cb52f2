//! Row precision beyond integer keys, on SQLite, PostgreSQL and MariaDB: a UUID primary key
//! (as SeaORM maps it: PostgreSQL `uuid`, MariaDB `BINARY(16)`, SQLite `uuid_text` holding
//! blobs), a lookup by text in a column whose collation compares exactly, and a composite
//! primary key are row-precise: a write to another row keeps the read cached. Text in a
//! column whose collation folds case or trailing spaces stays at column level: a write of
//! `'A@x'` or `'a@x '` reaches a cached read of `'a@x'`.

mod common;

use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{CacheQueryExt, CacheStatus, CachedConnection, ModelCache};
use sea_orm::prelude::Uuid;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Schema, Set, Statement,
};

/// A UUID primary key.
mod account {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Text looked up by value: `email` compares exactly, `folded` folds case, `padded` ignores
/// trailing spaces (the table is made per database, see `contacts_ddl`).
mod contact {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "contacts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub email: String,
        pub folded: String,
        pub padded: String,
        pub note: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A composite primary key.
mod seat {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "seats")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub room: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub number: i32,
        pub holder: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

struct Fixture {
    test: TestDb,
    momento: TestCache,
    cache: ModelCache,
    db: CachedConnection,
}

async fn fixture(kind: Db) -> Option<Fixture> {
    let test = TestDb::new(kind).await?;
    let momento = TestCache::start("row-keys").await;
    let cache = momento.model_cache(|b| b).await;
    let db = CachedConnection::new(test.conn.clone(), &cache);
    let schema = Schema::new(test.backend());
    for create in [
        schema.create_table_from_entity(account::Entity),
        schema.create_table_from_entity(seat::Entity),
    ] {
        test.conn.execute(&create).await.expect("create table");
    }
    for ddl in contacts_ddl(kind) {
        test.conn.execute_unprepared(ddl).await.expect(ddl);
    }
    Some(Fixture {
        test,
        momento,
        cache,
        db,
    })
}

/// `contacts` with an exact, a case-folding and a space-padding text column.
fn contacts_ddl(kind: Db) -> Vec<&'static str> {
    match kind {
        Db::Sqlite => vec![
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL, \
             folded TEXT COLLATE NOCASE NOT NULL, padded TEXT COLLATE RTRIM NOT NULL, \
             note INTEGER NOT NULL)",
        ],
        Db::Postgres => vec![
            "CREATE COLLATION folding (provider = icu, locale = 'und-u-ks-level2', \
             deterministic = false)",
            "CREATE TABLE contacts (id SERIAL PRIMARY KEY, email VARCHAR(100) NOT NULL, \
             folded TEXT COLLATE folding NOT NULL, padded CHAR(20) NOT NULL, note INT NOT NULL)",
        ],
        Db::MySql => vec![
            "CREATE TABLE contacts (id INT AUTO_INCREMENT PRIMARY KEY, \
             email VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL, \
             folded VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, \
             padded VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \
             note INT NOT NULL)",
        ],
    }
}

impl Fixture {
    async fn cleanup(self) {
        self.momento.server.shutdown().await;
        self.test.cleanup().await;
    }

    async fn account(&self, id: Uuid) -> (CacheStatus, Option<i32>) {
        let read = self
            .cache
            .wrap(account::Entity)
            .find_by_pk_with_status(&self.db, id)
            .await
            .expect("find_by_pk");
        (read.status, read.value.map(|a| a.org))
    }

    async fn set_org(&self, id: Uuid, org: i32) {
        account::ActiveModel {
            id: Set(id),
            org: Set(org),
        }
        .update(&self.db)
        .await
        .expect("update account");
    }

    async fn add_contact(&self, email: &str, folded: &str, padded: &str) -> contact::Model {
        contact::ActiveModel {
            email: Set(email.into()),
            folded: Set(folded.into()),
            padded: Set(padded.into()),
            note: Set(0),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .expect("insert contact")
    }

    /// The ids of contacts whose `column` equals `value`, through the cache, and in the
    /// database.
    async fn contacts_by(
        &self,
        column: contact::Column,
        value: &str,
    ) -> (CacheStatus, Vec<i32>, Vec<i32>) {
        let query = || {
            contact::Entity::find()
                .filter(column.eq(value))
                .order_by_asc(contact::Column::Id)
        };
        let read = query()
            .cached(&self.cache)
            .all_with_status(&self.db)
            .await
            .expect("cached lookup");
        let truth = query().all(&self.test.conn).await.expect("lookup");
        let ids = |rows: &[contact::Model]| rows.iter().map(|c| c.id).collect::<Vec<_>>();
        (read.status, ids(&read.value), ids(&truth))
    }

    async fn seat(&self, room: i32, number: i32) -> (CacheStatus, Option<i32>) {
        let read = self
            .cache
            .wrap(seat::Entity)
            .find_by_pk_with_status(&self.db, (room, number))
            .await
            .expect("find seat");
        (read.status, read.value.map(|s| s.holder))
    }
}

/// A UUID primary key is row-precise whether the write is an ActiveModel update, a statement
/// binding the UUID, or a delete; the row's generation is named by the UUID's canonical form.
async fn uuid_keys_are_row_precise(kind: Db) {
    let Some(f) = fixture(kind).await else { return };
    let (a, b) = (
        Uuid::from_u128(0x67e5_5044_10b1_426f_9247_bb68_0e5f_e0c8),
        Uuid::from_u128(0xa0ee_bc99_9c0b_4ef8_bb6d_6bb9_bd38_0a11),
    );
    for id in [a, b] {
        account::ActiveModel {
            id: Set(id),
            org: Set(1),
        }
        .insert(&f.db)
        .await
        .expect("insert account");
    }
    let by_id = || account::Entity::find_by_id(a).cached(&f.cache);
    assert_eq!(f.account(a).await, (CacheStatus::Miss, Some(1)));
    assert_eq!(
        by_id().one_with_status(&f.db).await.unwrap().status,
        CacheStatus::Miss
    );
    let row_key = format!("model-cache:gen:accounts#id={}", a.hyphenated());
    assert!(f.momento.raw(&row_key).await.is_some(), "{row_key}");

    f.set_org(b, 2).await;
    let write = Statement::from_sql_and_values(
        f.test.backend(),
        match kind {
            Db::Postgres => "UPDATE accounts SET org = $1 WHERE id = $2",
            _ => "UPDATE accounts SET org = ? WHERE id = ?",
        },
        [3.into(), b.into()],
    );
    f.db.execute_raw(write).await.expect("update by bound uuid");
    assert_eq!(
        f.account(a).await,
        (CacheStatus::Hit, Some(1)),
        "row b written, not a"
    );
    assert_eq!(
        by_id().one_with_status(&f.db).await.unwrap().status,
        CacheStatus::Hit
    );
    assert_eq!(f.account(b).await, (CacheStatus::Miss, Some(3)));

    f.set_org(a, 4).await;
    assert_eq!(f.account(a).await, (CacheStatus::Miss, Some(4)));
    let read = by_id().one_with_status(&f.db).await.unwrap();
    assert_eq!(
        (read.status, read.value.map(|m| m.org)),
        (CacheStatus::Miss, Some(4))
    );
    f.account(b).await;
    account::Entity::delete_by_id(a).exec(&f.db).await.unwrap();
    assert_eq!(f.account(a).await, (CacheStatus::Miss, None));
    assert_eq!(f.account(b).await.0, CacheStatus::Hit);
    f.cleanup().await;
}

/// A lookup by email in a column whose collation compares exactly stays cached when other
/// emails are written (inserted, updated with their old value pinned, their row updated
/// otherwise), and misses when a row with its email is inserted.
async fn an_exact_text_lookup_is_row_precise(kind: Db) {
    let Some(f) = fixture(kind).await else { return };
    let a = f.add_contact("a@x", "a@x", "a@x").await;
    let b = f.add_contact("b@x", "b@x", "b@x").await;
    let email = contact::Column::Email;
    assert_eq!(
        f.contacts_by(email, "a@x").await,
        (CacheStatus::Miss, vec![a.id], vec![a.id])
    );
    assert_eq!(f.contacts_by(email, "a@x").await.0, CacheStatus::Hit);

    f.add_contact("d@x", "d@x", "d@x").await;
    let mut row = b.clone().into_active_model();
    row.note = Set(9);
    row.update(&f.db).await.expect("update b");
    let (sql, values) = match kind {
        Db::Postgres => (
            "UPDATE contacts SET email = $1 WHERE id = $2 AND email = $3",
            vec!["c@x".into(), b.id.into(), "b@x".into()],
        ),
        _ => (
            "UPDATE contacts SET email = ? WHERE id = ? AND email = ?",
            vec!["c@x".into(), b.id.into(), "b@x".into()],
        ),
    };
    f.db.execute_raw(Statement::from_sql_and_values(
        f.test.backend(),
        sql,
        values,
    ))
    .await
    .unwrap();
    assert_eq!(
        f.contacts_by(email, "a@x").await,
        (CacheStatus::Hit, vec![a.id], vec![a.id]),
        "other emails written"
    );

    let again = f.add_contact("a@x", "z@x", "z@x").await;
    assert_eq!(
        f.contacts_by(email, "a@x").await,
        (
            CacheStatus::Miss,
            vec![a.id, again.id],
            vec![a.id, again.id]
        )
    );
    f.cleanup().await;
}

/// In a column whose collation folds case (SQLite NOCASE, a PostgreSQL nondeterministic
/// collation, MariaDB utf8mb4_general_ci) or trailing spaces (SQLite RTRIM, PostgreSQL
/// CHAR(n), MariaDB utf8mb4_bin, which is PAD SPACE), a write of another spelling reaches a
/// cached read of `'a@x'`: these columns are not tracked by value.
async fn a_folding_collation_stays_at_column_level(kind: Db) {
    let Some(f) = fixture(kind).await else { return };
    let a = f.add_contact("a@x", "a@x", "a@x").await;
    for (column, other) in [
        (contact::Column::Folded, "A@X"),
        (contact::Column::Padded, "a@x  "),
    ] {
        assert_eq!(f.contacts_by(column, "a@x").await.0, CacheStatus::Miss);
        assert_eq!(f.contacts_by(column, "a@x").await.0, CacheStatus::Hit);
        let spelled = match column {
            contact::Column::Folded => f.add_contact("e@x", other, "e@x").await,
            _ => f.add_contact("f@x", "f@x", other).await,
        };
        let (status, cached, truth) = f.contacts_by(column, "a@x").await;
        assert_eq!(
            truth,
            vec![a.id, spelled.id],
            "{column:?}: the database folds"
        );
        assert_eq!((status, cached), (CacheStatus::Miss, truth), "{column:?}");
    }
    f.cleanup().await;
}

/// A read of one row by its composite key stays cached when rows with another key are
/// written, also rows sharing one of its columns, and misses when its row is written or a
/// write's key values are not all known.
async fn composite_keys_are_row_precise(kind: Db) {
    let Some(f) = fixture(kind).await else { return };
    for (room, number) in [(1, 1), (1, 2), (2, 1)] {
        seat::ActiveModel {
            room: Set(room),
            number: Set(number),
            holder: Set(0),
        }
        .insert(&f.db)
        .await
        .expect("insert seat");
    }
    let db = &f.db;
    let set_holder = |room: i32, number: i32, holder: i32| async move {
        seat::ActiveModel {
            room: Set(room),
            number: Set(number),
            holder: Set(holder),
        }
        .update(db)
        .await
        .expect("update seat")
    };
    let pinned = || {
        seat::Entity::find()
            .filter(seat::Column::Room.eq(1))
            .filter(seat::Column::Number.eq(1))
            .cached(&f.cache)
    };
    assert_eq!(f.seat(1, 1).await, (CacheStatus::Miss, Some(0)));
    assert_eq!(
        pinned().one_with_status(&f.db).await.unwrap().status,
        CacheStatus::Miss
    );
    set_holder(1, 2, 5).await;
    set_holder(2, 1, 6).await;
    assert_eq!(
        f.seat(1, 1).await,
        (CacheStatus::Hit, Some(0)),
        "same room, other seat"
    );
    assert_eq!(
        pinned().one_with_status(&f.db).await.unwrap().status,
        CacheStatus::Hit
    );
    set_holder(1, 1, 7).await;
    assert_eq!(f.seat(1, 1).await, (CacheStatus::Miss, Some(7)));
    let read = pinned().one_with_status(&f.db).await.unwrap();
    assert_eq!(
        (read.status, read.value.map(|s| s.holder)),
        (CacheStatus::Miss, Some(7))
    );
    // Rows by one key column only: the other's values are not known.
    f.db.execute_unprepared("DELETE FROM seats WHERE room = 1")
        .await
        .unwrap();
    assert_eq!(f.seat(1, 1).await, (CacheStatus::Miss, None));
    f.cleanup().await;
}

per_database!(
    uuid_keys_are_row_precise,
    an_exact_text_lookup_is_row_precise,
    a_folding_collation_stays_at_column_level,
    composite_keys_are_row_precise,
);
