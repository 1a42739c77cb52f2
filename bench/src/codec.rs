//! The stored value: encode and decode time and stored size, by serde format and compression.
//!
//! Decoding is on every hit and encoding on every miss, and the stored size is what crosses the
//! network and counts against Momento's 5 MB item limit. This measures `Envelope::encode` and
//! `Envelope::decode` (the public codec the cache itself uses) on 1, 100 and 10,000 rows for
//! every serde format and compression, alternating encode and decode, each for a fixed time
//! budget.

use std::hint::black_box;
use std::time::{Duration, Instant};

use momento_seaorm_cache::{Compression, Envelope, SerdeFormat};
use serde::Serialize;

use crate::fixtures::{user, user_row, BenchResult};
use crate::stats::{Samples, Summary};

/// Row counts and time budget per combination.
#[derive(Debug, Clone)]
pub struct CodecConfig {
    pub row_counts: Vec<usize>,
    pub budget: Duration,
}

/// One (rows, format, compression) combination.
#[derive(Debug, Clone, Serialize)]
pub struct CodecRow {
    pub rows: usize,
    pub format: String,
    pub compression: String,
    pub stored_bytes: usize,
    pub encode: Summary,
    pub decode: Summary,
}

/// The codec scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct CodecReport {
    pub budget_ms: u128,
    pub rows: Vec<CodecRow>,
}

const FORMATS: [SerdeFormat; 2] = [SerdeFormat::Json, SerdeFormat::Postcard];
const COMPRESSIONS: [Compression; 3] = [Compression::None, Compression::Zlib, Compression::Zstd];

fn measure(rows: &[user::Model], envelope: Envelope, budget: Duration) -> BenchResult<CodecRow> {
    let bytes = envelope.encode(rows)?;
    let reader = Envelope::default();
    let mut encode = Samples::default();
    let mut decode = Samples::default();
    let started = Instant::now();
    while (started.elapsed() < budget || encode.len() < 5) && encode.len() < 20_000 {
        let t = Instant::now();
        black_box(envelope.encode(black_box(rows))?);
        encode.push(t.elapsed().as_nanos() as u64);
        let t = Instant::now();
        let back: Vec<user::Model> = reader.decode(black_box(&bytes))?;
        decode.push(t.elapsed().as_nanos() as u64);
        if back.len() != rows.len() {
            return Err("decoded a different number of rows".into());
        }
    }
    Ok(CodecRow {
        rows: rows.len(),
        format: format!("{:?}", envelope.format),
        compression: format!("{:?}", envelope.compression),
        stored_bytes: bytes.len(),
        encode: encode.summary(),
        decode: decode.summary(),
    })
}

/// Runs every combination.
pub fn run(config: &CodecConfig) -> BenchResult<CodecReport> {
    let mut out = Vec::new();
    for &n in &config.row_counts {
        let rows: Vec<user::Model> = (1..=i32::try_from(n)?).map(user_row).collect();
        for format in FORMATS {
            for compression in COMPRESSIONS {
                let envelope = Envelope {
                    format,
                    compression,
                };
                out.push(measure(&rows, envelope, config.budget)?);
            }
        }
    }
    Ok(CodecReport {
        budget_ms: config.budget.as_millis(),
        rows: out,
    })
}

impl CodecReport {
    /// Prints the table.
    pub fn print(&self) {
        println!(
            "\n== codec: Envelope encode/decode of Vec<Model> (p50 / p99 µs, stored bytes) =="
        );
        println!(
            "  {:>6} {:<9} {:<5} {:>10} {:>11} {:>11} {:>11} {:>11}",
            "rows", "format", "comp", "bytes", "enc p50", "enc p99", "dec p50", "dec p99"
        );
        for r in &self.rows {
            println!(
                "  {:>6} {:<9} {:<5} {:>10} {:>11.2} {:>11.2} {:>11.2} {:>11.2}",
                r.rows,
                r.format,
                r.compression,
                r.stored_bytes,
                r.encode.p50_us,
                r.encode.p99_us,
                r.decode.p50_us,
                r.decode.p99_us
            );
        }
    }
}
