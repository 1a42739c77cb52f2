//! Memory limits and least-recently-used eviction, driven only through the official `momento`
//! SDK: which keys survive a fill, what counts as a use, and that overwrites, deletes, expiry,
//! flushes and set operations keep the accounting exact.
//!
//! Most tests use keys `k0`..`k9` with 100-byte values, so every item is charged the same
//! [`SLOT`] bytes, and a cache limited to five slots holds exactly five such items.

mod common;

use std::time::Duration;

use common::{client_for, error_code, start, CACHE};
use momento::cache::{
    GetResponse, SetIfAbsentResponse, SetIfPresentResponse, SetRequest, UpdateTtlResponse,
};
use momento::{CacheClient, MomentoErrorCode};
use momento_lite::{CacheStats, LiteServer, MomentoLite, ITEM_OVERHEAD_BYTES};

/// Value bytes of a test item.
const VALUE_LEN: usize = 100;

/// Bytes charged for a test item: a two-byte key, its value, the per-item overhead.
const SLOT: u64 = 2 + VALUE_LEN as u64 + ITEM_OVERHEAD_BYTES;

/// A server whose caches each hold `slots` test items, with `CACHE` created, and a client.
async fn limited(slots: u64) -> (LiteServer, CacheClient) {
    let server = MomentoLite::builder()
        .max_memory_bytes(slots * SLOT)
        .start()
        .await
        .expect("server starts");
    let client = client_for(server.credential_provider());
    client.create_cache(CACHE).await.expect("create cache");
    (server, client)
}

fn key(i: usize) -> String {
    format!("k{i}")
}

/// The value stored under test key `i`: `VALUE_LEN` bytes, not an integer.
fn value(i: usize) -> String {
    format!("v{i:0>width$}", width = VALUE_LEN - 1)
}

/// Sets test keys `keys` in order in `cache`.
async fn fill_cache(client: &CacheClient, cache: &str, keys: impl IntoIterator<Item = usize>) {
    for i in keys {
        client.set(cache, key(i), value(i)).await.expect("set");
    }
}

async fn fill(client: &CacheClient, keys: impl IntoIterator<Item = usize>) {
    fill_cache(client, CACHE, keys).await;
}

/// Which of the test keys `k0`..`k9` hold an item, asked with `KeysExist`, which is not a use.
async fn survivors(client: &CacheClient) -> Vec<usize> {
    let keys: Vec<String> = (0..10).map(key).collect();
    let exists: Vec<bool> = client
        .keys_exist(CACHE, keys)
        .await
        .expect("keys exist")
        .into();
    (0..10).filter(|&i| exists[i]).collect()
}

fn stats(server: &LiteServer) -> CacheStats {
    server.cache_stats(CACHE).expect("the cache exists")
}

#[tokio::test]
async fn least_recently_used_keys_are_evicted_and_recently_read_ones_stay() {
    let (server, client) = limited(5).await;
    fill(&client, 0..5).await;
    assert_eq!(server.evictions(), 0);
    assert_eq!(stats(&server).used_bytes, 5 * SLOT);

    client.get(CACHE, key(0)).await.expect("get");
    client.get_batch(CACHE, [key(1)]).await.expect("get batch");
    fill(&client, 5..8).await;

    assert_eq!(survivors(&client).await, [0, 1, 5, 6, 7]);
    assert_eq!(server.evictions(), 3);
    let stats = stats(&server);
    assert_eq!((stats.items, stats.used_bytes), (5, 5 * SLOT));
    assert_eq!((stats.evictions, stats.max_bytes), (3, Some(5 * SLOT)));
    for evicted in [2, 3, 4] {
        let get = client.get(CACHE, key(evicted)).await.expect("get");
        assert_eq!(get, GetResponse::Miss, "k{evicted} was evicted");
    }
    for kept in [0, 1, 5, 6, 7] {
        let get = client.get(CACHE, key(kept)).await.expect("get");
        assert_eq!(get, GetResponse::from(value(kept)), "k{kept} stays");
    }
}

#[tokio::test]
async fn probes_and_writes_that_do_not_store_are_not_uses() {
    let (server, client) = limited(5).await;
    fill(&client, 0..5).await;
    client.keys_exist(CACHE, [key(0)]).await.expect("exists");
    client.item_get_ttl(CACHE, key(0)).await.expect("ttl");
    let not_stored = client.set_if_absent(CACHE, key(0), "x").await;
    assert_eq!(
        not_stored.expect("set if absent"),
        SetIfAbsentResponse::NotStored
    );
    let not_an_integer = client.increment(CACHE, key(0), 1).await;
    assert_eq!(
        error_code(not_an_integer),
        MomentoErrorCode::FailedPreconditionError
    );
    fill(&client, 5..6).await;
    assert_eq!(survivors(&client).await, [1, 2, 3, 4, 5]);
    assert_eq!(server.evictions(), 1);
}

