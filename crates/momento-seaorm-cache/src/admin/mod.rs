//! The admin page (feature `admin`): an [`axum::Router`] the application mounts, serving
//! [`ModelCache::report`] as JSON and as one HTML page, with buttons to invalidate a table or
//! everything.
//!
//! ```text
//! GET  /               the page: queries ranked by database time saved, hit ratios, the
//!                      invalidators' state and lag, the near cache's figures, the forms
//! GET  /report.json    the report (CacheReport) as JSON
//! POST /invalidate     form field `table`: invalidate_table(table), then back to the page
//! POST /invalidate-all invalidate_all(), then back to the page
//! ```
//! The page has no scripts: the buttons are plain forms (POST, then a `303 See Other` back to
//! the page). Paths are relative to where the router is mounted (`Router::nest`).
//!
//! Mount it behind the application's own authentication. A bearer token can be required as
//! well ([`AdminPage::bearer_token`]): every request then needs `Authorization: Bearer
//! <token>`, or, for the forms, the token in a `token` field (the page, fetched with the token,
//! puts it in its forms), else `401`.

mod page;

use std::sync::Arc;

use axum::extract::{Form, OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use crate::cache::ModelCache;
use crate::health::InvalidatorHealth;
use crate::report::{CacheReport, InvalidatorReport};

/// The admin page of a [`ModelCache`]: configure it, then mount [`router`](Self::router).
///
/// ```
/// use momento_seaorm_cache::admin::AdminPage;
/// use momento_seaorm_cache::{InvalidatorHealth, MemoryBackend, ModelCache};
/// let cache = ModelCache::builder(MemoryBackend::new()).build()?;
/// let admin = AdminPage::new(&cache)
///     .bearer_token("s3cret")
///     .invalidator("orders-cdc", InvalidatorHealth::default());
/// let app: axum::Router = axum::Router::new().nest("/admin/cache", admin.router());
/// # let _ = app;
/// # Ok::<(), momento_seaorm_cache::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct AdminPage {
    cache: ModelCache,
    token: Option<Arc<str>>,
    invalidators: Vec<(String, InvalidatorHealth)>,
}

impl std::fmt::Debug for AdminPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: only whether there is one.
        f.debug_struct("AdminPage")
            .field("cache", &self.cache)
            .field("bearer_token", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

/// The form the invalidation buttons send.
#[derive(Debug, Deserialize)]
struct InvalidateForm {
    #[serde(default)]
    table: String,
    #[serde(default)]
    token: Option<String>,
}

impl AdminPage {
    /// The page of `cache`, with no token of its own.
    ///
    /// ```
    /// # use momento_seaorm_cache::{admin::AdminPage, MemoryBackend, ModelCache};
    /// let cache = ModelCache::builder(MemoryBackend::new()).build()?;
    /// let page = AdminPage::new(&cache);
    /// assert!(page.report().queries.is_empty());
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn new(cache: &ModelCache) -> AdminPage {
        AdminPage {
            cache: cache.clone(),
            token: None,
            invalidators: Vec::new(),
        }
    }

    /// Requires `Authorization: Bearer <token>` on every request (or, on the forms, the token
    /// in their `token` field). Compared in constant time; never logged or shown in `Debug`.
    ///
    /// ```
    /// # use momento_seaorm_cache::{admin::AdminPage, MemoryBackend, ModelCache};
    /// # let cache = ModelCache::builder(MemoryBackend::new()).build()?;
    /// let page = AdminPage::new(&cache).bearer_token("s3cret");
    /// assert!(!format!("{page:?}").contains("s3cret"));
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn bearer_token(mut self, token: impl Into<String>) -> AdminPage {
        self.token = Some(Arc::from(token.into()));
        self
    }

    /// Shows the state and lag of a change-capture invalidator under `name` (those given to
    /// the builder's `bypass_unless_caught_up` are shown already, as `gate 1`, ...).
    ///
    /// ```
    /// # use momento_seaorm_cache::{admin::AdminPage, InvalidatorHealth, MemoryBackend, ModelCache};
    /// # let cache = ModelCache::builder(MemoryBackend::new()).build()?;
    /// let page = AdminPage::new(&cache).invalidator("cdc", InvalidatorHealth::default());
    /// assert_eq!(page.report().invalidators[0].name, "cdc");
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn invalidator(mut self, name: impl Into<String>, health: InvalidatorHealth) -> AdminPage {
        self.invalidators.push((name.into(), health));
        self
    }

    /// The report the page shows: the cache's, with the invalidators named here.
    ///
    /// ```
    /// # use momento_seaorm_cache::{admin::AdminPage, MemoryBackend, ModelCache};
    /// # let cache = ModelCache::builder(MemoryBackend::new()).build()?;
    /// let page = AdminPage::new(&cache);
    /// assert_eq!(page.report().max_queries, cache.report().max_queries);
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn report(&self) -> CacheReport {
        let mut report = self.cache.report();
        let named = self.invalidators.iter();
        let named = named.map(|(name, health)| InvalidatorReport::of(name, health));
        report.invalidators.extend(named);
        report
    }

    /// The router: the page, the JSON and the two forms, relative to where it is mounted.
    ///
    /// ```
    /// # use momento_seaorm_cache::{admin::AdminPage, MemoryBackend, ModelCache};
    /// # let cache = ModelCache::builder(MemoryBackend::new()).build()?;
    /// let app = axum::Router::new().nest("/admin", AdminPage::new(&cache).router());
    /// # let _ = app;
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn router(self) -> Router {
        Router::new()
            .route("/", get(show_page))
            .route("/report.json", get(show_json))
            .route("/invalidate", post(invalidate_table))
            .route("/invalidate-all", post(invalidate_all))
            .with_state(Arc::new(self))
    }

    /// Whether the request carries the token (always, when none is required).
    fn allows(&self, headers: &HeaderMap, field: Option<&str>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        [bearer, field]
            .into_iter()
            .flatten()
            .any(|given| same(given.trim().as_bytes(), token.as_bytes()))
    }
}

/// Compares in time independent of where the two differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, &x) in b.iter().enumerate() {
        diff |= usize::from(x ^ a.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

fn unauthorized() -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response();
    let challenge = HeaderValue::from_static("Bearer");
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge);
    response
}

