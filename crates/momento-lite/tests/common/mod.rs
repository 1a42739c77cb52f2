//! Helpers shared by the test files: a server, an SDK client for it, and readers of SDK answers.
#![allow(dead_code)] // each test file uses a different subset

use std::collections::HashSet;
use std::fmt::Debug;
use std::time::Duration;

use momento::cache::configurations::Laptop;
use momento::cache::{CreateCacheResponse, ItemGetTtlResponse, SetFetchResponse};
use momento::{CacheClient, CredentialProvider, MomentoErrorCode, MomentoResult};
use momento_lite::{LiteServer, MomentoLite};

pub const CACHE: &str = "cache";

pub async fn start() -> LiteServer {
    MomentoLite::builder().start().await.expect("server starts")
}

pub fn client_for(credentials: CredentialProvider) -> CacheClient {
    CacheClient::builder()
        .default_ttl(Duration::from_secs(60))
        .configuration(Laptop::latest())
        .credential_provider(credentials)
        .build()
        .expect("client builds")
}

/// A running server with `CACHE` created, and a client for it.
pub async fn server_with_cache() -> (LiteServer, CacheClient) {
    let server = start().await;
    let client = client_for(server.credential_provider());
    let created = client.create_cache(CACHE).await.expect("create cache");
    assert_eq!(created, CreateCacheResponse::Created);
    (server, client)
}

/// The SDK error code of a call that must fail.
pub fn error_code<T: Debug>(result: MomentoResult<T>) -> MomentoErrorCode {
    result.expect_err("the call should fail").error_code
}

/// The elements of a set fetch, or `None` on a miss.
pub fn set_elements(response: SetFetchResponse) -> Option<HashSet<Vec<u8>>> {
    match response {
        SetFetchResponse::Hit { values } => Some(values.into()),
        SetFetchResponse::Miss => None,
    }
}

pub fn bytes_set(elements: &[&str]) -> HashSet<Vec<u8>> {
    elements.iter().map(|e| e.as_bytes().to_vec()).collect()
}

pub fn remaining_ttl(response: ItemGetTtlResponse) -> Duration {
    match response {
        ItemGetTtlResponse::Hit { remaining_ttl } => remaining_ttl,
        ItemGetTtlResponse::Miss => panic!("expected a TTL, got a miss"),
    }
}
