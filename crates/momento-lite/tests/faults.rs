//! Fault injection, driven through the official `momento` SDK: latency, error statuses, random
//! fractions, dropped connections, stopping and restarting the server, the request counter.

mod common;

use std::time::{Duration, Instant};

use common::{error_code, server_with_cache, CACHE};
use momento::cache::GetResponse;
use momento::{CacheClient, MomentoErrorCode};
use momento_lite::{Fault, Rpc, RpcFilter};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tonic::Code;

/// How long a call takes, with its result.
async fn timed<T>(call: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let result = call.await;
    (result, started.elapsed())
}

/// The errors a call may meet while the connection under the client goes away: the request
/// was sent on a connection the server had just closed (`CancelledError`), the connection broke
/// mid-request (`InternalServerError`, "transport error"), or nothing listens (`ServerUnavailable`).
const CONNECTION_ERRORS: [MomentoErrorCode; 3] = [
    MomentoErrorCode::CancelledError,
    MomentoErrorCode::InternalServerError,
    MomentoErrorCode::ServerUnavailable,
];

/// Retries a get of `key` until it succeeds or `within` passes; the answer and when it came.
/// Panics on an error other than a [`CONNECTION_ERRORS`] one.
async fn get_eventually(
    client: &CacheClient,
    key: &str,
    within: Duration,
) -> Option<(GetResponse, Duration)> {
    let started = Instant::now();
    while started.elapsed() < within {
        match client.get(CACHE, key).await {
            Ok(response) => return Some((response, started.elapsed())),
            Err(error) => assert!(CONNECTION_ERRORS.contains(&error.error_code), "{error:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn latency_delays_only_the_named_rpcs_until_cleared() {
    let (server, client) = server_with_cache().await;
    client.set(CACHE, "k", "v").await.expect("set");
    // Long, so that everything this test expects to finish while the delayed get is pending
    // does so on a loaded machine; below the SDK's 15 s deadline.
    let latency = Duration::from_secs(5);
    server
        .faults()
        .inject(Fault::latency(latency).on([Rpc::Get]));

    let slow_client = client.clone();
    let slow = tokio::spawn(timed(async move { slow_client.get(CACHE, "k").await }));
    // Wait until the server has the delayed get.
    let requests = server.faults().requests();
    let started = Instant::now();
    while server.faults().requests() == requests {
        assert!(
            started.elapsed() < latency,
            "the get never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // A set is not delayed: it is done while the get still waits.
    client.set(CACHE, "k", "w").await.expect("set");
    assert!(
        !slow.is_finished(),
        "the set waited as long as the delayed get"
    );

    // Cleared, a get is not delayed either: it too is done while the first get still waits.
    server.faults().clear();
    assert!(server.faults().active().is_empty());
    assert_eq!(client.get(CACHE, "k").await.expect("get"), "w".into());
    assert!(
        !slow.is_finished(),
        "the get after clear() waited as long as the delayed one"
    );

    // The delayed get waited its latency, then ran: it sees the set made meanwhile.
    let (got, took) = slow.await.expect("the delayed get");
    assert_eq!(got.expect("a delayed get still succeeds"), "w".into());
    assert!(took >= latency, "get took {took:?}");
}

#[tokio::test]
async fn latencies_of_several_faults_add_up() {
    let (server, client) = server_with_cache().await;
    let faults = server.faults();
    let (everything, sets) = (Duration::from_millis(300), Duration::from_secs(3));
    faults.inject(Fault::latency(everything));
    faults.inject(Fault::latency(sets).on([Rpc::Set]));
    let set_client = client.clone();
    let set = tokio::spawn(timed(async move { set_client.set(CACHE, "k", "v").await }));
    let (get, took) = timed(client.get(CACHE, "k")).await;
    assert_eq!(
        get.expect("get"),
        GetResponse::Miss,
        "the get ran before the delayed set"
    );
    assert!(took >= everything, "get took {took:?}");
    assert!(
        took < sets,
        "the get was not delayed by the set's fault: {took:?}"
    );
    assert!(
        !set.is_finished(),
        "the get waited for the set's latency too ({took:?})"
    );
    let (set, took) = set.await.expect("the delayed set");
    set.expect("set");
    assert!(took >= everything + sets, "set took {took:?}");
}

#[tokio::test]
async fn each_error_code_reaches_the_sdk_as_its_momento_error() {
    let (server, client) = server_with_cache().await;
    client.set(CACHE, "k", "v").await.expect("set");
    let cases = [
        (Code::Unavailable, MomentoErrorCode::ServerUnavailable),
        (Code::Internal, MomentoErrorCode::InternalServerError),
        (
            Code::ResourceExhausted,
            MomentoErrorCode::LimitExceededError,
        ),
        (Code::DeadlineExceeded, MomentoErrorCode::TimeoutError),
    ];
    for (code, expected) in cases {
        server.faults().inject(Fault::error(code).on([Rpc::Get]));
        let error = client.get(CACHE, "k").await.expect_err("the get fails");
        assert_eq!(error.error_code, expected, "{code:?}: {error:?}");
        let details = error.details().expect("the gRPC status is kept");
        assert_eq!(details.code, code);
        if code == Code::ResourceExhausted {
            assert_eq!(
                error.message,
                "Request rate limit exceeded for this account"
            );
            let err = details.metadata.get("err").and_then(|v| v.to_str().ok());
            assert_eq!(err, Some("operations_rate_limit_exceeded"));
        }
        client
            .set(CACHE, "k", "v")
            .await
            .expect("a set is not in the filter");
        server.faults().clear();
        assert_eq!(client.get(CACHE, "k").await.expect("get"), "v".into());
    }
}

#[tokio::test]
async fn the_default_filter_hits_the_data_plane_only() {
    let (server, client) = server_with_cache().await;
    server.faults().inject(Fault::error(Code::Unavailable));
    let unavailable = MomentoErrorCode::ServerUnavailable;
    assert_eq!(error_code(client.get(CACHE, "k").await), unavailable);
    assert_eq!(error_code(client.set(CACHE, "k", "v").await), unavailable);
    assert_eq!(
        error_code(client.set_add_elements(CACHE, "s", ["a"]).await),
        unavailable
    );
    client
        .create_cache("other")
        .await
        .expect("the control plane is spared");
    client.list_caches().await.expect("list");

    server
        .faults()
        .inject(Fault::error(Code::Internal).filter(RpcFilter::All));
    assert_eq!(
        error_code(client.list_caches().await),
        MomentoErrorCode::InternalServerError
    );
    // The first matching error wins.
    assert_eq!(error_code(client.get(CACHE, "k").await), unavailable);
}

#[tokio::test]
async fn a_fraction_fails_some_requests_but_not_all() {
    let (server, client) = server_with_cache().await;
    client.set(CACHE, "k", "v").await.expect("set");
    server
        .faults()
        .inject(Fault::error(Code::Unavailable).on([Rpc::Get]).fraction(0.3));
    let mut failures = 0;
    for _ in 0..400 {
        match client.get(CACHE, "k").await {
            Ok(hit) => assert_eq!(hit, "v".into()),
            Err(error) => {
                assert_eq!(error.error_code, MomentoErrorCode::ServerUnavailable);
                failures += 1;
            }
        }
    }
    assert!((60..=180).contains(&failures), "{failures} of 400 failed");
}

#[tokio::test]
async fn dropped_connections_close_and_the_sdk_reconnects() {
    let (server, client) = server_with_cache().await;
    client.set(CACHE, "k", "v").await.expect("set");
    assert_eq!(client.get(CACHE, "k").await.expect("get"), "v".into());

    // A raw connection sees the server close it.
    let mut raw = TcpStream::connect(server.addr()).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.faults().drop_connections();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match raw.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue, // the server's HTTP/2 preface, if any
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection is still open");

    // New connections are accepted: the same client gets through again.
    let (got, after) = get_eventually(&client, "k", Duration::from_secs(3))
        .await
        .expect("the SDK reconnects within 3 s");
    assert_eq!(got, "v".into());
    assert!(after < Duration::from_secs(3));
}

#[tokio::test]
async fn dropping_connections_fails_a_request_in_flight() {
    let (server, client) = server_with_cache().await;
    client.set(CACHE, "k", "v").await.expect("set");
    server
        .faults()
        .inject(Fault::latency(Duration::from_secs(5)).on([Rpc::Get]));
    let faults = server.faults();
    let dropper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        faults.drop_connections();
    });
    let (result, took) = timed(client.get(CACHE, "k")).await;
    dropper.await.expect("dropper");
    let error = result.expect_err("the connection under the get was closed");
    assert!(
        took < Duration::from_secs(5),
        "the get failed before its injected latency ended: {took:?}"
    );
    // The SDK sees a broken pipe: tonic's UNKNOWN "transport error".
    assert_eq!(
        error.error_code,
        MomentoErrorCode::InternalServerError,
        "{error:?}"
    );
    assert_eq!(error.details().map(|d| d.code), Some(Code::Unknown));

    server.faults().clear();
    let (got, _) = get_eventually(&client, "k", Duration::from_secs(3))
        .await
        .expect("the SDK reconnects");
    assert_eq!(got, "v".into());
}

#[tokio::test]
async fn a_stopped_server_is_unavailable_and_comes_back_with_its_data() {
    let (mut server, client) = server_with_cache().await;
    let addr = server.addr();
    client.set(CACHE, "k", "v").await.expect("set");

    server.stop().await;
    assert!(!server.is_running());
    // The first call may go out on the connection the server just closed, before the client
    // has noticed; once it has, the client finds nothing listening.
    let first = error_code(client.get(CACHE, "k").await);
    assert!(
        [
            MomentoErrorCode::CancelledError,
            MomentoErrorCode::ServerUnavailable
        ]
        .contains(&first),
        "{first:?}"
    );
    for _ in 0..3 {
        let error = client
            .get(CACHE, "k")
            .await
            .expect_err("the server is down");
        assert_eq!(
            error.error_code,
            MomentoErrorCode::ServerUnavailable,
            "{error:?}"
        );
        assert_eq!(error.details().map(|d| d.code), Some(Code::Unavailable));
    }
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "nothing listens on the port"
    );

    server.start_again().await.expect("the port is bound again");
    assert!(server.is_running());
    assert_eq!(server.addr(), addr);
    let (got, _) = get_eventually(&client, "k", Duration::from_secs(3))
        .await
        .expect("the same client gets through after the restart");
    assert_eq!(got, "v".into(), "the store survived the restart");

    client.set(CACHE, "k2", "w").await.expect("set");
    server.restart().await.expect("restart");
    assert_eq!(server.addr(), addr);
    let (got, _) = get_eventually(&client, "k2", Duration::from_secs(3))
        .await
        .expect("the client gets through after restart()");
    assert_eq!(got, "w".into());
    assert_eq!(client.get(CACHE, "k").await.expect("get"), "v".into());
}

#[tokio::test]
async fn faults_survive_a_restart() {
    let (mut server, client) = server_with_cache().await;
    server
        .faults()
        .inject(Fault::error(Code::Internal).on([Rpc::Get]));
    client.set(CACHE, "k", "v").await.expect("set");
    server.restart().await.expect("restart");
    // Wait for the client to reconnect (a set is not in the fault's filter).
    let started = Instant::now();
    while client.set(CACHE, "k", "v").await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(3), "no reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = client
        .get(CACHE, "k")
        .await
        .expect_err("the fault is still on");
    assert_eq!(error.error_code, MomentoErrorCode::InternalServerError);
    assert_eq!(error.details().map(|d| d.code), Some(Code::Internal));
}

#[tokio::test]
async fn the_request_counter_counts_every_call() {
    let (server, client) = server_with_cache().await;
    let faults = server.faults();
    let before = faults.requests();
    assert!(before >= 1, "create_cache was counted");

    client.set(CACHE, "a", "1").await.expect("set");
    client.get(CACHE, "a").await.expect("get");
    client.get(CACHE, "missing").await.expect("get");
    client
        .get_batch(CACHE, ["a", "b", "c"])
        .await
        .expect("batch");
    client.list_caches().await.expect("list");
    assert_eq!(faults.requests(), before + 5);

    // Failed calls count too: injected errors and unimplemented RPCs.
    faults.inject(Fault::error(Code::Unavailable).on([Rpc::Get]));
    assert!(client.get(CACHE, "a").await.is_err());
    assert!(client.list_push_front(CACHE, "l", "v").await.is_err());
    assert_eq!(faults.requests(), before + 7);

    // An idle client (keep-alive pings only) adds nothing.
    let counted = faults.requests();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(faults.requests(), counted);
}
