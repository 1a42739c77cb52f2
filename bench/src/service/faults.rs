//! The fault schedule of the cached run: after a quiet warm-up, five faults spaced evenly over
//! the rest of the run, each active for at most 10 s and followed by quiet time:
//!
//! 1. `momento_down`: the shared momento-lite stopped (connections dropped, port closed), then
//!    started again with its data;
//! 2. `latency`: 2 s of added latency on every momento-lite data RPC;
//! 3. `topics_broken`: every topic subscription stream ended with `UNAVAILABLE`, every 2 s;
//! 4. `invalidator_killed`: the invalidator SIGKILLed, restarted after half the window, the
//!    window ending once its `/healthz` says it has caught up;
//! 5. `app_killed`: one app process taken out of the round robin (as a load balancer would
//!    drain it), SIGKILLed a second later, restarted, and put back once its `/healthz` answers.

use std::time::{Duration, Instant};

use momento_lite::Fault;
use serde::Serialize;

use super::lite::LiteHost;
use super::load::Targets;
use super::procs::Fleet;
use crate::fixtures::BenchResult;

/// When a fault was active, in seconds since the run started.
#[derive(Debug, Clone, Serialize)]
pub struct FaultWindow {
    /// `momento_down`, `latency`, `topics_broken`, `invalidator_killed`, `app_killed`.
    pub name: &'static str,
    /// The fault began.
    pub start_s: f64,
    /// The fault was undone (and, for a killed process, it was ready again).
    pub end_s: f64,
}

/// The fault names, in schedule order.
pub const FAULTS: [&str; 5] = [
    "momento_down",
    "latency",
    "topics_broken",
    "invalidator_killed",
    "app_killed",
];

/// The schedule's shape for a run of `secs` seconds: (warm-up, slot length, active length).
pub fn shape(secs: f64) -> (f64, f64, f64) {
    let warmup = (secs * 0.12).min(15.0);
    let slot = (secs - warmup) / FAULTS.len() as f64;
    (warmup, slot, (slot * 0.45).min(10.0))
}

/// Runs the schedule against the run that started at `start` and lasts `secs` seconds.
pub async fn run(
    lite: &LiteHost,
    fleet: &mut Fleet,
    targets: &Targets,
    start: Instant,
    secs: f64,
) -> BenchResult<Vec<FaultWindow>> {
    let (warmup, slot, active) = shape(secs);
    let active = Duration::from_secs_f64(active);
    let at = |s: f64| start + Duration::from_secs_f64(s);
    let since = |t: Instant| (t - start).as_secs_f64();
    let mut windows = Vec::new();
    for (k, &name) in FAULTS.iter().enumerate() {
        tokio::time::sleep_until(at(warmup + slot * k as f64).into()).await;
        let began = Instant::now();
        match name {
            "momento_down" => {
                lite.stop().await?;
                tokio::time::sleep(active).await;
                lite.start_again().await?;
            }
            "latency" => {
                lite.faults().inject(Fault::latency(Duration::from_secs(2)));
                tokio::time::sleep(active).await;
                lite.faults().clear();
            }
            "topics_broken" => {
                let until = Instant::now() + active;
                while Instant::now() < until {
                    lite.faults().break_subscriptions();
                    tokio::time::sleep(Duration::from_secs(2).min(active)).await;
                }
            }
            "invalidator_killed" => {
                fleet.kill_invalidator();
                tokio::time::sleep(active / 2).await;
                fleet.restart_invalidator().await?;
            }
            _ => {
                let victim = targets.urls().len() - 1;
                targets.set_up(victim, false);
                tokio::time::sleep(Duration::from_secs(1)).await;
                fleet.kill_app(victim);
                tokio::time::sleep(active / 2).await;
                fleet.restart_app(victim).await?;
                targets.set_up(victim, true);
            }
        }
        let window = FaultWindow {
            name,
            start_s: since(began),
            end_s: since(Instant::now()),
        };
        println!(
            "  fault {name}: {:.1}-{:.1} s",
            window.start_s, window.end_s
        );
        windows.push(window);
        fleet.check_alive()?;
    }
    Ok(windows)
}
