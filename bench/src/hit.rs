//! Hit latency against the physical limit.
//!
//! A cache hit can never be faster than the backend's own `get` of the same key returning the
//! same bytes, so that raw SDK call is the yardstick: everything the library adds (key building,
//! statement building, tracing, the trait object, copying the value, decoding) is the gap
//! between the two. Four operations are measured, interleaved in one loop and rotated each
//! round so that no operation always runs first or after the same neighbour:
//!
//! * the raw `momento` SDK `get` of the key `wrap(E).find_by_pk` stores under;
//! * `cache.wrap(E).find_by_pk(&db, 1)` (a hit);
//! * the raw SDK `get` of the key `.cached(&cache).all(&db)` stores under;
//! * `E::find().filter(id = 1).cached(&cache).all(&db)` (a hit), building the select each time
//!   as user code does.

use std::sync::Arc;

use momento::cache::GetResponse;
use momento::CacheClient;
use momento_seaorm_cache::{CacheKey, CacheQueryExt, CacheStatus, ModelCache, WrappedEntity};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::Serialize;

use crate::fixtures::{user, BenchResult, Lite};
use crate::stats::{ratio, timed, Samples, Summary};

/// How many measured rounds (each runs all four operations once) and warm-up rounds.
#[derive(Debug, Clone, Copy)]
pub struct HitConfig {
    pub rounds: usize,
    pub warmup: usize,
}

/// The hit scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct HitReport {
    pub rounds: usize,
    /// Key and stored size of the `find_by_pk` value.
    pub find_by_pk_key: String,
    pub find_by_pk_value_bytes: usize,
    pub all_key: String,
    pub all_value_bytes: usize,
    pub raw_get_find_by_pk_key: Summary,
    pub find_by_pk: Summary,
    pub raw_get_all_key: Summary,
    pub cached_all: Summary,
    /// `find_by_pk` over the raw get of its key.
    pub find_by_pk_p50_ratio: f64,
    pub find_by_pk_p99_ratio: f64,
    /// `.cached().all()` over the raw get of its key.
    pub cached_all_p50_ratio: f64,
    pub cached_all_p99_ratio: f64,
}

/// The operations a round runs, in their base order.
#[derive(Debug, Clone, Copy)]
enum Op {
    RawPk,
    FindByPk,
    RawAll,
    CachedAll,
}

const OPS: [Op; 4] = [Op::RawPk, Op::FindByPk, Op::RawAll, Op::CachedAll];

/// Everything one operation needs, shared by the hit and throughput scenarios.
pub struct HitTarget {
    pub db: DatabaseConnection,
    pub cache: ModelCache,
    pub users: WrappedEntity<user::Entity>,
    pub client: CacheClient,
    pub cache_name: String,
    /// The `find_by_pk` key of user 1.
    pub pk_key: String,
    /// The `find_by_pk` keys of users 1..=[`KEYED_USERS`], at index `pk - 1`.
    pub pk_keys: Vec<String>,
    pub all_key: String,
}

/// How many users' `find_by_pk` values are cached (one per task at the highest concurrency).
pub const KEYED_USERS: i32 = 256;

impl HitTarget {
    /// Populates the cache with users 1..=[`KEYED_USERS`] by `find_by_pk` and user 1 by
    /// `.cached().all()`, and checks that they now hit. `db` must hold those users.
    pub async fn new(db: DatabaseConnection, lite: &Lite) -> BenchResult<Arc<HitTarget>> {
        let cache = lite.model_cache()?;
        let users = cache.wrap(user::Entity);
        let mut pk_keys = Vec::new();
        for pk in 1..=KEYED_USERS {
            users.find_by_pk(&db, pk).await?;
            let lookup = users.find_by_pk_with_status(&db, pk).await?;
            pk_keys.push(hit_key(lookup.status, lookup.key)?);
        }
        by_id(1).cached(&cache).all(&db).await?;
        let all = by_id(1).cached(&cache).all_with_status(&db).await?;
        Ok(Arc::new(HitTarget {
            pk_key: pk_keys[0].clone(),
            pk_keys,
            all_key: hit_key(all.status, all.key)?,
            db,
            cache,
            users,
            client: lite.client.clone(),
            cache_name: lite.cache_name().to_owned(),
        }))
    }

    /// The raw SDK `get` of `key`; an error unless it hits.
    pub async fn raw_get(&self, key: &str) -> BenchResult<usize> {
        match self.client.get(self.cache_name.as_str(), key).await? {
            GetResponse::Hit { value } => Ok(Vec::<u8>::from(value).len()),
            GetResponse::Miss => Err(format!("raw get of {key} missed").into()),
        }
    }

