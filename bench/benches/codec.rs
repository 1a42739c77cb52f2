//! Criterion micro-benchmarks of the stored value's codec: `Envelope::encode` and
//! `Envelope::decode` of 1 and 100 rows, per serde format and compression.
//!
//! The `codec` scenario of the benchmark program covers 10,000 rows too and reports stored
//! sizes; this gives Criterion's confidence intervals for the small values a hit decodes.

use std::hint::black_box;

use bench::fixtures::{user, user_row};
use criterion::{criterion_group, criterion_main, Criterion};
use momento_seaorm_cache::{Compression, Envelope, SerdeFormat};

fn envelopes() -> Vec<Envelope> {
    let mut out = Vec::new();
    for format in [SerdeFormat::Json, SerdeFormat::Postcard] {
        for compression in [Compression::None, Compression::Zlib, Compression::Zstd] {
            out.push(Envelope {
                format,
                compression,
            });
        }
    }
    out
}

fn name(envelope: &Envelope, rows: usize) -> String {
    format!("{:?}/{:?}/{rows}", envelope.format, envelope.compression)
}

fn codec(c: &mut Criterion) {
    let mut encode = c.benchmark_group("encode");
    for rows in [1usize, 100] {
        let data: Vec<user::Model> = (1..=rows as i32).map(user_row).collect();
        for envelope in envelopes() {
            encode.bench_function(name(&envelope, rows), |b| {
                b.iter(|| envelope.encode(black_box(&data)).expect("encodes"))
            });
        }
    }
    encode.finish();
    let mut decode = c.benchmark_group("decode");
    for rows in [1usize, 100] {
        let data: Vec<user::Model> = (1..=rows as i32).map(user_row).collect();
        for envelope in envelopes() {
            let bytes = envelope.encode(&data).expect("encodes");
            decode.bench_function(name(&envelope, rows), |b| {
                b.iter(|| {
                    let back: Vec<user::Model> = Envelope::default()
                        .decode(black_box(&bytes))
                        .expect("decodes");
                    back
                })
            });
        }
    }
    decode.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
