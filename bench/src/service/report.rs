//! The service scenario's figures, its printed table and its plots.
//!
//! Latency ratios compare the *steady* seconds of the two runs: after the warm-up, and, in the
//! cached run, outside every fault window and the 3 s after it (the windows have figures of
//! their own); so do database statements per request (`service_db_queries_ratio`; the whole
//! runs' ratio is `service_db_queries_ratio_whole_run`). Errors and stale reads count the whole
//! cached run, faults included.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::checker::CheckerReport;
use super::dbstats::DbSeries;
use super::faults::{self, FaultWindow};
use super::floor::Floor;
use super::load::{ms, Recorder};
use super::ops::Ctx;
use super::ServiceConfig;
use crate::plot::{self, TimeSeries, Window};
use crate::stats::ratio;

/// Seconds after a fault window that still count as recovery, not steady state.
const RECOVERY_S: f64 = 3.0;

/// What one run (uncached or cached) produced, before summing up.
pub struct ModeRun {
    /// Cache on (with the fault schedule).
    pub cached: bool,
    /// Offered rate.
    pub rate: f64,
    /// Seconds of load.
    pub secs: f64,
    /// Latencies and errors.
    pub recorder: Recorder,
    /// Database statements.
    pub db: DbSeries,
    /// The checker's findings.
    pub checker: CheckerReport,
    /// The fault windows (cached run).
    pub windows: Vec<FaultWindow>,
    /// Writes in the log.
    pub writes: usize,
    /// The ramp's steps.
    pub ramp: Vec<RampStep>,
    /// The load's context (stale-read counters).
    pub ctx: Arc<Ctx>,
    /// The cache's report totals over the processes, after the run (before the ramp).
    pub cache: serde_json::Map<String, serde_json::Value>,
    /// The same requests through an ideal cache (before the ramp).
    pub floor: Floor,
}

/// One step of a ramp.
#[derive(Debug, Clone, Serialize)]
pub struct RampStep {
    /// Offered requests per second.
    pub offered_rps: f64,
    /// Completed requests per second.
    pub achieved_rps: f64,
    /// p99 latency, ms.
    pub p99_ms: f64,
    /// Failed or unsent requests.
    pub errors: u64,
    /// Met the p99 target with no errors and no more than 2% behind.
    pub ok: bool,
}

/// One fault window's figures.
#[derive(Debug, Serialize)]
pub struct WindowSummary {
    /// The fault.
    pub name: &'static str,
    /// Seconds since the run started.
    pub start_s: f64,
    /// Seconds since the run started.
    pub end_s: f64,
    /// Requests scheduled in the window that completed.
    pub requests: u64,
    /// p99 of those that succeeded, ms.
    pub p99_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
    /// Failed requests.
    pub errors: u64,
}

/// One run summed up.
#[derive(Debug, Serialize)]
pub struct ModeSummary {
    pub offered_rps: f64,
    pub secs: f64,
    /// Completed requests / seconds of schedule.
    pub achieved_rps: f64,
    pub requests: u64,
    pub errors: u64,
    /// Not sent: no app process up.
    pub unsent: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Over the steady seconds only.
    pub steady_p50_ms: f64,
    pub steady_p99_ms: f64,
    pub steady_seconds: usize,
    /// Database statements the processes counted, and their requests.
    pub db_statements: u64,
    pub service_requests: u64,
    pub db_statements_per_request: f64,
    /// Over the steady seconds only.
    pub steady_db_statements_per_request: f64,
    /// Rows in read responses checked against the write log, and the stale ones.
    pub rows_checked: u64,
    pub stale_reads: u64,
    pub writes: usize,
    pub checker: CheckerReport,
    pub error_samples: Vec<String>,
    pub stale_samples: Vec<String>,
    /// The ramp's steps.
    pub ramp: Vec<RampStep>,
    /// The highest ramp rate that met the p99 target with no errors (0: none, or no ramp).
    pub max_rps_within_target: f64,
    pub windows: Vec<WindowSummary>,
    /// The cache's report totals over the processes at the end of the run (a process
    /// restarted by the schedule counts from its restart).
    pub cache: serde_json::Map<String, serde_json::Value>,
    /// Database statements per request an ideal cache would have needed on the same requests
    /// (every read after a write that changed it, and the service's writes), whole run.
    pub floor_db_statements_per_request: f64,
    /// Reads the ideal cache replayed, and the ones it had to load.
    pub floor_reads: u64,
    pub floor_misses: u64,
    /// (s, p50 ms, p99 ms) per second.
    pub per_second: Vec<(f64, f64, f64)>,
    /// (s, database statements per second).
    pub db_per_second: Vec<(f64, f64)>,
}

