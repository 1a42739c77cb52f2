//! Database statements per second, from each app process's `GET /stats` (`db_statements`:
//! every statement the process sent to PostgreSQL, counted by SeaORM's metric callback).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::load::Targets;
use super::ops::fetch;

/// Statements and requests the app processes counted during a phase.
#[derive(Debug, Default)]
pub struct DbSeries {
    /// (seconds since the phase started, statements per second over all processes).
    pub per_second: Vec<(f64, f64)>,
    /// Statements over the phase.
    pub statements: u64,
    /// Requests the processes counted over the phase.
    pub requests: u64,
}

/// Polls every process's `/stats` once a second for `secs` seconds (plus one last poll). The
/// first answer of a process is its baseline; a counter that went down means the process
/// restarted, and its new value is all new.
pub async fn poll(http: reqwest::Client, targets: Arc<Targets>, secs: f64) -> DbSeries {
    let start = Instant::now();
    let mut last: Vec<Option<(u64, u64)>> = vec![None; targets.urls().len()];
    let mut series = DbSeries::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut previous = start;
    loop {
        tick.tick().await;
        let mut statements = 0;
        for (i, base) in targets.urls().iter().enumerate() {
            let request = http
                .get(format!("{base}/stats"))
                .timeout(Duration::from_millis(900));
            let Ok(body) = fetch(request).await else {
                continue;
            };
            let field = |name: &str| body.get(name).and_then(|v| v.as_u64()).unwrap_or(0);
            let now = (field("db_statements"), field("requests"));
            let delta = |old: u64, new: u64| if new >= old { new - old } else { new };
            if let Some((db, req)) = last[i] {
                statements += delta(db, now.0);
                series.requests += delta(req, now.1);
            }
            last[i] = Some(now);
        }
        let now = Instant::now();
        series.statements += statements;
        let elapsed = (now - previous).as_secs_f64().max(1e-3);
        if now > start + Duration::from_millis(500) {
            let t = (now - start).as_secs_f64();
            series.per_second.push((t, statements as f64 / elapsed));
        }
        previous = now;
        if now - start >= Duration::from_secs_f64(secs) {
            return series;
        }
    }
}
