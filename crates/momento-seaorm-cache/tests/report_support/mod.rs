//! The quickstart's reads (examples/quickstart.rs) on a connection that counts the queries it
//! runs, and the check that a report's figures agree with what was counted.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use momento_seaorm_cache::report::QueryReport;
use momento_seaorm_cache::{
    CacheQueryExt, CacheReport, CacheStatus, CacheableConnection, CachedConnection, ModelCache,
    ReadResult,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, ExecResult, FromQueryResult, JoinType, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, RelationTrait, Schema, SelectModel, Selector, Set, Statement,
};

use crate::common::entities::{user, user_group};

/// The quickstart's `orders`, for its aggregate over a join.
pub mod order {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "orders")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub user_id: i32,
        pub amount: f64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "crate::common::entities::user::Entity",
            from = "Column::UserId",
            to = "crate::common::entities::user::Column::Id"
        )]
        User,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Debug, FromQueryResult, serde::Serialize, serde::Deserialize)]
pub struct GroupCount {
    group_id: Option<i32>,
    users: i64,
}

#[derive(Debug, FromQueryResult, serde::Serialize, serde::Deserialize)]
pub struct GroupTotal {
    group_id: Option<i32>,
    orders: i64,
    total: f64,
}

/// A connection that counts the queries run through it (reads only: no writes go through it).
#[derive(Clone)]
pub struct CountingConnection {
    pub inner: DatabaseConnection,
    queries: Arc<AtomicU64>,
}

impl CountingConnection {
    pub fn new(inner: DatabaseConnection) -> CountingConnection {
        CountingConnection {
            inner,
            queries: Arc::default(),
        }
    }

    /// Queries run so far.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::SeqCst)
    }

    fn count(&self) {
        self.queries.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl ConnectionTrait for CountingConnection {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.count();
        self.inner.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.count();
        self.inner.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.count();
        self.inner.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.count();
        self.inner.query_all_raw(stmt).await
    }
}

impl CacheableConnection for CountingConnection {
    fn in_transaction(&self) -> bool {
        false
    }
}

/// One read as the test saw it: its key, how it was served, and the queries it ran.
#[derive(Debug, Clone)]
pub struct Observed {
    pub key: String,
    pub status: CacheStatus,
    pub queries: u64,
}

/// Runs one read, noting the queries the connection saw meanwhile.
async fn observe<T>(
    db: &CountingConnection,
    seen: &mut Vec<Observed>,
    read: impl Future<Output = Result<ReadResult<T>, DbErr>>,
) {
    let before = db.queries();
    let result = read.await.expect("read");
    seen.push(Observed {
        key: result.key.expect("a cached read has a key").to_string(),
        status: result.status,
        queries: db.queries() - before,
    });
}

/// Creates the quickstart's `orders` (200 of them; the common seed makes the rest).
pub async fn seed_orders(db: &DatabaseConnection) {
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(order::Entity))
        .await
        .expect("create orders");
    let rows = (0..200).map(|i| order::ActiveModel {
        user_id: Set(1 + (i % 2)),
        amount: Set((i % 100) as f64 + 0.5),
        ..Default::default()
    });
    order::Entity::insert_many(rows)
        .exec(db)
        .await
        .expect("orders");
}

fn totals_per_group() -> Selector<SelectModel<GroupTotal>> {
    order::Entity::find()
        .select_only()
        .column(user::Column::GroupId)
        .column_as(order::Column::Id.count(), "orders")
        .column_as(order::Column::Amount.sum(), "total")
        .join(JoinType::InnerJoin, order::Relation::User.def())
        .group_by(user::Column::GroupId)
        .order_by_asc(user::Column::GroupId)
        .into_model::<GroupTotal>()
}

