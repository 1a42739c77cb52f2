//! A near cache with a topic becomes healthy however it was started: many built at once on a
//! loaded machine all subscribe; one whose subscription is refused says so (a warning) and
//! keeps trying until it can subscribe. In-process momento-lite (cache and topics).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestCache;
use momento_lite::{Fault, Rpc};
use momento_seaorm_cache::{ModelCache, NearCache, NearTopic};
use tonic::Code;

fn near(momento: &TestCache) -> NearCache {
    let topic = NearTopic::new(
        momento.server.endpoint(),
        "token",
        momento.cache_name.as_str(),
    );
    NearCache::new(1 << 20).topic(topic)
}

/// Busy threads, one more than there are cores, until the returned flag is set.
fn cpu_load() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    for _ in 0..=cores {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut x = 0u64;
            while !stop.load(Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        });
    }
    stop
}

/// Builds 20 caches at once, each on its own thread (as many request handlers or workers
/// starting together would), and waits up to 30 s for all to be healthy; returns how many are
/// not.
async fn build_twenty_at_once(momento: &Arc<TestCache>) -> usize {
    let backend = momento.backend().await;
    let runtime = tokio::runtime::Handle::current();
    let builds: Vec<_> = (0..20)
        .map(|_| {
            let (momento, backend, runtime) = (momento.clone(), backend.clone(), runtime.clone());
            tokio::task::spawn_blocking(move || {
                let _entered = runtime.enter();
                ModelCache::builder(backend)
                    .near_cache(near(&momento))
                    .build()
                    .unwrap()
            })
        })
        .collect();
    let mut caches = Vec::new();
    for build in builds {
        caches.push(build.await.unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let unhealthy = caches
            .iter()
            .filter(|c| !c.near_stats().unwrap().healthy)
            .count();
        if unhealthy == 0 || Instant::now() > deadline {
            return unhealthy;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_caches_built_at_once_under_load_all_become_healthy() {
    let momento = Arc::new(TestCache::start("near-startup").await);
    let load = cpu_load();
    let mut unhealthy = Vec::new();
    for _ in 0..5 {
        unhealthy.push(build_twenty_at_once(&momento).await);
    }
    load.store(true, Ordering::Relaxed);
    assert!(
        unhealthy.iter().all(|n| *n == 0),
        "caches that never became healthy, of 20 per round: {unhealthy:?}"
    );
}

#[tokio::test]
async fn a_refused_subscription_is_logged_and_retried_until_it_succeeds() {
    let (logs, _guard) = common::logs::capture(tracing::Level::INFO);
    let momento = TestCache::start("near-refused").await;
    let faults = momento.server.faults();
    faults.inject(Fault::error(Code::Unavailable).on([Rpc::Subscribe]));
    let cache = momento.model_cache(|b| b.near_cache(near(&momento))).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !logs.text().contains("WARN") {
        assert!(Instant::now() < deadline, "no warning: {}", logs.text());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!cache.near_stats().unwrap().healthy);
    let warning = logs
        .lines()
        .into_iter()
        .find(|l| l.contains("WARN"))
        .unwrap();
    assert!(warning.contains("near cache"), "{warning}");
    faults.clear();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cache.near_stats().unwrap().healthy {
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
