//! Rolling deploys: two versions of one entity running side by side on one table. Process A
//! runs the new version (`post_v2`, which knows `owner_id`) and caches a read filtered on it;
//! process B still runs the old one (`post_v1`: `id`, `title`) and writes through its
//! `CachedConnection`. Each process has its own `ModelCache` on one momento-lite (same cache
//! name, same prefix) and its own connection to one database. Every write of B must reach A's
//! cached read, although B's entity has never heard of the column A's read depends on: what
//! a write invalidates is decided from the database's catalog, not from the writer's entity.
//!
//! B either has read through the cache before writing (its cache has met `posts` through
//! `post_v1`) or has never read anything.

mod common;

use std::path::PathBuf;

use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{CacheQueryExt, CacheStatus, CachedConnection, ModelCache};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, Set, Statement, Unchanged,
};

/// `posts` as the old deploy sees it.
pub mod post_v1 {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `posts` as the new deploy sees it: one more column, `owner_id`.
pub mod post_v2 {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
        pub owner_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What to remove once a scenario is over.
enum Owned {
    /// A SQLite database file's directory.
    Dir(PathBuf),
    /// A PostgreSQL schema or MariaDB database.
    Db(TestDb),
}

/// Two connections (one per process) to one database.
struct Shared {
    a: DatabaseConnection,
    b: DatabaseConnection,
    owned: Owned,
}

/// Opens one database twice; `None` when its server is absent (and not required).
async fn open(kind: Db) -> Option<Shared> {
    if kind == Db::Sqlite {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("msc_deploys_{}_{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.join("posts.db").display());
        let a = Database::connect(&url).await.expect("SQLite file, first");
        let b = Database::connect(&url).await.expect("SQLite file, second");
        return Some(Shared {
            a,
            b,
            owned: Owned::Dir(dir),
        });
    }
    let db = TestDb::new(kind).await?;
    let b = second_connection(&db).await;
    Some(Shared {
        a: db.conn.clone(),
        b,
        owned: Owned::Db(db),
    })
}

/// A connection of its own to `db`'s schema (PostgreSQL) or database (MariaDB).
async fn second_connection(db: &TestDb) -> DatabaseConnection {
    let (env, default, sql) = match db.kind {
        Db::Postgres => (
            "DATABASE_URL_POSTGRES",
            "postgres://postgres@127.0.0.1:5432/test",
            "SELECT current_schema() AS name",
        ),
        _ => (
            "DATABASE_URL_MYSQL",
            "mysql://root@127.0.0.1:3306/test",
            "SELECT DATABASE() AS name",
        ),
    };
    let row = db
        .conn
        .query_one_raw(Statement::from_string(db.backend(), sql))
        .await
        .expect("where the test database is")
        .expect("a row");
    let name: String = row.try_get("", "name").expect("its name");
    let url = std::env::var(env).unwrap_or_else(|_| default.to_owned());
    let url = match db.kind {
        Db::Postgres => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}options=-c%20search_path%3D{name}")
        }
        _ => {
            let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
            format!("{base}/{name}")
        }
    };
    Database::connect(&url).await.expect("a second connection")
}

impl Shared {
    async fn close(self) {
        self.a.close().await.ok();
        self.b.close().await.ok();
        match self.owned {
            Owned::Dir(dir) => {
                std::fs::remove_dir_all(dir).ok();
            }
            Owned::Db(db) => db.cleanup().await,
        }
    }
}

fn create_posts(kind: Db) -> &'static str {
    match kind {
        Db::Sqlite => {
            "CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, \
             owner_id INTEGER NOT NULL DEFAULT 1)"
        }
        Db::Postgres => {
            "CREATE TABLE posts (id SERIAL PRIMARY KEY, title TEXT NOT NULL, \
             owner_id INTEGER NOT NULL DEFAULT 1)"
        }
        Db::MySql => {
            "CREATE TABLE posts (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, \
             title VARCHAR(64) NOT NULL, owner_id INT NOT NULL DEFAULT 1)"
        }
    }
}

