//! momento-lite driven only through the official `momento` SDK, as its users drive it.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::time::Duration;

use momento::cache::configurations::Laptop;
use momento::cache::{
    CollectionTtl, CreateCacheResponse, DecreaseTtlResponse, GetResponse, IncreaseTtlResponse,
    ItemGetTtlResponse, SetAddElementsRequest, SetFetchResponse, SetIfAbsentOrEqualResponse,
    SetIfAbsentResponse, SetIfEqualResponse, SetIfNotEqualResponse,
    SetIfPresentAndNotEqualResponse, SetIfPresentResponse, SetRequest, UpdateTtlResponse,
};
use momento::{CacheClient, CredentialProvider, MomentoErrorCode, MomentoResult};
use momento_lite::{LiteServer, MomentoLite, MAX_ITEM_SIZE};

const CACHE: &str = "cache";

async fn start() -> LiteServer {
    MomentoLite::builder().start().await.expect("server starts")
}

fn client_for(credentials: CredentialProvider) -> CacheClient {
    CacheClient::builder()
        .default_ttl(Duration::from_secs(60))
        .configuration(Laptop::latest())
        .credential_provider(credentials)
        .build()
        .expect("client builds")
}

/// A running server with `CACHE` created, and a client for it.
async fn server_with_cache() -> (LiteServer, CacheClient) {
    let server = start().await;
    let client = client_for(server.credential_provider());
    let created = client.create_cache(CACHE).await.expect("create cache");
    assert_eq!(created, CreateCacheResponse::Created);
    (server, client)
}

/// The SDK error code of a call that must fail.
fn error_code<T: Debug>(result: MomentoResult<T>) -> MomentoErrorCode {
    result.expect_err("the call should fail").error_code
}

/// The elements of a set fetch, or `None` on a miss.
fn set_elements(response: SetFetchResponse) -> Option<HashSet<Vec<u8>>> {
    match response {
        SetFetchResponse::Hit { values } => Some(values.into()),
        SetFetchResponse::Miss => None,
    }
}

fn bytes_set(elements: &[&str]) -> HashSet<Vec<u8>> {
    elements.iter().map(|e| e.as_bytes().to_vec()).collect()
}

fn remaining_ttl(response: ItemGetTtlResponse) -> Duration {
    match response {
        ItemGetTtlResponse::Hit { remaining_ttl } => remaining_ttl,
        ItemGetTtlResponse::Miss => panic!("expected a TTL, got a miss"),
    }
}

#[tokio::test]
async fn caches_are_created_listed_flushed_and_deleted() {
    let (_server, client) = server_with_cache().await;
    let again = client.create_cache(CACHE).await.expect("create again");
    assert_eq!(again, CreateCacheResponse::AlreadyExists);
    client.create_cache("other").await.expect("create other");

    let names: Vec<String> = client
        .list_caches()
        .await
        .expect("list")
        .caches
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["cache", "other"]);

    client.set(CACHE, "k", "v").await.expect("set");
    client.flush_cache(CACHE).await.expect("flush");
    assert_eq!(
        client.get(CACHE, "k").await.expect("get"),
        GetResponse::Miss
    );
    assert_eq!(
        error_code(client.flush_cache("nope").await),
        MomentoErrorCode::CacheNotFoundError
    );

    client.delete_cache("other").await.expect("delete");
    assert_eq!(
        error_code(client.delete_cache("other").await),
        MomentoErrorCode::CacheNotFoundError
    );
    let names: Vec<String> = client
        .list_caches()
        .await
        .expect("list")
        .caches
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["cache"]);
}

#[tokio::test]
async fn bytes_round_trip_through_set_get_and_delete() {
    let (_server, client) = server_with_cache().await;
    let key = vec![0u8, 159, 146, 150];
    let value = vec![255u8, 0, 1, 2, 254];
    client
        .set(CACHE, key.clone(), value.clone())
        .await
        .expect("set");
    let hit: Vec<u8> = client
        .get(CACHE, key.clone())
        .await
        .expect("get")
        .try_into()
        .expect("hit");
    assert_eq!(hit, value);

    client
        .set(CACHE, key.clone(), "replaced")
        .await
        .expect("overwrite");
    assert_eq!(
        client.get(CACHE, key.clone()).await.expect("get"),
        GetResponse::from("replaced")
    );

    client.delete(CACHE, key.clone()).await.expect("delete");
    assert_eq!(
        client.get(CACHE, key.clone()).await.expect("get"),
        GetResponse::Miss
    );
    client
        .delete(CACHE, key)
        .await
        .expect("deleting a missing key succeeds");
}

