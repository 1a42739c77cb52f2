//! An evicted (or expired) generation never revives a value from before a write: only a
//! present generation can stand in a stamp. The targeted scenario deletes the generation key
//! with the raw SDK between the write and the read, as an eviction would; the churn test fills
//! a small `MemoryBackend` and a memory-limited momento-lite until generation keys really are
//! evicted, with a writer and readers running, and checks every read against the history of
//! writes.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::entities::{product, user};
use common::{Db, TestCache, TestDb};
use momento_lite::MomentoLite;
use momento_seaorm_cache::{
    CacheQueryExt, CacheStatus, CachedConnection, MemoryBackend, ModelCache, MomentoBackend,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};

async fn set_age(conn: &CachedConnection, id: i32, age: i32) {
    let row = user::Entity::find_by_id(id)
        .one(conn)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.age = Set(age);
    row.update(conn).await.unwrap();
}

/// Cache `find_by_pk(1)` and a whole-table read (the sum of ages), update the row through a
/// `CachedConnection`, delete the generations they depend on with the raw SDK (the row's, and
/// the table's), read: misses with the new row, never the old values as hits.
async fn an_evicted_table_generation_does_not_revive_an_old_value(kind: Db) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    let conn = CachedConnection::new(db.conn.clone(), &cache);
    let users = cache.wrap(user::Entity);
    assert_eq!(
        users.find_by_pk_with_status(&conn, 1).await.unwrap().status,
        CacheStatus::Miss
    );
    let warm = users.find_by_pk_with_status(&conn, 1).await.unwrap();
    assert_eq!(
        (warm.status, warm.value.unwrap().age),
        (CacheStatus::Hit, 29)
    );
    let ages = || {
        user::Entity::find()
            .filter(user::Column::Age.gt(0))
            .cached(&cache)
            .all_with_status(&conn)
    };
    ages().await.unwrap();
    assert_eq!(ages().await.unwrap().status, CacheStatus::Hit);
    set_age(&conn, 1, 77).await;
    momento.raw_delete("model-cache:gen:users#id=1").await;
    momento.raw_delete("model-cache:gen:users").await;
    let read = users.find_by_pk_with_status(&conn, 1).await.unwrap();
    assert_eq!(read.value.unwrap().age, 77, "the row after the write");
    assert_eq!(read.status, CacheStatus::Miss);
    let all = ages().await.unwrap();
    assert_eq!(all.status, CacheStatus::Miss);
    assert!(all.value.iter().any(|u| u.id == 1 && u.age == 77));
    assert!(cache.stats().generations_absent >= 2);
    // The reload recreated the generation: the next read is a hit again.
    let again = users.find_by_pk_with_status(&conn, 1).await.unwrap();
    assert_eq!(
        (again.status, again.value.unwrap().age),
        (CacheStatus::Hit, 77)
    );
    db.cleanup().await;
}

/// The same for the global generation after `invalidate_all()`: a write the cache did not see
/// (a plain connection), then the explicit invalidation, then the generation is evicted.
async fn an_evicted_global_generation_does_not_revive_an_old_value(kind: Db) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    let users = cache.wrap(user::Entity);
    let count = || {
        user::Entity::find()
            .cached(&cache)
            .count_with_status(&db.conn)
    };
    users.find_by_pk(&db.conn, 2).await.unwrap();
    count().await.unwrap();
    assert_eq!(count().await.unwrap().status, CacheStatus::Hit);
    // Written behind the cache's back, then invalidated explicitly.
    let plain = CachedConnection::new(db.conn.clone(), &cache);
    let row = user::Entity::find_by_id(2)
        .one(plain.inner())
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.age = Set(55);
    row.update(plain.inner()).await.unwrap();
    common::insert_user(&db.conn, "user3", None).await;
    cache.invalidate_all().await;
    momento.raw_delete("model-cache:gen-all").await;
    let read = users.find_by_pk_with_status(&db.conn, 2).await.unwrap();
    assert_eq!(
        (read.status, read.value.unwrap().age),
        (CacheStatus::Miss, 55)
    );
    let counted = count().await.unwrap();
    assert_eq!((counted.status, counted.value), (CacheStatus::Miss, 3));
    db.cleanup().await;
}

