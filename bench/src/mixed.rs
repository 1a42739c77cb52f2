//! A mixed read/write workload: how much of a table stays cached while its rows are written
//! (issue 10, "a write to one row keeps the rest of its table cached").
//!
//! 10,000 users and three posts each (`bench_posts.user_id` → `bench_users.id`, indexed), on
//! in-memory SQLite and, when reachable, PostgreSQL. Two [`ModelCache`]s share one in-process
//! momento-lite with the same cache name and key prefix, as two processes would, each with its
//! own [`CachedConnection`] over the same database, default consistency (`Strict`).
//!
//! Each operation picks a user id from a Zipf distribution (s = 1.0, rank = id, from a seeded
//! generator). A read is, at even odds, `cache.wrap(user::Entity).find_by_pk(&db, id)` or the
//! foreign-key list `post::Entity::find().filter(user_id = id).cached(&cache).all(&db)`; reads
//! alternate between the two caches. A write is, at even odds, an ActiveModel update of the
//! user's `username` or of one of its posts' `title`, by primary key, through the two
//! `CachedConnection`s in turn. At each write rate (0%, 1%, 5%, 10% of operations) a warm-up
//! runs, then the measured operations; the hit ratio is `CacheStatus::Hit` reads over all
//! cached reads. Before the first rate every key is read once (unmeasured), so the read-only ratio is the
//! ceiling a warm cache reaches.
//!
//! Every read is also checked against the last value written (all writes are sequential and
//! awaited), so `stale_reads` must be 0.
//!
//! The writer is either the two `CachedConnection`s (`connection`) or, on PostgreSQL, another
//! service (`cdc`): a plain `DatabaseConnection` the caches know nothing of, whose writes reach
//! them through change capture (an `Invalidator` on the schema, bumping rows from
//! `test_decoding`'s row images; the table has `REPLICA IDENTITY FULL`). Each such write is
//! followed by `caught_up_to_now()` before the next read, so reads are checked against a
//! caught-up invalidator and `stale_reads` must be 0 there too.
//!
//! The matrix (issue 19): key type {`int` (this module), `uuid` and `string` (see
//! [`crate::mixed_keys`])} × writer {`connection`, `cdc`} × database {SQLite (connection
//! only), PostgreSQL, MariaDB (`Invalidator::mysql`, binlog row images)}, each cell on a
//! fresh database ([`crate::mixed_db`]) and a fresh momento-lite; each cell's figure is
//! `hit_ratio_5pct_over_read_only_<key>_<writer>`, suffixed `_postgres` / `_mysql` in the JSON.

use std::time::Instant;

use std::collections::BTreeMap;

use momento_seaorm_cache::{
    CacheQueryExt, CacheStatus, CachedConnection, InvalidatorHandle, ModelCache,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use sea_orm::{ActiveValue::Set, ActiveValue::Unchanged};
use serde::Serialize;

use crate::fixtures::{self, post, user, BenchResult, Lite};
use crate::mixed_db::{DbKind, ScopedDb};
use crate::mixed_keys::{self, KeyKind};

/// The write rates the `mixed` scenario measures, in percent of operations.
pub const WRITE_PERCENTS: [u32; 4] = [0, 1, 5, 10];

/// Size of the data, of the runs, and the generator's seed.
#[derive(Debug, Clone)]
pub struct MixedConfig {
    pub users: i32,
    pub posts_per_user: i32,
    /// Measured operations per write rate.
    pub ops: usize,
    /// Unmeasured operations at the same rate before them.
    pub warmup: usize,
    /// The write rates to run, in percent of operations, in this order (0 first: the
    /// read-only ceiling); [`WRITE_PERCENTS`] for the `mixed` scenario.
    pub write_percents: Vec<u32>,
    /// The Zipf exponent.
    pub zipf_s: f64,
    pub seed: u64,
    /// PostgreSQL server to use; `None` skips it.
    pub postgres_url: Option<String>,
    /// MariaDB server to use; `None` skips it.
    pub mysql_url: Option<String>,
}

/// The counts and hit ratio at one write rate.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RateFigures {
    pub write_percent: u32,
    pub ops: usize,
    /// Cached reads (`find_by_pk` and the foreign-key list).
    pub reads: usize,
    pub hits: usize,
    pub misses: usize,
    /// Stale (served within stale-while-revalidate) and bypassed reads.
    pub other: usize,
    pub writes: usize,
    pub user_writes: usize,
    pub post_writes: usize,
    pub find_by_pk_reads: usize,
    pub find_by_pk_hits: usize,
    pub list_reads: usize,
    pub list_hits: usize,
    /// Reads whose value differed from the last write (must be 0).
    pub stale_reads: usize,
    /// `hits / reads`.
    pub hit_ratio: f64,
    pub find_by_pk_hit_ratio: f64,
    pub list_hit_ratio: f64,
    pub seconds: f64,
    pub ops_per_sec: f64,
}