#[tokio::test]
async fn writes_are_uses() {
    let (server, client) = limited(5).await;
    fill(&client, 0..5).await;
    fill(&client, [0]).await; // overwrite
    let stored = client.set_if_present(CACHE, key(1), value(1)).await;
    assert_eq!(
        stored.expect("set if present"),
        SetIfPresentResponse::Stored
    );
    let updated = client.update_ttl(CACHE, key(2), Duration::from_secs(600));
    assert_eq!(updated.await.expect("update ttl"), UpdateTtlResponse::Set);
    // Least recently used first: k3, k4, k0, k1, k2.
    fill(&client, 5..7).await;
    assert_eq!(survivors(&client).await, [0, 1, 2, 5, 6]);
    fill(&client, 7..8).await;
    assert_eq!(survivors(&client).await, [1, 2, 5, 6, 7]);
    assert_eq!(server.evictions(), 3);
}

#[tokio::test]
async fn overwriting_a_key_does_not_double_count() {
    let (server, client) = limited(5).await;
    for _ in 0..3 {
        fill(&client, 0..5).await;
    }
    assert_eq!(server.evictions(), 0);
    assert_eq!(stats(&server).used_bytes, 5 * SLOT);
    assert_eq!(survivors(&client).await, [0, 1, 2, 3, 4]);

    // Two slots' worth under k4: the least recently used item makes room.
    let double = "x".repeat(VALUE_LEN + SLOT as usize);
    client.set(CACHE, key(4), double).await.expect("set");
    assert_eq!(survivors(&client).await, [1, 2, 3, 4]);
    assert_eq!(server.evictions(), 1);
    assert_eq!(stats(&server).used_bytes, 5 * SLOT);

    fill(&client, [4]).await; // back to one slot
    let stats = stats(&server);
    assert_eq!((stats.items, stats.used_bytes), (4, 4 * SLOT));
}

#[tokio::test]
async fn deleting_frees_room() {
    let (server, client) = limited(5).await;
    fill(&client, 0..5).await;
    client.delete(CACHE, key(0)).await.expect("delete");
    client.delete(CACHE, key(1)).await.expect("delete");
    client.delete(CACHE, key(1)).await.expect("delete again");
    assert_eq!(stats(&server).used_bytes, 3 * SLOT);
    fill(&client, 5..7).await;
    assert_eq!(survivors(&client).await, [2, 3, 4, 5, 6]);
    assert_eq!(server.evictions(), 0);
}

#[tokio::test]
async fn an_item_larger_than_the_whole_limit_is_refused_and_evicts_nothing() {
    let (server, client) = limited(5).await;
    fill(&client, 0..5).await;
    let limit = 5 * SLOT;
    let too_big = vec![0u8; (limit - 2 - ITEM_OVERHEAD_BYTES + 1) as usize];
    let error = client
        .set(CACHE, key(0), too_big)
        .await
        .expect_err("over the cache's limit");
    assert_eq!(error.error_code, MomentoErrorCode::LimitExceededError);
    let details = error.details().expect("the gRPC status is kept");
    let err = details.metadata.get("err").and_then(|v| v.to_str().ok());
    assert_eq!(err, Some("item_size_limit_exceeded"));
    assert_eq!(
        client.get(CACHE, key(0)).await.expect("get"),
        GetResponse::from(value(0)),
        "the old value stays"
    );
    assert_eq!(survivors(&client).await, [0, 1, 2, 3, 4]);
    assert_eq!(server.evictions(), 0);

    let exactly_the_limit = vec![0u8; (limit - 2 - ITEM_OVERHEAD_BYTES) as usize];
    client
        .set(CACHE, key(9), exactly_the_limit)
        .await
        .expect("an item charged exactly the limit is stored");
    assert_eq!(survivors(&client).await, [9]);
    assert_eq!(server.evictions(), 5);
    assert_eq!(stats(&server).used_bytes, limit);
}

#[tokio::test]
async fn sets_are_charged_by_their_elements() {
    let (server, client) = limited(5).await;
    fill(&client, 0..4).await;
    let small = ["aaaa", "bbbb"];
    client
        .set_add_elements(CACHE, "s", small)
        .await
        .expect("add");
    client
        .set_add_elements(CACHE, "s", small)
        .await
        .expect("adding the same elements again");
    let set_charge = 1 + 8 + ITEM_OVERHEAD_BYTES;
    assert_eq!(stats(&server).used_bytes, 4 * SLOT + set_charge);

    let big = "c".repeat(VALUE_LEN);
    client
        .set_add_elements(CACHE, "s", [big.as_str()])
        .await
        .expect("add");
    assert_eq!(survivors(&client).await, [1, 2, 3], "k0 made room for s");
    assert_eq!(server.evictions(), 1);
    let grown = set_charge + VALUE_LEN as u64;
    assert_eq!(stats(&server).used_bytes, 3 * SLOT + grown);

    client
        .set_remove_elements(CACHE, "s", vec![big])
        .await
        .expect("remove");
    assert_eq!(stats(&server).used_bytes, 3 * SLOT + set_charge);
    client
        .set_remove_elements(CACHE, "s", vec!["aaaa", "bbbb"])
        .await
        .expect("remove the rest");
    let stats = stats(&server);
    assert_eq!((stats.items, stats.used_bytes), (3, 3 * SLOT));
}

