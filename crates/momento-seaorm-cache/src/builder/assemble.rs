//! `build()`'s second half: the parts of a [`ModelCache`] made from checked settings — the
//! guarded backend, the near cache, the generations, the storing policy and the read path.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::CacheBackend;
use crate::breaker::Breaker;
use crate::cache::{ModelCache, Parts};
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::error::ConfigError;
use crate::flight::Flights;
use crate::generations::{Consistency, Generations, GENERATION_TTL};
use crate::guarded::GuardedBackend;
use crate::health::InvalidatorHealth;
use crate::key::KeyFormat;
use crate::metrics::Counters;
use crate::near::Near;
use crate::policy::StoringPolicy;
use crate::read::ReadPath;
use crate::report::Reporting;
use crate::rows::RowIndex;
use crate::tables::TableIndex;

/// Makes the parts from `settings` (already validated) and the cache that owns them.
pub(super) fn assemble(
    backend: Box<dyn CacheBackend>,
    settings: Settings,
    gates: Vec<InvalidatorHealth>,
) -> Result<ModelCache, ConfigError> {
    let ttl = settings.resolved_ttl(backend.as_ref());
    let counters = Arc::new(Counters::default());
    let keys = KeyFormat::new(settings.prefix.clone(), settings.max_key_len)
        .with_hash_tags(backend.hash_tags());
    let policy = storing_policy(backend.as_ref(), &settings, ttl, &counters);
    let breaker = settings.breaker.map(Breaker::new);
    let guarded = GuardedBackend::new(backend, settings.timeout, breaker, counters.clone());
    let backend = Arc::new(guarded);
    for gate in &gates {
        crate::heartbeat::ensure_watching(gate, &backend, &settings.prefix);
    }
    let near = match &settings.near {
        Some(near) => Some(Near::start(
            near,
            keys.global_generation(),
            &settings.prefix,
        )?),
        None => None,
    };
    let generations = Generations::new(
        backend.clone(),
        keys.clone(),
        settings.consistency,
        counters.clone(),
    )
    .with_global_hold(settings.global_hold);
    let generations = Arc::new(generations.with_near(near.clone()));
    let read_path = Arc::new(ReadPath {
        backend: backend.clone(),
        generations: generations.clone(),
        policy,
        keys: keys.clone(),
        flights: settings.single_flight.then(Flights::default),
        lease: settings.lease,
        background_writes: settings.background_writes,
        pending: Arc::default(),
        refreshing: moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(Duration::from_secs(60))
            .build(),
        claiming: std::sync::Mutex::new(()),
        counters: counters.clone(),
        near: near.clone(),
    });
    Ok(ModelCache::from_parts(Parts {
        backend,
        generations,
        read_path,
        keys,
        tables: TableIndex::default(),
        rows: RowIndex::default(),
        catalog: Catalog::default(),
        counters,
        ttl,
        gates,
        near,
        report: Reporting::new(settings.report_queries),
    }))
}

/// How values are stored: lifetimes clamped to the backend's and to the generations' (while
/// invalidation is on), the envelope, the size limit.
fn storing_policy(
    backend: &dyn CacheBackend,
    settings: &Settings,
    ttl: Duration,
    counters: &Arc<Counters>,
) -> StoringPolicy {
    let max_ttl = match (backend.max_ttl(), settings.consistency) {
        (max, Consistency::TtlOnly) => max,
        (max, _) => Some(max.map_or(GENERATION_TTL, |max| max.min(GENERATION_TTL))),
    };
    StoringPolicy {
        ttl,
        max_ttl,
        max_item_bytes: backend.max_item_bytes(),
        envelope: settings.envelope,
        ttl_jitter: settings.ttl_jitter,
        counters: counters.clone(),
    }
}
