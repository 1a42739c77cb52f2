//! A read-aside query cache for [SeaORM](https://www.sea-ql.org/SeaORM/), backed by
//! [Momento](https://www.gomomento.com/).
//!
//! Any SeaORM read can be served from a cache with one extra call, and returns exactly what the
//! database would have returned. A cache fault degrades to the database, never to an error or to
//! wrong data.
//!
//! # Map of the crate
//! Layers, each depending only on the layers below it (a test checks this):
//! ```text
//! front ends   admin (feature admin: the report as a page) ·
//!              seaorm/ (the SeaORM read API: wrap (cache.wrap(E)) · query (.cached(&cache)) ·
//!                selectors · convert · exists · stream · paginate · cursor · related · loader ·
//!                self_loader · shape) ·
//!              cached_connection (writes) ·
//!              invalidator (change capture: the database's committed changes → bumps)
//!                  │ describe a read (ReadRequest / ReadPlan) and hand it down
//! the cache    builder (settings → parts) · cache (ModelCache: owns the parts; read_statement,
//!              invalidation) · config
//!                  │
//! read path    read/ (entry → unanswered, fill → lease, lookup → near → path): [near hit] look
//!              up, judge, load once (also when the cache cannot answer), store, keep near
//!                  │
//! parts        generations (keys, stamps, local copies, bumps owed) · policy (lifetime,
//!              encoding, size) · request (ReadRequest) · heartbeat (publish, read back)
//!                  │
//!              guarded (the backend under deadline, breaker and counters; typed faults) ·
//!              report (per-query counters, found without a lock; invalidations and why) ·
//!              near (store: values in process memory, a table of version slots for generation
//!              keys; wire: bump and drop messages ≤ 4 KB; topic: publish over Momento's Pubsub;
//!              subscriber: follow it, resuming after the last sequence seen; redis_channel:
//!              the same over Redis pub/sub)
//!                  │
//! leaves       key · codec · tables (sqlparser) · catalog · rows · limit · flight · seen_keys ·
//!              breaker · load · connection ·
//!              status · metrics · error · capture · health · backend/{momento, memory, redis}
//! ```
//! * [`cache`] — [`ModelCache`] and [`ModelCache::read_statement`], the one entry point every
//!   statement read takes; [`builder`] — [`ModelCacheBuilder`] and the assembly of the parts;
//!   `config` — settings, defaults, `build()` checks.
//! * [`seaorm`] — the SeaORM front ends, one folder: [`seaorm::wrap`] — `cache.wrap(Entity)`:
//!   `find_by_pk`, `find_one`, `find_all`, `count`; [`seaorm::query`] — `.cached(&cache)` on
//!   SeaORM selectors ([`CacheQueryExt`]); beside it, the rest of SeaORM's read API:
//!   [`seaorm::selectors`] (`into_tuple`, `find_both_related`, `SelectThree`+),
//!   [`seaorm::convert`] (`.cached(&c).into_tuple()`), `exists`, [`seaorm::stream`],
//!   [`seaorm::paginate`], [`seaorm::cursor`], [`seaorm::related`] (`find_with_related`),
//!   [`seaorm::loader`] (`load_one`, `load_many`, `load_many_to_many`), [`seaorm::self_loader`]
//!   (`load_self`, `load_self_many`, `load_self_via`, `load_self_via_rev`).
//! * [`cached_connection`] — [`CachedConnection`]: writes through it invalidate cached reads.
//! * `invalidator` (features `cdc-postgres`, `cdc-mysql`) — change capture: an `Invalidator`
//!   follows the database's committed changes and invalidates their tables.
//! * [`health`] — [`InvalidatorHealth`]: reads bypass the cache while an invalidator is behind.
//! * [`heartbeat`] — an invalidator's progress published into the cache, read back in the
//!   background by any process that gates on it ([`InvalidatorHealth::from_heartbeat`]).
//! * `read` — the read path: lookup, flights, leases, loading, storing, stale refreshes, and
//!   the load shared when the cache cannot answer.
//! * [`generations`] — invalidation state: generation keys, stamps, [`Consistency`], owed bumps.
//! * `policy` — how long a value lives, how it is encoded, whether it fits.
//! * `guarded` — every backend call under the deadline and the circuit breaker.
//! * [`near`] — [`NearCache`]: hits from process memory, dropped by every bump and explicit
//!   invalidation here and, over a Momento topic ([`NearTopic`]) or a Redis channel
//!   (`NearRedisChannel`, feature `redis`), in every other process;
//!   revalidated after `max_staleness`, never kept past the value's TTL.
//! * [`request`] — [`ReadRequest`]: a cached read of any statement.
//! * [`key`] — [`CacheKey`]: readable, canonical, injective keys.
//! * [`codec`] — [`Envelope`]: the stored value's header, serde format and compression.
//! * [`backend`] — the [`CacheBackend`] trait, [`MomentoBackend`], [`MemoryBackend`] and
//!   `RedisBackend` (feature `redis`).
//! * [`load`] — [`Loader`]: the query a read runs on a miss or a background refresh.
//! * [`capture`] — a connection that runs nothing: the statements SeaORM would run; `shape` —
//!   how the front ends key and store a query type's rows.
//! * [`connection`] — [`CacheableConnection`]: reads in a transaction bypass the cache.
//! * [`status`] — [`CacheStatus`] and [`ReadResult`]: how a read was served.
//! * [`breaker`] — the circuit breaker; `flight` — one load per key and generations (joinable
//!   until a background store lands), and per key alone (joinable until it starts) when the
//!   cache cannot answer; `seen_keys` — the generation keys this process looked up before (a
//!   hint: the others are created beside the lookup).
//! * `tables` — the tables a statement reads and writes (sqlparser, memoized).
//! * `catalog` — the database's own description of its tables, read per process: which tables'
//!   rows can be tracked, their tracked columns (integer, UUID, exact text) and keys, and which tables a write to one
//!   reaches (views, partitions, inheritance, cascades, triggers).
//! * `rows` — row and condition scopes: the rows a one-table read is pinned to
//!   (`id = 5`, `user_id IN (..)`), the rows a write changed (docs/rows.md: "Row and condition
//!   granularity").
//! * `admin` (feature `admin`) — the admin page: the report as JSON and HTML, invalidation forms.
//! * [`metrics`] — counters through the `metrics` facade and [`CacheStats`].
//! * [`report`] — [`CacheReport`] from [`ModelCache::report`]: per query shape, reads, hits,
//!   misses, database time spent and saved, bytes stored, the last invalidation; the same per
//!   shape through the `metrics` facade, labelled by a bounded fingerprint.
//! * [`error`] — [`ConfigError`] from `build()`, [`CacheFault`] from backends.
//!
//! # Features
//! * `momento` (default) — [`MomentoBackend`], through the official `momento` SDK.
//! * `memory` (default) — [`MemoryBackend`], in-process on moka.
//! * `redis` — `RedisBackend`: Redis or Valkey, one node or a cluster, through the `redis`
//!   crate; `redis-tls` adds `rediss://` URLs (rustls).
//! * `cdc-postgres` — `Invalidator::postgres`: writes made anywhere (other services, `psql`,
//!   triggers, cascades) invalidate, through PostgreSQL's logical decoding (adds `sqlx` with
//!   its PostgreSQL driver only).
//! * `cdc-mysql` — `Invalidator::mysql`: the same through MariaDB/MySQL's binary log (adds
//!   `mysql_async`).
//!
//! * `admin` — [`admin::AdminPage`]: an `axum::Router` serving [`ModelCache::report`] as JSON
//!   and as one HTML page, with forms to invalidate a table or everything (adds `axum`).
//!
//! SeaORM is used without default features: the application chooses its database drivers,
//! runtime and TLS flavour by enabling them on its own `sea-orm` dependency.
//!
//! # Example
//! Offline, on the in-process [`MemoryBackend`] over SQLite in memory:
//! ```
//! # mod user {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
//! #     #[derive(serde::Serialize, serde::Deserialize)]
//! #     #[sea_orm(table_name = "users")]
//! #     pub struct Model {
//! #         #[sea_orm(primary_key)]
//! #         pub id: i32,
//! #         pub name: String,
//! #         pub role: String,
//! #     }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use momento_seaorm_cache::{CacheQueryExt, CacheStatus, CachedConnection};
//! use momento_seaorm_cache::{MemoryBackend, ModelCache};
//! use sea_orm::{ColumnTrait, ConnectionTrait, Database, EntityTrait, QueryFilter};
//!
//! let db = Database::connect("sqlite::memory:").await?;
//! # db.execute_unprepared(
//! #     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL);
//! #      INSERT INTO users VALUES (1, 'alice', 'admin'), (2, 'bob', 'member')",
//! # )
//! # .await?;
//! let cache = ModelCache::builder(MemoryBackend::new()).build()?;
//!
//! // The Node library's four operations...
//! let users = cache.wrap(user::Entity);
//! let alice: Option<user::Model> = users.find_by_pk(&db, 1).await?;
//! assert_eq!(alice.unwrap().name, "alice");
//! // ...and every SeaORM selector, as a drop-in returning Result<_, DbErr>.
//! let admins: Vec<user::Model> = user::Entity::find()
//!     .filter(user::Column::Role.eq("admin"))
//!     .cached(&cache)
//!     .all(&db)
//!     .await?;
//! assert_eq!(admins.len(), 1);
//!
//! // The second read is served from the cache.
//! assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Hit);
//! // A write through a CachedConnection invalidates every cached read of `users`.
//! let db = CachedConnection::new(db, &cache);
//! db.execute_unprepared("UPDATE users SET name = 'alicia' WHERE id = 1").await?;
//! let read = users.find_by_pk_with_status(&db, 1).await?;
//! assert_eq!((read.status, read.value.unwrap().name), (CacheStatus::Miss, "alicia".into()));
//! # Ok(()) }
//! ```
//! In production, [`MomentoBackend`] takes its place:
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use momento_seaorm_cache::{ModelCache, MomentoBackend};
//! // MOMENTO_API_KEY (and MOMENTO_ENDPOINT for a v2 key) from the environment.
//! let backend = MomentoBackend::builder().create_cache_if_missing(true).build().await?;
//! let cache = ModelCache::builder(backend).build()?;
//! # let _ = cache; Ok(()) }
//! ```
//! `examples/quickstart.rs` runs the whole flow offline.

