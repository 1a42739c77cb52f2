//! Redis for the tests: the machine's server (`REDIS_URL`, default `redis://127.0.0.1:6379`),
//! and `redis-server` processes of the test's own on loopback ports (one node that a test may
//! kill and restart, or a three-primary cluster).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use momento_seaorm_cache::{ModelCache, ModelCacheBuilder, RedisBackend};

fn required() -> bool {
    std::env::var("REQUIRE_DATABASES").is_ok_and(|v| v == "1")
}

/// Skips (returns `None`, printing why) unless REQUIRE_DATABASES=1, which fails instead.
pub fn skip<T>(message: String) -> Option<T> {
    if required() {
        panic!("REQUIRE_DATABASES=1 but {message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// Whether a PING on `url` answers within two seconds.
pub async fn ping(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let attempt = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    }
}

/// The machine's Redis, or `None` (printed) when it does not answer.
pub async fn shared_url() -> Option<String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    match ping(&url).await {
        Ok(()) => Some(url),
        Err(e) => skip(format!(
            "Redis at {url} is not reachable: {e} (set REDIS_URL)"
        )),
    }
}

/// A key prefix no other test uses, so tests can share one server.
pub fn unique_prefix(name: &str) -> String {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{name}-{}-{n}", std::process::id())
}

/// A `ModelCache` on `backend` under `prefix`, configured by `configure`.
pub fn model_cache(
    backend: RedisBackend,
    prefix: &str,
    configure: impl FnOnce(ModelCacheBuilder) -> ModelCacheBuilder,
) -> ModelCache {
    configure(ModelCache::builder(backend).key_prefix(prefix))
        .build()
        .expect("ModelCache on Redis")
}

/// A raw client, to read and delete what the library stored.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("raw redis connection")
}

/// A free loopback port (the OS picks one; nothing holds it after this returns). For a cluster
/// node, also its bus port (the port + 10000) is free and in range, or `redis-server` exits.
pub fn free_port(cluster: bool) -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let bus_free =
            || port <= 55_535 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok();
        if !cluster || bus_free() {
            return port;
        }
    }
}

/// Attempts at starting a server on a free port: another process may take the port between
/// the pick and the server's bind, and the server then exits.
const START_ATTEMPTS: usize = 5;

