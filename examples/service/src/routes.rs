//! The HTTP routes: reads through the cache (or straight to the database with the cache off),
//! writes through a `CachedConnection`, and the report, metrics and counters endpoints.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use momento_seaorm_cache::admin::AdminPage;
use momento_seaorm_cache::{CacheQueryExt, CachedConnection, ModelCache};
use sea_orm::sea_query::extension::postgres::PgExpr;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{post, user, StatementCounter};

/// How many posts `GET /search` returns at most.
pub const SEARCH_LIMIT: u64 = 50;

/// What the handlers share: the database, the cache (absent with the cache off) and the
/// counters of `/stats`.
#[derive(Clone)]
pub struct AppState {
    db: DatabaseConnection,
    cache: Option<(ModelCache, CachedConnection)>,
    statements: Arc<StatementCounter>,
    counters: Arc<Counters>,
    prometheus: Option<PrometheusHandle>,
}

/// Requests and 5xx responses of the API routes (not of /stats, /report, /metrics, /healthz).
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
}

impl AppState {
    /// The state of a service reading `db` through `cache` (`None`: the cache is off), where
    /// `statements` counts what `db` sends (see [`crate::domain::connect`]).
    pub fn new(
        db: DatabaseConnection,
        cache: Option<ModelCache>,
        statements: Arc<StatementCounter>,
    ) -> AppState {
        let cache = cache.map(|c| (c.clone(), CachedConnection::new(db.clone(), &c)));
        AppState {
            db,
            cache,
            statements,
            counters: Arc::default(),
            prometheus: None,
        }
    }

    /// Serves `/metrics` from this Prometheus recorder (else `/metrics` is empty).
    pub fn with_metrics(mut self, prometheus: PrometheusHandle) -> AppState {
        self.prometheus = Some(prometheus);
        self
    }

    /// The cache the reads go through (`None`: the cache is off).
    pub fn cache(&self) -> Option<&ModelCache> {
        self.cache.as_ref().map(|(c, _)| c)
    }
}

/// The service's router: the API (counted in `/stats`), then the operational endpoints, and
/// the cache's admin page under `/admin/cache` when the cache is on.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/users/{id}", get(get_user))
        .route("/users/by-email/{email}", get(get_user_by_email))
        .route("/users/{id}/posts", get(user_posts))
        .route("/users/{id}/stats", get(user_stats))
        .route("/users/{id}/rename", post(rename_user))
        .route("/posts/{id}", get(get_post))
        .route("/posts/{id}/vote", post(vote))
        .route("/search", get(search))
        .route_layer(middleware::from_fn_with_state(state.clone(), count));
    let admin = state.cache().map(|c| AdminPage::new(c).router());
    let router = api
        .route("/report", get(report))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/stats", get(stats))
        .with_state(state);
    match admin {
        Some(admin) => router.nest("/admin/cache", admin),
        None => router,
    }
}