impl ModeSummary {
    fn new(run: ModeRun) -> ModeSummary {
        let r = &run.recorder;
        let n = r.seconds.len();
        let steady = Steady::of(&run);
        let windows = run.windows.iter().map(|w| window(r, w)).collect();
        let staleness = &run.ctx.staleness;
        let max_ok = run.ramp.iter().filter(|s| s.ok).map(|s| s.offered_rps);
        ModeSummary {
            offered_rps: run.rate,
            secs: run.secs,
            achieved_rps: round3(r.done as f64 / run.secs),
            requests: r.done,
            errors: r.errors,
            unsent: r.unsent,
            p50_ms: ms(&r.latency, 50.0),
            p99_ms: ms(&r.latency, 99.0),
            p999_ms: ms(&r.latency, 99.9),
            max_ms: ms(&r.latency, 100.0),
            steady_p50_ms: ms(&steady.latency, 50.0),
            steady_p99_ms: ms(&steady.latency, 99.0),
            steady_seconds: steady.seconds,
            db_statements: run.db.statements,
            service_requests: run.db.requests,
            db_statements_per_request: ratio(run.db.statements as f64, run.db.requests as f64),
            steady_db_statements_per_request: ratio(
                steady.statements as f64,
                steady.requests as f64,
            ),
            rows_checked: staleness.rows_checked.load(Ordering::Relaxed),
            stale_reads: staleness.stale.load(Ordering::Relaxed),
            writes: run.writes,
            error_samples: r.error_samples.clone(),
            stale_samples: staleness.samples.lock().expect("samples").clone(),
            max_rps_within_target: max_ok.fold(0.0, f64::max),
            ramp: run.ramp.clone(),
            windows,
            per_second: (0..n)
                .map(|i| {
                    let h = &r.seconds[i].latency;
                    (i as f64 + 0.5, ms(h, 50.0), ms(h, 99.0))
                })
                .filter(|p| p.2 > 0.0)
                .collect(),
            db_per_second: run.db.per_second.clone(),
            checker: run.checker,
            cache: run.cache,
            floor_db_statements_per_request: round3(run.floor.statements_per_request()),
            floor_reads: run.floor.reads,
            floor_misses: run.floor.misses,
        }
    }
}

/// The steady seconds of a run: after the warm-up, and outside every fault window and its
/// recovery.
struct Steady {
    latency: Histogram<u64>,
    seconds: usize,
    statements: u64,
    requests: u64,
}

impl Steady {
    fn of(run: &ModeRun) -> Steady {
        let r = &run.recorder;
        let warmup = faults::shape(run.secs).0;
        let excluded = |s: usize| {
            let s = s as f64;
            s < warmup
                || run
                    .windows
                    .iter()
                    .any(|w| s + 1.0 > w.start_s && s < w.end_s + RECOVERY_S)
        };
        let mut steady = Steady {
            latency: super::load::histogram(),
            seconds: 0,
            statements: 0,
            requests: 0,
        };
        for (i, s) in r.seconds.iter().enumerate() {
            if !excluded(i) {
                let _ = steady.latency.add(&s.latency);
                steady.seconds += 1;
            }
        }
        // A poll at second i counts the statements of second i - 1.
        for (i, &(st, rq)) in run.db.seconds.iter().enumerate().skip(1) {
            if !excluded(i - 1) && i <= r.seconds.len() {
                steady.statements += st;
                steady.requests += rq;
            }
        }
        steady
    }
}

