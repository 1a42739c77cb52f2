//! Publishing the invalidator's heartbeat (see [`crate::heartbeat`]) while it runs, and a last
//! one, state `stopped`, when it stops cleanly.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, warn};

use super::shared::Shared;
use super::InvalidatorState;
use crate::heartbeat::{heartbeat_interval, heartbeat_key, heartbeat_ttl, HeartbeatRecord};

/// Runs `run` (the supervisor) and, beside it, writes a heartbeat every `max_lag / 5` until it
/// ends; then writes the last one.
pub(super) async fn alongside(
    shared: Arc<Shared>,
    max_lag: Duration,
    run: impl Future<Output = ()>,
) {
    let every = heartbeat_interval(max_lag);
    let ttl = heartbeat_ttl(max_lag);
    let mut seq = fastrand::u64(..);
    let beat = async {
        let mut failing = false;
        loop {
            let ok = publish(&shared, seq, ttl, every).await;
            if ok == failing {
                if ok {
                    debug!(invalidator = %shared.name, "heartbeat published again");
                } else {
                    warn!(invalidator = %shared.name, "could not publish the heartbeat; retrying");
                }
                failing = !ok;
            }
            seq = seq.wrapping_add(1);
            tokio::time::sleep(every).await;
        }
    };
    tokio::select! {
        _ = run => {}
        _ = beat => {}
    }
    publish(&shared, seq.wrapping_add(1), ttl, every).await;
}

fn state_name(state: InvalidatorState) -> &'static str {
    match state {
        InvalidatorState::Starting => "starting",
        InvalidatorState::Healthy => "healthy",
        InvalidatorState::Down => "down",
        InvalidatorState::Stopped => "stopped",
    }
}

/// Writes one heartbeat (waiting at most `deadline`); whether the cache took it.
async fn publish(shared: &Shared, seq: u64, ttl: Duration, deadline: Duration) -> bool {
    let record = {
        let status = shared.status.borrow();
        let healthy = status.state == InvalidatorState::Healthy && shared.health.is_healthy();
        let state = if healthy || status.state != InvalidatorState::Healthy {
            state_name(status.state)
        } else {
            "down"
        };
        HeartbeatRecord::new(
            &shared.name,
            seq,
            state,
            shared.health.caught_up_at(),
            status.position.clone(),
        )
    };
    let backend = shared.cache.backend();
    let ttl = backend.max_ttl().map_or(ttl, |m| m.min(ttl));
    let key = heartbeat_key(shared.cache.prefix(), &shared.name);
    let write = backend.set(&key, record.encode(), ttl);
    let deadline = deadline.max(Duration::from_millis(250));
    let ok = matches!(tokio::time::timeout(deadline, write).await, Ok(Ok(())));
    let outcome = if ok { "ok" } else { "failed" };
    metrics::counter!("momento_seaorm_cache_cdc_heartbeats_total",
        "invalidator" => shared.name.clone(), "outcome" => outcome)
    .increment(1);
    ok
}
