//! What the program's tests share: a database of one's own (a PostgreSQL schema or a MariaDB
//! database with one table), the program started as a child process, an "app" cache gating on
//! its heartbeat, and a plain HTTP GET.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use momento_lite::{LiteServer, MomentoLite};
use momento_seaorm_cache::{CacheStatus, InvalidatorHealth, ModelCache, MomentoBackend};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const CACHE_NAME: &str = "program-cache";
pub const PREFIX: &str = "app";

/// The table the tests read.
pub mod item {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
    #[sea_orm(table_name = "items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Which database a test follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Postgres,
    MySql,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call, ending in the pid (`.ci/run` drops the slots of
/// dead test processes by that suffix).
pub fn unique(tag: &str) -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("msc_{tag}{n}_{}", std::process::id())
}

fn required() -> bool {
    std::env::var("REQUIRE_DATABASES").is_ok_and(|v| v == "1")
}

/// A schema (PostgreSQL) or database (MariaDB) with `items` (1, 'one'); the URL the program
/// follows and the connection the app reads with.
pub struct TestDb {
    pub kind: Db,
    /// The server URL the program follows.
    pub url: String,
    /// The schema / database to watch.
    pub schema: String,
    pub conn: DatabaseConnection,
    admin: DatabaseConnection,
}

impl TestDb {
    /// `None` (printing why) when the server is absent or not set up for change capture,
    /// unless REQUIRE_DATABASES=1, which fails instead.
    pub async fn new(kind: Db) -> Option<TestDb> {
        let (var, default) = match kind {
            Db::Postgres => (
                "DATABASE_URL_POSTGRES",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            Db::MySql => ("DATABASE_URL_MYSQL", "mysql://root@127.0.0.1:3306/test"),
        };
        let url = std::env::var(var).unwrap_or_else(|_| default.to_owned());
        let mut options = ConnectOptions::new(url.clone());
        options
            .connect_timeout(Duration::from_secs(3))
            .acquire_timeout(Duration::from_secs(3))
            .sqlx_logging(false);
        let admin = match Database::connect(options).await {
            Ok(admin) => admin,
            Err(e) => return skip(format!("{kind:?} at {url} is not reachable: {e}")),
        };
        if let Some(problem) = capture_problem(kind, &admin).await {
            return skip(problem);
        }
        let schema = unique("bin");
        let conn = match kind {
            Db::Postgres => {
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                    .await
                    .unwrap();
                let sep = if url.contains('?') { '&' } else { '?' };
                let scoped = format!("{url}{sep}options=-c%20search_path%3D{schema}");
                Database::connect(&scoped).await.expect("connect to schema")
            }
            Db::MySql => {
                admin
                    .execute_unprepared(&format!("CREATE DATABASE `{schema}`"))
                    .await
                    .unwrap();
                let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
                Database::connect(&format!("{base}/{schema}"))
                    .await
                    .expect("connect to database")
            }
        };
        conn.execute_unprepared(
            "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL)",
        )
        .await
        .unwrap();
        conn.execute_unprepared("INSERT INTO items VALUES (1, 'one')")
            .await
            .unwrap();
        Some(TestDb {
            kind,
            url,
            schema,
            conn,
            admin,
        })
    }

    /// Drops the schema / database and the replication slots of `names` (PostgreSQL).
    pub async fn cleanup(self, names: &[&str]) {
        self.conn.close().await.ok();
        let drop = match self.kind {
            Db::Postgres => format!("DROP SCHEMA \"{}\" CASCADE", self.schema),
            Db::MySql => format!("DROP DATABASE `{}`", self.schema),
        };
        self.admin.execute_unprepared(&drop).await.ok();
        if self.kind == Db::Postgres {
            for name in names {
                let _ =
                    momento_seaorm_cache::Invalidator::drop_postgres_slot(&self.url, name).await;
            }
        }
    }
}

fn skip(message: String) -> Option<TestDb> {
    if required() {
        panic!("REQUIRE_DATABASES=1 but {message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

async fn capture_problem(kind: Db, admin: &DatabaseConnection) -> Option<String> {
    use sea_orm::Statement;
    let backend = admin.get_database_backend();
    let (sql, want) = match kind {
        Db::Postgres => (
            "SELECT CAST(current_setting('wal_level') AS TEXT) AS v",
            "logical",
        ),
        Db::MySql => ("SELECT CAST(@@GLOBAL.binlog_format AS CHAR) AS v", "ROW"),
    };
    let row = admin
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .ok()??;
    let value: String = row.try_get("", "v").ok()?;
    (!value.eq_ignore_ascii_case(want)).then(|| {
        format!(
            "{kind:?} is not set up for change capture ({value}, needs {want}; .ci/run sets it)"
        )
    })
}

/// A momento-lite server with the tests' cache.
pub async fn momento_lite() -> LiteServer {
    MomentoLite::builder().start().await.expect("momento-lite")
}

/// Where the app and the program keep the cache: a momento-lite of the test's own, or Redis
/// (the machine's, 127.0.0.1:6379 or `REDIS_URL`) under a key prefix of the test's own.
pub enum Store {
    Lite(LiteServer),
    #[cfg(feature = "redis")]
    Redis {
        url: String,
        prefix: String,
    },
}

impl Store {
    /// A momento-lite of this test's own.
    pub async fn lite() -> Store {
        Store::Lite(momento_lite().await)
    }

    /// The machine's Redis; `None` (printed) when it does not answer, unless
    /// REQUIRE_DATABASES=1, which fails instead.
    #[cfg(feature = "redis")]
    pub async fn redis() -> Option<Store> {
        use momento_seaorm_cache::{CacheBackend, RedisBackend};
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let backend = RedisBackend::builder()
            .url(url.clone())
            .build()
            .expect("RedisBackend");
        let answered = tokio::time::timeout(Duration::from_secs(2), backend.get("ping")).await;
        if !matches!(answered, Ok(Ok(_))) {
            let message = format!("Redis at {url} does not answer: {answered:?} (set REDIS_URL)");
            if required() {
                panic!("REQUIRE_DATABASES=1 but {message}");
            }
            eprintln!("SKIPPED: {message}");
            return None;
        }
        let prefix = unique("app");
        Some(Store::Redis { url, prefix })
    }

    /// The applications' key prefix.
    pub fn prefix(&self) -> &str {
        match self {
            Store::Lite(_) => PREFIX,
            #[cfg(feature = "redis")]
            Store::Redis { prefix, .. } => prefix,
        }
    }

    /// The program's flags naming this store.
    fn program_args(&self) -> Vec<String> {
        let args: Vec<&str> = match self {
            Store::Lite(server) => {
                let endpoint = server.endpoint();
                return [
                    "--cache-name",
                    CACHE_NAME,
                    "--create-cache",
                    "--momento-lite-endpoint",
                    &endpoint,
                ]
                .map(String::from)
                .to_vec();
            }
            #[cfg(feature = "redis")]
            Store::Redis { url, .. } => vec!["--redis-url", url],
        };
        args.into_iter().map(String::from).collect()
    }
}

/// The "app": a cache on `store` gating on the heartbeats of `names` with `max_lag`.
pub async fn app_cache(store: &Store, names: &[&str], max_lag: Duration) -> ModelCache {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let gate = InvalidatorHealth::from_heartbeat(names, max_lag);
    let builder = match store {
        Store::Lite(server) => {
            let backend = MomentoBackend::builder()
                .credential_provider(server.credential_provider())
                .cache_name(CACHE_NAME)
                .create_cache_if_missing(true)
                .build()
                .await
                .expect("MomentoBackend");
            ModelCache::builder(backend)
        }
        #[cfg(feature = "redis")]
        Store::Redis { url, .. } => {
            let backend = momento_seaorm_cache::RedisBackend::builder()
                .url(url.clone())
                .build()
                .expect("RedisBackend");
            ModelCache::builder(backend)
        }
    };
    builder
        .key_prefix(store.prefix())
        .bypass_unless_caught_up(gate)
        .build()
        .expect("app cache")
}

/// Reads item 1 through `cache`: its status and name.
pub async fn read(cache: &ModelCache, db: &TestDb) -> (CacheStatus, String) {
    let read = cache
        .wrap(item::Entity)
        .find_by_pk_with_status(&db.conn, 1)
        .await
        .expect("read item 1");
    (read.status, read.value.expect("item 1").name)
}

/// Reads until a read is served from the cache (a hit), at most `tries` reads 50 ms apart;
/// the statuses seen on the way.
pub async fn read_until_hit(cache: &ModelCache, db: &TestDb, tries: usize) -> Vec<CacheStatus> {
    let mut seen = Vec::new();
    for _ in 0..tries {
        let (status, _) = read(cache, db).await;
        seen.push(status);
        if status == CacheStatus::Hit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

/// The program, running as a child process; killed when dropped.
pub struct Program {
    pub child: Child,
    pub addr: SocketAddr,
    _stdout: BufReader<ChildStdout>,
}

impl Program {
    /// Starts the program following `db` under `name`, on `store`'s cache, and waits for its
    /// "listening on" line.
    pub async fn start(db: &TestDb, store: &Store, name: &str, max_lag: Duration) -> Program {
        let mut child = Command::new(env!("CARGO_BIN_EXE_momento-seaorm-invalidator"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn,momento=error")
            .env("DATABASE_URL", &db.url)
            .args(["--name", name])
            .args(["--max-lag-ms", &max_lag.as_millis().to_string()])
            .args(["--watch-schema", &db.schema])
            .args(["--key-prefix", store.prefix()])
            .args(store.program_args())
            .args(["--poll-interval-ms", "20", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the program");
        let stdout = child.stdout.take().expect("stdout");
        let waited = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::task::spawn_blocking(move || {
                let mut reader = BufReader::new(stdout);
                let mut line = String::new();
                reader.read_line(&mut line).map(|_| (line, reader))
            }),
        )
        .await;
        let (line, reader) = match waited {
            Ok(Ok(Ok(read))) => read,
            other => {
                let _ = child.kill();
                panic!("the program did not say where it listens: {other:?}");
            }
        };
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Program {
            child,
            addr,
            _stdout: reader,
        }
    }

    /// Kills it at once (SIGKILL), as a crash would.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    /// Asks it to stop (SIGTERM) and waits until it has.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        assert!(sent.success());
        self.child.wait().expect("wait")
    }

    /// Waits until /healthz answers 200, at most `tries` times 100 ms apart; the last answer.
    pub async fn healthy(&self, tries: usize) -> (u16, String) {
        let mut last = (0, String::new());
        for _ in 0..tries {
            last = http_get(self.addr, "/healthz").await;
            if last.0 == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        last
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET: the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("receive");
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (code, body)
}