#[tokio::test]
async fn increment_is_charged_by_its_decimal_text() {
    let (server, client) = limited(5).await;
    client.increment(CACHE, "n", 9).await.expect("increment");
    assert_eq!(stats(&server).used_bytes, 1 + 1 + ITEM_OVERHEAD_BYTES);
    client.increment(CACHE, "n", 1).await.expect("increment");
    assert_eq!(stats(&server).used_bytes, 1 + 2 + ITEM_OVERHEAD_BYTES);
}

#[tokio::test]
async fn expired_items_free_their_room_without_evictions() {
    let (server, client) = limited(5).await;
    for i in 0..2 {
        let short = SetRequest::new(CACHE, key(i), value(i)).ttl(Duration::from_millis(100));
        client.send_request(short).await.expect("set");
    }
    fill(&client, 2..5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stats(&server).used_bytes, 3 * SLOT, "expired items freed");
    fill(&client, 5..7).await;
    assert_eq!(survivors(&client).await, [2, 3, 4, 5, 6]);
    assert_eq!(server.evictions(), 0);
}

#[tokio::test]
async fn a_batch_is_charged_item_by_item() {
    let (server, client) = limited(5).await;
    let items: Vec<(String, String)> = (0..7).map(|i| (key(i), value(i))).collect();
    client.set_batch(CACHE, items).await.expect("set batch");
    assert_eq!(survivors(&client).await, [2, 3, 4, 5, 6]);
    assert_eq!(server.evictions(), 2);
}

#[tokio::test]
async fn flushing_and_deleting_free_everything_and_keep_the_count() {
    let (server, client) = limited(5).await;
    fill(&client, 0..6).await;
    assert_eq!(server.evictions(), 1);
    client.flush_cache(CACHE).await.expect("flush");
    let flushed = stats(&server);
    assert_eq!((flushed.items, flushed.used_bytes), (0, 0));
    assert_eq!(flushed.evictions, 1, "a flush keeps the count");
    fill(&client, 0..5).await;
    assert_eq!(server.evictions(), 1);

    client.delete_cache(CACHE).await.expect("delete cache");
    assert_eq!(server.cache_stats(CACHE), None);
    client.create_cache(CACHE).await.expect("create again");
    let fresh = stats(&server);
    assert_eq!((fresh.items, fresh.used_bytes, fresh.evictions), (0, 0, 0));
    assert_eq!(server.evictions(), 1, "the server's count survives");
}

#[tokio::test]
async fn each_cache_has_its_own_limit() {
    let (server, client) = limited(5).await;
    client.create_cache("other").await.expect("create");
    fill(&client, 0..5).await;
    fill_cache(&client, "other", 0..5).await;
    assert_eq!(server.evictions(), 0);
    fill(&client, 5..6).await;
    assert_eq!(survivors(&client).await, [1, 2, 3, 4, 5]);
    let other = server.cache_stats("other").expect("other exists");
    assert_eq!((other.items, other.evictions), (5, 0));
    assert_eq!(server.evictions(), 1);
}

#[tokio::test]
async fn without_a_limit_nothing_is_evicted() {
    let server = start().await;
    let client = client_for(server.credential_provider());
    client.create_cache(CACHE).await.expect("create cache");
    assert_eq!(server.max_memory_bytes(), None);
    let big = vec![1u8; 100_000];
    for i in 0..100 {
        client
            .set(CACHE, format!("{i:02}"), big.clone())
            .await
            .expect("set");
    }
    let stats = stats(&server);
    assert_eq!(
        (stats.items, stats.max_bytes, stats.evictions),
        (100, None, 0)
    );
    assert_eq!(stats.used_bytes, 100 * (2 + 100_000 + ITEM_OVERHEAD_BYTES));
    assert_eq!(server.evictions(), 0);
}

#[tokio::test]
async fn the_limit_can_be_given_in_mebibytes() {
    let server = MomentoLite::builder()
        .max_memory_mb(2)
        .start()
        .await
        .expect("server starts");
    assert_eq!(server.max_memory_bytes(), Some(2 * 1024 * 1024));
    let client = client_for(server.credential_provider());
    client.create_cache(CACHE).await.expect("create cache");
    let half_mib = vec![1u8; 512 * 1024];
    for i in 0..5 {
        client
            .set(CACHE, key(i), half_mib.clone())
            .await
            .expect("set");
    }
    assert_eq!(survivors(&client).await, [2, 3, 4], "three fit in 2 MiB");
    assert_eq!(server.evictions(), 2);
}