    /// One `find_by_pk` hit of user `pk` (the row must be there).
    pub async fn find_by_pk(&self, pk: i32) -> BenchResult<()> {
        self.users.find_by_pk(&self.db, pk).await?.ok_or("no row")?;
        Ok(())
    }

    /// One `.cached().all()` hit.
    pub async fn cached_all(&self) -> BenchResult<()> {
        let rows = by_id(1).cached(&self.cache).all(&self.db).await?;
        if rows.len() != 1 {
            return Err("expected one row".into());
        }
        Ok(())
    }
}

/// The key of a read that must have hit.
fn hit_key(status: CacheStatus, key: Option<CacheKey>) -> BenchResult<String> {
    if status != CacheStatus::Hit {
        return Err(format!("a populated key did not hit: {status}").into());
    }
    Ok(key.ok_or("no key")?.as_str().to_owned())
}

/// `SELECT … FROM bench_users WHERE id = ?`.
pub fn by_id(id: i32) -> sea_orm::Select<user::Entity> {
    user::Entity::find().filter(user::Column::Id.eq(id))
}

async fn once(target: &HitTarget, op: Op) -> BenchResult<u64> {
    let (result, nanos) = match op {
        Op::RawPk => timed(async { target.raw_get(&target.pk_key).await.map(drop) }).await,
        Op::FindByPk => timed(target.find_by_pk(1)).await,
        Op::RawAll => timed(async { target.raw_get(&target.all_key).await.map(drop) }).await,
        Op::CachedAll => timed(target.cached_all()).await,
    };
    result.map(|()| nanos)
}

/// Runs the scenario on in-memory SQLite and momento-lite.
pub async fn run(config: HitConfig) -> BenchResult<HitReport> {
    let lite = Lite::start().await?;
    let db = crate::fixtures::sqlite_with_users(KEYED_USERS).await?;
    let target = HitTarget::new(db, &lite).await?;
    let mut samples: Vec<Samples> = (0..OPS.len())
        .map(|_| Samples::with_capacity(config.rounds))
        .collect();
    for round in 0..config.warmup + config.rounds {
        for j in 0..OPS.len() {
            let i = (round + j) % OPS.len();
            let nanos = once(&target, OPS[i]).await?;
            if round >= config.warmup {
                samples[i].push(nanos);
            }
        }
    }
    let pk_bytes = target.raw_get(&target.pk_key).await?;
    let all_bytes = target.raw_get(&target.all_key).await?;
    let mut s = samples.into_iter().map(Samples::summary);
    let (raw_pk, pk, raw_all, all) = (next(&mut s), next(&mut s), next(&mut s), next(&mut s));
    let report = HitReport {
        rounds: config.rounds,
        find_by_pk_key: target.pk_key.clone(),
        find_by_pk_value_bytes: pk_bytes,
        all_key: target.all_key.clone(),
        all_value_bytes: all_bytes,
        raw_get_find_by_pk_key: raw_pk,
        find_by_pk: pk,
        raw_get_all_key: raw_all,
        cached_all: all,
        find_by_pk_p50_ratio: ratio(pk.p50_us, raw_pk.p50_us),
        find_by_pk_p99_ratio: ratio(pk.p99_us, raw_pk.p99_us),
        cached_all_p50_ratio: ratio(all.p50_us, raw_all.p50_us),
        cached_all_p99_ratio: ratio(all.p99_us, raw_all.p99_us),
    };
    drop(target);
    lite.stop().await;
    Ok(report)
}

fn next(s: &mut impl Iterator<Item = Summary>) -> Summary {
    s.next().unwrap_or_default()
}

impl HitReport {
    /// Prints the table.
    pub fn print(&self) {
        println!(
            "\n== hit: hit latency vs the raw SDK get of the same key (momento-lite, SQLite) =="
        );
        println!(
            "  find_by_pk key {} ({} bytes stored)",
            self.find_by_pk_key, self.find_by_pk_value_bytes
        );
        println!(
            "  .cached().all() key {} ({} bytes stored)",
            self.all_key, self.all_value_bytes
        );
        println!("{}", Summary::header());
        println!(
            "{}",
            self.raw_get_find_by_pk_key
                .row("raw SDK get (find_by_pk key)")
        );
        println!("{}", self.find_by_pk.row("wrap(E).find_by_pk hit"));
        println!("{}", self.raw_get_all_key.row("raw SDK get (.all() key)"));
        println!("{}", self.cached_all.row(".cached().all() hit"));
        println!(
            "  find_by_pk / raw: p50 {:.3}x, p99 {:.3}x   .cached().all() / raw: p50 {:.3}x, p99 {:.3}x",
            self.find_by_pk_p50_ratio,
            self.find_by_pk_p99_ratio,
            self.cached_all_p50_ratio,
            self.cached_all_p99_ratio
        );
    }
}