/// Figures on one database.
#[derive(Debug, Clone, Serialize)]
pub struct DbFigures {
    pub database: &'static str,
    /// Where the caches keep their values: `momento-lite` or `redis`.
    pub store: &'static str,
    /// The key read and written: `int` (users and their posts), `uuid`, `string`.
    pub key: &'static str,
    /// Who writes: `connection` (the caches' `CachedConnection`s) or `cdc` (a plain
    /// connection, through change capture).
    pub writer: &'static str,
    pub users: i32,
    pub posts: i32,
    /// Seconds to read every key once before the first rate.
    pub populate_seconds: f64,
    pub rates: Vec<RateFigures>,
}

impl DbFigures {
    /// The hit ratio at `percent` writes (0 if not measured).
    pub fn hit_ratio(&self, percent: u32) -> f64 {
        self.rates
            .iter()
            .find(|r| r.write_percent == percent)
            .map_or(0.0, |r| r.hit_ratio)
    }
}

/// The mixed scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct MixedReport {
    pub seed: u64,
    pub zipf_s: f64,
    pub ops: usize,
    pub warmup: usize,
    pub sqlite: DbFigures,
    pub postgres: Option<DbFigures>,
    /// PostgreSQL written by another service through change capture.
    pub postgres_cdc: Option<DbFigures>,
    /// Every other cell: uuid and string keys everywhere, integer keys on MariaDB.
    pub cells: Vec<DbFigures>,
    /// Per database: `hit_ratio_5pct_over_read_only_<key>_<writer>` (key: `int`, `uuid`,
    /// `string`; writer: `connection`, `cdc`).
    pub matrix: BTreeMap<String, BTreeMap<String, f64>>,
    /// Stale reads over every cell of the matrix (must be 0).
    pub matrix_stale_reads: usize,
    /// Why PostgreSQL was skipped, if it was.
    pub postgres_skipped: Option<String>,
    /// Why MariaDB was skipped, if it was.
    pub mysql_skipped: Option<String>,
    /// Why the cells on Redis were skipped, if they were.
    pub redis_skipped: Option<String>,
}

/// SplitMix64: small, fast, and the same sequence on every platform for a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Zipf over ranks 1..=n: P(k) ∝ 1 / k^s, sampled by binary search of the cumulative weights.
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Zipf {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|k| {
                total += 1.0 / (k as f64).powf(s);
                total
            })
            .collect();
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    /// A rank in 1..=n.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.next_f64();
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
            + 1
    }
}

/// What the database holds, as the writes left it (to check every read).
struct Expected {
    usernames: Vec<String>,
    titles: Vec<String>,
    per_user: i32,
}

impl Expected {
    fn new(users: i32, per_user: i32) -> Expected {
        Expected {
            usernames: (1..=users)
                .map(|id| fixtures::user_row(id).username)
                .collect(),
            titles: (1..=users * per_user).map(fixtures::post_title).collect(),
            per_user,
        }
    }

