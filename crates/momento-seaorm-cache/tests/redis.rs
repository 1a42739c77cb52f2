//! `RedisBackend` on real Redis: the machine's server (127.0.0.1:6379, or `REDIS_URL`) and
//! `redis-server` processes of the test's own — one node to kill and restart, one under
//! `maxmemory` with an LRU policy, and a three-primary cluster — under the library's guarantees:
//! reads equal the database after writes in another process, an evicted or deleted generation
//! never validates a value, and a dead server costs reads nothing but the deadline.
//!
//! The model-based test also runs on Redis (`tests/model_based.rs`, modules `redis_*`).

mod common;

use std::time::{Duration, Instant};

use common::entities::user;
use common::redis::{model_cache, raw, shared_url, unique_prefix, OwnCluster, OwnServer};
use common::{Db, TestDb};
use momento_seaorm_cache::{
    CacheQueryExt, CacheStatus, CachedConnection, ModelCache, ModelCacheBuilder, NearCache,
    NearRedisChannel, RedisBackend,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

async fn seeded() -> TestDb {
    let db = TestDb::new(Db::Sqlite).await.expect("SQLite");
    db.seed().await;
    db
}

/// For the tests that assert hits and no faults: a deadline of seconds, not the default
/// 200 ms, which the first call (it opens the connection) can exceed on a loaded CI machine
/// and then rightly count as a fault. The deadline itself is what the killed-server tests force.
fn patient(builder: ModelCacheBuilder) -> ModelCacheBuilder {
    builder.cache_timeout(Duration::from_secs(5))
}

fn single(url: &str) -> RedisBackend {
    RedisBackend::builder()
        .url(url)
        .build()
        .expect("RedisBackend")
}

/// Renames user `id` through `conn` (a write that bumps the row's generation).
async fn rename(conn: &CachedConnection, id: i32, name: &str) {
    user::ActiveModel {
        id: Set(id),
        username: Set(name.to_owned()),
        ..Default::default()
    }
    .update(conn)
    .await
    .expect("rename");
}

/// The group's users through the cache, and how the read was served.
async fn group(
    cache: &ModelCache,
    conn: &CachedConnection,
    group: i32,
) -> (Vec<String>, CacheStatus) {
    let read = user::Entity::find()
        .filter(user::Column::GroupId.eq(group))
        .order_by_asc(user::Column::Id)
        .cached(cache)
        .all_with_status(conn)
        .await
        .expect("group read");
    let names = read.value.into_iter().map(|u| u.username).collect();
    (names, read.status)
}

/// The Node library's seed flow: a miss, a hit, a write, the write's value.
async fn seed_flow(backend: RedisBackend, prefix: &str) {
    let db = seeded().await;
    let cache = model_cache(backend, prefix, patient);
    let conn = CachedConnection::new(db.conn.clone(), &cache);
    let users = cache.wrap(user::Entity);
    let first = users.find_by_pk_with_status(&conn, 1).await.unwrap();
    assert_eq!(first.status, CacheStatus::Miss);
    let second = users.find_by_pk_with_status(&conn, 1).await.unwrap();
    assert_eq!(second.status, CacheStatus::Hit, "served from Redis");
    assert_eq!(second.value, first.value);
    assert_eq!(group(&cache, &conn, 1).await.1, CacheStatus::Miss);
    assert_eq!(group(&cache, &conn, 1).await.1, CacheStatus::Hit);
    rename(&conn, 1, "renamed").await;
    let after = users.find_by_pk_with_status(&conn, 1).await.unwrap();
    assert_eq!(after.status, CacheStatus::Miss, "the write invalidated it");
    assert_eq!(after.value.unwrap().username, "renamed");
    assert_eq!(group(&cache, &conn, 1).await.0, vec!["renamed".to_owned()]);
    let stats = cache.stats();
    assert_eq!(stats.faults, 0, "{stats:?}");
}

/// Two caches under one prefix, each with its own connection: two processes. Every read in
/// one follows the other's last write.
async fn two_processes(a: RedisBackend, b: RedisBackend, prefix: &str) {
    let db = seeded().await;
    let (a, b) = (
        model_cache(a, prefix, patient),
        model_cache(b, prefix, patient),
    );
    let (conn_a, conn_b) = (
        CachedConnection::new(db.conn.clone(), &a),
        CachedConnection::new(db.conn.clone(), &b),
    );
    let mut hits = 0;
    for round in 0..20 {
        let (reader, reader_conn, writer_conn) = match round % 2 {
            0 => (&a, &conn_a, &conn_b),
            _ => (&b, &conn_b, &conn_a),
        };
        for _ in 0..2 {
            let read = reader
                .wrap(user::Entity)
                .find_by_pk_with_status(reader_conn, 2)
                .await
                .unwrap();
            hits += usize::from(read.status == CacheStatus::Hit);
            let expected = match round {
                0 => "user2".to_owned(),
                r => format!("name-{}", r - 1),
            };
            assert_eq!(read.value.unwrap().username, expected, "round {round}");
            let (names, _) = group(reader, reader_conn, 2).await;
            assert_eq!(names, vec![expected], "round {round}: the group read");
        }
        rename(writer_conn, 2, &format!("name-{round}")).await;
    }
    assert!(
        hits >= 15,
        "the second read of each round was a hit: {hits}"
    );
    assert_eq!(a.stats().faults + b.stats().faults, 0);
}

#[tokio::test]
async fn the_seed_flow_on_redis() {
    let Some(url) = shared_url().await else {
        return;
    };
    seed_flow(single(&url), &unique_prefix("seed")).await;
}

#[tokio::test]
async fn writes_in_one_process_invalidate_reads_in_another_on_redis() {
    let Some(url) = shared_url().await else {
        return;
    };
    two_processes(single(&url), single(&url), &unique_prefix("two")).await;
}

/// Deleting the generation keys a stored value was stamped with (as an eviction would) makes
/// the value a miss: a write the cache never heard of is then read from the database.
#[tokio::test]
async fn a_deleted_generation_never_validates_a_value_on_redis() {
    let Some(url) = shared_url().await else {
        return;
    };
    let prefix = unique_prefix("evict");
    let db = seeded().await;
    let cache = model_cache(single(&url), &prefix, patient);
    let users = cache.wrap(user::Entity);
    users.find_by_pk(&db.conn, 1).await.unwrap();
    let hit = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(hit.status, CacheStatus::Hit);
    // A write behind the cache's back: the cached value is now out of date, and only its
    // generations can tell.
    let plain = &db.conn;
    user::ActiveModel {
        id: Set(1),
        username: Set("behind".to_owned()),
        ..Default::default()
    }
    .update(plain)
    .await
    .unwrap();
    let mut conn = raw(&url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:gen*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "generation keys under {prefix}:gen*");
    let deleted: i64 = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(deleted as usize, keys.len());
    let after = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(
        after.status,
        CacheStatus::Miss,
        "absent generations mean a miss"
    );
    assert_eq!(after.value.unwrap().username, "behind");
}

/// A server under `maxmemory` with `allkeys-lru` evicts values and generation keys alike
/// while writes and reads go on: every read equals the database.
#[tokio::test]
async fn reads_stay_exact_while_redis_evicts_under_maxmemory() {
    let Some(server) =
        OwnServer::start(&["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"]).await
    else {
        return;
    };
    let db = seeded().await;
    for n in 3..=40 {
        common::insert_user(&db.conn, &format!("user{n}"), Some(1 + n % 2)).await;
    }
    let cache = model_cache(single(&server.url()), "lru", |b| b);
    let conn = CachedConnection::new(db.conn.clone(), &cache);
    let mut filler = raw(&server.url()).await;
    let mut rng = fastrand::Rng::with_seed(7);
    let (mut reads, mut hits) = (0, 0);
    for step in 0..600 {
        let id = rng.i32(1..=40);
        if step % 4 == 0 {
            rename(&conn, id, &format!("n{step}")).await;
        }
        let read = cache
            .wrap(user::Entity)
            .find_by_pk_with_status(&conn, id)
            .await
            .unwrap();
        let truth = user::Entity::find_by_id(id).one(&db.conn).await.unwrap();
        assert_eq!(read.value, truth, "step {step}: user {id}");
        let (names, _) = group(&cache, &conn, 1 + id % 2).await;
        let truth: Vec<String> = user::Entity::find()
            .filter(user::Column::GroupId.eq(1 + id % 2))
            .order_by_asc(user::Column::Id)
            .all(&db.conn)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, truth, "step {step}: group of user {id}");
        reads += 1;
        hits += usize::from(read.status == CacheStatus::Hit);
        // 64 KB of other data per step keeps the server at its limit.
        let _: () = redis::cmd("SET")
            .arg(format!("filler-{step}"))
            .arg(vec![b'x'; 64 * 1024])
            .query_async(&mut filler)
            .await
            .unwrap();
    }
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(&mut filler)
        .await
        .unwrap();
    let evicted: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(evicted > 100, "the server evicted keys: {evicted}");
    assert!(hits > 0, "some reads were hits ({hits} of {reads})");
    eprintln!("lru: {evicted} keys evicted, {hits} hits of {reads} reads, all exact");
}

