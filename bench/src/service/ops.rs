//! The request mix and how each request is sent and judged: Zipf-chosen users and posts, the
//! service's read endpoints, and 5% writes, half through the service and half from a "second
//! service" on a plain PostgreSQL connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::Value;
use uuid::Uuid;

use super::checker::{RowKey, WriteLog};
use super::floor::IdealCache;
use super::load::Targets;
use crate::mixed::{Rng, Zipf};

/// One request.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    /// GET /users/{uuid}
    User(usize),
    /// GET /users/by-email/{email}
    UserByEmail(usize),
    /// GET /posts/{id}
    Post(i64),
    /// GET /users/{uuid}/posts
    UserPosts(usize),
    /// GET /search?title=T
    Search(i64),
    /// GET /users/{uuid}/stats
    UserStats(usize),
    /// POST /posts/{id}/vote
    Vote(i64),
    /// POST /users/{uuid}/rename
    Rename(usize),
    /// The second service: UPDATE svc_posts ... on a plain connection.
    PlainVote(i64),
    /// The second service: UPDATE svc_users ... on a plain connection.
    PlainRename(usize),
}

/// The request mix: Zipf (s = 1) over users and over posts, `write_frac` writes split evenly
/// over the four write kinds, the reads weighted 30/10/30/10/5/10.
pub struct Mix {
    users: Zipf,
    posts: Zipf,
    write_frac: f64,
}

impl Mix {
    /// `users` users with `posts` posts in all.
    pub fn new(users: usize, posts: usize, write_frac: f64) -> Mix {
        Mix {
            users: Zipf::new(users, 1.0),
            posts: Zipf::new(posts, 1.0),
            write_frac,
        }
    }

    /// A user index, Zipf: user 0 is the hottest.
    pub fn user(&self, rng: &mut Rng) -> usize {
        self.users.sample(rng) - 1
    }

    /// A post id, Zipf: post 1 is the hottest.
    pub fn post(&self, rng: &mut Rng) -> i64 {
        self.posts.sample(rng) as i64
    }

    /// The next request.
    pub fn next(&self, rng: &mut Rng) -> Op {
        let r = rng.next_f64();
        if r < self.write_frac {
            return match rng.below(4) {
                0 => Op::Vote(self.post(rng)),
                1 => Op::Rename(self.user(rng)),
                2 => Op::PlainVote(self.post(rng)),
                _ => Op::PlainRename(self.user(rng)),
            };
        }
        let r = (r - self.write_frac) / (1.0 - self.write_frac) * 95.0;
        match r {
            r if r < 30.0 => Op::User(self.user(rng)),
            r if r < 40.0 => Op::UserByEmail(self.user(rng)),
            r if r < 70.0 => Op::Post(self.post(rng)),
            r if r < 80.0 => Op::UserPosts(self.user(rng)),
            r if r < 85.0 => Op::Search(self.post(rng) % 97),
            _ => Op::UserStats(self.user(rng)),
        }
    }
}

/// The seeded id of user `i` (the contract: `Uuid::from_u128(i + 1)`).
pub fn user_id(i: usize) -> Uuid {
    Uuid::from_u128(i as u128 + 1)
}

/// Stale reads seen by the load (reads older than the guarantee allows).
#[derive(Default)]
pub struct Staleness {
    /// Rows checked.
    pub rows_checked: AtomicU64,
    /// Rows older than allowed.
    pub stale: AtomicU64,
    /// The first few, described.
    pub samples: std::sync::Mutex<Vec<String>>,
}

/// What every request needs.
pub struct Ctx {
    /// The HTTP client (with a per-request timeout).
    pub http: reqwest::Client,
    /// The app processes.
    pub targets: Arc<Targets>,
    /// The second service's plain connection.
    pub db: DatabaseConnection,
    /// Every write and when it completed.
    pub log: Arc<WriteLog>,
    /// Stale reads found in load responses.
    pub staleness: Staleness,
    /// The same requests through an ideal cache.
    pub floor: IdealCache,
    renames: AtomicU64,
}

impl Ctx {
    /// A context over these parts.
    pub fn new(
        http: reqwest::Client,
        targets: Arc<Targets>,
        db: DatabaseConnection,
        log: Arc<WriteLog>,
        posts_per_user: usize,
    ) -> Ctx {
        Ctx {
            http,
            targets,
            db,
            log,
            staleness: Staleness::default(),
            floor: IdealCache::new(posts_per_user),
            renames: AtomicU64::new(0),
        }
    }

    /// Sends `op`; `None` when it needed an app process and none was up.
    pub async fn execute(&self, op: Op) -> Option<Result<(), String>> {
        self.floor.observe(op);
        match op {
            Op::PlainVote(id) => return Some(self.plain_vote(id).await),
            Op::PlainRename(u) => return Some(self.plain_rename(u).await),
            _ => {}
        }
        let (proc, base) = self.targets.pick()?;
        let (post, path) = match op {
            Op::User(u) => (false, format!("/users/{}", user_id(u))),
            Op::UserByEmail(u) => (false, format!("/users/by-email/user{u}@example.com")),
            Op::Post(id) => (false, format!("/posts/{id}")),
            Op::UserPosts(u) => (false, format!("/users/{}/posts", user_id(u))),
            Op::Search(t) => (false, format!("/search?title=title-{t}")),
            Op::UserStats(u) => (false, format!("/users/{}/stats", user_id(u))),
            Op::Vote(id) => (true, format!("/posts/{id}/vote")),
            Op::Rename(u) => (true, format!("/users/{}/rename", user_id(u))),
            Op::PlainVote(_) | Op::PlainRename(_) => unreachable!("handled above"),
        };
        let url = format!("{base}{path}");
        Some(self.http_op(proc, post, &url).await)
    }

