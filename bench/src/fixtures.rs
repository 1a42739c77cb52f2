//! What every scenario stands on: the entities, seeded databases (in-memory SQLite, a
//! PostgreSQL schema of our own) and an in-process momento-lite server reached through the
//! official SDK.
//!
//! The row is the shape the design notes measured (about 110 bytes of JSON), so hit figures
//! here compare with the "facts measured" there.

use std::time::Duration;

use momento::CacheClient;
use momento_lite::{LiteServer, MomentoLite};
use momento_seaorm_cache::{ModelCache, MomentoBackend};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait, Schema, Set,
};

/// Errors of the benchmark program: any failure ends the run with its message.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;
/// A benchmark result.
pub type BenchResult<T> = Result<T, BenchError>;

/// `bench_users`: one ~110-byte row, the hit path's payload.
pub mod user {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "bench_users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub username: String,
        pub email: String,
        pub age: i32,
        pub is_active: bool,
        pub account_balance: f64,
        pub group_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `bench_orders`: many rows per user, for the expensive join and aggregate.
pub mod order {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "bench_orders")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub user_id: i32,
        pub amount: f64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::UserId",
            to = "super::user::Column::Id"
        )]
        User,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `bench_posts`: a few rows per user, the child side of a foreign key (`user_id` →
/// `bench_users.id`), for the mixed read/write scenario.
pub mod post {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "bench_posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub user_id: i32,
        pub title: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::UserId",
            to = "super::user::Column::Id"
        )]
        User,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// Number of user groups the seeded users fall into.
pub const GROUPS: i32 = 10;

/// The row `id` the seeding inserts (ids start at 1).
pub fn user_row(id: i32) -> user::Model {
    user::Model {
        id,
        username: format!("user{id:06}"),
        email: format!("user{id:06}@example.com"),
        age: 20 + id % 50,
        is_active: id % 3 != 0,
        account_balance: 70.07 + f64::from(id % 1000),
        group_id: 1 + id % GROUPS,
    }
}

/// Creates `bench_users` and `bench_orders`.
pub async fn create_tables(db: &DatabaseConnection) -> BenchResult<()> {
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(user::Entity))
        .await?;
    db.execute(&schema.create_table_from_entity(order::Entity))
        .await?;
    Ok(())
}

/// Inserts users 1..=`n`.
pub async fn seed_users(db: &DatabaseConnection, n: i32) -> BenchResult<()> {
    let ids: Vec<i32> = (1..=n).collect();
    for chunk in ids.chunks(1_000) {
        let rows = chunk.iter().map(|&id| {
            let row = user_row(id);
            user::ActiveModel {
                id: Set(row.id),
                username: Set(row.username),
                email: Set(row.email),
                age: Set(row.age),
                is_active: Set(row.is_active),
                account_balance: Set(row.account_balance),
                group_id: Set(row.group_id),
            }
        });
        user::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(())
}

/// Inserts `n` orders spread over users 1..=`users`.
pub async fn seed_orders(db: &DatabaseConnection, n: usize, users: i32) -> BenchResult<()> {
    let ids: Vec<usize> = (0..n).collect();
    for chunk in ids.chunks(5_000) {
        let rows = chunk.iter().map(|&i| order::ActiveModel {
            user_id: Set(1 + (i as i32 % users)),
            amount: Set((i % 100) as f64 + 0.5),
            ..Default::default()
        });
        order::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(())
}

/// The title post `id` is seeded with.
pub fn post_title(id: i32) -> String {
    format!("post {id:06}")
}

/// Creates `bench_posts` and its index on `user_id` (the foreign-key list reads by it).
pub async fn create_posts_table(db: &DatabaseConnection) -> BenchResult<()> {
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(post::Entity))
        .await?;
    db.execute_unprepared("CREATE INDEX bench_posts_user_id ON bench_posts (user_id)")
        .await?;
    Ok(())
}

/// Inserts `per_user` posts for each of users 1..=`users`: user `u` has posts
/// `(u - 1) * per_user + 1 ..= u * per_user`.
pub async fn seed_posts(db: &DatabaseConnection, users: i32, per_user: i32) -> BenchResult<()> {
    let ids: Vec<i32> = (1..=users * per_user).collect();
    for chunk in ids.chunks(2_000) {
        let rows = chunk.iter().map(|&id| post::ActiveModel {
            id: Set(id),
            user_id: Set(1 + (id - 1) / per_user),
            title: Set(post_title(id)),
        });
        post::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(())
}

/// An in-memory SQLite database with the tables created and `users` users inserted.
pub async fn sqlite_with_users(users: i32) -> BenchResult<DatabaseConnection> {
    let mut options = ConnectOptions::new("sqlite::memory:");
    options.sqlx_logging(false);
    let db = Database::connect(options).await?;
    create_tables(&db).await?;
    seed_users(&db, users).await?;
    Ok(db)
}

/// A PostgreSQL schema of our own, dropped by [`PgSchema::drop_schema`].
pub struct PgSchema {
    /// A connection whose `search_path` is the schema.
    pub conn: DatabaseConnection,
    admin: DatabaseConnection,
    name: String,
}

impl PgSchema {
    /// Creates a fresh schema on the server at `url`; `Err` with the reason when the server is
    /// not reachable within a few seconds.
    pub async fn create(url: &str) -> Result<PgSchema, String> {
        let admin = connect(url).await.map_err(|e| e.to_string())?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("bench_{}_{nanos}", std::process::id());
        admin
            .execute_unprepared(&format!("CREATE SCHEMA \"{name}\""))
            .await
            .map_err(|e| e.to_string())?;
        let sep = if url.contains('?') { '&' } else { '?' };
        let scoped = format!("{url}{sep}options=-c%20search_path%3D{name}");
        match connect(&scoped).await {
            Ok(conn) => Ok(PgSchema { conn, admin, name }),
            Err(e) => {
                let _ = admin
                    .execute_unprepared(&format!("DROP SCHEMA \"{name}\" CASCADE"))
                    .await;
                Err(e.to_string())
            }
        }
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the schema and everything in it.
    pub async fn drop_schema(self) -> BenchResult<()> {
        self.conn.close().await?;
        self.admin
            .execute_unprepared(&format!("DROP SCHEMA \"{}\" CASCADE", self.name))
            .await?;
        Ok(())
    }
}

async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(3))
        .acquire_timeout(Duration::from_secs(3))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// momento-lite in-process, a [`MomentoBackend`] on it, and the backend's own SDK client for
/// raw calls over the same connection.
pub struct Lite {
    /// Keeps the server running.
    pub server: LiteServer,
    /// The backend the caches are built on (cheap to clone: it shares the SDK client).
    pub backend: MomentoBackend,
    /// The SDK client inside `backend`.
    pub client: CacheClient,
}

impl Lite {
    /// Starts the server and creates the backend's cache.
    pub async fn start() -> BenchResult<Lite> {
        let server = MomentoLite::builder().start().await?;
        let backend = MomentoBackend::builder()
            .credential_provider(server.credential_provider())
            .create_cache_if_missing(true)
            .default_ttl(Duration::from_secs(3_600))
            .build()
            .await?;
        let client = backend.client().clone();
        Ok(Lite {
            server,
            backend,
            client,
        })
    }

    /// The Momento cache the backend uses.
    pub fn cache_name(&self) -> &str {
        self.backend.cache_name()
    }

    /// A [`ModelCache`] with the default settings over this server.
    pub fn model_cache(&self) -> BenchResult<ModelCache> {
        Ok(ModelCache::builder(self.backend.clone()).build()?)
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}
