//! Shared test fixtures: databases (SQLite, PostgreSQL, MariaDB) seeded with the Node library's
//! data, and a momento-lite server reached through the official SDK.
#![allow(dead_code)]

pub mod entities;
pub mod logs;
#[cfg(feature = "redis")]
pub mod redis;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use entities::{membership, product, user, user_group};
use momento::cache::configurations::Laptop;
use momento::CacheClient;
use momento_lite::{LiteServer, MomentoLite};
use momento_seaorm_cache::{ModelCache, ModelCacheBuilder, MomentoBackend};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    Schema, Set,
};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
    MySql,
}

/// A database of one's own: in-memory SQLite, or a fresh PostgreSQL schema / MariaDB database.
pub struct TestDb {
    pub conn: DatabaseConnection,
    admin: Option<(DatabaseConnection, String)>,
    pub kind: Db,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("msc_{}_{}_{}", std::process::id(), nanos, n)
}

/// Set once a server has been found unreachable, so later tests skip at once.
static POSTGRES_DOWN: OnceLock<String> = OnceLock::new();
static MYSQL_DOWN: OnceLock<String> = OnceLock::new();

/// Connects to a server's admin database within a few seconds, remembering a failure.
async fn connect_admin(url: &str, down: &OnceLock<String>) -> Result<DatabaseConnection, String> {
    if let Some(reason) = down.get() {
        return Err(reason.clone());
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(3))
        .acquire_timeout(Duration::from_secs(3))
        .sqlx_logging(false);
    Database::connect(options).await.map_err(|e| {
        let reason = e.to_string();
        let _ = down.set(reason.clone());
        reason
    })
}

fn required() -> bool {
    std::env::var("REQUIRE_DATABASES").is_ok_and(|v| v == "1")
}

/// Skips (returns `None`, printing why) when the server is absent, unless REQUIRE_DATABASES=1.
fn unavailable(kind: Db, url: &str, error: impl std::fmt::Display) -> Option<TestDb> {
    let message = format!("{kind:?} at {url} is not reachable: {error}");
    if required() {
        panic!("REQUIRE_DATABASES=1 but {message}");
    }
    eprintln!("SKIPPED: {message} (set DATABASE_URL_POSTGRES / DATABASE_URL_MYSQL to run it)");
    None
}

impl TestDb {
    /// A fresh, empty database of `kind`, or `None` when its server is absent.
    pub async fn new(kind: Db) -> Option<TestDb> {
        match kind {
            Db::Sqlite => {
                let conn = Database::connect("sqlite::memory:")
                    .await
                    .expect("in-memory SQLite");
                Some(TestDb {
                    conn,
                    admin: None,
                    kind,
                })
            }
            Db::Postgres => {
                let url = std::env::var("DATABASE_URL_POSTGRES")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
                let admin = match connect_admin(&url, &POSTGRES_DOWN).await {
                    Ok(admin) => admin,
                    Err(e) => return unavailable(kind, &url, e),
                };
                let schema = unique_name();
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                    .await
                    .expect("create schema");
                let sep = if url.contains('?') { '&' } else { '?' };
                let scoped = format!("{url}{sep}options=-c%20search_path%3D{schema}");
                let conn = Database::connect(&scoped).await.expect("connect to schema");
                Some(TestDb {
                    conn,
                    admin: Some((admin, format!("DROP SCHEMA \"{schema}\" CASCADE"))),
                    kind,
                })
            }
            Db::MySql => {
                let url = std::env::var("DATABASE_URL_MYSQL")
                    .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
                let admin = match connect_admin(&url, &MYSQL_DOWN).await {
                    Ok(admin) => admin,
                    Err(e) => return unavailable(kind, &url, e),
                };
                let name = unique_name();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE `{name}`"))
                    .await
                    .expect("create database");
                let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
                let conn = Database::connect(&format!("{base}/{name}"))
                    .await
                    .expect("connect to database");
                Some(TestDb {
                    conn,
                    admin: Some((admin, format!("DROP DATABASE `{name}`"))),
                    kind,
                })
            }
        }
    }

