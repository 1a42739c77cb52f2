//! The service's router in-process (`tower::ServiceExt::oneshot`, no socket) on PostgreSQL and
//! an in-process momento-lite: a repeated read is a hit that sends nothing to the database,
//! writes through the service are seen by every read that depends on them, a write the cache is
//! not told of stays stale until it is invalidated, a cache outage is no error, and with the
//! cache off every read goes to the database.
//!
//! Skipped (with the reason printed) when PostgreSQL is not reachable on 127.0.0.1:5432,
//! unless `REQUIRE_DATABASES=1`. The tests share the `svc_` tables, so they run one at a time.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use clap::Parser;
use momento_seaorm_cache::ModelCache;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{json, Value};
use service_example::args::Args;
use service_example::domain::{self, user, user_id};
use service_example::{app, start, Stats};
use tokio::sync::Mutex;
use tower::ServiceExt;

const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The tests share the svc_ tables: one at a time.
static TABLES: Mutex<()> = Mutex::const_new(());

/// A fresh seeded schema (4 users × 3 posts), or `None` (skip) without PostgreSQL.
async fn seeded_database() -> Option<DatabaseConnection> {
    let reachable = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect("127.0.0.1:5432"),
    )
    .await
    .is_ok_and(|c| c.is_ok());
    if !reachable {
        assert!(
            std::env::var("REQUIRE_DATABASES").as_deref() != Ok("1"),
            "REQUIRE_DATABASES=1 but PostgreSQL is not reachable on 127.0.0.1:5432"
        );
        eprintln!("skipped: PostgreSQL is not reachable on 127.0.0.1:5432");
        return None;
    }
    let db = Database::connect(URL).await.expect("connect to PostgreSQL");
    domain::setup(&db, 4, 3).await.expect("setup");
    Some(db)
}