/// Counts a request of the API and, when it answers 5xx, an error.
async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    let response = next.run(request).await;
    if response.status().is_server_error() {
        state.counters.errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

/// An API error: a database error is a 500, a missing row a 404; both with `{"error": …}`.
#[derive(Debug)]
pub enum ApiError {
    /// No such row.
    NotFound,
    /// The request was malformed.
    BadRequest(String),
    /// The database failed (the cache never fails a request: it falls back to the database).
    Database(DbErr),
}

impl From<DbErr> for ApiError {
    fn from(e: DbErr) -> Self {
        ApiError::Database(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not found".to_owned()),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Database(e) => {
                tracing::warn!(error = %e, "database error");
                (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// `GET /users/{id}`: a primary-key read.
async fn get_user(State(s): State<AppState>, Path(id): Path<Uuid>) -> ApiResult<user::Model> {
    let found = match s.cache() {
        Some(c) => c.wrap(user::Entity).find_by_pk(&s.db, id).await?,
        None => user::Entity::find_by_id(id).one(&s.db).await?,
    };
    found.map(Json).ok_or(ApiError::NotFound)
}

/// `GET /users/by-email/{email}`: a read by a unique column.
async fn get_user_by_email(
    State(s): State<AppState>,
    Path(email): Path<String>,
) -> ApiResult<user::Model> {
    let query = user::Entity::find().filter(user::Column::Email.eq(email));
    one(&s, query).await?.map(Json).ok_or(ApiError::NotFound)
}

/// `GET /posts/{id}`: a primary-key read.
async fn get_post(State(s): State<AppState>, Path(id): Path<i64>) -> ApiResult<post::Model> {
    let found = match s.cache() {
        Some(c) => c.wrap(post::Entity).find_by_pk(&s.db, id).await?,
        None => post::Entity::find_by_id(id).one(&s.db).await?,
    };
    found.map(Json).ok_or(ApiError::NotFound)
}

/// `GET /users/{id}/posts`: the user's posts by id (a list by a foreign key).
async fn user_posts(
    State(s): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<Vec<post::Model>> {
    let query = post::Entity::find()
        .filter(post::Column::UserId.eq(id))
        .order_by_asc(post::Column::Id);
    Ok(Json(all(&s, query).await?))
}

/// The query of `GET /search`.
#[derive(Debug, Deserialize)]
struct SearchQuery {
    title: String,
}

/// `GET /search?title=T`: posts titled T by id, at most [`SEARCH_LIMIT`].
async fn search(
    State(s): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Vec<post::Model>> {
    let query = post::Entity::find()
        .filter(post::Column::Title.eq(q.title))
        .order_by_asc(post::Column::Id)
        .limit(SEARCH_LIMIT);
    Ok(Json(all(&s, query).await?))
}

/// The answer of `GET /users/{id}/stats`: how many posts the user has, and their votes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromQueryResult)]
pub struct UserStats {
    /// How many posts.
    pub posts: i64,
    /// The sum of their votes (0 without posts).
    pub votes: i64,
}

/// `GET /users/{id}/stats`: an aggregate (COUNT and SUM) over the user's posts.
async fn user_stats(State(s): State<AppState>, Path(id): Path<Uuid>) -> ApiResult<UserStats> {
    let votes = Func::coalesce([Expr::col(post::Column::Votes).sum(), Expr::val(0i64)]);
    let query = post::Entity::find()
        .select_only()
        .column_as(post::Column::Id.count(), "posts")
        .column_as(Expr::from(votes), "votes")
        .filter(post::Column::UserId.eq(id))
        .into_model::<UserStats>();
    let stats = match s.cache() {
        Some(c) => query.cached(c).one(&s.db).await?,
        None => query.one(&s.db).await?,
    };
    stats.map(Json).ok_or(ApiError::NotFound)
}

/// `POST /posts/{id}/vote`: `votes + 1, version + 1`, returning the row.
async fn vote(State(s): State<AppState>, Path(id): Path<i64>) -> ApiResult<post::Model> {
    let update = post::Entity::update_many()
        .col_expr(post::Column::Votes, Expr::col(post::Column::Votes).add(1))
        .col_expr(
            post::Column::Version,
            Expr::col(post::Column::Version).add(1),
        )
        .filter(post::Column::Id.eq(id));
    let rows = match &s.cache {
        Some((_, writer)) => update.exec_with_returning(writer).await?,
        None => update.exec_with_returning(&s.db).await?,
    };
    rows.into_iter().next().map(Json).ok_or(ApiError::NotFound)
}

/// The optional body of `POST /users/{id}/rename`.
#[derive(Debug, Default, Deserialize)]
struct Rename {
    name: Option<String>,
}

/// `POST /users/{id}/rename`, body `{"name": "…"}` (optional: without it the name becomes
/// `user-v{new version}`): the name changes and `version + 1`, returning the row.
async fn rename_user(
    State(s): State<AppState>,
    Path(id): Path<Uuid>,
    body: Bytes,
) -> ApiResult<user::Model> {
    let rename: Rename = if body.iter().all(u8::is_ascii_whitespace) {
        Rename::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?
    };
    let name = match rename.name {
        Some(name) => Expr::val(name),
        None => Expr::val("user-v").concat(Expr::col(user::Column::Version).add(1)),
    };
    let update = user::Entity::update_many()
        .col_expr(user::Column::Name, name)
        .col_expr(
            user::Column::Version,
            Expr::col(user::Column::Version).add(1),
        )
        .filter(user::Column::Id.eq(id));
    let rows = match &s.cache {
        Some((_, writer)) => update.exec_with_returning(writer).await?,
        None => update.exec_with_returning(&s.db).await?,
    };
    rows.into_iter().next().map(Json).ok_or(ApiError::NotFound)
}

/// One row of `query`, through the cache when it is on.
async fn one<E: EntityTrait>(s: &AppState, query: Select<E>) -> Result<Option<E::Model>, DbErr>
where
    E::Model: Serialize + for<'de> Deserialize<'de> + Send + Sync,
{
    match s.cache() {
        Some(c) => query.cached(c).one(&s.db).await,
        None => query.one(&s.db).await,
    }
}

/// Every row of `query`, through the cache when it is on.
async fn all<E: EntityTrait>(s: &AppState, query: Select<E>) -> Result<Vec<E::Model>, DbErr>
where
    E::Model: Serialize + for<'de> Deserialize<'de> + Send + Sync,
{
    match s.cache() {
        Some(c) => query.cached(c).all(&s.db).await,
        None => query.all(&s.db).await,
    }
}

/// `GET /report`: the cache's per-query report (404 with the cache off).
async fn report(State(s): State<AppState>) -> Response {
    match s.cache() {
        Some(c) => Json(c.report()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": "the cache is off" })),
        )
            .into_response(),
    }
}

/// `GET /metrics`: Prometheus text (the cache's series and the service's).
async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let body = s
        .prometheus
        .as_ref()
        .map(|p| p.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// The answer of `GET /stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// API requests served by this process.
    pub requests: u64,
    /// Statements this process sent to the database.
    pub db_statements: u64,
    /// API requests answered with a 5xx.
    pub errors: u64,
}

/// `GET /stats`: this process's counters.
async fn stats(State(s): State<AppState>) -> Json<Stats> {
    Json(Stats {
        requests: s.counters.requests.load(Ordering::Relaxed),
        db_statements: s.statements.get(),
        errors: s.counters.errors.load(Ordering::Relaxed),
    })
}
