//! Percentiles of latency samples, and the ratios every scenario reports.
//!
//! Samples are kept whole (nanoseconds in a `Vec`) and sorted once, so every percentile is an
//! exact nearest-rank value rather than a histogram bucket: the ratios compare two sets of a few
//! thousand samples each, and bucket rounding would be of the same order as the differences we
//! are looking for.

use std::future::Future;
use std::time::Instant;

use serde::Serialize;

/// Latency samples of one operation, in nanoseconds.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<u64>);

impl Samples {
    /// Room for `n` samples, so pushing never allocates inside a measured loop.
    pub fn with_capacity(n: usize) -> Samples {
        Samples(Vec::with_capacity(n))
    }

    /// Adds one sample.
    pub fn push(&mut self, nanos: u64) {
        self.0.push(nanos);
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `true` before the first sample.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sorts the samples and summarizes them.
    pub fn summary(mut self) -> Summary {
        self.0.sort_unstable();
        let v = &self.0;
        if v.is_empty() {
            return Summary::default();
        }
        let us = |ns: u64| ns as f64 / 1_000.0;
        let mean = v.iter().map(|&n| n as f64).sum::<f64>() / v.len() as f64;
        Summary {
            n: v.len(),
            min_us: us(v[0]),
            p50_us: us(percentile(v, 50.0)),
            p90_us: us(percentile(v, 90.0)),
            p99_us: us(percentile(v, 99.0)),
            max_us: us(v[v.len() - 1]),
            mean_us: mean / 1_000.0,
        }
    }
}

/// The nearest-rank percentile `p` (0–100) of sorted, non-empty `sorted`.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Percentiles of one operation's latency, in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    pub min_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
}

impl Summary {
    /// One table row: the label, then n, p50, p90, p99 and mean.
    pub fn row(&self, label: &str) -> String {
        format!(
            "  {label:<34} {:>7} {:>10.2} {:>10.2} {:>10.2} {:>10.2}",
            self.n, self.p50_us, self.p90_us, self.p99_us, self.mean_us
        )
    }

    /// The header matching [`row`](Self::row).
    pub fn header() -> String {
        format!(
            "  {:<34} {:>7} {:>10} {:>10} {:>10} {:>10}",
            "operation", "n", "p50 µs", "p90 µs", "p99 µs", "mean µs"
        )
    }
}

/// `a / b`, rounded to three decimals (0 when `b` is 0).
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        (a / b * 1_000.0).round() / 1_000.0
    }
}

/// Runs `fut` and returns its output with its wall time in nanoseconds.
pub async fn timed<T>(fut: impl Future<Output = T>) -> (T, u64) {
    let started = Instant::now();
    let out = fut.await;
    (out, started.elapsed().as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        let mut s = Samples::default();
        for n in [3_000, 1_000, 2_000] {
            s.push(n);
        }
        let summary = s.summary();
        assert_eq!((summary.n, summary.p50_us, summary.max_us), (3, 2.0, 3.0));
        assert_eq!(ratio(1.0, 4.0), 0.25);
    }
}