#[tokio::test]
async fn an_item_expires_after_its_ttl() {
    let (_server, client) = server_with_cache().await;
    let short = SetRequest::new(CACHE, "short", "v").ttl(Duration::from_millis(100));
    client.send_request(short).await.expect("set with ttl");
    client
        .set(CACHE, "long", "v")
        .await
        .expect("set with default ttl");
    assert_eq!(
        client.get(CACHE, "short").await.expect("get"),
        GetResponse::from("v")
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        client.get(CACHE, "short").await.expect("get"),
        GetResponse::Miss
    );
    assert_eq!(
        client.item_get_ttl(CACHE, "short").await.expect("ttl"),
        ItemGetTtlResponse::Miss
    );
    let exists: Vec<bool> = client
        .keys_exist(CACHE, ["short", "long"])
        .await
        .expect("exist")
        .into();
    assert_eq!(exists, [false, true]);
}

#[tokio::test]
async fn batches_answer_every_key_in_order() {
    let (_server, client) = server_with_cache().await;
    let items = [("a", "1"), ("b", "2"), ("c", "3")];
    let stored = client.set_batch(CACHE, items).await.expect("set batch");
    let stored: HashMap<String, _> = stored.try_into().expect("string keys");
    assert_eq!(stored.len(), 3);

    let batch = client
        .get_batch(CACHE, ["c", "missing", "a"])
        .await
        .expect("get batch");
    let got: HashMap<String, GetResponse> = batch.try_into().expect("string keys");
    assert_eq!(got["a"], GetResponse::from("1"));
    assert_eq!(got["c"], GetResponse::from("3"));
    assert_eq!(got["missing"], GetResponse::Miss);
    assert_eq!(got.len(), 3);
}

#[tokio::test]
async fn conditional_sets_follow_their_conditions() {
    let (_server, client) = server_with_cache().await;
    let stored = client
        .set_if_absent(CACHE, "k", "first")
        .await
        .expect("set_if_absent");
    assert_eq!(stored, SetIfAbsentResponse::Stored);
    let refused = client
        .set_if_absent(CACHE, "k", "second")
        .await
        .expect("set_if_absent");
    assert_eq!(refused, SetIfAbsentResponse::NotStored);
    assert_eq!(
        client.get(CACHE, "k").await.expect("get"),
        GetResponse::from("first")
    );

    let present = client
        .set_if_present(CACHE, "absent", "v")
        .await
        .expect("set_if_present");
    assert_eq!(present, SetIfPresentResponse::NotStored);
    assert_eq!(
        client.get(CACHE, "absent").await.expect("get"),
        GetResponse::Miss
    );

    let equal = client
        .set_if_equal(CACHE, "k", "second", "other")
        .await
        .expect("set_if_equal");
    assert_eq!(equal, SetIfEqualResponse::NotStored);
    let equal = client
        .set_if_equal(CACHE, "k", "second", "first")
        .await
        .expect("set_if_equal");
    assert_eq!(equal, SetIfEqualResponse::Stored);

    let not_equal = client
        .set_if_not_equal(CACHE, "k", "third", "second")
        .await
        .expect("set_if_not_equal");
    assert_eq!(not_equal, SetIfNotEqualResponse::NotStored);
    let not_equal = client
        .set_if_not_equal(CACHE, "new", "v", "x")
        .await
        .expect("set_if_not_equal");
    assert_eq!(
        not_equal,
        SetIfNotEqualResponse::Stored,
        "an absent key is not equal"
    );

    let pne = client
        .set_if_present_and_not_equal(CACHE, "gone", "v", "x")
        .await
        .expect("pne");
    assert_eq!(pne, SetIfPresentAndNotEqualResponse::NotStored);
    let pne = client
        .set_if_present_and_not_equal(CACHE, "k", "third", "x")
        .await
        .expect("pne");
    assert_eq!(pne, SetIfPresentAndNotEqualResponse::Stored);

    let aoe = client
        .set_if_absent_or_equal(CACHE, "k", "fourth", "x")
        .await
        .expect("aoe");
    assert_eq!(aoe, SetIfAbsentOrEqualResponse::NotStored);
    let aoe = client
        .set_if_absent_or_equal(CACHE, "k", "fourth", "third")
        .await
        .expect("aoe");
    assert_eq!(aoe, SetIfAbsentOrEqualResponse::Stored);
    assert_eq!(
        client.get(CACHE, "k").await.expect("get"),
        GetResponse::from("fourth")
    );
}