#![warn(missing_docs)]

#[cfg(feature = "admin")]
pub mod admin;
pub mod backend;
pub mod breaker;
pub mod builder;
pub mod cache;
pub mod cached_connection;
pub mod capture;
mod catalog;
pub mod codec;
mod config;
pub mod connection;
pub mod error;
mod flight;
pub mod generations;
mod guarded;
pub mod health;
pub mod heartbeat;
#[cfg(any(feature = "cdc-postgres", feature = "cdc-mysql"))]
pub mod invalidator;
pub mod key;
mod limit;
pub mod load;
pub mod metrics;
pub mod near;
mod policy;
mod read;
pub mod report;
pub mod request;
mod rows;
pub mod seaorm;
mod seen_keys;
pub mod status;
mod tables;

#[cfg(feature = "memory")]
pub use backend::memory::{MemoryBackend, MemoryBackendBuilder};
#[cfg(feature = "momento")]
pub use backend::momento::{MomentoBackend, MomentoBackendBuilder};
#[cfg(feature = "redis")]
pub use backend::redis::{RedisBackend, RedisBackendBuilder};
pub use backend::CacheBackend;
pub use breaker::{BreakerConfig, BreakerState};
pub use builder::ModelCacheBuilder;
pub use cache::ModelCache;
pub use cached_connection::{CachedConnection, CachedTransaction, RowStream};
pub use codec::{Compression, Envelope, SerdeFormat};
pub use config::{DEFAULT_CACHE_TIMEOUT, DEFAULT_KEY_PREFIX, DEFAULT_TTL_JITTER, FALLBACK_TTL};
pub use connection::CacheableConnection;
pub use error::{CacheFault, ConfigError, DecodeError, FaultKind};
pub use generations::Consistency;
pub use health::{InvalidatorHealth, DEFAULT_MAX_LAG};
#[cfg(any(feature = "cdc-postgres", feature = "cdc-mysql"))]
pub use invalidator::{
    Invalidator, InvalidatorBuilder, InvalidatorError, InvalidatorHandle, InvalidatorState,
    InvalidatorStatus,
};
pub use key::{CacheKey, Operation};
pub use load::{LoadAll, LoadCount, LoadNumItems, LoadOne, Loader};
pub use metrics::CacheStats;
#[cfg(feature = "momento")]
pub use near::NearTopic;
pub use near::{NearCache, NearStats, DEFAULT_MAX_STALENESS};
#[cfg(feature = "redis")]
pub use near::{NearRedisChannel, DEFAULT_REDIS_HEARTBEAT};
pub use report::{CacheReport, QueryReport};
pub use request::ReadRequest;
pub use seaorm::cursor::CachedCursor;
pub use seaorm::paginate::CachedPaginator;
pub use seaorm::query::{CacheQueryExt, CacheableSelect, CachedQuery};
pub use seaorm::stream::RowsStream;
pub use seaorm::wrap::WrappedEntity;
pub use status::{CacheStatus, ReadResult};
