//! A read-aside query cache for [SeaORM](https://www.sea-ql.org/SeaORM/), backed by
//! [Momento](https://www.gomomento.com/).
//!
//! Any SeaORM read can be served from a cache with one extra call, and returns exactly what the
//! database would have returned. A cache fault degrades to the database, never to an error or to
//! wrong data.
//!
//! # Map of the crate
//! * [`cache`] — [`ModelCache`] and its builder: every setting, checked at `build()`.
//! * `read` — the read-through path: breaker, deadline, generations, one flight per miss;
//!   `write` — lifetimes, encoding, size limit, storing, stale refresh; `lease` — load leases.
//! * [`wrap`] — `cache.wrap(Entity)`: `find_by_pk`, `find_one`, `find_all`, `count`.
//! * [`query`] — `.cached(&cache)` on SeaORM selectors ([`CacheQueryExt`]).
//! * [`connection`] — [`CacheableConnection`]: reads in a transaction bypass the cache.
//! * [`cached_connection`] — [`CachedConnection`]: writes through it invalidate cached reads.
//! * [`key`] — [`CacheKey`]: readable, canonical, injective keys.
//! * [`codec`] — [`Envelope`]: the stored value's header, serde format and compression.
//! * [`backend`] — the [`CacheBackend`] trait, [`MomentoBackend`] and [`MemoryBackend`].
//! * [`load`] — [`Loader`]: how a read runs its query on a miss or a background refresh.
//! * [`breaker`] — the circuit breaker; `flight` — one loader per key.
//! * [`invalidate`] — table generations, [`Consistency`] modes, explicit invalidation.
//! * `tables` — the tables a statement reads and writes (sqlparser, memoized).
//! * [`metrics`] — counters through the `metrics` facade and [`CacheStats`].
//! * [`error`] — [`ConfigError`] from `build()`, [`CacheFault`] from backends.
//!
//! # Example
//! ```no_run
//! # mod user {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
//! #     #[sea_orm(table_name = "users")]
//! #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub role: String }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! # async fn run(db: sea_orm::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
//! use momento_seaorm_cache::{CacheQueryExt, ModelCache, MomentoBackend};
//! use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
//!
//! // MOMENTO_API_KEY (and MOMENTO_ENDPOINT for a v2 key) from the environment.
//! let backend = MomentoBackend::builder().create_cache_if_missing(true).build().await?;
//! let cache = ModelCache::builder(backend).build()?;
//! let alice: Option<user::Model> = cache.wrap(user::Entity).find_by_pk(&db, 1).await?;
//! let admins: Vec<user::Model> = user::Entity::find()
//!     .filter(user::Column::Role.eq("admin"))
//!     .cached(&cache)
//!     .all(&db)
//!     .await?;
//! # Ok(()) }
//! ```
//! `examples/quickstart.rs` runs the whole flow offline.

pub mod backend;
pub mod breaker;
pub mod cache;
pub mod cached_connection;
pub mod codec;
pub mod connection;
pub mod error;
mod flight;
pub mod invalidate;
pub mod key;
mod lease;
pub mod load;
pub mod metrics;
pub mod query;
mod read;
mod tables;
pub mod wrap;
mod write;

pub use backend::memory::{MemoryBackend, MemoryBackendBuilder};
pub use backend::momento::{MomentoBackend, MomentoBackendBuilder};
pub use backend::CacheBackend;
pub use breaker::{BreakerConfig, BreakerState};
pub use cache::{CacheLookup, CacheStatus, ModelCache, ModelCacheBuilder};
pub use cached_connection::{CachedConnection, CachedTransaction};
pub use codec::{Compression, Envelope, SerdeFormat};
pub use connection::CacheableConnection;
pub use error::{CacheFault, ConfigError, DecodeError, FaultKind};
pub use invalidate::Consistency;
pub use key::{CacheKey, Operation};
pub use load::Loader;
pub use metrics::CacheStats;
pub use query::{CacheQueryExt, CacheableSelect, CachedQuery};
pub use wrap::WrappedEntity;