    async fn http_op(&self, proc: usize, post: bool, url: &str) -> Result<(), String> {
        let sent = Instant::now();
        let request = if post {
            let n = self.renames.fetch_add(1, Ordering::Relaxed);
            self.http
                .post(url)
                .header("content-type", "application/json")
                .body(format!(r#"{{"name":"renamed-{n}"}}"#))
        } else {
            self.http.get(url)
        };
        let body = fetch(request).await.map_err(|e| format!("{url}: {e}"))?;
        let rows = rows_of(&body);
        if post {
            let (key, version) = rows.first().ok_or_else(|| format!("{url}: no row"))?;
            self.log.record(*key, *version, Some(proc));
            return Ok(());
        }
        for (key, version) in rows {
            self.check(key, version, sent, proc);
        }
        Ok(())
    }

    /// Counts a read of `key` at `version`, sent at `sent` to process `proc`, that is older than
    /// the write log allows.
    pub fn check(&self, key: RowKey, version: i64, sent: Instant, proc: usize) {
        let s = &self.staleness;
        s.rows_checked.fetch_add(1, Ordering::Relaxed);
        if let Some(why) = self.log.violation(key, version, sent, proc) {
            s.stale.fetch_add(1, Ordering::Relaxed);
            let mut samples = s.samples.lock().expect("samples lock");
            if samples.len() < 10 {
                samples.push(why);
            }
        }
    }

    async fn plain_vote(&self, id: i64) -> Result<(), String> {
        let sql = "UPDATE svc_posts SET votes = votes + 1, version = version + 1 \
                   WHERE id = $1 RETURNING version";
        let version = self.plain(sql, vec![id.into()]).await?;
        self.log.record(RowKey::Post(id), version, None);
        Ok(())
    }

    async fn plain_rename(&self, u: usize) -> Result<(), String> {
        let n = self.renames.fetch_add(1, Ordering::Relaxed);
        let sql = "UPDATE svc_users SET name = $2, version = version + 1 \
                   WHERE id = $1 RETURNING version";
        let values = vec![user_id(u).into(), format!("plain-{n}").into()];
        let version = self.plain(sql, values).await?;
        self.log
            .record(RowKey::User(user_id(u).as_u128()), version, None);
        Ok(())
    }

    async fn plain(&self, sql: &str, values: Vec<sea_orm::Value>) -> Result<i64, String> {
        let stmt = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(|e| e.to_string())?;
        let row = row.ok_or("plain write: no such row")?;
        row.try_get::<i64>("", "version").map_err(|e| e.to_string())
    }
}

/// GETs or POSTs and returns the JSON body of a 2xx answer.
pub async fn fetch(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| chain(&e))?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| chain(&e))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        return Err(format!("{status}: {text}"));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("bad JSON: {e}"))
}

/// An error with its sources: reqwest's own message hides the cause (refused, reset, timeout).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The rows in a response (one object or an array of them) with their versions; objects
/// without an id and a version (the stats aggregate) carry none.
pub fn rows_of(body: &Value) -> Vec<(RowKey, i64)> {
    let one = |v: &Value| {
        let version = v.get("version")?.as_i64()?;
        let key = match v.get("id")? {
            Value::String(s) => RowKey::User(Uuid::parse_str(s).ok()?.as_u128()),
            id => RowKey::Post(id.as_i64()?),
        };
        Some((key, version))
    };
    match body {
        Value::Array(items) => items.iter().filter_map(one).collect(),
        v => one(v).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_carry_their_key_and_version() {
        let user = serde_json::json!({"id": user_id(0).to_string(), "name": "a", "version": 3});
        assert_eq!(rows_of(&user), vec![(RowKey::User(1), 3)]);
        let posts = serde_json::json!([{"id": 4, "version": 1}, {"id": 5, "version": 2}]);
        assert_eq!(
            rows_of(&posts),
            vec![(RowKey::Post(4), 1), (RowKey::Post(5), 2)]
        );
        assert!(rows_of(&serde_json::json!({"posts": 3, "votes": 9})).is_empty());
    }

    #[test]
    fn the_mix_has_five_percent_writes_split_evenly() {
        let mix = Mix::new(100, 500, 0.05);
        let mut rng = Rng::new(3);
        let (mut writes, mut plain, n) = (0, 0, 100_000);
        for _ in 0..n {
            match mix.next(&mut rng) {
                Op::Vote(_) | Op::Rename(_) => writes += 1,
                Op::PlainVote(_) | Op::PlainRename(_) => plain += 1,
                _ => {}
            }
        }
        let share = |k: i32| k as f64 / n as f64;
        assert!(
            (share(writes + plain) - 0.05).abs() < 0.005,
            "{writes} {plain}"
        );
        assert!((share(plain) - 0.025).abs() < 0.004, "{plain}");
    }
}
