//! Criterion micro-benchmarks of the hit path on the in-process `MemoryBackend`.
//!
//! The library builds keys inside `find_by_pk` and `.cached()` and exposes no function that
//! builds one, so key building cannot be benchmarked alone through the public API. Instead
//! three hits are compared and the differences attribute the cost:
//! * `backend_get`: `cache.backend().get(key)` — the store alone (moka);
//! * `find_by_pk`: the same value through `wrap(E).find_by_pk` on the default cache — adds
//!   primary-key key building, generation keys and their two gets (`Consistency::Strict`),
//!   single flight, the deadline, counters, the tracing span, and decoding one row;
//! * `find_by_pk_ttl_only`: the same on a `Consistency::TtlOnly` cache (no generations);
//! * `cached_all`: `E::find().filter(id = 1).cached(&cache).all(&db)` — adds building the
//!   select and its statement (SQL text) and a statement key;
//! * `decode_one_row`: `Envelope::decode` of the stored bytes alone.

use std::hint::black_box;

use bench::fixtures::{self, user};
use bench::hit_target::{by_id, Mode, Variant};
use criterion::{criterion_group, criterion_main, Criterion};
use momento_seaorm_cache::{CacheQueryExt, Envelope, MemoryBackend, ModelCache};

fn hit_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (db, cache, key) = runtime.block_on(async {
        let db = fixtures::sqlite_with_users(10).await.expect("sqlite");
        let cache = ModelCache::builder(MemoryBackend::new())
            .build()
            .expect("cache");
        let lookup = cache
            .wrap(user::Entity)
            .find_by_pk_with_status(&db, 1)
            .await
            .expect("read");
        by_id(1).cached(&cache).all(&db).await.expect("read");
        tokio::time::sleep(bench::hit_target::RECENTLY_LOADED).await;
        (db, cache, lookup.key.expect("key"))
    });
    let ttl_only = runtime
        .block_on(Variant::populate(Mode::TtlOnly, MemoryBackend::new(), &db))
        .expect("populate");
    let bytes = runtime
        .block_on(cache.backend().get(key.as_str()))
        .expect("get")
        .expect("stored");
    let users = cache.wrap(user::Entity);
    let mut group = c.benchmark_group("memory_hit");
    group.bench_function("backend_get", |b| {
        b.to_async(&runtime).iter(|| async {
            cache
                .backend()
                .get(black_box(key.as_str()))
                .await
                .expect("get")
        })
    });
    group.bench_function("find_by_pk", |b| {
        b.to_async(&runtime)
            .iter(|| async { users.find_by_pk(&db, black_box(1)).await.expect("read") })
    });
    group.bench_function("find_by_pk_ttl_only", |b| {
        b.to_async(&runtime).iter(|| async {
            ttl_only
                .users
                .find_by_pk(&db, black_box(1))
                .await
                .expect("read")
        })
    });
    group.bench_function("cached_all", |b| {
        b.to_async(&runtime).iter(|| async {
            by_id(black_box(1))
                .cached(&cache)
                .all(&db)
                .await
                .expect("read")
        })
    });
    group.bench_function("decode_one_row", |b| {
        b.iter(|| {
            let row: Option<user::Model> = Envelope::default()
                .decode(black_box(&bytes))
                .expect("decodes");
            row
        })
    });
    group.finish();
}

criterion_group!(benches, hit_path);
criterion_main!(benches);
