//! The Node library's example flow on SeaORM: users in groups, then each cached read twice so
//! the second shows a hit.
//!
//! Offline (the default) it starts momento-lite in-process over in-memory SQLite. With
//! `MOMENTO_API_KEY` set (plus `MOMENTO_ENDPOINT` for a v2 key) it uses Momento itself, in the
//! cache named by `MOMENTO_CACHE_NAME` (default `model-cache`), created if missing.
//!
//! At the end it prints the cache's per-query report (`ModelCache::report`) and the per-query
//! series of the `metrics` facade as Prometheus exports them (`metrics-exporter-prometheus`;
//! serve `handle.render()` on a `/metrics` route in an application). With the `admin` feature
//! the same report is a page: `AdminPage::new(&cache).router()`.
//!
//! Run: `cargo run --example quickstart`

use std::future::Future;
use std::time::{Duration, Instant};

use momento_seaorm_cache::{
    CacheQueryExt, CachedConnection, ModelCache, MomentoBackend, NearCache, NearTopic, ReadResult,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, DatabaseConnection, DbErr,
    EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
    Schema, SelectModel, Selector, Set,
};

mod user {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub username: String,
        pub birthday: ChronoDateTimeUtc,
        pub age: i32,
        pub is_active: bool,
        pub account_balance: f64,
        pub group_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::user_group::Entity",
            from = "Column::GroupId",
            to = "super::user_group::Column::Id"
        )]
        UserGroup,
    }

    impl Related<super::user_group::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::UserGroup.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

mod user_group {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "user_groups")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::user::Entity")]
        User,
    }

    impl Related<super::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

mod order {
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
            belongs_to = "super::user::Entity",
            from = "Column::UserId",
            to = "super::user::Column::Id"
        )]
        User,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// Users per group: the Node example's group-by with COUNT.
#[derive(Debug, FromQueryResult, serde::Serialize, serde::Deserialize)]
struct GroupCount {
    group_id: i32,
    users: i64,
}

/// Order totals per group: an aggregate over a join of many rows, where the cache wins.
#[derive(Debug, FromQueryResult, serde::Serialize, serde::Deserialize)]
struct GroupTotal {
    group_id: i32,
    orders: i64,
    total: f64,
}

const ORDERS: usize = 100_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,momento::credential_provider=error".into()),
        )
        .init();

    // Metrics through the `metrics` facade, exported as Prometheus text. Install the recorder
    // before the first cached read: per-query series are registered when a query is first seen.
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;

    let db = Database::connect("sqlite::memory:").await?;
    seed(&db).await?;

    // The cache: Momento itself when MOMENTO_API_KEY is set, else momento-lite in-process.
    let (backend, _server) = if std::env::var_os("MOMENTO_API_KEY").is_some() {
        let name = std::env::var("MOMENTO_CACHE_NAME").unwrap_or_else(|_| "model-cache".into());
        println!("Using Momento (cache {name:?}) with MOMENTO_API_KEY\n");
        let backend = MomentoBackend::builder()
            .cache_name(name)
            .create_cache_if_missing(true)
            .default_ttl(Duration::from_secs(60))
            .build()
            .await?;
        (backend, None)
    } else {
        let server = momento_lite::MomentoLite::builder().start().await?;
        println!(
            "MOMENTO_API_KEY is not set: using momento-lite at {} through the official SDK\n",
            server.endpoint()
        );
        let backend = MomentoBackend::builder()
            .credential_provider(server.credential_provider())
            .create_cache_if_missing(true)
            .default_ttl(Duration::from_secs(60))
            .build()
            .await?;
        (backend, Some(server))
    };
    let near_backend = backend.clone();
    let cache = ModelCache::builder(backend).build()?;
    let users = cache.wrap(user::Entity);

    println!("{:<34} {:<8} {:>10}  key", "operation", "status", "time");
    for round in 1..=2 {
        println!("-- round {round} --");
        show("find_by_pk(1)", users.find_by_pk_with_status(&db, 1)).await?;
        show(
            "find_one(username = user2)",
            users.find_one_with_status(
                &db,
                user::Entity::find().filter(user::Column::Username.eq("user2")),
            ),
        )
        .await?;
        show(
            "aliased column (username AS name)",
            user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .column_as(user::Column::Username, "name")
                .filter(user::Column::Id.eq(1))
                .into_json()
                .cached(&cache)
                .one_with_status(&db),
        )
        .await?;
        show(
            "join: group with its user1",
            user_group::Entity::find()
                .find_also_related(user::Entity)
                .filter(user::Column::Username.eq("user1"))
                .cached(&cache)
                .one_with_status(&db),
        )
        .await?;
        show(
            "find_all sorted by username desc",
            users.find_all_with_status(
                &db,
                user::Entity::find().order_by_desc(user::Column::Username),
            ),
        )
        .await?;
        show(
            "count(is_active)",
            users.count_with_status(
                &db,
                user::Entity::find().filter(user::Column::IsActive.eq(true)),
            ),
        )
        .await?;
        show(
            "group-by COUNT into a struct",
            user::Entity::find()
                .select_only()
                .column(user::Column::GroupId)
                .column_as(user::Column::Id.count(), "users")
                .group_by(user::Column::GroupId)
                .into_model::<GroupCount>()
                .cached(&cache)
                .all_with_status(&db),
        )
        .await?;
        show(
            &format!("totals over {ORDERS} orders (join)"),
            totals_per_group().cached(&cache).all_with_status(&db),
        )
        .await?;
    }

    // Writes through a CachedConnection invalidate the cached reads they can change: the row
    // written, and reads of its table that are not pinned to other rows (the count, the joins).
    println!("-- after `user1.age = 30` through a CachedConnection --");
    users.find_by_pk(&db, 2).await?;
    let writer = CachedConnection::new(db.clone(), &cache);
    let mut user1: user::ActiveModel = users.find_by_pk(&db, 1).await?.expect("user1").into();
    user1.age = Set(30);
    user1.update(&writer).await?;
    show("find_by_pk(1)", users.find_by_pk_with_status(&db, 1)).await?;
    show("find_by_pk(1)", users.find_by_pk_with_status(&db, 1)).await?;
    show(
        "find_by_pk(2), row not written",
        users.find_by_pk_with_status(&db, 2),
    )
    .await?;

    // A near cache in front of the same backend: a remote hit is kept in process memory and
    // the next read is served from there. Offline, writes are pushed between processes over
    // momento-lite's topic; with Momento itself, see docs/near-cache.md (NearTopic) for the endpoint.
    println!("-- a second cache with a near cache (16 MiB, max_staleness 100 ms) --");
    let mut near = NearCache::new(16 << 20);
    if let Some(server) = &_server {
        near = near.topic(NearTopic::new(server.endpoint(), "lite", "model-cache"));
    }
    let near_cache = ModelCache::builder(near_backend).near_cache(near).build()?;
    while !near_cache.near_stats().is_some_and(|s| s.healthy) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let near_users = near_cache.wrap(user::Entity);
    for _ in 0..3 {
        show(
            "find_by_pk(1) via near cache",
            near_users.find_by_pk_with_status(&db, 1),
        )
        .await?;
    }

    let totals: Vec<GroupTotal> = totals_per_group().cached(&cache).all(&db).await?;
    println!("\nOrder totals per group (from the cache): {totals:?}");
    println!(
        "A hit costs one cache round trip plus decoding: against a local in-memory SQLite a \
         primary-key lookup is about as fast, while the aggregate over {ORDERS} rows is where \
         the cache wins."
    );

    print_report(&cache);
    println!("\nPer-query series, as Prometheus scrapes them (hits and misses):");
    for line in prometheus.render().lines() {
        let per_query = line.starts_with("momento_seaorm_cache_query_reads_total");
        if per_query && (line.contains("status=\"hit\"") || line.contains("status=\"miss\"")) {
            println!("  {line}");
        }
    }
    Ok(())
}

