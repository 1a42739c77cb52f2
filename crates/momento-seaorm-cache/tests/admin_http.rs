//! The admin page over real HTTP (axum served on a loopback port): its JSON is `report()`, a
//! POST to invalidate makes the next read a miss, and a required bearer token is enforced.

mod common;
mod report_support;

use std::net::SocketAddr;

use common::entities::user;
use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::admin::AdminPage;
use momento_seaorm_cache::report::InvalidationCause;
use momento_seaorm_cache::{CacheReport, CacheStatus};
use report_support::{expected, quickstart_reads, reported, seed_orders, CountingConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "s3cret-t0ken";

/// A response: status, headers (lower-cased names), body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on its own connection.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Serves `router` under `/admin/cache` on a loopback port.
async fn serve(router: axum::Router) -> SocketAddr {
    let app = axum::Router::new().nest("/admin/cache", router);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn the_json_is_the_report_and_a_posted_invalidation_makes_the_next_read_miss() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    db.seed().await;
    seed_orders(&db.conn).await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    assert!(cache.refresh_catalog(&db.conn).await);
    let conn = CountingConnection::new(db.conn.clone());
    let seen = quickstart_reads(&cache, &conn).await;
    let addr = serve(AdminPage::new(&cache).bearer_token(TOKEN).router()).await;
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];

    // The JSON is report(), and agrees with the queries counted.
    let json = http(addr, "GET", "/admin/cache/report.json", &auth, "").await;
    assert_eq!(json.status, 200);
    assert_eq!(json.header("cache-control"), Some("no-store"));
    let served: CacheReport = serde_json::from_str(&json.body).unwrap();
    let now = cache.report();
    assert_eq!(served.queries, now.queries);
    assert_eq!(served.totals, now.totals);
    assert_eq!(reported(&served), expected(&served, cache.prefix(), &seen));

    // The page shows every shape, and runs no script.
    let page = http(addr, "GET", "/admin/cache", &auth, "").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<script"));
    for q in &now.queries {
        assert!(page
            .body
            .contains(&format!("data-query=\"{}\"", q.fingerprint)));
    }
    assert!(page.body.contains("action=\"/admin/cache/invalidate\""));

    // Without the token, or with a wrong one: 401, and nothing is invalidated.
    let users = cache.wrap(user::Entity);
    assert_eq!(
        users.find_by_pk_with_status(&conn, 1).await.unwrap().status,
        CacheStatus::Hit
    );
    for headers in [vec![], vec![("Authorization", "Bearer wrong")]] {
        let denied = http(addr, "GET", "/admin/cache/report.json", &headers, "").await;
        assert_eq!(denied.status, 401);
        assert_eq!(denied.header("www-authenticate"), Some("Bearer"));
        let post = http(
            addr,
            "POST",
            "/admin/cache/invalidate",
            &headers,
            "table=users",
        )
        .await;
        assert_eq!(post.status, 401);
        let post = http(
            addr,
            "POST",
            "/admin/cache/invalidate-all",
            &headers,
            "token=wrong",
        )
        .await;
        assert_eq!(post.status, 401);
    }
    assert_eq!(
        users.find_by_pk_with_status(&conn, 1).await.unwrap().status,
        CacheStatus::Hit
    );

    // The token in the form's field (as the page's forms send it): invalidated, back to the page.
    let body = format!("table=users&token={TOKEN}");
    let posted = http(addr, "POST", "/admin/cache/invalidate", &[], &body).await;
    assert_eq!(posted.status, 303);
    assert_eq!(posted.header("location"), Some("/admin/cache"));
    let before = conn.queries();
    let read = users.find_by_pk_with_status(&conn, 1).await.unwrap();
    assert_eq!(
        (read.status, conn.queries() - before),
        (CacheStatus::Miss, 1)
    );
    let by_pk = cache
        .report()
        .queries
        .into_iter()
        .find(|q| q.operation == "find_by_pk")
        .unwrap();
    assert_eq!(
        by_pk.last_invalidation.unwrap().cause,
        InvalidationCause::Explicit
    );

    // Everything, with the bearer header.
    assert_eq!(
        users.find_by_pk_with_status(&conn, 1).await.unwrap().status,
        CacheStatus::Hit
    );
    let posted = http(addr, "POST", "/admin/cache/invalidate-all", &auth, "").await;
    assert_eq!(posted.status, 303);
    assert_eq!(
        users.find_by_pk_with_status(&conn, 1).await.unwrap().status,
        CacheStatus::Miss
    );
    let missing = http(addr, "POST", "/admin/cache/invalidate", &auth, "table=").await;
    assert_eq!(missing.status, 400);
    db.cleanup().await;
}

#[tokio::test]
async fn without_a_token_the_page_is_open_to_whoever_reaches_the_router() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    db.seed().await;
    let momento = TestCache::start("model-cache").await;
    let cache = momento.model_cache(|b| b).await;
    let addr = serve(AdminPage::new(&cache).router()).await;
    let users = cache.wrap(user::Entity);
    users.find_by_pk(&db.conn, 1).await.unwrap();
    let json = http(addr, "GET", "/admin/cache/report.json", &[], "").await;
    assert_eq!(json.status, 200);
    let served: CacheReport = serde_json::from_str(&json.body).unwrap();
    assert_eq!(served.queries[0].figures.misses, 1);
    let posted = http(addr, "POST", "/admin/cache/invalidate", &[], "table=users").await;
    assert_eq!(posted.status, 303);
    assert_eq!(
        users
            .find_by_pk_with_status(&db.conn, 1)
            .await
            .unwrap()
            .status,
        CacheStatus::Miss
    );
}