/// One request through the router: the status and the body as JSON (a string if not JSON).
async fn call(router: &Router, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// `GET path`, which must answer 200.
async fn get(router: &Router, path: &str) -> Value {
    let (status, body) = call(router, "GET", path, "").await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// `GET /stats`.
async fn stats(router: &Router) -> Stats {
    serde_json::from_value(get(router, "/stats").await).unwrap()
}

/// The report's `(hits, misses)` of `operation` on `table`.
async fn reported(router: &Router, operation: &str, table: &str) -> (u64, u64) {
    let report = get(router, "/report").await;
    let queries = report["queries"].as_array().unwrap();
    let query = queries
        .iter()
        .find(|q| q["operation"] == operation && q["table"] == table)
        .unwrap_or_else(|| panic!("no {operation} on {table} in {report}"));
    (
        query["hits"].as_u64().unwrap(),
        query["misses"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_hit_and_writes_through_the_service_are_seen() {
    let _tables = TABLES.lock().await;
    let Some(plain) = seeded_database().await else {
        return;
    };
    let mut lite = momento_lite::MomentoLite::builder()
        .port(0)
        .start()
        .await
        .unwrap();
    let endpoint = lite.endpoint();
    let args = Args::parse_from([
        "service",
        "--database-url",
        URL,
        "--momento-lite-endpoint",
        &endpoint,
        "--cache-name",
        "svc-test",
        // Stores inline: with the service's default background writes a read right after a
        // miss may come before the store lands, and take the first read's loaded value from
        // its flight (reported as a miss), while this test asserts the report of exactly such
        // a read (`a_repeated_read_is_a_hit_that_sends_nothing`).
        "--background-writes",
        "false",
    ]);
    let service = start(&args).await.unwrap();
    let cache = service.state.cache().unwrap().clone();
    let router = app(service.state);

    a_repeated_read_is_a_hit_that_sends_nothing(&router).await;
    let voted = a_vote_is_seen_by_every_read_of_the_post(&router).await;
    a_rename_is_seen_by_key_and_by_email(&router).await;
    a_plain_write_is_stale_until_invalidated(&router, &plain, &cache).await;

    // Not found is a 404, not an error; the metrics have the cache's series.
    let (status, body) = call(&router, "GET", "/posts/999999", "").await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"error": "not found"}))
    );
    let (status, metrics) = call(&router, "GET", "/metrics", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(metrics
        .as_str()
        .unwrap()
        .contains("momento_seaorm_cache_reads_total"));

    // The cache down: reads still answer, from the database.
    lite.stop().await;
    assert_eq!(get(&router, "/posts/3").await["id"], 3);
    assert_eq!(get(&router, "/posts/1").await, voted);
    let counted = stats(&router).await;
    assert_eq!(counted.errors, 0);
    // 23 API requests in all; /stats, /report and /metrics are not counted.
    assert_eq!(counted.requests, 23, "{counted:?}");
}

/// After a first read of the table (which loads the catalog), a read is one statement and its
/// repeat none, reported as a hit. 3 requests.
async fn a_repeated_read_is_a_hit_that_sends_nothing(router: &Router) {
    get(router, "/posts/2").await;
    let before = stats(router).await;
    let first = get(router, "/posts/1").await;
    let after_first = stats(router).await;
    let second = get(router, "/posts/1").await;
    let after_second = stats(router).await;
    assert_eq!(first, second);
    assert_eq!(first["version"], 1);
    assert_eq!(after_first.db_statements, before.db_statements + 1);
    assert_eq!(after_second.db_statements, after_first.db_statements);
    assert_eq!(reported(router, "find_by_pk", "svc_posts").await, (1, 2));
}

/// A vote through the service is seen by the post, the owner's list, the search and the
/// aggregate, all read (and cached) before it. 8 requests; returns the voted post.
async fn a_vote_is_seen_by_every_read_of_the_post(router: &Router) -> Value {
    let owner = user_id(0);
    let list = format!("/users/{owner}/posts");
    let aggregate = format!("/users/{owner}/stats");
    assert_eq!(
        get(router, &aggregate).await,
        json!({"posts": 3, "votes": 0})
    );
    assert_eq!(get(router, &list).await[0]["version"], 1);
    assert_eq!(get(router, "/search?title=title-1").await[0]["version"], 1);
    let (status, voted) = call(router, "POST", "/posts/1/vote", "").await;
    assert_eq!(status, StatusCode::OK, "{voted}");
    assert_eq!((&voted["votes"], &voted["version"]), (&json!(1), &json!(2)));
    assert_eq!(get(router, "/posts/1").await, voted);
    assert_eq!(get(router, &list).await[0], voted);
    assert_eq!(get(router, "/search?title=title-1").await[0], voted);
    assert_eq!(
        get(router, &aggregate).await,
        json!({"posts": 3, "votes": 1})
    );
    voted
}

/// A rename through the service is seen by key and by email; without a body the name becomes
/// `user-v{version}`. 6 requests.
async fn a_rename_is_seen_by_key_and_by_email(router: &Router) {
    let by_key = format!("/users/{}", user_id(1));
    let by_email = "/users/by-email/user1@example.com";
    assert_eq!(get(router, &by_key).await["name"], "user 1");
    assert_eq!(get(router, by_email).await["version"], 1);
    let rename = format!("{by_key}/rename");
    let (status, body) = call(router, "POST", &rename, r#"{"name":"Grace"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["name"], &body["version"]),
        (&json!("Grace"), &json!(2))
    );
    assert_eq!(get(router, &by_key).await, body);
    assert_eq!(get(router, by_email).await, body);
    let (_, default_name) = call(router, "POST", &rename, "").await;
    assert_eq!(default_name["name"], "user-v3");
}

/// The "second service": a plain-connection write the cache is not told of stays stale
/// (no change-capture invalidator here) until it is invalidated. 3 requests.
async fn a_plain_write_is_stale_until_invalidated(
    router: &Router,
    plain: &DatabaseConnection,
    cache: &ModelCache,
) {
    let other = user_id(2);
    let path = format!("/users/{other}");
    assert_eq!(get(router, &path).await["version"], 1);
    plain
        .execute_unprepared(&format!(
            "UPDATE svc_users SET name = 'Plain', version = version + 1 WHERE id = '{other}'"
        ))
        .await
        .unwrap();
    assert_eq!(get(router, &path).await["version"], 1, "not told: stale");
    cache.wrap(user::Entity).invalidate_by_pk(other).await;
    let fresh = get(router, &path).await;
    assert_eq!(
        (&fresh["name"], &fresh["version"]),
        (&json!("Plain"), &json!(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cache_off_every_read_goes_to_the_database() {
    let _tables = TABLES.lock().await;
    let Some(plain) = seeded_database().await else {
        return;
    };
    let args = Args::parse_from(["service", "--database-url", URL, "--cache", "off"]);
    let service = start(&args).await.unwrap();
    assert!(service.lite.is_none() && service.state.cache().is_none());
    let router = app(service.state);

    let before = stats(&router).await;
    get(&router, "/posts/1").await;
    get(&router, "/posts/1").await;
    let after = stats(&router).await;
    assert_eq!(after.db_statements, before.db_statements + 2);
    let (status, _) = call(&router, "GET", "/report", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, voted) = call(&router, "POST", "/posts/1/vote", "").await;
    assert_eq!((status, &voted["version"]), (StatusCode::OK, &json!(2)));
    assert_eq!(get(&router, "/posts/1").await, voted);

    // A database error is a 500 with the error as JSON, counted in /stats.
    plain
        .execute_unprepared("ALTER TABLE svc_posts RENAME TO svc_posts_gone")
        .await
        .unwrap();
    let (status, body) = call(&router, "GET", "/posts/1", "").await;
    plain
        .execute_unprepared("ALTER TABLE svc_posts_gone RENAME TO svc_posts")
        .await
        .unwrap();
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("svc_posts")),
        "{body}"
    );
    assert_eq!(stats(&router).await.errors, 1);
}
