//! Set collections, driven only through the official `momento` SDK: add, fetch, remove, collection TTLs.

mod common;

use std::time::Duration;

use common::{bytes_set, error_code, remaining_ttl, server_with_cache, set_elements, CACHE};
use momento::cache::{CollectionTtl, SetAddElementsRequest};
use momento::MomentoErrorCode;

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
