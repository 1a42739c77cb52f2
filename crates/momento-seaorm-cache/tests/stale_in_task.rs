//! Stale-while-revalidate on a connection that cannot hand a background task a connection of
//! its own (`CacheableConnection::detached` is `None`): the stale value is refreshed in the
//! caller's task, which gets the fresh value (a miss), and later reads hit the refreshed value.

mod common;

use std::time::Duration;

use async_trait::async_trait;
use common::entities::user;
use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{CacheStatus, CacheableConnection};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    ExecResult, QueryResult, Set, Statement,
};

/// A connection of the application's own (say, one that adds tracing), with no detached form.
struct AppConnection(DatabaseConnection);

#[async_trait]
impl ConnectionTrait for AppConnection {
    fn get_database_backend(&self) -> DbBackend {
        self.0.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.0.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.0.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.0.query_all_raw(stmt).await
    }
}

impl CacheableConnection for AppConnection {
    fn in_transaction(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn a_stale_value_is_refreshed_in_the_callers_task_without_a_detached_connection() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b.ttl_jitter(0.0)).await;
    let conn = AppConnection(db.conn.clone());
    let users = cache
        .wrap(user::Entity)
        .ttl(Duration::from_secs(2))
        .stale_while_revalidate(Duration::from_secs(30));
    users.find_by_pk(&conn, 1).await.unwrap();
    let hit = users.find_by_pk_with_status(&conn, 1).await.unwrap();
    assert_eq!(hit.status, CacheStatus::Hit);

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let mut renamed: user::ActiveModel = user::Entity::find_by_id(1)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap()
        .into();
    renamed.username = Set("renamed".to_owned());
    renamed.update(&db.conn).await.unwrap();

    let refreshed = users.find_by_pk_with_status(&conn, 1).await.unwrap();
    assert_eq!(
        refreshed.status,
        CacheStatus::Miss,
        "refreshed in this task"
    );
    assert_eq!(refreshed.value.unwrap().username, "renamed");
    let after = users.find_by_pk_with_status(&conn, 1).await.unwrap();
    assert_eq!(
        (after.status, after.value.unwrap().username.as_str()),
        (CacheStatus::Hit, "renamed"),
        "the refreshed value was stored"
    );
    assert_eq!(cache.stats().stale_serves, 0, "no stale value was served");
}