    fn user_ok(&self, id: i32, row: Option<&user::Model>) -> bool {
        row.is_some_and(|r| r.id == id && r.username == self.usernames[(id - 1) as usize])
    }

    fn posts_ok(&self, id: i32, rows: &mut [post::Model]) -> bool {
        rows.sort_by_key(|p| p.id);
        let first = (id - 1) * self.per_user + 1;
        rows.len() == self.per_user as usize
            && rows.iter().zip(first..).all(|(p, pid)| {
                p.id == pid && p.user_id == id && p.title == self.titles[(pid - 1) as usize]
            })
    }
}

/// Who writes.
#[derive(Clone, Copy)]
enum Writer<'a> {
    /// The two sides' `CachedConnection`s in turn.
    Connection,
    /// Another service: a plain connection; the caches learn of its writes through change
    /// capture, caught up before the next operation.
    Cdc {
        plain: &'a DatabaseConnection,
        handle: &'a InvalidatorHandle,
    },
}

/// Where the two caches of a cell keep their values: a fresh momento-lite, or Redis under a
/// key prefix of the cell's own.
pub(crate) enum Store {
    Lite(Box<Lite>),
    Redis { url: String, prefix: String },
}

impl Store {
    /// A cache on this store (every call: the same cache name and prefix, as processes).
    pub(crate) fn model_cache(&self) -> BenchResult<ModelCache> {
        match self {
            Store::Lite(lite) => lite.model_cache(),
            Store::Redis { url, prefix } => {
                let backend = momento_seaorm_cache::RedisBackend::builder()
                    .url(url)
                    .build()?;
                Ok(ModelCache::builder(backend).key_prefix(prefix).build()?)
            }
        }
    }

    /// The store's name in the figures.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Store::Lite(_) => "momento-lite",
            Store::Redis { .. } => "redis",
        }
    }

    async fn stop(self) {
        if let Store::Lite(lite) = self {
            (*lite).stop().await;
        }
    }
}

/// The two "processes": a cache and its connection each.
pub(crate) struct Side {
    pub(crate) cache: ModelCache,
    pub(crate) conn: CachedConnection,
}

impl Side {
    /// Two caches sharing `store` (same backend, cache name and key prefix, as two processes
    /// would), each with its own `CachedConnection` over `db`.
    pub(crate) fn pair(store: &Store, db: &DatabaseConnection) -> BenchResult<[Side; 2]> {
        let side = || -> BenchResult<Side> {
            let cache = store.model_cache()?;
            let conn = CachedConnection::new(db.clone(), &cache);
            Ok(Side { cache, conn })
        };
        Ok([side()?, side()?])
    }
}

/// Counts one cached read served with `status` into `f` (`list`: a list read; `ok`: its
/// value matched the last write).
pub(crate) fn count(status: CacheStatus, list: bool, ok: bool, f: &mut RateFigures) {
    let hit = matches!(status, CacheStatus::Hit | CacheStatus::NearHit);
    f.reads += 1;
    match status {
        CacheStatus::Hit | CacheStatus::NearHit => f.hits += 1,
        CacheStatus::Miss => f.misses += 1,
        CacheStatus::Stale | CacheStatus::Bypass => f.other += 1,
    }
    if list {
        f.list_reads += 1;
        f.list_hits += usize::from(hit);
    } else {
        f.find_by_pk_reads += 1;
        f.find_by_pk_hits += usize::from(hit);
    }
    f.stale_reads += usize::from(!ok);
}

/// Fills in the ratios and the rate of `f`, measured over `seconds`.
pub(crate) fn finish(f: &mut RateFigures, seconds: f64) {
    f.seconds = seconds;
    f.ops_per_sec = (f.ops as f64 / f.seconds).round();
    let ratio = |hits: usize, reads: usize| {
        if reads == 0 {
            0.0
        } else {
            (hits as f64 / reads as f64 * 10_000.0).round() / 10_000.0
        }
    };
    f.hit_ratio = ratio(f.hits, f.reads);
    f.find_by_pk_hit_ratio = ratio(f.find_by_pk_hits, f.find_by_pk_reads);
    f.list_hit_ratio = ratio(f.list_hits, f.list_reads);
}