/// A `redis-server` process of this test's own, killed on drop.
pub struct OwnServer {
    pub port: u16,
    args: Vec<String>,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnServer {
    /// Starts `redis-server` on a free port with `args`, persistence off; `None` (printed)
    /// when the binary is missing.
    pub async fn start(args: &[&str]) -> Option<OwnServer> {
        let dir = std::env::temp_dir().join(unique_prefix("msc-redis"));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let cluster = args.contains(&"--cluster-enabled");
        let mut server = OwnServer {
            port: free_port(cluster),
            args: args.iter().map(|a| a.to_string()).collect(),
            dir,
            child: None,
        };
        for attempt in 1..=START_ATTEMPTS {
            if let Err(e) = server.spawn() {
                return skip(format!(
                    "redis-server could not start: {e} (install redis-server)"
                ));
            }
            match server.ready_or_exited().await {
                Ok(()) => return Some(server),
                Err(e) if attempt < START_ATTEMPTS => {
                    eprintln!("redis-server on {}: {e}; another port", server.port);
                    server.kill();
                    server.port = free_port(cluster);
                }
                Err(e) => panic!("redis-server did not start in {START_ATTEMPTS} attempts: {e}"),
            }
        }
        unreachable!("every attempt returns or panics")
    }

    /// Waits until the server answers; `Err` when its process exited first (its port was
    /// taken) or it did not answer within 10 s.
    async fn ready_or_exited(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            let error = match ping(&self.url()).await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                return Err(format!("exited ({status}) before answering: {error}"));
            }
            if started.elapsed() >= Duration::from_secs(10) {
                return Err(format!("did not answer in 10 s: {error}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// Kills the process (SIGKILL: nothing is flushed) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// Starts it again on the same port, empty.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().expect("restart redis-server");
        if let Err(e) = self.ready_or_exited().await {
            panic!("redis-server on {}: {e}", self.port);
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.kill();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// A three-primary Redis cluster of this test's own, on loopback.
pub struct OwnCluster {
    pub nodes: Vec<OwnServer>,
}

impl OwnCluster {
    /// Starts three `redis-server`s in cluster mode and joins them with `redis-cli --cluster
    /// create`; `None` (printed) when the binaries are missing.
    pub async fn start() -> Option<OwnCluster> {
        OwnCluster::with_replicas(0).await
    }

    /// Three primaries with `replicas` replicas each (`DEBUG` enabled, a one-second node
    /// timeout, so a test can stall a replica and fail a primary over).
    pub async fn with_replicas(replicas: usize) -> Option<OwnCluster> {
        let mut nodes = Vec::new();
        for _ in 0..3 * (1 + replicas) {
            let node = OwnServer::start(&[
                "--cluster-enabled",
                "yes",
                "--cluster-node-timeout",
                "1000",
                "--enable-debug-command",
                "yes",
                // A replica's first sync starts at once, and a replica stalled by a test may
                // still be promoted (the default refuses one out of touch for ~20 s).
                "--repl-diskless-sync-delay",
                "0",
                "--cluster-replica-validity-factor",
                "0",
            ])
            .await?;
            nodes.push(node);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        match created {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => {
                return skip(format!(
                    "redis-cli could not run: {e} (install redis-tools)"
                ))
            }
        }
        let cluster = OwnCluster { nodes };
        cluster.wait_ok().await;
        if replicas > 0 {
            cluster.wait_replicas_synced().await;
        }
        Some(cluster)
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(OwnServer::url).collect()
    }

    /// Waits until every running node reports `cluster_state:ok` (a node that does not answer
    /// yet, e.g. stalled by `DEBUG SLEEP`, is asked again).
    pub async fn wait_ok(&self) {
        let started = Instant::now();
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            loop {
                let info = async {
                    let client = redis::Client::open(node.url())?;
                    let mut conn = client.get_multiplexed_async_connection().await?;
                    redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query_async::<String>(&mut conn)
                        .await
                };
                let info = info.await.unwrap_or_else(|e| e.to_string());
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "the cluster did not become ok: {info}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// A `RedisBackend` on this cluster.
    pub fn backend(&self) -> RedisBackend {
        RedisBackend::builder()
            .cluster(self.urls())
            .build()
            .expect("cluster RedisBackend")
    }

    /// Waits until every replica's link to its primary is up (`ROLE` says `connected`).
    async fn wait_replicas_synced(&self) {
        let started = Instant::now();
        for node in &self.nodes {
            loop {
                let mut conn = raw(&node.url()).await;
                let role: Vec<redis::Value> = redis::cmd("ROLE")
                    .query_async(&mut conn)
                    .await
                    .expect("ROLE");
                let state = |i: usize| match role.get(i) {
                    Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                    Some(redis::Value::SimpleString(s)) => s.clone(),
                    _ => String::new(),
                };
                if state(0) != "slave" || state(3) == "connected" {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "replica on {} not in sync: {role:?}",
                    node.port
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// The index of the node that replicates the node at `primary`, if one does.
    pub async fn replica_of(&self, primary: usize) -> Option<usize> {
        let port = self.nodes[primary].port;
        for (index, node) in self.nodes.iter().enumerate() {
            let mut conn = raw(&node.url()).await;
            let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await.ok()?;
            let text = |v: &redis::Value| match v {
                redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                redis::Value::SimpleString(s) => s.clone(),
                redis::Value::Int(i) => i.to_string(),
                _ => String::new(),
            };
            if role.len() >= 3 && text(&role[0]) == "slave" && text(&role[2]) == port.to_string() {
                return Some(index);
            }
        }
        None
    }

    /// The node that serves `key`'s slot: the one that answers for it rather than with MOVED.
    pub async fn node_of(&self, key: &str) -> usize {
        for (index, node) in self.nodes.iter().enumerate() {
            if node.child.is_none() {
                continue;
            }
            let mut conn = raw(&node.url()).await;
            let answered: redis::RedisResult<i64> =
                redis::cmd("EXISTS").arg(key).query_async(&mut conn).await;
            if answered.is_ok() {
                return index;
            }
        }
        panic!("no node serves the slot of {key}")
    }
}

/// The store of a `TestCache` under `TEST_CACHE_STORE=redis` (one node) or `redis-cluster`.
pub enum OwnStore {
    Single(OwnServer),
    Cluster(OwnCluster),
}

impl OwnStore {
    /// Starts one node or a three-primary cluster; fails when they cannot start (asked for).
    pub async fn start(cluster: bool) -> OwnStore {
        match cluster {
            false => OwnStore::Single(OwnServer::start(&[]).await.expect("redis-server")),
            true => OwnStore::Cluster(OwnCluster::start().await.expect("a redis cluster")),
        }
    }

    pub fn backend(&self) -> RedisBackend {
        match self {
            OwnStore::Single(server) => RedisBackend::builder()
                .url(server.url())
                .build()
                .expect("RedisBackend"),
            OwnStore::Cluster(cluster) => cluster.backend(),
        }
    }

    /// Runs one command (on the node that holds its key).
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        match self {
            OwnStore::Single(server) => {
                let mut conn = raw(&server.url()).await;
                cmd.query_async(&mut conn).await.expect("raw redis command")
            }
            OwnStore::Cluster(cluster) => {
                let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
                let mut conn = client.get_async_connection().await.unwrap();
                cmd.query_async(&mut conn)
                    .await
                    .expect("raw cluster command")
            }
        }
    }
}
