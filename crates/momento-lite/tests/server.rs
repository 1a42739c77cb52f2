//! The server as a whole, driven only through the official `momento` SDK: the control plane, errors, limits, auth and lifecycle.

mod common;

use std::time::Duration;

use common::{client_for, error_code, server_with_cache, start, CACHE};
use momento::cache::{CreateCacheResponse, GetResponse};
use momento::MomentoErrorCode;
use momento_lite::{MomentoLite, MAX_ITEM_SIZE};

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