#[tokio::test]
async fn keys_exist_reports_each_key() {
    let (_server, client) = server_with_cache().await;
    client.set(CACHE, "scalar", "v").await.expect("set");
    client
        .set_add_elements(CACHE, "set", ["e"])
        .await
        .expect("set add");
    let exists: Vec<bool> = client
        .keys_exist(CACHE, ["set", "missing", "scalar"])
        .await
        .expect("exist")
        .into();
    assert_eq!(exists, [true, false, true]);
    assert!(
        client
            .key_exists(CACHE, "scalar")
            .await
            .expect("exists")
            .exists
    );
    assert!(
        !client
            .key_exists(CACHE, "missing")
            .await
            .expect("exists")
            .exists
    );
}

#[tokio::test]
async fn increment_counts_and_refuses_non_integers() {
    let (_server, client) = server_with_cache().await;
    assert_eq!(
        client
            .increment(CACHE, "n", 5)
            .await
            .expect("increment")
            .value,
        5
    );
    assert_eq!(
        client
            .increment(CACHE, "n", -7)
            .await
            .expect("increment")
            .value,
        -2
    );
    let stored: String = client
        .get(CACHE, "n")
        .await
        .expect("get")
        .try_into()
        .expect("hit");
    assert_eq!(stored, "-2");

    client.set(CACHE, "text", "12 apples").await.expect("set");
    let refused = client.increment(CACHE, "text", 1).await;
    assert_eq!(
        error_code(refused),
        MomentoErrorCode::FailedPreconditionError
    );
    assert_eq!(
        client.get(CACHE, "text").await.expect("get"),
        GetResponse::from("12 apples")
    );
}

#[tokio::test]
async fn ttls_are_read_and_updated() {
    let (_server, client) = server_with_cache().await;
    client.set(CACHE, "k", "v").await.expect("set");
    let ttl = remaining_ttl(client.item_get_ttl(CACHE, "k").await.expect("ttl"));
    assert!(
        ttl > Duration::from_secs(59) && ttl <= Duration::from_secs(60),
        "{ttl:?}"
    );

    let updated = client
        .update_ttl(CACHE, "k", Duration::from_secs(10))
        .await
        .expect("update");
    assert_eq!(updated, UpdateTtlResponse::Set);
    let ttl = remaining_ttl(client.item_get_ttl(CACHE, "k").await.expect("ttl"));
    assert!(
        ttl > Duration::from_secs(9) && ttl <= Duration::from_secs(10),
        "{ttl:?}"
    );

    let increased = client
        .increase_ttl(CACHE, "k", Duration::from_secs(5))
        .await
        .expect("increase");
    assert_eq!(increased, IncreaseTtlResponse::NotSet);
    let increased = client
        .increase_ttl(CACHE, "k", Duration::from_secs(30))
        .await
        .expect("increase");
    assert_eq!(increased, IncreaseTtlResponse::Set);
    let decreased = client
        .decrease_ttl(CACHE, "k", Duration::from_secs(40))
        .await
        .expect("decrease");
    assert_eq!(decreased, DecreaseTtlResponse::NotSet);
    let decreased = client
        .decrease_ttl(CACHE, "k", Duration::from_secs(2))
        .await
        .expect("decrease");
    assert_eq!(decreased, DecreaseTtlResponse::Set);
    let ttl = remaining_ttl(client.item_get_ttl(CACHE, "k").await.expect("ttl"));
    assert!(ttl <= Duration::from_secs(2), "{ttl:?}");

    let missing = client
        .update_ttl(CACHE, "missing", Duration::from_secs(1))
        .await
        .expect("update");
    assert_eq!(missing, UpdateTtlResponse::Miss);
    let missing = client
        .increase_ttl(CACHE, "missing", Duration::from_secs(1))
        .await
        .expect("increase");
    assert_eq!(missing, IncreaseTtlResponse::Miss);
}