/// The server killed mid-run: reads and writes go on against the database, each cache call
/// bounded by the deadline; once it is back, reads are cached again and exact.
#[tokio::test]
async fn a_killed_redis_costs_reads_and_writes_no_more_than_the_deadline() {
    let Some(mut server) = OwnServer::start(&[]).await else {
        return;
    };
    let db = seeded().await;
    let cache = model_cache(single(&server.url()), "killed", |b| {
        b.cache_timeout(Duration::from_millis(200))
    });
    let conn = CachedConnection::new(db.conn.clone(), &cache);
    let users = cache.wrap(user::Entity);
    users.find_by_pk(&conn, 1).await.unwrap();
    assert_eq!(
        users.find_by_pk_with_status(&conn, 1).await.unwrap().status,
        CacheStatus::Hit
    );
    server.kill();
    for round in 0..5 {
        let started = Instant::now();
        rename(&conn, 1, &format!("down-{round}")).await;
        let read = users.find_by_pk_with_status(&conn, 1).await.unwrap();
        assert_ne!(read.status, CacheStatus::Hit);
        assert_eq!(read.value.unwrap().username, format!("down-{round}"));
        let took = started.elapsed();
        // A write's bump and a read's lookup: two calls, each at most the 200 ms deadline (a
        // refused connection fails at once; the bound leaves room for a loaded machine).
        assert!(took < Duration::from_secs(2), "round {round} took {took:?}");
    }
    assert!(cache.stats().faults > 0, "the faults were counted");
    server.restart().await;
    let started = Instant::now();
    loop {
        let read = users.find_by_pk_with_status(&conn, 1).await.unwrap();
        assert_eq!(read.value.unwrap().username, "down-4");
        if read.status == CacheStatus::Hit {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "cached again after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rename(&conn, 1, "back").await;
    let read = users.find_by_pk_with_status(&conn, 1).await.unwrap();
    assert_eq!(read.value.unwrap().username, "back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_flow_and_two_processes_on_a_redis_cluster() {
    let Some(cluster) = OwnCluster::start().await else {
        return;
    };
    seed_flow(cluster.backend(), "seed").await;
    two_processes(cluster.backend(), cluster.backend(), "two").await;
}

/// The nodes holding the keys of two `find_by_pk` hits (values and generations) on `cluster`,
/// under `prefix`, with a backend made by `backend`.
async fn nodes_of_a_hit(
    cluster: &OwnCluster,
    backend: RedisBackend,
    prefix: &str,
) -> std::collections::BTreeSet<usize> {
    let db = seeded().await;
    let cache = model_cache(backend, prefix, patient);
    let users = cache.wrap(user::Entity);
    let mut keys = Vec::new();
    for id in 1..=2 {
        users.find_by_pk(&db.conn, id).await.unwrap();
        let hit = users.find_by_pk_with_status(&db.conn, id).await.unwrap();
        assert_eq!(hit.status, CacheStatus::Hit);
        keys.push(hit.key.expect("a key").as_str().to_owned());
    }
    for node in &cluster.nodes {
        let mut conn = raw(&node.url()).await;
        let found: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:gen:*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        keys.extend(found);
    }
    assert!(keys.len() >= 4, "values and generations: {keys:?}");
    let mut nodes = std::collections::BTreeSet::new();
    for key in &keys {
        nodes.insert(cluster.node_of(key).await);
    }
    nodes
}

/// By default a cluster backend tags keys with their table, so a hit's value and generation
/// keys live on one node (one round trip); with `hash_tags(false)` they spread over the nodes
/// and the client splits the batch by node — a hit is served either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_reads_one_node_with_hash_tags_and_several_without() {
    let Some(cluster) = OwnCluster::start().await else {
        return;
    };
    let tagged = nodes_of_a_hit(&cluster, cluster.backend(), "tagged").await;
    assert_eq!(tagged.len(), 1, "one node holds a table's keys: {tagged:?}");
    let spread = RedisBackend::builder()
        .cluster(cluster.urls())
        .hash_tags(false)
        .build()
        .unwrap();
    let spread = nodes_of_a_hit(&cluster, spread, "spread").await;
    assert!(spread.len() >= 2, "untagged keys spread: {spread:?}");
}

/// One primary of the cluster killed: every read and write still answers, from the database
/// where the cache cannot, and equals the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_cluster_node_fails_no_read() {
    let Some(mut cluster) = OwnCluster::start().await else {
        return;
    };
    let db = seeded().await;
    let cache = model_cache(cluster.backend(), "node", |b| b);
    let conn = CachedConnection::new(db.conn.clone(), &cache);
    for id in 1..=2 {
        cache
            .wrap(user::Entity)
            .find_by_pk(&conn, id)
            .await
            .unwrap();
    }
    cluster.nodes[1].kill();
    for round in 0..10 {
        let id = 1 + round % 2;
        rename(&conn, id, &format!("r{round}")).await;
        let read = cache
            .wrap(user::Entity)
            .find_by_pk(&conn, id)
            .await
            .unwrap();
        assert_eq!(read.unwrap().username, format!("r{round}"), "round {round}");
    }
}

/// Failover that loses a bump. The replica of the primary holding user 1's row generation is
/// stalled (`DEBUG SLEEP`) and its link cut, user 1 is renamed, and that primary is killed at
/// once: the replica is promoted with the generation from *before* the write. With `wait_for_replicas`, the bump
/// was not acknowledged, so it is owed: the writing process never serves the old name, and
/// retries the bump onto the new primary, after which another process reads the new name too.
/// (Without `wait_for_replicas` the writer takes the unreplicated bump as recorded and both
/// processes serve the old name after the failover.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_that_loses_a_bump_serves_no_stale_read_with_wait_for_replicas() {
    let Some(mut cluster) = OwnCluster::with_replicas(1).await else {
        return;
    };
    let db = seeded().await;
    let backend = || {
        RedisBackend::builder()
            .cluster(cluster.urls())
            .wait_for_replicas(1, Duration::from_millis(50))
            .build()
            .unwrap()
    };
    let a = model_cache(backend(), "failover", |b| b);
    let b = model_cache(backend(), "failover", |b| b);
    let conn_a = CachedConnection::new(db.conn.clone(), &a);
    for cache in [&a, &b] {
        cache
            .wrap(user::Entity)
            .find_by_pk(&db.conn, 1)
            .await
            .unwrap();
        let hit = cache
            .wrap(user::Entity)
            .find_by_pk_with_status(&db.conn, 1)
            .await
            .unwrap();
        assert_eq!(hit.status, CacheStatus::Hit);
    }
    let row_generation = "failover:gen:{users}#id=1";
    let primary = cluster.node_of(row_generation).await;
    let replica = cluster
        .replica_of(primary)
        .await
        .expect("the primary has a replica");
    // Stall the replica for 3 s: it acknowledges nothing meanwhile.
    let stalled = cluster.nodes[replica].url();
    let sleeper = tokio::spawn(async move {
        let mut conn = raw(&stalled).await;
        let _: redis::RedisResult<()> = redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg(3)
            .query_async(&mut conn)
            .await;
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Cut the replication link from the primary's side: what the primary takes next reaches
    // no replica (bytes already in a socket would still arrive after the kill).
    let mut on_primary = raw(&cluster.nodes[primary].url()).await;
    let cut: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query_async(&mut on_primary)
        .await
        .unwrap();
    assert_eq!(cut, 1, "the primary's replica link was cut");
    rename(&conn_a, 1, "after-failover").await;
    cluster.nodes[primary].kill();
    // Reads in the writing process: the bump is owed, so they go to the database.
    let read = a.wrap(user::Entity).find_by_pk(&db.conn, 1).await.unwrap();
    assert_eq!(
        read.unwrap().username,
        "after-failover",
        "the writer, at once"
    );
    sleeper.await.unwrap();
    cluster.wait_ok().await;
    let started = Instant::now();
    let mut b_fresh = false;
    while started.elapsed() < Duration::from_secs(30) {
        let read = a.wrap(user::Entity).find_by_pk(&db.conn, 1).await.unwrap();
        assert_eq!(
            read.unwrap().username,
            "after-failover",
            "the writer, after the failover"
        );
        // A hit: served by the cache, not by the database around a fault.
        let read = b
            .wrap(user::Entity)
            .find_by_pk_with_status(&db.conn, 1)
            .await
            .unwrap();
        if read.status == CacheStatus::Hit && read.value.unwrap().username == "after-failover" {
            b_fresh = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        b_fresh,
        "the other process reads the write once the owed bump is recorded"
    );
    // The old primary comes back as a replica of the new one: bumps are acknowledged again and
    // nothing stays owed.
    cluster.nodes[primary].restart().await;
    cluster.wait_ok().await;
    let started = Instant::now();
    while a.stats().owed_invalidations > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the owed bump is settled once a replica acknowledges it: {:?}",
            a.stats()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    loop {
        let read = a
            .wrap(user::Entity)
            .find_by_pk_with_status(&db.conn, 1)
            .await
            .unwrap();
        assert_eq!(read.value.unwrap().username, "after-failover");
        if read.status == CacheStatus::Hit {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "cached again in the writer: {:?}",
            a.stats()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A near cache on `backend` under `prefix`, pushed over `channel`, revalidated only after a
/// minute (so only a push, or a flush, can make it drop an entry in these tests).
fn near_cache(backend: RedisBackend, prefix: &str, channel: NearRedisChannel) -> ModelCache {
    let near = NearCache::new(1 << 20)
        .max_staleness(Duration::from_secs(60))
        .redis_channel(channel.heartbeat(Duration::from_millis(200)));
    model_cache(backend, prefix, |b| b.near_cache(near))
}

async fn wait_healthy(cache: &ModelCache, healthy: bool) {
    let started = Instant::now();
    while cache.near_stats().expect("a near cache").healthy != healthy {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "near cache healthy = {healthy}: {:?}",
            cache.near_stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two processes with near caches on Redis: a write in one drops the other's near entry over
/// the pub/sub channel, long before `max_staleness`.
#[tokio::test]
async fn a_write_in_one_process_drops_the_near_entry_of_another_over_redis_pubsub() {
    let Some(url) = shared_url().await else {
        return;
    };
    let prefix = unique_prefix("near");
    let db = seeded().await;
    let a = near_cache(single(&url), &prefix, NearRedisChannel::new(&url));
    let b = near_cache(single(&url), &prefix, NearRedisChannel::new(&url));
    wait_healthy(&a, true).await;
    wait_healthy(&b, true).await;
    let users = a.wrap(user::Entity);
    // A miss stores it, a hit keeps it near, then near hits.
    for _ in 0..2 {
        users.find_by_pk(&db.conn, 1).await.unwrap();
    }
    let near = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(near.status, CacheStatus::NearHit);
    rename(&CachedConnection::new(db.conn.clone(), &b), 1, "pushed").await;
    let started = Instant::now();
    loop {
        let read = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
        if read.value.unwrap().username == "pushed" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the push dropped the entry: {:?}",
            a.near_stats()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(a.near_stats().unwrap().messages_received >= 1);
}

/// The channel's server killed: the subscriber's connection closes, so the near cache is
/// flushed and bypassed — a write published while it is away (and lost: Redis keeps nothing
/// for an absent subscriber) is never hidden by a near entry. Once the server is back, the
/// subscription is live again and near hits resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_subscription_flushes_and_bypasses_the_near_cache_until_it_is_back() {
    let Some(url) = shared_url().await else {
        return;
    };
    let Some(mut channel_server) = OwnServer::start(&[]).await else {
        return;
    };
    let prefix = unique_prefix("nearlost");
    let db = seeded().await;
    let channel = || NearRedisChannel::new(channel_server.url());
    let a = near_cache(single(&url), &prefix, channel());
    let b = near_cache(single(&url), &prefix, channel());
    wait_healthy(&a, true).await;
    let users = a.wrap(user::Entity);
    // A miss stores it, a hit keeps it near, then near hits.
    for _ in 0..2 {
        users.find_by_pk(&db.conn, 1).await.unwrap();
    }
    let near = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(near.status, CacheStatus::NearHit);
    channel_server.kill();
    wait_healthy(&a, false).await;
    // B's bump reaches the backend, but its message cannot reach A.
    rename(&CachedConnection::new(db.conn.clone(), &b), 1, "while-away").await;
    let read = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
    assert_eq!(read.value.unwrap().username, "while-away");
    assert_ne!(read.status, CacheStatus::NearHit);
    assert!(a.near_stats().unwrap().gaps >= 1);
    channel_server.restart().await;
    wait_healthy(&a, true).await;
    let started = Instant::now();
    loop {
        let read = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
        assert_eq!(read.value.unwrap().username, "while-away");
        if read.status == CacheStatus::NearHit {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "near hits resume"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `rediss://` with a private CA (feature `redis-tls`): a `redis-server` of the test's own
/// serving TLS with a certificate the test makes with `openssl`.
#[cfg(feature = "redis-tls")]
mod tls {
    use super::*;
    use common::redis::{free_port, skip};
    use std::path::Path;
    use std::process::Command;

    /// Makes a CA and a server certificate for 127.0.0.1 and localhost, signed by it, in `dir`.
    fn certificates(dir: &Path) -> Result<(), String> {
        std::fs::write(
            dir.join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .map_err(|e| e.to_string())?;
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let steps: [&[&str]; 3] = [
            &[
                &["req", "-x509"],
                &ec[..],
                &["-keyout", "ca.key", "-out", "ca.crt"],
                &["-days", "2", "-subj", "/CN=msc-test-ca"],
            ]
            .concat(),
            &[
                &["req"],
                &ec[..],
                &["-keyout", "server.key", "-out", "server.csr"],
                &["-subj", "/CN=localhost"],
            ]
            .concat(),
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "san.ext",
            ],
        ];
        for args in steps {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .map_err(|e| format!("openssl: {e}"))?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).into_owned());
            }
        }
        Ok(())
    }

    /// A TLS `redis-server`, its `rediss://` URL, and the CA's PEM; `None` (printed) when
    /// `openssl` or `redis-server` is missing.
    async fn tls_server() -> Option<(OwnServer, String, Vec<u8>, tempdir::Dir)> {
        let dir = tempdir::Dir::new();
        if let Err(e) = certificates(dir.path()) {
            return skip(format!(
                "could not make test certificates: {e} (install openssl)"
            ));
        }
        let tls_port = free_port(false).to_string();
        let file = |name: &str| dir.path().join(name).display().to_string();
        let (cert, key, ca) = (file("server.crt"), file("server.key"), file("ca.crt"));
        let args = [
            "--tls-port",
            &tls_port,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
        ];
        let server = OwnServer::start(&args).await?;
        let pem = std::fs::read(&ca).expect("ca.crt");
        Some((server, format!("rediss://127.0.0.1:{tls_port}"), pem, dir))
    }

    #[tokio::test]
    async fn the_seed_flow_over_tls_with_a_private_ca() {
        let Some((_server, url, pem, _dir)) = tls_server().await else {
            return;
        };
        let backend = RedisBackend::builder()
            .url(&url)
            .tls_root_certificates(pem)
            .build()
            .expect("RedisBackend over TLS");
        seed_flow(backend, &unique_prefix("tls")).await;
    }

    #[tokio::test]
    async fn a_server_the_roots_do_not_vouch_for_is_a_cache_fault_not_a_failed_read() {
        let Some((_server, url, _pem, _dir)) = tls_server().await else {
            return;
        };
        // The public roots only: the handshake fails, so every call is a fault and every read
        // comes from the database.
        let backend = RedisBackend::builder().url(&url).build().expect("backend");
        let db = seeded().await;
        let cache = model_cache(backend, &unique_prefix("untrusted"), patient);
        let users = cache.wrap(user::Entity);
        let expected = user::Entity::find_by_id(1).one(&db.conn).await.unwrap();
        for _ in 0..2 {
            let read = users.find_by_pk_with_status(&db.conn, 1).await.unwrap();
            assert_eq!(
                (read.status, read.value.as_ref()),
                (CacheStatus::Miss, expected.as_ref())
            );
        }
        assert!(cache.stats().faults >= 2, "{:?}", cache.stats());
    }

    #[test]
    fn roots_with_a_plain_url_or_bad_pem_fail_at_build() {
        let plain = RedisBackend::builder()
            .url("redis://127.0.0.1:6379")
            .tls_root_certificates(b"not pem".to_vec())
            .build()
            .unwrap_err();
        assert!(plain.to_string().contains("rediss://"), "{plain}");
        let bad = RedisBackend::builder()
            .url("rediss://127.0.0.1:6380")
            .tls_root_certificates(b"not pem".to_vec())
            .build();
        assert!(
            bad.is_err(),
            "a root certificate that is not PEM was accepted"
        );
    }

    /// A temporary directory removed on drop.
    mod tempdir {
        use std::path::{Path, PathBuf};

        pub struct Dir(PathBuf);

        impl Dir {
            pub fn new() -> Dir {
                let dir = std::env::temp_dir().join(super::unique_prefix("msc-tls"));
                std::fs::create_dir_all(&dir).expect("temp dir");
                Dir(dir)
            }

            pub fn path(&self) -> &Path {
                &self.0
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                std::fs::remove_dir_all(&self.0).ok();
            }
        }
    }
}
