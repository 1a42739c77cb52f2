//! Database statements per second, from each app process's `GET /stats` (`db_statements`:
//! every statement the process sent to PostgreSQL, counted by SeaORM's metric callback).

use std::sync::{Arc, Mutex};
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
    /// API requests the processes counted over the phase.
    pub requests: u64,
    /// Per second of the phase (index = second): statements and requests.
    pub seconds: Vec<(u64, u64)>,
}

/// Per second of the phase: statements, and requests.
type Buckets = Arc<Mutex<Vec<(u64, u64)>>>;

/// Polls every process's `/stats` about once a second for `secs` seconds, each process on a
/// task of its own (a slow answer delays only its own next poll). The first answer of a process
/// is its baseline; a counter that went down means the process restarted, and its new value is
/// all new. The increase between two polls is put in the second of the later one.
pub async fn poll(http: reqwest::Client, targets: Arc<Targets>, secs: f64) -> DbSeries {
    let start = Instant::now();
    let buckets: Buckets = Arc::new(Mutex::new(vec![(0, 0); secs.ceil() as usize + 2]));
    let mut tasks = tokio::task::JoinSet::new();
    for base in targets.urls() {
        let url = format!("{base}/stats");
        let (http, buckets) = (http.clone(), buckets.clone());
        tasks.spawn(poll_one(http, url, start, secs, buckets));
    }
    while tasks.join_next().await.is_some() {}
    let buckets = buckets.lock().expect("buckets lock");
    let mut series = DbSeries {
        seconds: buckets.clone(),
        ..DbSeries::default()
    };
    for (i, &(statements, requests)) in buckets.iter().enumerate().skip(1) {
        series.statements += statements;
        series.requests += requests;
        if (i as f64) < secs {
            series.per_second.push((i as f64 + 0.5, statements as f64));
        }
    }
    series
}

async fn poll_one(http: reqwest::Client, url: String, start: Instant, secs: f64, buckets: Buckets) {
    let mut last: Option<(u64, u64)> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = start + Duration::from_secs_f64(secs);
    loop {
        tick.tick().await;
        let request = http.get(&url).timeout(Duration::from_secs(5));
        if let Ok(body) = fetch(request).await {
            let field = |name: &str| body.get(name).and_then(|v| v.as_u64()).unwrap_or(0);
            let now = (field("db_statements"), field("requests"));
            let delta = |old: u64, new: u64| if new >= old { new - old } else { new };
            if let Some((db, req)) = last {
                let i = (start.elapsed().as_secs_f64() as usize).max(1);
                let mut b = buckets.lock().expect("buckets lock");
                let i = i.min(b.len() - 1);
                b[i].0 += delta(db, now.0);
                b[i].1 += delta(req, now.1);
            }
            last = Some(now);
        }
        if Instant::now() >= end {
            return;
        }
    }
}

/// The cache's totals summed over every process's `GET /report` (`totals`: reads, hits,
/// near_hits, misses, bypasses, errors, ...); empty with the cache off.
pub async fn report_totals(
    http: &reqwest::Client,
    targets: &Targets,
) -> serde_json::Map<String, serde_json::Value> {
    let mut sums = std::collections::BTreeMap::<String, f64>::new();
    let mut shapes = serde_json::Map::new();
    for base in targets.urls() {
        let request = http
            .get(format!("{base}/report"))
            .timeout(Duration::from_secs(5));
        let Ok(body) = fetch(request).await else {
            continue;
        };
        add_shapes(&mut shapes, &body);
        let Some(totals) = body.get("totals").and_then(|t| t.as_object()) else {
            continue;
        };
        for (k, v) in totals {
            if let Some(x) = v.as_f64() {
                *sums.entry(k.clone()).or_default() += x;
            }
        }
    }
    if let (Some(reads), Some(hits), Some(near)) =
        (sums.get("reads"), sums.get("hits"), sums.get("near_hits"))
    {
        let ratio = if *reads > 0.0 {
            (hits + near) / reads
        } else {
            0.0
        };
        sums.insert("hit_ratio".into(), (ratio * 1e3).round() / 1e3);
    }
    let mut out: serde_json::Map<String, serde_json::Value> = sums
        .into_iter()
        .map(|(k, v)| (k, serde_json::json!(v)))
        .collect();
    out.insert("per_query".into(), serde_json::Value::Object(shapes));
    out
}

/// The figures that say where reads went, per query label, summed over the processes.
const SHAPE_FIGURES: [&str; 6] = [
    "reads",
    "hits",
    "near_hits",
    "misses",
    "bypasses",
    "database_loads",
];

/// Adds the per-query figures of one process's report to `shapes` ("operation table
/// fingerprint" → figure → sum).
fn add_shapes(shapes: &mut serde_json::Map<String, serde_json::Value>, report: &serde_json::Value) {
    let queries = report.get("queries").and_then(|q| q.as_array());
    for q in queries.into_iter().flatten() {
        let text = |name: &str| q.get(name).and_then(|l| l.as_str()).unwrap_or("?");
        let shape = format!(
            "{} {} {}",
            text("operation"),
            text("table"),
            text("fingerprint")
        );
        let entry = shapes.entry(shape).or_insert_with(|| serde_json::json!({}));
        for name in SHAPE_FIGURES {
            let x = q.get(name).and_then(|v| v.as_u64()).unwrap_or(0);
            let old = entry.get(name).and_then(|v| v.as_u64()).unwrap_or(0);
            entry[name] = serde_json::json!(old + x);
        }
    }
}