/// The per-query report: what each query shape was served by, and the database time saved.
fn print_report(cache: &ModelCache) {
    let report = cache.report();
    println!("\nPer-query report (ModelCache::report), by database time saved:");
    println!(
        "  {:<8} {:<10} {:<12} {:>5} {:>5} {:>6} {:>10} {:>10}  last invalidation",
        "query", "operation", "table", "reads", "hits", "misses", "db ms", "saved ms"
    );
    for q in &report.queries {
        let f = &q.figures;
        let last = q
            .last_invalidation
            .as_ref()
            .map(|i| format!("{} ({:?})", i.cause.as_str(), i.scope))
            .unwrap_or_else(|| "-".into());
        println!(
            "  {:<8} {:<10} {:<12} {:>5} {:>5} {:>6} {:>10.3} {:>10.3}  {last}",
            q.fingerprint,
            q.operation,
            q.table,
            f.reads,
            f.hits + f.near_hits + f.stale,
            f.misses,
            f.database_us as f64 / 1000.0,
            f.saved_us as f64 / 1000.0
        );
    }
}

/// Order count and total per user group: a join and two aggregates over every order.
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

/// Runs one cached read and prints its status, time and key.
async fn show<T>(
    label: &str,
    read: impl Future<Output = Result<ReadResult<T>, DbErr>>,
) -> Result<(), DbErr> {
    let started = Instant::now();
    let lookup = read.await?;
    let elapsed = started.elapsed();
    let key = lookup.key.map(|k| k.to_string()).unwrap_or_default();
    let key = if key.chars().count() > 90 {
        format!("{}…", key.chars().take(90).collect::<String>())
    } else {
        key
    };
    println!(
        "{label:<34} {:<8} {:>8.3}ms  {key}",
        lookup.status.as_str(),
        elapsed.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// The Node example's data (two groups, two users), plus generated orders for the aggregate.
async fn seed(db: &DatabaseConnection) -> Result<(), DbErr> {
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(user_group::Entity))
        .await?;
    db.execute(&schema.create_table_from_entity(user::Entity))
        .await?;
    db.execute(&schema.create_table_from_entity(order::Entity))
        .await?;
    for name in ["admins", "members"] {
        user_group::ActiveModel {
            name: Set(name.to_owned()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    let birthday = chrono::DateTime::parse_from_rfc3339("1992-06-21T00:00:00Z")
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_utc();
    for (username, group_id) in [("user1", 1), ("user2", 2)] {
        user::ActiveModel {
            username: Set(username.to_owned()),
            birthday: Set(birthday),
            age: Set(29),
            is_active: Set(true),
            account_balance: Set(70.07),
            group_id: Set(group_id),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    for chunk in (0..ORDERS).collect::<Vec<_>>().chunks(2_000) {
        let rows = chunk.iter().map(|&i| order::ActiveModel {
            user_id: Set(1 + (i % 2) as i32),
            amount: Set((i % 100) as f64 + 0.5),
            ..Default::default()
        });
        order::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(())
}
