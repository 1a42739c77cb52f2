//! The open-loop load generator: requests are scheduled on a clock at a fixed offered rate and
//! each one's latency is measured from its *scheduled* send time, so a stalled service is charged
//! for every request it delayed (coordinated omission corrected). Latencies go into HDR
//! histograms, one for the phase and one per second of schedule.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::ops::{Ctx, Mix};
use crate::mixed::Rng;

/// The app processes the load is spread over, round-robin, skipping the ones marked down (as a
/// load balancer's health check would).
pub struct Targets {
    urls: Vec<String>,
    up: Vec<AtomicBool>,
    next: AtomicUsize,
}

impl Targets {
    /// Every process up.
    pub fn new(urls: Vec<String>) -> Targets {
        let up = urls.iter().map(|_| AtomicBool::new(true)).collect();
        Targets {
            urls,
            up,
            next: AtomicUsize::new(0),
        }
    }

    /// The next process that is up: its index and base URL.
    pub fn pick(&self) -> Option<(usize, &str)> {
        for _ in 0..self.urls.len() {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.urls.len();
            if self.up[i].load(Ordering::Relaxed) {
                return Some((i, &self.urls[i]));
            }
        }
        None
    }

    /// Takes process `i` out of (`false`) or back into (`true`) the rotation.
    pub fn set_up(&self, i: usize, up: bool) {
        self.up[i].store(up, Ordering::Relaxed);
    }

    /// Whether process `i` is in the rotation.
    pub fn is_up(&self, i: usize) -> bool {
        self.up[i].load(Ordering::Relaxed)
    }

    /// The base URLs.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }
}

/// A new latency histogram in microseconds, 1 µs to 5 minutes, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 300_000_000, 3).expect("valid histogram bounds")
}

/// One second of schedule.
pub struct Second {
    /// Latency of the requests scheduled in this second that succeeded, µs.
    pub latency: Histogram<u64>,
    /// Requests scheduled in this second that completed (successfully or not).
    pub done: u64,
    /// Of those, failures (transport error, timeout, non-2xx, malformed body).
    pub errors: u64,
}

/// What one phase of load measured.
pub struct Recorder {
    /// Latency of every successful request, µs.
    pub latency: Histogram<u64>,
    /// Per second of schedule since the phase started.
    pub seconds: Vec<Second>,
    /// Requests that completed.
    pub done: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Requests not sent because no process was up.
    pub unsent: u64,
    /// The first few error messages.
    pub error_samples: Vec<String>,
}

impl Recorder {
    /// Room for `secs` seconds.
    pub fn new(secs: usize) -> Recorder {
        Recorder {
            latency: histogram(),
            seconds: (0..secs.max(1))
                .map(|_| Second {
                    latency: histogram(),
                    done: 0,
                    errors: 0,
                })
                .collect(),
            done: 0,
            errors: 0,
            unsent: 0,
            error_samples: Vec::new(),
        }
    }

    /// Records one request scheduled `at_s` seconds into the phase.
    pub fn record(&mut self, at_s: f64, latency: Duration, outcome: Result<(), String>) {
        let i = (at_s as usize).min(self.seconds.len() - 1);
        let second = &mut self.seconds[i];
        second.done += 1;
        self.done += 1;
        match outcome {
            Ok(()) => {
                let us = (latency.as_micros() as u64).clamp(1, 300_000_000);
                self.latency.saturating_record(us);
                second.latency.saturating_record(us);
            }
            Err(e) => {
                second.errors += 1;
                self.errors += 1;
                if self.error_samples.len() < 10 {
                    self.error_samples.push(format!("{at_s:.1}s: {e}"));
                }
            }
        }
    }

    /// Latency of seconds `from..to` merged, with their completed and failed counts.
    pub fn window(&self, from: usize, to: usize) -> (Histogram<u64>, u64, u64) {
        let mut h = histogram();
        let (mut done, mut errors) = (0, 0);
        for s in self.seconds.iter().take(to).skip(from) {
            let _ = h.add(&s.latency);
            done += s.done;
            errors += s.errors;
        }
        (h, done, errors)
    }
}

/// Sends `rate` requests per second for `secs` seconds, drawn from `mix`, and waits for the
/// last ones (up to the client's timeout). The first request is scheduled at `start`. Returns
/// what it measured.
pub async fn run_phase(
    ctx: Arc<Ctx>,
    mix: Arc<Mix>,
    rate: f64,
    secs: f64,
    seed: u64,
    start: Instant,
) -> Recorder {
    let recorder = Arc::new(Mutex::new(Recorder::new(secs.ceil() as usize)));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng::new(seed);
    let total = (rate * secs) as u64;
    for i in 0..total {
        let at = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at.into()).await;
        let op = mix.next(&mut rng);
        let (ctx, recorder, in_flight) = (ctx.clone(), recorder.clone(), in_flight.clone());
        in_flight.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let outcome = ctx.execute(op).await;
            let latency = at.elapsed();
            let at_s = (at - start).as_secs_f64();
            let mut r = recorder.lock().expect("recorder lock");
            match outcome {
                Some(outcome) => r.record(at_s, latency, outcome),
                None => r.unsent += 1,
            }
            drop(r);
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut r = recorder.lock().expect("recorder lock");
    std::mem::replace(&mut *r, Recorder::new(1))
}

/// Percentile `q` (0–100) of `h` in milliseconds (0 when empty), three decimals.
pub fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    (h.value_at_quantile(q / 100.0) as f64).round() / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_skips_processes_that_are_down() {
        let targets = Targets::new(vec!["a".into(), "b".into(), "c".into()]);
        targets.set_up(1, false);
        let picked: Vec<usize> = (0..4).filter_map(|_| targets.pick()).map(|p| p.0).collect();
        assert_eq!(picked, vec![0, 2, 0, 2]);
        for i in 0..3 {
            targets.set_up(i, false);
        }
        assert!(targets.pick().is_none());
    }

    #[test]
    fn seconds_and_windows_add_up() {
        let mut r = Recorder::new(3);
        r.record(0.5, Duration::from_millis(2), Ok(()));
        r.record(1.5, Duration::from_millis(40), Ok(()));
        r.record(1.7, Duration::from_millis(1), Err("boom".into()));
        r.record(9.0, Duration::from_millis(5), Ok(()));
        assert_eq!((r.done, r.errors), (4, 1));
        let (h, done, errors) = r.window(1, 2);
        assert_eq!((h.len(), done, errors), (1, 2, 1));
        assert!((ms(&h, 99.0) - 40.0).abs() < 0.1);
        assert_eq!(r.seconds[2].done, 1, "late samples land in the last second");
    }
}