per_database!(
    an_evicted_table_generation_does_not_revive_an_old_value,
    an_evicted_global_generation_does_not_revive_an_old_value,
);

/// What the churn saw.
#[derive(Debug, Default)]
struct Tally {
    rounds: usize,
    writes: usize,
    reads: usize,
    hits: usize,
}

/// Every write's end and value, per row.
type Writes = Arc<Mutex<Vec<(Instant, i32, i32)>>>;

/// The newest value written to `id` by a write that returned before `start`.
fn newest_before(writes: &Writes, id: i32, start: Instant) -> i32 {
    let writes = writes.lock().unwrap();
    writes
        .iter()
        .filter(|(end, row, _)| *row == id && *end < start)
        .map(|(_, _, age)| *age)
        .max()
        .unwrap_or(0)
}

const ROWS: i32 = 40;

/// How the churn pushes generations out: every third round, `keys` distinct reads of another
/// table, each repeated `repeats` times (a frequency-aware cache such as moka keeps what is
/// read often, so its filler must be read often too).
#[derive(Debug, Clone, Copy)]
struct Filler {
    keys: usize,
    repeats: usize,
}

/// Generation absences the caches have seen (each is a generation found evicted, except the
/// first sight of each key).
fn absences(caches: &[ModelCache; 2]) -> u64 {
    caches.iter().map(|c| c.stats().generations_absent).sum()
}

/// Runs at least `rounds` rounds, and more (up to ten times as many) until the caches have
/// found generations absent more than `absences_wanted` times.
async fn churn(
    kind: Db,
    caches: [ModelCache; 2],
    rounds: usize,
    filler: Filler,
    absences_wanted: u64,
) -> Tally {
    let db = TestDb::new(kind).await.expect("database");
    db.seed().await;
    for i in 3..=ROWS {
        common::insert_user(&db.conn, &format!("user{i}"), None).await;
    }
    let writer = CachedConnection::new(db.conn.clone(), &caches[0]);
    for id in 1..=ROWS {
        set_age(&writer, id, 1).await;
    }
    let writes: Writes = Arc::default();
    let mut tally = Tally::default();
    for round in 0..rounds * 10 {
        if round >= rounds && absences(&caches) > absences_wanted {
            break;
        }
        // A writer task and a reader (this task) overlap.
        let (writer, log) = (writer.clone(), writes.clone());
        let id = 1 + (round as i32 * 7) % ROWS;
        let age = 2 + round as i32;
        let write = tokio::spawn(async move {
            set_age(&writer, id, age).await;
            log.lock().unwrap().push((Instant::now(), id, age));
        });
        for k in 0..12 {
            let id = 1 + (round as i32 * 3 + k * 5) % ROWS;
            let cache = &caches[(k as usize + round) % 2];
            let start = Instant::now();
            let read = if k % 2 == 0 {
                let read = cache
                    .wrap(user::Entity)
                    .find_by_pk_with_status(&db.conn, id)
                    .await;
                let read = read.unwrap();
                (read.value.unwrap().age, read.status)
            } else {
                let select = user::Entity::find().filter(user::Column::Id.eq(id));
                let read = select
                    .cached(cache)
                    .one_with_status(&db.conn)
                    .await
                    .unwrap();
                (read.value.unwrap().age, read.status)
            };
            let newest = newest_before(&writes, id, start);
            assert!(
                read.0 >= newest,
                "round {round}: row {id} read {} after {newest} was written",
                read.0
            );
            tally.reads += 1;
            tally.hits += usize::from(read.1 == CacheStatus::Hit);
        }
        // Filler: reads of another table push older items (generations too) out.
        if round % 3 == 2 {
            for _ in 0..filler.repeats {
                for k in 0..filler.keys {
                    let sku = format!("sku-{round}-{k}-{}", "x".repeat(200));
                    let select = product::Entity::find().filter(product::Column::Sku.eq(sku));
                    select.cached(&caches[k % 2]).all(&db.conn).await.unwrap();
                }
            }
        }
        write.await.unwrap();
        tally.writes += 1;
        tally.rounds += 1;
    }
    db.cleanup().await;
    tally
}

