//! The domain: users (UUID keys) and their posts (integer keys, a foreign key to the user),
//! as SeaORM entities over `svc_users` and `svc_posts`; the schema, the seed, and the
//! database connection that counts every statement it sends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use uuid::Uuid;

/// A user: `svc_users(id uuid primary key, email text unique, name text, version bigint)`.
pub mod user {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    /// A row of `svc_users`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "svc_users")]
    pub struct Model {
        /// The key: `Uuid::from_u128(i + 1)` for seeded user `i`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Unique: `user{i}@example.com` when seeded.
        #[sea_orm(unique)]
        pub email: String,
        /// The display name (changed by `POST /users/{id}/rename`).
        pub name: String,
        /// Incremented by every write to the row.
        pub version: i64,
    }

    /// A user has many posts.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// The user's posts.
        #[sea_orm(has_many = "super::post::Entity")]
        Post,
    }

    impl Related<super::post::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Post.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// A post: `svc_posts(id bigserial primary key, user_id uuid references svc_users, title,
/// votes int, version bigint)`.
pub mod post {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    /// A row of `svc_posts`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "svc_posts")]
    pub struct Model {
        /// The key: 1..=users × posts_per_user when seeded.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The owner.
        pub user_id: Uuid,
        /// `title-{id % 97}` when seeded (indexed: `GET /search?title=`).
        pub title: String,
        /// Incremented by `POST /posts/{id}/vote`.
        pub votes: i32,
        /// Incremented by every write to the row.
        pub version: i64,
    }

    /// A post belongs to a user.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// The owner.
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::UserId",
            to = "super::user::Column::Id"
        )]
        User,
    }

    impl Related<super::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// The id of seeded user `i` (0-based).
pub fn user_id(i: u64) -> Uuid {
    Uuid::from_u128(u128::from(i) + 1)
}

/// Statements this process sent to the database, counted by SeaORM's metric callback.
#[derive(Debug, Default)]
pub struct StatementCounter(AtomicU64);

impl StatementCounter {
    /// How many statements were sent so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Connects to `url` with a pool of at most `max_connections`, counting every statement in
/// `counter` (`DatabaseConnection::set_metric_callback`; clones of the connection share it).
pub async fn connect(
    url: &str,
    max_connections: u32,
    counter: Arc<StatementCounter>,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(max_connections).sqlx_logging(false);
    let mut db = Database::connect(options).await?;
    db.set_metric_callback(move |_info| {
        counter.0.fetch_add(1, Ordering::Relaxed);
    });
    Ok(db)
}

/// The schema of the contract, dropped and created anew.
const SCHEMA: &str = "
DROP TABLE IF EXISTS svc_posts;
DROP TABLE IF EXISTS svc_users;
CREATE TABLE svc_users (
    id uuid PRIMARY KEY,
    email text UNIQUE NOT NULL,
    name text NOT NULL,
    version bigint NOT NULL DEFAULT 1
);
CREATE TABLE svc_posts (
    id bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES svc_users(id),
    title text NOT NULL,
    votes int NOT NULL DEFAULT 0,
    version bigint NOT NULL DEFAULT 1
);
CREATE INDEX svc_posts_user_id ON svc_posts (user_id);
CREATE INDEX svc_posts_title ON svc_posts (title);
-- Change capture sees a plain-connection UPDATE's old values only with REPLICA IDENTITY FULL;
-- with DEFAULT it sees the old key alone and must bump every other column's reads (each list
-- by owner, each search), as docs/change-capture.md explains.
ALTER TABLE svc_users REPLICA IDENTITY FULL;
ALTER TABLE svc_posts REPLICA IDENTITY FULL;
";

/// Drops and creates `svc_users` and `svc_posts`, then seeds `users` users with
/// `posts_per_user` posts each, in the database (generate_series: a million posts take
/// seconds). User `i` has id `user_id(i)`, email `user{i}@example.com`, name `user {i}`; post
/// `p` (1-based) belongs to user `(p - 1) / posts_per_user` and has title `title-{p % 97}`.
pub async fn setup(
    db: &impl ConnectionTrait,
    users: u64,
    posts_per_user: u64,
) -> Result<(), DbErr> {
    db.execute_unprepared(SCHEMA).await?;
    if users == 0 {
        return Ok(());
    }
    // Uuid::from_u128(i + 1): the 128-bit number i + 1 as 32 hex digits.
    let uuid_of = |i: &str| format!("lpad(to_hex(({i})::bigint + 1), 32, '0')::uuid");
    db.execute_unprepared(&format!(
        "INSERT INTO svc_users (id, email, name)
         SELECT {}, 'user' || i || '@example.com', 'user ' || i
         FROM generate_series(0, {}) AS i",
        uuid_of("i"),
        users - 1
    ))
    .await?;
    let posts = users * posts_per_user;
    if posts == 0 {
        return Ok(());
    }
    db.execute_unprepared(&format!(
        "INSERT INTO svc_posts (id, user_id, title)
         SELECT p, {}, 'title-' || (p % 97)
         FROM generate_series(1, {posts}) AS p;
         SELECT setval(pg_get_serial_sequence('svc_posts', 'id'), {posts});
         ANALYZE svc_users; ANALYZE svc_posts;",
        uuid_of(&format!("(p - 1) / {posts_per_user}"))
    ))
    .await?;
    Ok(())
}
