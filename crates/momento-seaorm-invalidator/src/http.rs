//! `/healthz` and `/metrics` over HTTP.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use momento_seaorm_cache::InvalidatorHandle;

/// What the handlers read.
#[derive(Clone)]
pub struct Served {
    /// The running invalidator.
    pub invalidator: Arc<InvalidatorHandle>,
    /// The invalidator's name (the metrics' `invalidator` label).
    pub name: String,
    /// The Prometheus recorder's handle.
    pub metrics: PrometheusHandle,
}

/// The routes: `/healthz` (200 while caught up within the lag bound, else 503; a JSON body
/// either way) and `/metrics` (Prometheus text).
pub fn router(served: Served) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(served)
}

async fn healthz(State(served): State<Served>) -> impl IntoResponse {
    let status = served.invalidator.status();
    let health = served.invalidator.health();
    let ok = health.allows_cache();
    let body = serde_json::json!({
        "caught_up": ok,
        "state": format!("{:?}", status.state).to_lowercase(),
        "lag_ms": status.lag.map(|l| l.as_millis() as u64),
        "max_lag_ms": health.max_lag().as_millis() as u64,
        "position": status.position,
        "last_error": status.last_error,
        "transactions": status.transactions,
        "full_invalidations": status.full_invalidations,
        "restarts": status.restarts,
    });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

async fn metrics(State(served): State<Served>) -> impl IntoResponse {
    if let Some(lag) = served.invalidator.status().lag {
        let name = served.name.clone();
        metrics::gauge!("momento_seaorm_cache_cdc_lag_seconds", "invalidator" => name)
            .set(lag.as_secs_f64());
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        served.metrics.render(),
    )
}