/// Process A's reads: the posts of owner 1 (`post_v2`, filtered on `owner_id`), and post 1 by
/// its key; with their statuses.
async fn read_a(
    cache: &ModelCache,
    db: &DatabaseConnection,
) -> (
    (Vec<post_v2::Model>, Option<post_v2::Model>),
    [CacheStatus; 2],
) {
    let owned = post_v2::Entity::find()
        .filter(post_v2::Column::OwnerId.eq(1))
        .order_by_asc(post_v2::Column::Id)
        .cached(cache)
        .all_with_status(db)
        .await
        .expect("A reads owner 1's posts");
    let first = cache
        .wrap(post_v2::Entity)
        .find_by_pk_with_status(db, 1)
        .await
        .expect("A reads post 1");
    ((owned.value, first.value), [owned.status, first.status])
}

/// The same reads, straight from the database.
async fn truth(db: &DatabaseConnection) -> (Vec<post_v2::Model>, Option<post_v2::Model>) {
    let owned = post_v2::Entity::find()
        .filter(post_v2::Column::OwnerId.eq(1))
        .order_by_asc(post_v2::Column::Id)
        .all(db)
        .await
        .expect("owner 1's posts");
    let first = post_v2::Entity::find_by_id(1)
        .one(db)
        .await
        .expect("post 1");
    (owned, first)
}

/// B's writes through `post_v1`, in order.
async fn write_b(db: &CachedConnection, step: usize) -> &'static str {
    match step {
        0 => {
            post_v1::ActiveModel {
                id: Unchanged(1),
                title: Set("edited by v1".to_owned()),
            }
            .update(db)
            .await
            .expect("v1 updates the title of post 1 (owner 1)");
            "ActiveModel update of post 1's title"
        }
        1 => {
            post_v1::Entity::delete_by_id(2)
                .exec(db)
                .await
                .expect("v1 deletes post 2 (owner 1)");
            "delete_by_id(2)"
        }
        _ => {
            post_v1::ActiveModel {
                title: Set("inserted by v1".to_owned()),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("v1 inserts a post (owner_id takes its default, 1)");
            "ActiveModel insert (owner_id by default)"
        }
    }
}

/// A caches its reads; B writes through `post_v1` three times; after each write A's reads
/// must equal the database.
async fn rolling_deploy(kind: Db, b_reads_first: bool) {
    let Some(shared) = open(kind).await else {
        return;
    };
    shared
        .a
        .execute_unprepared(create_posts(kind))
        .await
        .expect("create posts");
    shared
        .a
        .execute_unprepared(
            "INSERT INTO posts (title, owner_id) VALUES ('one', 1), ('two', 1), ('three', 2)",
        )
        .await
        .expect("seed posts");
    let momento = TestCache::start("deploys").await;
    let cache_a = momento.model_cache(|b| b).await;
    let cache_b = momento.model_cache(|b| b).await;
    let db_b = CachedConnection::new(shared.b.clone(), &cache_b);
    if b_reads_first {
        let posts = cache_b.wrap(post_v1::Entity);
        posts.find_by_pk(&db_b, 1).await.expect("B reads post 1");
        post_v1::Entity::find()
            .cached(&cache_b)
            .all(&db_b)
            .await
            .expect("B reads every post");
    }
    read_a(&cache_a, &shared.a).await;
    let mut stale = Vec::new();
    for step in 0..3 {
        let (_, statuses) = read_a(&cache_a, &shared.a).await;
        assert_eq!(
            statuses,
            [CacheStatus::Hit; 2],
            "{kind:?}: A's reads are cached before write #{step}"
        );
        let write = write_b(&db_b, step).await;
        let (served, statuses) = read_a(&cache_a, &shared.a).await;
        let expected = truth(&shared.a).await;
        if served != expected {
            stale.push(format!(
                "after B's {write}: A was served ({statuses:?})\n    {served:?}\n  the \
                 database has\n    {expected:?}"
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "{kind:?} (B read first: {b_reads_first}): stale reads in A:\n  {}",
        stale.join("\n  ")
    );
    momento.server.shutdown().await;
    shared.close().await;
}

async fn writer_that_has_read(kind: Db) {
    rolling_deploy(kind, true).await
}

async fn writer_that_never_read(kind: Db) {
    rolling_deploy(kind, false).await
}

per_database!(writer_that_has_read, writer_that_never_read);