    /// Creates the tables and inserts the Node library's data: two groups, two users.
    pub async fn seed(&self) {
        let db = &self.conn;
        let schema = Schema::new(db.get_database_backend());
        db.execute(&schema.create_table_from_entity(user_group::Entity))
            .await
            .expect("create user_groups");
        db.execute(&schema.create_table_from_entity(user::Entity))
            .await
            .expect("create users");
        db.execute(&schema.create_table_from_entity(product::Entity))
            .await
            .expect("create products");
        db.execute(&schema.create_table_from_entity(membership::Entity))
            .await
            .expect("create memberships");
        for name in ["admins", "members"] {
            user_group::ActiveModel {
                name: Set(name.to_owned()),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("insert group");
        }
        for (username, group) in [("user1", 1), ("user2", 2)] {
            insert_user(db, username, Some(group)).await;
        }
    }

    /// Drops what `new` created.
    pub async fn cleanup(self) {
        if let Some((admin, drop)) = self.admin {
            self.conn.close().await.ok();
            admin.execute_unprepared(&drop).await.ok();
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }
}

/// Inserts a user like the Node example's `insertUser`.
pub async fn insert_user(
    db: &DatabaseConnection,
    username: &str,
    group: Option<i32>,
) -> user::Model {
    user::ActiveModel {
        username: Set(username.to_owned()),
        birthday: Set(Utc.with_ymd_and_hms(1992, 6, 21, 0, 0, 0).unwrap()),
        age: Set(29),
        is_active: Set(true),
        account_balance: Set(70.07),
        group_id: Set(group),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert user")
}

/// A momento-lite server, an SDK client to read what the library stored, and a cache on it.
///
/// With `TEST_CACHE_STORE=redis` (feature `redis`), the caches it makes (`model_cache`,
/// `patient_model_cache`) and its raw reads (`raw`, `raw_ttl`) use a `redis-server` of its own
/// instead, so the same test checks the library on Redis; momento-lite still runs, for tests
/// that inject faults into it (those are not run this way).
pub struct TestCache {
    pub server: LiteServer,
    pub client: CacheClient,
    pub cache_name: String,
    #[cfg(feature = "redis")]
    pub redis: Option<redis::OwnStore>,
}

/// What `TEST_CACHE_STORE` asks for: `None` (momento-lite), `Some(false)` for one Redis node,
/// `Some(true)` for a Redis cluster.
fn store_is_redis() -> Option<bool> {
    let redis = match std::env::var("TEST_CACHE_STORE").as_deref() {
        Err(_) | Ok("momento") => return None,
        Ok("redis") => false,
        Ok("redis-cluster") => true,
        Ok(other) => panic!("TEST_CACHE_STORE={other}: use momento, redis or redis-cluster"),
    };
    if cfg!(feature = "redis") {
        Some(redis)
    } else {
        panic!("TEST_CACHE_STORE=redis* needs --features redis")
    }
}

impl TestCache {
    /// Starts momento-lite in-process and makes a cache named `cache_name`.
    pub async fn start(cache_name: &str) -> TestCache {
        let server = MomentoLite::builder()
            .start()
            .await
            .expect("start momento-lite");
        let client = CacheClient::builder()
            .default_ttl(Duration::from_secs(60))
            .configuration(Laptop::latest())
            .credential_provider(server.credential_provider())
            .build()
            .expect("SDK client");
        client.create_cache(cache_name).await.expect("create cache");
        #[cfg(feature = "redis")]
        let redis = match store_is_redis() {
            Some(cluster) => Some(redis::OwnStore::start(cluster).await),
            None => None,
        };
        #[cfg(not(feature = "redis"))]
        store_is_redis();
        TestCache {
            server,
            client,
            cache_name: cache_name.to_owned(),
            #[cfg(feature = "redis")]
            redis,
        }
    }

    /// The Redis backend, when `TEST_CACHE_STORE=redis`.
    #[cfg(feature = "redis")]
    fn redis_backend(&self) -> Option<momento_seaorm_cache::RedisBackend> {
        Some(self.redis.as_ref()?.backend())
    }

    /// The cache's store for `model_cache`: Redis when asked for, else `momento`.
    fn store_for(&self, momento: MomentoBackend) -> Box<dyn momento_seaorm_cache::CacheBackend> {
        #[cfg(feature = "redis")]
        if let Some(redis) = self.redis_backend() {
            return Box::new(redis);
        }
        Box::new(momento)
    }

    /// A `MomentoBackend` on this server's cache.
    pub async fn backend(&self) -> MomentoBackend {
        self.backend_for(&self.cache_name).await
    }

    /// A `MomentoBackend` on another cache of this server, created if missing.
    pub async fn backend_for(&self, cache_name: &str) -> MomentoBackend {
        MomentoBackend::builder()
            .credential_provider(self.server.credential_provider())
            .cache_name(cache_name)
            .create_cache_if_missing(true)
            .build()
            .await
            .expect("MomentoBackend")
    }

    /// A `ModelCache` on this server's cache, configured by `configure`.
    pub async fn model_cache(
        &self,
        configure: impl FnOnce(ModelCacheBuilder) -> ModelCacheBuilder,
    ) -> ModelCache {
        let store = self.store_for(self.backend().await);
        configure(ModelCache::builder(store))
            .build()
            .expect("ModelCache")
    }

    /// A `ModelCache` on this server's cache whose SDK client waits up to 15 s per call (the
    /// SDK's `Laptop` configuration) instead of `InRegion`'s 1.1 s, configured by `configure`.
    /// For tests that inject latencies of seconds: only the library's own deadline
    /// (`cache_timeout`) can then cut a slow call short.
    pub async fn patient_model_cache(
        &self,
        configure: impl FnOnce(ModelCacheBuilder) -> ModelCacheBuilder,
    ) -> ModelCache {
        let backend = MomentoBackend::builder()
            .credential_provider(self.server.credential_provider())
            .configuration(Laptop::latest())
            .cache_name(self.cache_name.as_str())
            .build()
            .await
            .expect("MomentoBackend");
        configure(ModelCache::builder(self.store_for(backend)))
            .build()
            .expect("ModelCache")
    }

    /// The remaining TTL of `key` as the server holds it, or `None` when it holds no such item.
    pub async fn raw_ttl(&self, key: &str) -> Option<Duration> {
        use momento::cache::ItemGetTtlResponse;
        #[cfg(feature = "redis")]
        if let Some(store) = &self.redis {
            let ms: i64 = store.query(::redis::cmd("PTTL").arg(key)).await;
            return (ms >= 0).then(|| Duration::from_millis(ms as u64));
        }
        match self
            .client
            .item_get_ttl(self.cache_name.as_str(), key)
            .await
            .expect("raw item_get_ttl")
        {
            ItemGetTtlResponse::Hit { remaining_ttl } => Some(remaining_ttl),
            ItemGetTtlResponse::Miss => None,
        }
    }

    /// Deletes `key` behind the library's back (as an eviction would), on the store the
    /// caches use.
    pub async fn raw_delete(&self, key: &str) {
        #[cfg(feature = "redis")]
        if let Some(store) = &self.redis {
            let _: i64 = store.query(::redis::cmd("DEL").arg(key)).await;
            return;
        }
        self.client
            .delete(self.cache_name.as_str(), key)
            .await
            .expect("raw delete");
    }

    /// The raw bytes stored under `key`, read with the official SDK.
    pub async fn raw(&self, key: &str) -> Option<Vec<u8>> {
        use momento::cache::GetResponse;
        #[cfg(feature = "redis")]
        if let Some(store) = &self.redis {
            return store.query(::redis::cmd("GET").arg(key)).await;
        }
        match self
            .client
            .get(self.cache_name.as_str(), key)
            .await
            .expect("raw get")
        {
            GetResponse::Hit { value } => Some(value.into()),
            GetResponse::Miss => None,
        }
    }
}

/// Defines one `#[tokio::test]` per scenario for each of SQLite, PostgreSQL and MariaDB.
#[macro_export]
macro_rules! per_database {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $scenario() { super::$scenario($crate::common::Db::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $scenario() { super::$scenario($crate::common::Db::Postgres).await })*
        }
        mod mysql {
            $(#[tokio::test] async fn $scenario() { super::$scenario($crate::common::Db::MySql).await })*
        }
    };
}

/// Inserts a user through any connection (e.g. a transaction).
pub async fn insert_user_in<C: ConnectionTrait>(db: &C, username: &str) -> user::Model {
    user::ActiveModel {
        username: Set(username.to_owned()),
        birthday: Set(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()),
        age: Set(1),
        is_active: Set(false),
        account_balance: Set(0.5),
        group_id: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert user")
}

/// The documented key of `wrap(E).find_by_pk` with the given canonical JSON.
pub fn pk_key<E: sea_orm::EntityTrait>(canonical: &str) -> String {
    format!(
        "model-cache:find_by_pk:{}@{}:{canonical}",
        E::default().table_name(),
        momento_seaorm_cache::key::schema_fingerprint::<E>()
    )
}
