//! A cached read runs the same statement as the uncached SeaORM call it stands for: the same
//! SQL text and bound values (e.g. `.one()` adds the `LIMIT 1` SeaORM adds, on `Select`,
//! `SelectTwo` and on `Selector`s from `into_model`/`into_json`, whose query only SeaORM can
//! change). Checked on every database with SeaORM's metric callback.

mod common;

use std::sync::{Arc, Mutex};

use common::entities::{user, user_group};
use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{CacheQueryExt, CacheStatus, ModelCache};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Statement, Values,
};

#[derive(Debug, Clone, PartialEq, FromQueryResult, serde::Serialize, serde::Deserialize)]
struct Name {
    id: i32,
    name: String,
}

type Seen = Arc<Mutex<Vec<(String, Option<Values>)>>>;

fn record(db: &mut DatabaseConnection) -> Seen {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    db.set_metric_callback(move |info| {
        let statement: &Statement = info.statement;
        log.lock()
            .unwrap()
            .push((statement.sql.clone(), statement.values.clone()));
    });
    seen
}

/// Runs `uncached` and then `cached` (a miss), and returns the statements each ran.
async fn statements<T, U, C>(
    seen: &Seen,
    uncached: U,
    cached: C,
) -> [Vec<(String, Option<Values>)>; 2]
where
    T: std::fmt::Debug + PartialEq,
    U: std::future::Future<Output = T>,
    C: std::future::Future<Output = (T, CacheStatus)>,
{
    seen.lock().unwrap().clear();
    let plain = uncached.await;
    let first = std::mem::take(&mut *seen.lock().unwrap());
    let (value, status) = cached.await;
    let second = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(status, CacheStatus::Miss);
    assert_eq!(value, plain, "the cached read returns what SeaORM returns");
    [first, second]
}

async fn one_runs_what_seaorm_runs(kind: Db) {
    let Some(mut db) = TestDb::new(kind).await else {
        return;
    };
    db.seed().await;
    let seen = record(&mut db.conn);
    let momento = TestCache::start("model-cache").await;
    let cache: ModelCache = momento.model_cache(|b| b).await;
    let conn = db.conn.clone();
    // The catalog is read once, on first use: read it now, so only the reads are compared.
    assert!(cache.refresh_catalog(&conn).await);
    let select = || {
        user::Entity::find()
            .filter(user::Column::Id.gte(1))
            .order_by_asc(user::Column::Id)
    };

    let [plain, cached] = statements(&seen, async { select().one(&conn).await.unwrap() }, async {
        let read = select()
            .cached(&cache)
            .one_with_status(&conn)
            .await
            .unwrap();
        (read.value, read.status)
    })
    .await;
    assert_eq!(plain, cached, "Select::one");

    let pair = || {
        user_group::Entity::find()
            .find_also_related(user::Entity)
            .order_by_asc(user_group::Column::Id)
    };
    let [plain, cached] = statements(&seen, async { pair().one(&conn).await.unwrap() }, async {
        let read = pair().cached(&cache).one_with_status(&conn).await.unwrap();
        (read.value, read.status)
    })
    .await;
    assert_eq!(plain, cached, "SelectTwo::one");

    let model = || {
        user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column_as(user::Column::Username, "name")
            .filter(user::Column::Id.gte(1))
            .order_by_desc(user::Column::Id)
            .into_model::<Name>()
    };
    let [plain, cached] = statements(&seen, async { model().one(&conn).await.unwrap() }, async {
        let read = model().cached(&cache).one_with_status(&conn).await.unwrap();
        (read.value, read.status)
    })
    .await;
    assert_eq!(plain, cached, "Selector::one (into_model)");
    assert!(plain[0].0.contains(" LIMIT "), "{}", plain[0].0);

    let json = || {
        user::Entity::find()
            .order_by_asc(user::Column::Id)
            .into_json()
    };
    let [plain, cached] = statements(&seen, async { json().one(&conn).await.unwrap() }, async {
        let read = json().cached(&cache).one_with_status(&conn).await.unwrap();
        (read.value, read.status)
    })
    .await;
    assert_eq!(plain, cached, "Selector::one (into_json)");
    db.cleanup().await;
}

per_database!(one_runs_what_seaorm_runs);