fn window(r: &Recorder, w: &FaultWindow) -> WindowSummary {
    let (h, requests, errors) = r.window(w.start_s as usize, w.end_s.ceil() as usize);
    WindowSummary {
        name: w.name,
        start_s: round3(w.start_s),
        end_s: round3(w.end_s),
        requests,
        p99_ms: ms(&h, 99.0),
        max_ms: ms(&h, 100.0),
        errors,
    }
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// Both runs and the figures.
#[derive(Debug, Serialize)]
pub struct ServiceReport {
    pub users: usize,
    pub posts_per_user: usize,
    pub near_max_staleness_ms: u64,
    pub max_lag_ms: u64,
    pub p99_target_ms: f64,
    pub uncached: ModeSummary,
    pub cached: ModeSummary,
}

impl ServiceReport {
    /// Sums up both runs.
    pub fn new(config: &ServiceConfig, uncached: ModeRun, cached: ModeRun) -> ServiceReport {
        ServiceReport {
            users: config.users,
            posts_per_user: config.posts_per_user,
            near_max_staleness_ms: config.near_staleness.as_millis() as u64,
            max_lag_ms: config.max_lag.as_millis() as u64,
            p99_target_ms: config.p99_target.as_secs_f64() * 1e3,
            uncached: ModeSummary::new(uncached),
            cached: ModeSummary::new(cached),
        }
    }

    /// The top-level figures. `service_rps_ratio` is the ratio of the highest ramp rates that
    /// met the p99 target when both ramps ran, else of the achieved rates at the same offered
    /// load (`service_achieved_rps_ratio`).
    pub fn figures(&self) -> Vec<(String, f64)> {
        let (u, c) = (&self.uncached, &self.cached);
        let achieved = ratio(c.achieved_rps, u.achieved_rps);
        let rps = if u.max_rps_within_target > 0.0 && c.max_rps_within_target > 0.0 {
            ratio(c.max_rps_within_target, u.max_rps_within_target)
        } else {
            achieved
        };
        let errors = c.errors + c.unsent + c.checker.errors;
        let stale = c.stale_reads + c.checker.stale;
        let mut figures = vec![
            ("service_rps_ratio".into(), rps),
            ("service_achieved_rps_ratio".into(), achieved),
            (
                "service_p50_ratio".into(),
                ratio(c.steady_p50_ms, u.steady_p50_ms),
            ),
            (
                "service_p99_ratio".into(),
                ratio(c.steady_p99_ms, u.steady_p99_ms),
            ),
            (
                "service_db_queries_ratio".into(),
                ratio(
                    c.steady_db_statements_per_request,
                    u.steady_db_statements_per_request,
                ),
            ),
            (
                "service_floor_db_queries_ratio".into(),
                ratio(
                    c.floor_db_statements_per_request,
                    u.steady_db_statements_per_request,
                ),
            ),
            (
                "service_db_queries_ratio_whole_run".into(),
                ratio(c.db_statements_per_request, u.db_statements_per_request),
            ),
            ("service_errors".into(), errors as f64),
            ("service_stale_reads".into(), stale as f64),
            (
                "service_uncached_errors".into(),
                (u.errors + u.unsent + u.checker.errors) as f64,
            ),
            (
                "service_uncached_stale_reads".into(),
                (u.stale_reads + u.checker.stale) as f64,
            ),
            ("service_cached_p99_ms".into(), c.steady_p99_ms),
            ("service_uncached_p99_ms".into(), u.steady_p99_ms),
        ];
        for w in &c.windows {
            figures.push((format!("service_fault_{}_p99_ms", w.name), w.p99_ms));
            figures.push((format!("service_fault_{}_errors", w.name), w.errors as f64));
        }
        figures
    }

    /// Prints the table.
    pub fn print(&self) {
        println!(
            "\n== service: 4 app processes, one momento-lite, near cache ({} ms), invalidator gate ({} ms) ==",
            self.near_max_staleness_ms, self.max_lag_ms
        );
        println!(
            "  {:<10} {:>8} {:>9} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7} {:>6} {:>8}",
            "run",
            "offered",
            "achieved",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "db/req",
            "errors",
            "stale",
            "checks",
            "max rps"
        );
        for (name, m) in [("uncached", &self.uncached), ("cached", &self.cached)] {
            println!(
                "  {name:<10} {:>8.0} {:>9.1} {:>8.2} {:>8.2} {:>9.2} {:>9.3} {:>8} {:>7} {:>6} {:>8.0}",
                m.offered_rps,
                m.achieved_rps,
                m.steady_p50_ms,
                m.steady_p99_ms,
                m.p999_ms,
                m.steady_db_statements_per_request,
                m.errors + m.unsent + m.checker.errors,
                m.stale_reads + m.checker.stale,
                m.checker.checks,
                m.max_rps_within_target,
            );
        }
        let mut totals = self.cached.cache.clone();
        let per_query = totals.remove("per_query");
        println!("  cache totals (cached run): {totals:?}");
        let c = &self.cached;
        println!(
            "  an ideal cache on the same requests: {} of {} reads loaded, {:.3} statements per request",
            c.floor_misses, c.floor_reads, c.floor_db_statements_per_request
        );
        let queries = per_query.as_ref().and_then(|q| q.as_object());
        for (label, figures) in queries.into_iter().flatten() {
            println!("    {label}: {figures}");
        }
        println!("  fault windows (cached run):");
        for w in &self.cached.windows {
            println!(
                "    {:<20} {:>6.1}-{:<6.1}s  n {:>6}  p99 {:>9.2} ms  max {:>9.2} ms  errors {}",
                w.name, w.start_s, w.end_s, w.requests, w.p99_ms, w.max_ms, w.errors
            );
        }
        for s in self
            .cached
            .error_samples
            .iter()
            .chain(&self.cached.stale_samples)
        {
            println!("    sample: {s}");
        }
        for s in &self.cached.checker.samples {
            println!("    checker: {s}");
        }
    }

    /// Writes `service_latency.svg` and `service_db_queries.svg` into `dir`.
    pub fn plot(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let (u, c) = (&self.uncached, &self.cached);
        let line = |label: &str, points: Vec<(f64, f64)>| TimeSeries {
            label: label.into(),
            points,
        };
        let pick = |m: &ModeSummary, p99: bool| {
            m.per_second
                .iter()
                .map(|&(t, p50, p99v)| (t, if p99 { p99v } else { p50 }))
                .collect()
        };
        let windows: Vec<Window> = c
            .windows
            .iter()
            .map(|w| Window {
                label: w.name.replace('_', " "),
                start_s: w.start_s,
                end_s: w.end_s,
            })
            .collect();
        let latency = [
            line("cached p50", pick(c, false)),
            line("cached p99", pick(c, true)),
            line("uncached p50", pick(u, false)),
            line("uncached p99", pick(u, true)),
        ];
        let title = format!(
            "service latency per second at {:.0} rps offered (faults shaded: cached run)",
            c.offered_rps
        );
        plot::lines_svg(
            &dir.join("service_latency.svg"),
            &title,
            "latency (ms)",
            true,
            &latency,
            &windows,
        )?;
        let queries = [
            line("cached", c.db_per_second.clone()),
            line("uncached", u.db_per_second.clone()),
        ];
        plot::lines_svg(
            &dir.join("service_db_queries.svg"),
            "database statements per second, all 4 app processes",
            "statements/s",
            false,
            &queries,
            &windows,
        )
    }
}