/// The path the router is mounted at, from the original request path and the route's own.
fn mounted_at(uri: &OriginalUri, route: &str) -> String {
    let path = uri.path();
    let path = path.strip_suffix(route).unwrap_or(path);
    path.trim_end_matches('/').to_owned()
}

fn no_store(mut response: Response) -> Response {
    let value = HeaderValue::from_static("no-store");
    response.headers_mut().insert(header::CACHE_CONTROL, value);
    response
}

async fn show_page(
    State(page): State<Arc<AdminPage>>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    if !page.allows(&headers, None) {
        return unauthorized();
    }
    let base = mounted_at(&uri, "/");
    let html = page::render(&page.report(), &base, page.token.as_deref());
    no_store(Html(html).into_response())
}

async fn show_json(State(page): State<Arc<AdminPage>>, headers: HeaderMap) -> Response {
    if !page.allows(&headers, None) {
        return unauthorized();
    }
    no_store(Json(page.report()).into_response())
}

async fn invalidate_table(
    State(page): State<Arc<AdminPage>>,
    uri: OriginalUri,
    headers: HeaderMap,
    Form(form): Form<InvalidateForm>,
) -> Response {
    if !page.allows(&headers, form.token.as_deref()) {
        return unauthorized();
    }
    let table = form.table.trim();
    if table.is_empty() {
        return (StatusCode::BAD_REQUEST, "name a table to invalidate\n").into_response();
    }
    tracing::info!(table, "admin page: invalidating a table");
    page.cache.invalidate_table(table).await;
    back_to_page(&uri, "/invalidate")
}

async fn invalidate_all(
    State(page): State<Arc<AdminPage>>,
    uri: OriginalUri,
    headers: HeaderMap,
    Form(form): Form<InvalidateForm>,
) -> Response {
    if !page.allows(&headers, form.token.as_deref()) {
        return unauthorized();
    }
    tracing::info!("admin page: invalidating everything");
    page.cache.invalidate_all().await;
    back_to_page(&uri, "/invalidate-all")
}

/// `303 See Other` to the page, so a reload does not post again.
fn back_to_page(uri: &OriginalUri, route: &str) -> Response {
    let base = mounted_at(uri, route);
    let to = if base.is_empty() {
        "/".to_owned()
    } else {
        base
    };
    Redirect::to(&to).into_response()
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"s3cret", b"s3cret"));
        assert!(!same(b"s3cre", b"s3cret"));
        assert!(!same(b"s3cretX", b"s3cret"));
        assert!(!same(b"", b"s3cret"));
        assert!(!same(b"S3cret", b"s3cret"));
    }
}
