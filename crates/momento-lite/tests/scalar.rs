//! Scalar items, driven only through the official `momento` SDK: get/set/delete, batches, conditional sets, increment, TTLs.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{error_code, remaining_ttl, server_with_cache, CACHE};
use momento::cache::{
    DecreaseTtlResponse, GetResponse, IncreaseTtlResponse, ItemGetTtlResponse,
    SetIfAbsentOrEqualResponse, SetIfAbsentResponse, SetIfEqualResponse, SetIfNotEqualResponse,
    SetIfPresentAndNotEqualResponse, SetIfPresentResponse, SetRequest, UpdateTtlResponse,
};
use momento::MomentoErrorCode;

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
async fn every_key_read_is_counted_once() {
    let (server, client) = server_with_cache().await;
    client.set(CACHE, "a", "1").await.expect("set");
    let before = server.keys_read();
    client.get(CACHE, "a").await.expect("get");
    client.get(CACHE, "missing").await.expect("get");
    client
        .get_batch(CACHE, ["a", "missing", "b"])
        .await
        .expect("get batch");
    client.set(CACHE, "b", "2").await.expect("set");
    // Two gets and a batch of three: writes read nothing.
    assert_eq!(server.keys_read() - before, 5);
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