#[tokio::test]
async fn sets_add_fetch_and_remove_elements() {
    let (_server, client) = server_with_cache().await;
    assert_eq!(
        set_elements(client.set_fetch(CACHE, "s").await.expect("fetch")),
        None
    );
    client
        .set_add_elements(CACHE, "s", ["a", "b"])
        .await
        .expect("add");
    client
        .set_add_elements(CACHE, "s", ["b", "c"])
        .await
        .expect("add");
    let fetched = set_elements(client.set_fetch(CACHE, "s").await.expect("fetch"));
    assert_eq!(fetched, Some(bytes_set(&["a", "b", "c"])));

    client
        .set_remove_elements(CACHE, "s", vec!["a", "not-there"])
        .await
        .expect("remove");
    let fetched = set_elements(client.set_fetch(CACHE, "s").await.expect("fetch"));
    assert_eq!(fetched, Some(bytes_set(&["b", "c"])));

    client
        .set_remove_elements(CACHE, "s", vec!["b", "c"])
        .await
        .expect("remove");
    assert_eq!(
        set_elements(client.set_fetch(CACHE, "s").await.expect("fetch")),
        None
    );
    client
        .set_remove_elements(CACHE, "missing", vec!["x"])
        .await
        .expect("removing from a missing set succeeds");

    client.set(CACHE, "scalar", "v").await.expect("set");
    let wrong_type = client.set_fetch(CACHE, "scalar").await;
    assert_eq!(
        error_code(wrong_type),
        MomentoErrorCode::FailedPreconditionError
    );
}

#[tokio::test]
async fn collection_ttls_are_set_on_create_and_refreshed_only_on_request() {
    let (_server, client) = server_with_cache().await;
    let short = CollectionTtl::new(Some(Duration::from_millis(300)), true);
    let create = SetAddElementsRequest::new(CACHE, "s", ["a"]).ttl(short);
    client.send_request(create).await.expect("add");

    let keep = CollectionTtl::initialize_only(Duration::from_secs(60));
    client
        .send_request(SetAddElementsRequest::new(CACHE, "s", ["b"]).ttl(keep))
        .await
        .expect("add");
    let ttl = remaining_ttl(client.item_get_ttl(CACHE, "s").await.expect("ttl"));
    assert!(
        ttl <= Duration::from_millis(300),
        "initialize_only kept the TTL: {ttl:?}"
    );

    let refresh = CollectionTtl::refresh_on_update(Duration::from_secs(60));
    client
        .send_request(SetAddElementsRequest::new(CACHE, "s", ["c"]).ttl(refresh))
        .await
        .expect("add");
    let ttl = remaining_ttl(client.item_get_ttl(CACHE, "s").await.expect("ttl"));
    assert!(
        ttl > Duration::from_secs(59),
        "refresh_on_update reset the TTL: {ttl:?}"
    );

    let expiring = CollectionTtl::new(Some(Duration::from_millis(100)), true);
    client
        .send_request(SetAddElementsRequest::new(CACHE, "gone", ["a"]).ttl(expiring))
        .await
        .expect("add");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        set_elements(client.set_fetch(CACHE, "gone").await.expect("fetch")),
        None
    );
}

#[tokio::test]
async fn data_calls_on_a_missing_cache_report_cache_not_found() {
    let server = start().await;
    let client = client_for(server.credential_provider());
    let not_found = MomentoErrorCode::CacheNotFoundError;
    assert_eq!(error_code(client.get("nope", "k").await), not_found);
    assert_eq!(error_code(client.set("nope", "k", "v").await), not_found);
    assert_eq!(error_code(client.get_batch("nope", ["k"]).await), not_found);
    assert_eq!(error_code(client.set_fetch("nope", "s").await), not_found);
    assert_eq!(
        error_code(client.increment("nope", "n", 1).await),
        not_found
    );
}