/// `SELECT … FROM bench_posts WHERE user_id = ?`.
fn posts_of(id: i32) -> sea_orm::Select<post::Entity> {
    post::Entity::find().filter(post::Column::UserId.eq(id))
}

/// One cached read of user `id` (its row or its posts) on `side`; counts it into `f`.
async fn read(
    side: &Side,
    id: i32,
    list: bool,
    expected: &Expected,
    f: &mut RateFigures,
) -> BenchResult<()> {
    let (status, ok) = if list {
        let mut r = posts_of(id)
            .cached(&side.cache)
            .all_with_status(&side.conn)
            .await?;
        (r.status, expected.posts_ok(id, &mut r.value))
    } else {
        let r = side
            .cache
            .wrap(user::Entity)
            .find_by_pk_with_status(&side.conn, id)
            .await?;
        (r.status, expected.user_ok(id, r.value.as_ref()))
    };
    count(status, list, ok, f);
    Ok(())
}

/// One ActiveModel update by primary key through `side`'s `CachedConnection`: the user's
/// username, or the title of one of its posts.
async fn write(
    (side, writer): (&Side, Writer<'_>),
    id: i32,
    post_index: i32,
    to_post: bool,
    expected: &mut Expected,
    f: &mut RateFigures,
) -> BenchResult<()> {
    match writer {
        Writer::Connection => write_on(&side.conn, id, post_index, to_post, expected, f).await,
        Writer::Cdc { plain, handle } => {
            write_on(plain, id, post_index, to_post, expected, f).await?;
            handle
                .caught_up_to_now()
                .await
                .map_err(|e| format!("change capture: {e}"))?;
            Ok(())
        }
    }
}

/// The update itself, on `conn`.
async fn write_on<C: ConnectionTrait>(
    conn: &C,
    id: i32,
    post_index: i32,
    to_post: bool,
    expected: &mut Expected,
    f: &mut RateFigures,
) -> BenchResult<()> {
    f.writes += 1;
    if to_post {
        let pid = (id - 1) * expected.per_user + 1 + post_index;
        let title = format!("{} w{}", fixtures::post_title(pid), f.writes);
        post::ActiveModel {
            id: Unchanged(pid),
            title: Set(title.clone()),
            ..Default::default()
        }
        .update(conn)
        .await?;
        expected.titles[(pid - 1) as usize] = title;
        f.post_writes += 1;
    } else {
        let name = format!("{} w{}", fixtures::user_row(id).username, f.writes);
        user::ActiveModel {
            id: Unchanged(id),
            username: Set(name.clone()),
            ..Default::default()
        }
        .update(conn)
        .await?;
        expected.usernames[(id - 1) as usize] = name;
        f.user_writes += 1;
    }
    Ok(())
}

/// `ops` operations at `percent` writes.
async fn run_ops(
    (sides, writer): (&[Side; 2], Writer<'_>),
    (zipf, rng): (&Zipf, &mut Rng),
    expected: &mut Expected,
    percent: u32,
    ops: usize,
) -> BenchResult<RateFigures> {
    let mut f = RateFigures {
        write_percent: percent,
        ops,
        ..Default::default()
    };
    let write_below = f64::from(percent) / 100.0;
    let started = Instant::now();
    for op in 0..ops {
        let id = zipf.sample(rng) as i32;
        let is_write = rng.next_f64() < write_below;
        let to_list = rng.below(2) == 1;
        if is_write {
            let post_index = rng.below(expected.per_user as u64) as i32;
            let side = &sides[f.writes % 2];
            write((side, writer), id, post_index, to_list, expected, &mut f).await?;
        } else {
            read(&sides[op % 2], id, to_list, expected, &mut f).await?;
        }
    }
    finish(&mut f, started.elapsed().as_secs_f64());
    Ok(f)
}

/// Reads every key once, then runs each write rate: warm-up, then the measured operations;
/// written through change capture on `db` when `cdc`.
async fn measure(
    db: &ScopedDb,
    store: &Store,
    config: &MixedConfig,
    cdc: bool,
) -> BenchResult<DbFigures> {
    let sides = Side::pair(store, &db.conn)?;
    let slot = format!("bench_mixed_{}", std::process::id());
    let handle = match cdc {
        true => Some(db.invalidator(&sides[0].cache, &slot).await?),
        false => None,
    };
    // The invalidator starts (and invalidates everything once) before the caches fill.
    let mut expected = Expected::new(config.users, config.posts_per_user);
    let started = Instant::now();
    // Unmeasured: each side reads half of the keys, the two halves concurrently.
    let populate = |parity: usize| {
        let (side, expected) = (&sides[parity], &expected);
        async move {
            let mut f = RateFigures::default();
            for id in (1..=config.users).filter(|&id| id as usize % 2 == parity) {
                read(side, id, false, expected, &mut f).await?;
                read(side, id, true, expected, &mut f).await?;
            }
            BenchResult::Ok(f.stale_reads)
        }
    };
    let (even, odd) = tokio::join!(populate(0), populate(1));
    if even? + odd? > 0 {
        return Err(format!("{}: populating read wrong values", db.kind.name()).into());
    }
    let populate_seconds = started.elapsed().as_secs_f64();
    let zipf = Zipf::new(config.users as usize, config.zipf_s);
    let mut rng = Rng::new(config.seed);
    let mut rates = Vec::new();
    let writer = match &handle {
        Some(handle) => Writer::Cdc {
            plain: &db.conn,
            handle,
        },
        None => Writer::Connection,
    };
    for &percent in &config.write_percents {
        let gen = (&zipf, &mut rng);
        run_ops((&sides, writer), gen, &mut expected, percent, config.warmup).await?;
        let gen = (&zipf, &mut rng);
        let f = run_ops((&sides, writer), gen, &mut expected, percent, config.ops).await?;
        rates.push(f);
    }
    if let Some(handle) = handle {
        db.stop_invalidator(handle, &slot).await;
    }
    Ok(DbFigures {
        database: db.kind.name(),
        store: store.name(),
        key: "int",
        writer: if cdc { "cdc" } else { "connection" },
        users: config.users,
        posts: config.users * config.posts_per_user,
        populate_seconds: (populate_seconds * 100.0).round() / 100.0,
        rates,
    })
}

/// The int tables on `db`: users, and `posts_per_user` posts each.
async fn seed(db: &ScopedDb, config: &MixedConfig) -> BenchResult<()> {
    fixtures::create_tables(&db.conn).await?;
    fixtures::seed_users(&db.conn, config.users).await?;
    fixtures::create_posts_table(&db.conn).await?;
    fixtures::seed_posts(&db.conn, config.users, config.posts_per_user).await?;
    db.replica_identity_full(&["bench_users", "bench_posts"])
        .await
}

/// One cell on a fresh database of `kind` with a fresh momento-lite (or, given `redis`, on
/// that Redis under a prefix of its own): `Ok(Err(reason))` when the server is not reachable.
pub async fn cell(
    (kind, url): (DbKind, &str),
    key: KeyKind,
    config: &MixedConfig,
    (cdc, redis): (bool, Option<&str>),
) -> BenchResult<Result<DbFigures, String>> {
    let db = match ScopedDb::create(kind, url).await {
        Ok(db) => db,
        Err(reason) => {
            return Ok(Err(format!(
                "{} at {url} is not reachable: {reason}",
                kind.name()
            )))
        }
    };
    let store = match redis {
        Some(url) => Store::Redis {
            url: url.to_owned(),
            prefix: format!(
                "mixed{}-{}-{}",
                std::process::id(),
                kind.name(),
                u8::from(cdc)
            ),
        },
        None => Store::Lite(Box::new(Lite::start().await?)),
    };
    let result = match key {
        KeyKind::Int => match seed(&db, config).await {
            Ok(()) => measure(&db, &store, config, cdc).await,
            Err(e) => Err(e),
        },
        _ => mixed_keys::measure(&db, &store, config, key, cdc).await,
    };
    store.stop().await;
    db.drop_db().await?;
    result.map(Ok)
}

/// Every cell of one server: (key, writer) → figures; `Err(reason)` if it is not reachable.
async fn server_cells(
    (kind, url): (DbKind, &str),
    config: &MixedConfig,
    keys: &[KeyKind],
) -> BenchResult<Result<Vec<DbFigures>, String>> {
    let mut cells = Vec::new();
    for &key in keys {
        for cdc in [false, true] {
            match cell((kind, url), key, config, (cdc, None)).await? {
                Ok(f) => cells.push(f),
                Err(reason) => return Ok(Err(reason)),
            }
        }
    }
    Ok(Ok(cells))
}

/// Runs the matrix: SQLite (connection writer), PostgreSQL and MariaDB (connection and change
/// capture) when reachable, each key type; a fresh database and momento-lite for each cell.
pub async fn run(config: MixedConfig) -> BenchResult<MixedReport> {
    let sqlite_cell = |key| cell((DbKind::Sqlite, ""), key, &config, (false, None));
    let sqlite = sqlite_cell(KeyKind::Int)
        .await?
        .map_err(|e| e.to_string())?;
    let mut cells = Vec::new();
    for key in [KeyKind::Uuid, KeyKind::Str] {
        cells.push(sqlite_cell(key).await?.map_err(|e| e.to_string())?);
    }
    let (mut postgres, mut postgres_cdc, mut postgres_skipped) = (None, None, None);
    match &config.postgres_url {
        None => postgres_skipped = Some("no PostgreSQL URL given".to_owned()),
        Some(url) => {
            let keys = [KeyKind::Int, KeyKind::Uuid, KeyKind::Str];
            match server_cells((DbKind::Postgres, url), &config, &keys).await? {
                Ok(mut found) => {
                    let rest = found.split_off(2);
                    let mut int = found.into_iter();
                    postgres = int.next();
                    postgres_cdc = int.next();
                    cells.extend(rest);
                }
                Err(reason) => postgres_skipped = Some(reason),
            }
        }
    }
    let mut mysql_skipped = None;
    match &config.mysql_url {
        None => mysql_skipped = Some("no MariaDB URL given".to_owned()),
        Some(url) => {
            let keys = [KeyKind::Int, KeyKind::Uuid, KeyKind::Str];
            match server_cells((DbKind::MySql, url), &config, &keys).await? {
                Ok(found) => cells.extend(found),
                Err(reason) => mysql_skipped = Some(reason),
            }
        }
    }
    let (redis, redis_skipped) = redis_cells(&config).await?;
    cells.extend(redis);
    let mut matrix: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let mut matrix_stale_reads = 0;
    let all = [Some(&sqlite), postgres.as_ref(), postgres_cdc.as_ref()];
    for f in all.into_iter().flatten().chain(&cells) {
        let name = format!("hit_ratio_5pct_over_read_only_{}_{}", f.key, f.writer);
        let ratio = if f.hit_ratio(0) > 0.0 {
            (f.hit_ratio(5) / f.hit_ratio(0) * 10_000.0).round() / 10_000.0
        } else {
            0.0
        };
        let database = match f.store {
            "redis" => format!("{} on redis", f.database),
            _ => f.database.to_owned(),
        };
        matrix.entry(database).or_default().insert(name, ratio);
        matrix_stale_reads += f.rates.iter().map(|r| r.stale_reads).sum::<usize>();
    }
    Ok(MixedReport {
        seed: config.seed,
        zipf_s: config.zipf_s,
        ops: config.ops,
        warmup: config.warmup,
        sqlite,
        postgres,
        postgres_cdc,
        cells,
        matrix,
        matrix_stale_reads,
        postgres_skipped,
        mysql_skipped,
        redis_skipped,
    })
}

/// The integer cells again with the caches on Redis (`REDIS_URL`, default the machine's):
/// SQLite through the caches' connections, PostgreSQL through them and through change capture.
async fn redis_cells(config: &MixedConfig) -> BenchResult<(Vec<DbFigures>, Option<String>)> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    if let Err(e) = crate::redis::wait_ping(&url).await {
        return Ok((Vec::new(), Some(format!("Redis at {url}: {e}"))));
    }
    let mut cells = Vec::new();
    let sqlite = cell(
        (DbKind::Sqlite, ""),
        KeyKind::Int,
        config,
        (false, Some(&url)),
    )
    .await?;
    cells.push(sqlite.map_err(|e| e.to_string())?);
    if let Some(pg) = &config.postgres_url {
        for cdc in [false, true] {
            if let Ok(f) = cell(
                (DbKind::Postgres, pg),
                KeyKind::Int,
                config,
                (cdc, Some(&url)),
            )
            .await?
            {
                cells.push(f);
            }
        }
    }
    Ok((cells, None))
}

impl MixedReport {
    /// Prints the table.
    pub fn print(&self) {
        println!("\n== mixed: Zipf reads and writes over two caches sharing one store (Strict) ==");
        println!(
            "  seed {}, zipf s = {}, {} ops per rate after {} warm-up ops; reads: half find_by_pk, \
             half the posts of a user; writes: half user, half post updates",
            self.seed, self.zipf_s, self.ops, self.warmup
        );
        for f in [
            Some(&self.sqlite),
            self.postgres.as_ref(),
            self.postgres_cdc.as_ref(),
        ]
        .into_iter()
        .flatten()
        .chain(&self.cells)
        {
            println!(
                "  {} on {} (key: {}, writer: {}): {} users, {} posts; every key read once in {:.1} s",
                f.database, f.store, f.key, f.writer, f.users, f.posts, f.populate_seconds
            );
            println!(
                "  {:>7} {:>7} {:>7} {:>7} {:>6} {:>7} {:>9} {:>9} {:>9} {:>6} {:>8}",
                "writes",
                "reads",
                "hits",
                "misses",
                "other",
                "writes",
                "hit ratio",
                "pk ratio",
                "list rat.",
                "stale",
                "ops/s"
            );
            for r in &f.rates {
                println!(
                    "  {:>6}% {:>7} {:>7} {:>7} {:>6} {:>7} {:>9.4} {:>9.4} {:>9.4} {:>6} {:>8}",
                    r.write_percent,
                    r.reads,
                    r.hits,
                    r.misses,
                    r.other,
                    r.writes,
                    r.hit_ratio,
                    r.find_by_pk_hit_ratio,
                    r.list_hit_ratio,
                    r.stale_reads,
                    r.ops_per_sec
                );
            }
        }
        for (database, cells) in &self.matrix {
            for (cell, ratio) in cells {
                println!("  {database}: {cell} = {ratio:.4}");
            }
        }
        println!("  stale reads over the matrix: {}", self.matrix_stale_reads);
        if let Some(reason) = &self.postgres_skipped {
            println!("  NOTE: PostgreSQL skipped: {reason}");
        }
        if let Some(reason) = &self.mysql_skipped {
            println!("  NOTE: MariaDB skipped: {reason}");
        }
        if let Some(reason) = &self.redis_skipped {
            println!("  NOTE: the cells on Redis skipped: {reason}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_favours_low_ranks_and_stays_in_range() {
        let zipf = Zipf::new(10_000, 1.0);
        let mut rng = Rng::new(10);
        let mut ones = 0;
        for _ in 0..100_000 {
            let k = zipf.sample(&mut rng);
            assert!((1..=10_000).contains(&k));
            ones += usize::from(k == 1);
        }
        // P(1) = 1 / H(10000) ≈ 0.1020.
        assert!((9_500..11_000).contains(&ones), "{ones}");
    }
}