/// The quickstart's reads: two rounds of its eight queries, then a write through a
/// `CachedConnection` and three primary-key reads.
pub async fn quickstart_reads(cache: &ModelCache, db: &CountingConnection) -> Vec<Observed> {
    let users = cache.wrap(user::Entity);
    let mut seen = Vec::new();
    for _ in 0..2 {
        observe(db, &mut seen, users.find_by_pk_with_status(db, 1)).await;
        let find = user::Entity::find().filter(user::Column::Username.eq("user2"));
        observe(db, &mut seen, users.find_one_with_status(db, find)).await;
        let aliased = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column_as(user::Column::Username, "name")
            .filter(user::Column::Id.eq(1))
            .into_json()
            .cached(cache)
            .one_with_status(db);
        observe(db, &mut seen, aliased).await;
        let join = user_group::Entity::find()
            .find_also_related(user::Entity)
            .filter(user::Column::Username.eq("user1"))
            .cached(cache)
            .one_with_status(db);
        observe(db, &mut seen, join).await;
        let sorted = user::Entity::find().order_by_desc(user::Column::Username);
        observe(db, &mut seen, users.find_all_with_status(db, sorted)).await;
        let active = user::Entity::find().filter(user::Column::IsActive.eq(true));
        observe(db, &mut seen, users.count_with_status(db, active)).await;
        let grouped = user::Entity::find()
            .select_only()
            .column(user::Column::GroupId)
            .column_as(user::Column::Id.count(), "users")
            .group_by(user::Column::GroupId)
            .into_model::<GroupCount>()
            .cached(cache)
            .all_with_status(db);
        observe(db, &mut seen, grouped).await;
        let totals = totals_per_group().cached(cache).all_with_status(db);
        observe(db, &mut seen, totals).await;
    }
    observe(db, &mut seen, users.find_by_pk_with_status(db, 2)).await;
    let writer = CachedConnection::new(db.inner.clone(), cache);
    let mut user1: user::ActiveModel = user::Entity::find_by_id(1)
        .one(&db.inner)
        .await
        .expect("user1")
        .expect("user1")
        .into();
    user1.age = Set(30);
    user1.update(&writer).await.expect("update");
    observe(db, &mut seen, users.find_by_pk_with_status(db, 1)).await;
    observe(db, &mut seen, users.find_by_pk_with_status(db, 1)).await;
    observe(db, &mut seen, users.find_by_pk_with_status(db, 2)).await;
    seen
}

/// The shape of the report `key` belongs to (its operation and label, and its SQL).
pub fn shape_of<'r>(report: &'r CacheReport, prefix: &str, key: &str) -> &'r QueryReport {
    let found: Vec<&QueryReport> = report
        .queries
        .iter()
        .filter(|q| {
            let head = format!("{prefix}:{}:{}:", q.operation, q.label);
            key.starts_with(&head) && q.sql.as_deref().is_none_or(|sql| key.ends_with(sql))
        })
        .collect();
    assert_eq!(found.len(), 1, "one shape for {key}: {found:#?}");
    found[0]
}

/// Expected figures per shape fingerprint from what the test saw.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expected {
    pub reads: u64,
    pub hits: u64,
    pub near_hits: u64,
    pub misses: u64,
    pub stale: u64,
    pub bypasses: u64,
    pub database_loads: u64,
}

/// Adds what the test saw up per shape.
pub fn expected(
    report: &CacheReport,
    prefix: &str,
    seen: &[Observed],
) -> BTreeMap<String, Expected> {
    let mut by_shape: BTreeMap<String, Expected> = BTreeMap::new();
    for read in seen {
        let shape = shape_of(report, prefix, &read.key);
        let e = by_shape.entry(shape.fingerprint.clone()).or_default();
        e.reads += 1;
        e.database_loads += read.queries;
        match read.status {
            CacheStatus::Hit => e.hits += 1,
            CacheStatus::NearHit => e.near_hits += 1,
            CacheStatus::Miss => e.misses += 1,
            CacheStatus::Stale => e.stale += 1,
            CacheStatus::Bypass => e.bypasses += 1,
        }
    }
    by_shape
}

/// The report's figures in the same form.
pub fn reported(report: &CacheReport) -> BTreeMap<String, Expected> {
    report
        .queries
        .iter()
        .map(|q| {
            let f = &q.figures;
            let e = Expected {
                reads: f.reads,
                hits: f.hits,
                near_hits: f.near_hits,
                misses: f.misses,
                stale: f.stale,
                bypasses: f.bypasses,
                database_loads: f.database_loads,
            };
            (q.fingerprint.clone(), e)
        })
        .collect()
}