#[tokio::test]
async fn an_item_over_5_mib_is_refused_as_limit_exceeded() {
    let (_server, client) = server_with_cache().await;
    let four_mib = vec![7u8; 4 * 1024 * 1024];
    client
        .set(CACHE, "four", four_mib.clone())
        .await
        .expect("a 4 MiB item is stored");
    let back: Vec<u8> = client
        .get(CACHE, "four")
        .await
        .expect("get")
        .try_into()
        .expect("hit");
    assert_eq!(back.len(), four_mib.len());

    let at_limit = vec![1u8; MAX_ITEM_SIZE - "edge".len()];
    client
        .set(CACHE, "edge", at_limit)
        .await
        .expect("key plus value at the limit is stored");

    let over = vec![1u8; MAX_ITEM_SIZE];
    let error = client
        .set(CACHE, "big", over)
        .await
        .expect_err("over the limit");
    assert_eq!(error.error_code, MomentoErrorCode::LimitExceededError);
    assert_eq!(error.message, "Item size limit exceeded for this account");
    let details = error.details().expect("the gRPC status is kept");
    assert_eq!(details.code, tonic::Code::ResourceExhausted);
    let err = details.metadata.get("err").and_then(|v| v.to_str().ok());
    assert_eq!(err, Some("item_size_limit_exceeded"));
    assert_eq!(
        client.get(CACHE, "big").await.expect("get"),
        GetResponse::Miss
    );
}

#[tokio::test]
async fn an_auth_token_is_required_when_configured() {
    let server = MomentoLite::builder()
        .auth_token("secret")
        .start()
        .await
        .expect("start");
    let wrong = client_for(momento_lite::credential_provider(
        &server.endpoint(),
        "wrong",
    ));
    let unauthenticated = MomentoErrorCode::AuthenticationError;
    assert_eq!(error_code(wrong.create_cache(CACHE).await), unauthenticated);
    assert_eq!(error_code(wrong.list_caches().await), unauthenticated);

    let right = client_for(server.credential_provider());
    right
        .create_cache(CACHE)
        .await
        .expect("create with the right token");
    right
        .set(CACHE, "k", "v")
        .await
        .expect("set with the right token");
    assert_eq!(error_code(wrong.get(CACHE, "k").await), unauthenticated);
    assert_eq!(
        right.get(CACHE, "k").await.expect("get"),
        GetResponse::from("v")
    );
}

#[tokio::test]
async fn unimplemented_rpcs_report_bad_request() {
    let (_server, client) = server_with_cache().await;
    for error in [
        client
            .list_push_front(CACHE, "list", "v")
            .await
            .map(|_| ())
            .expect_err("list"),
        client
            .dictionary_set_field(CACHE, "d", "f", "v")
            .await
            .map(|_| ())
            .expect_err("dictionary"),
    ] {
        assert_eq!(error.error_code, MomentoErrorCode::BadRequestError);
        let details = error.details().expect("the gRPC status is kept");
        assert_eq!(details.code, tonic::Code::Unimplemented);
    }
}

#[tokio::test]
async fn a_shut_down_server_releases_its_port_for_a_new_one() {
    let (server, client) = server_with_cache().await;
    let port = server.addr().port();
    client.set(CACHE, "k", "v").await.expect("set");
    server.shutdown().await;
    assert!(
        client.get(CACHE, "k").await.is_err(),
        "the stopped server answers nothing"
    );

    let restarted = MomentoLite::builder()
        .port(port)
        .start()
        .await
        .expect("the port is free again");
    assert_eq!(restarted.addr().port(), port);
    let fresh = client_for(restarted.credential_provider());
    assert_eq!(
        error_code(fresh.get(CACHE, "k").await),
        MomentoErrorCode::CacheNotFoundError
    );
    fresh.create_cache(CACHE).await.expect("create");
    fresh.set(CACHE, "k", "again").await.expect("set");
    assert_eq!(
        fresh.get(CACHE, "k").await.expect("get"),
        GetResponse::from("again")
    );
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let server = start().await;
    let addr = server.addr();
    drop(server);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server still accepts connections after its handle was dropped");
}