/// moka's admission policy (TinyLFU) keeps what is read often, and a generation is read by
/// every read of its table, so a small `MemoryBackend` evicts values all the time but its
/// generations only now and then: this churn checks every read against the writes, and the
/// targeted test below evicts a generation from a `MemoryBackend` directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_on_a_small_memory_backend_reads_nothing_stale() {
    let backend = MemoryBackend::builder()
        .max_capacity_bytes(12 * 1024)
        .build()
        .unwrap();
    let caches = [0, 1].map(|_| ModelCache::builder(backend.clone()).build().unwrap());
    let filler = Filler {
        keys: 40,
        repeats: 16,
    };
    let tally = churn(Db::Sqlite, caches.clone(), 150, filler, 0).await;
    println!(
        "memory churn: {tally:?}, generations found absent {}",
        absences(&caches)
    );
    assert!(tally.hits > 0, "the cache still served reads");
    assert!(
        tally.hits < tally.reads / 2,
        "the small cache evicted what it held: {tally:?}"
    );
}

/// A generation evicted from a `MemoryBackend` (deleted through the backend, as moka's
/// eviction would) does not revive a value from before a write.
#[tokio::test]
async fn an_evicted_generation_in_a_memory_backend_does_not_revive_an_old_value() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    db.seed().await;
    let backend = MemoryBackend::new();
    let cache = ModelCache::builder(backend.clone()).build().unwrap();
    let conn = CachedConnection::new(db.conn.clone(), &cache);
    let users = cache.wrap(user::Entity);
    users.find_by_pk(&conn, 1).await.unwrap();
    assert_eq!(
        users.find_by_pk_with_status(&conn, 1).await.unwrap().status,
        CacheStatus::Hit
    );
    set_age(&conn, 1, 66).await;
    for key in ["model-cache:gen:users", "model-cache:gen-all"] {
        momento_seaorm_cache::CacheBackend::delete(&backend, key)
            .await
            .unwrap();
    }
    let read = users.find_by_pk_with_status(&conn, 1).await.unwrap();
    assert_eq!(
        (read.status, read.value.unwrap().age),
        (CacheStatus::Miss, 66)
    );
}

async fn momento_churn(kind: Db) {
    if TestDb::new(kind).await.is_none() {
        return;
    }
    let server = MomentoLite::builder()
        .max_memory_bytes(16 * 1024)
        .start()
        .await
        .expect("momento-lite");
    let backend = || async {
        MomentoBackend::builder()
            .credential_provider(server.credential_provider())
            .create_cache_if_missing(true)
            .build()
            .await
            .unwrap()
    };
    let caches = [
        ModelCache::builder(backend().await).build().unwrap(),
        ModelCache::builder(backend().await).build().unwrap(),
    ];
    let filler = Filler {
        keys: 60,
        repeats: 1,
    };
    let tally = churn(kind, caches.clone(), 120, filler, 12).await;
    let absent = absences(&caches);
    println!(
        "momento-lite churn on {kind:?}: {tally:?}, server evictions {}, generations found absent {absent}",
        server.evictions()
    );
    assert!(
        server.evictions() > 100,
        "the server evicted ({})",
        server.evictions()
    );
    assert!(absent > 12, "generations were evicted ({absent} absences)");
    assert!(tally.hits > 0, "the cache still served reads");
}

mod momento_churn {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::momento_churn(super::Db::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::momento_churn(super::Db::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        super::momento_churn(super::Db::MySql).await
    }
}
