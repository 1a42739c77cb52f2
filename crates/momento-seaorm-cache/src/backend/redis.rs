//! Redis or Valkey, single node or cluster, through the `redis` crate (feature `redis`).
//!
//! The `redis` crate is the client the Rust Redis community maintains: a multiplexed async
//! connection that reconnects by itself (`ConnectionManager`), a cluster client that follows
//! slot moves and failovers and splits a multi-key `MGET` by slot (`ClusterConnection`), and TLS
//! through its rustls features (feature `redis-tls` here, `rediss://` URLs).
//!
//! ```text
//! get       ─► GET key
//! get_many  ─► MGET k1 k2 k3 (single node: one command; cluster: the keys carry their table
//!              as a hash tag, so a one-table read's keys are one MGET to one node; the client
//!              splits any other batch by node and sends the parts together)
//! set       ─► SET key value PX ttl_ms
//! set_many  ─► one SET … PX per item, pipelined on the multiplexed connection
//! set_if_absent ─► SET key value NX PX ttl_ms
//! delete    ─► DEL key
//! with wait_for_replicas(n, t): set_many and delete then ─► WAIT n t (every primary of a
//!              cluster); fewer than n replicas acknowledging is a fault
//! ```
//!
//! **Replicas and failover.** Redis replicates asynchronously: a primary that acknowledged a
//! generation bump and died before its replica received it is replaced by a replica holding the
//! *older* generation, and values stamped with it are current again. `wait_for_replicas` closes
//! that: a bump (and an explicit invalidation's delete) returns only once `n` replicas hold it;
//! one that does not reach them in time is a cache fault, so the bump is owed — this process
//! bypasses the reads it affects and retries it until recorded — exactly as when the cache is
//! down. Without it, a failover can bring back values up to the replication lag old.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, RedisError, Value};
use tokio::sync::OnceCell;

use super::CacheBackend;
use crate::error::{CacheFault, ConfigError, FaultKind};

/// Redis's largest string value (`proto-max-bulk-len`), 512 MiB.
pub const REDIS_MAX_ITEM_BYTES: usize = 512 * 1024 * 1024;

/// How long the client waits to open a connection before the call counts as a fault (the
/// cache's own deadline, 200 ms by default, cuts every call shorter anyway).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A [`CacheBackend`] on Redis or Valkey: one node (`url`) or a cluster (`cluster`).
///
/// Building it opens no connection and needs no runtime: the first call connects, and a server
/// that is down then is a cache fault (the read goes to the database), not a failure of the
/// application's start.
/// Its `Debug` output names the nodes' hosts, never a password.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use momento_seaorm_cache::{ModelCache, RedisBackend};
/// let backend = RedisBackend::builder()
///     .url("redis://:secret@127.0.0.1:6379/0")
///     .default_ttl(Duration::from_secs(300))
///     .build()?;
/// let shown = format!("{backend:?}");
/// assert!(shown.contains("127.0.0.1:6379") && !shown.contains("secret"), "{shown}");
/// let cache = ModelCache::builder(backend).build()?;
/// assert_eq!(cache.ttl(), Duration::from_secs(300));
/// # Ok(()) }
/// ```
pub struct RedisBackend {
    connection: Connection,
    nodes: Vec<String>,
    default_ttl: Duration,
    replicas: Option<Replicas>,
    hash_tags: bool,
}

/// How many replicas must acknowledge a bump, and how long to wait for them.
#[derive(Debug, Clone, Copy)]
struct Replicas {
    count: u32,
    timeout: Duration,
}

/// The client: one multiplexed connection to one node, or a cluster connection, each made by
/// the first call (inside the application's runtime; a failed open is retried by the next).
enum Connection {
    Single(Box<Single>),
    Cluster(Box<Cluster>),
}

/// One node's client and its self-reconnecting connection, made by the first call.
struct Single {
    client: redis::Client,
    config: ConnectionManagerConfig,
    manager: OnceCell<ConnectionManager>,
}

/// A cluster client and its connection, opened by the first call that needs it.
struct Cluster {
    client: ClusterClient,
    connection: OnceCell<ClusterConnection>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.connection {
            Connection::Single(_) => "single",
            Connection::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisBackend")
            .field("kind", &kind)
            .field("nodes", &self.nodes)
            .field("default_ttl", &self.default_ttl)
            .field("replicas", &self.replicas.map(|r| r.count))
            .field("hash_tags", &self.hash_tags)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RedisBackend`]: give one node's URL or a cluster's.
#[derive(Default)]
pub struct RedisBackendBuilder {
    url: Option<String>,
    cluster: Option<Vec<String>>,
    default_ttl: Option<Duration>,
    replicas: Option<(u32, Duration)>,
    hash_tags: Option<bool>,
    /// PEM root certificates that `rediss://` servers are verified against, instead of the
    /// public roots.
    #[cfg(feature = "redis-tls")]
    tls_roots: Option<Vec<u8>>,
}

impl std::fmt::Debug for RedisBackendBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts = |urls: &[String]| urls.iter().map(|u| host_of(u)).collect::<Vec<_>>();
        f.debug_struct("RedisBackendBuilder")
            .field("url", &self.url.as_deref().map(host_of))
            .field("cluster", &self.cluster.as_deref().map(hosts))
            .field("default_ttl", &self.default_ttl)
            .field("replicas", &self.replicas)
            .field("hash_tags", &self.hash_tags)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// A builder; `url` or `cluster` is required, the TTL defaults to 60 seconds.
    ///
    /// ```
    /// use momento_seaorm_cache::RedisBackend;
    /// let error = RedisBackend::builder().build().unwrap_err();
    /// assert!(error.to_string().contains(".url("), "{error}");
    /// ```
    pub fn builder() -> RedisBackendBuilder {
        RedisBackendBuilder::default()
    }

    /// Whether this backend talks to a cluster.
    ///
    /// ```
    /// use momento_seaorm_cache::RedisBackend;
    /// let backend = RedisBackend::builder()
    ///     .cluster(["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"])
    ///     .build()?;
    /// assert!(backend.is_cluster());
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn is_cluster(&self) -> bool {
        matches!(self.connection, Connection::Cluster(_))
    }

    /// With `wait_for_replicas`: waits until that many replicas hold this connection's writes;
    /// fewer within the timeout is a fault.
    async fn replicated(&self) -> Result<(), CacheFault> {
        let Some(Replicas { count, timeout }) = self.replicas else {
            return Ok(());
        };
        let timeout_ms = timeout.as_millis().max(1) as u64;
        let acknowledged: i64 = self
            .query(redis::cmd("WAIT").arg(count).arg(timeout_ms))
            .await?;
        if acknowledged >= i64::from(count) {
            return Ok(());
        }
        Err(CacheFault::new(
            FaultKind::Unavailable,
            format!(
                "{acknowledged} of {count} replicas acknowledged the write within {timeout_ms} ms"
            ),
        ))
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<T, CacheFault> {
        match &self.connection {
            Connection::Single(single) => {
                let Single {
                    client,
                    config,
                    manager,
                } = single.as_ref();
                let manager = manager
                    .get_or_try_init(|| async {
                        // Lazy: it connects on its first command, and reconnects by itself.
                        ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
                    })
                    .await
                    .map_err(fault)?;
                let mut manager = manager.clone();
                cmd.query_async(&mut manager).await.map_err(fault)
            }
            Connection::Cluster(cluster) => {
                let Cluster { client, connection } = cluster.as_ref();
                let connection = connection
                    .get_or_try_init(|| client.get_async_connection())
                    .await
                    .map_err(fault)?;
                let mut connection = connection.clone();
                cmd.query_async(&mut connection).await.map_err(fault)
            }
        }
    }
}

impl RedisBackendBuilder {
    /// One Redis or Valkey node: `redis://[:password@]host:port[/db]`, or `rediss://` for TLS
    /// (feature `redis-tls`).
    ///
    /// ```
    /// use momento_seaorm_cache::RedisBackend;
    /// let backend = RedisBackend::builder().url("redis://127.0.0.1:6379").build()?;
    /// assert!(!backend.is_cluster());
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// A Redis or Valkey cluster, by the URLs of some of its nodes (the client learns the rest).
    ///
    /// ```
    /// use momento_seaorm_cache::RedisBackend;
    /// let error = RedisBackend::builder()
    ///     .url("redis://127.0.0.1:6379")
    ///     .cluster(["redis://127.0.0.1:7000"])
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.to_string().contains("either"), "{error}");
    /// ```
    pub fn cluster<S: Into<String>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        self.cluster = Some(urls.into_iter().map(Into::into).collect());
        self
    }

    /// The TTL used when neither the cache nor the query sets one (default 60 seconds).
    ///
    /// ```
    /// use std::time::Duration;
    /// use momento_seaorm_cache::RedisBackend;
    /// let error = RedisBackend::builder()
    ///     .url("redis://127.0.0.1:6379")
    ///     .default_ttl(Duration::ZERO)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.to_string().contains("zero"), "{error}");
    /// ```
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// Makes every generation bump and every explicit delete wait until `replicas` replicas
    /// acknowledge it (Redis's `WAIT`, on every primary of a cluster), at most `timeout`; fewer
    /// is a cache fault, so the bump is owed and retried. Use it where replicas can be promoted
    /// (a cluster with replicas, Sentinel): without it, a failover can revive values older than
    /// a write that returned. Keep `timeout` well under the cache's deadline (200 ms default).
    ///
    /// ```
    /// use std::time::Duration;
    /// use momento_seaorm_cache::RedisBackend;
    /// let backend = RedisBackend::builder()
    ///     .cluster(["redis://127.0.0.1:7000"])
    ///     .wait_for_replicas(1, Duration::from_millis(50))
    ///     .build()?;
    /// assert!(format!("{backend:?}").contains("replicas: Some(1)"));
    /// let error = RedisBackend::builder()
    ///     .url("redis://127.0.0.1:6379")
    ///     .wait_for_replicas(1, Duration::ZERO)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.to_string().contains("wait_for_replicas"), "{error}");
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn wait_for_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.replicas = Some((replicas, timeout));
        self
    }

    /// On a cluster, whether keys carry their main table as a hash tag (default: yes). With it, a
    /// one-table read's value and generation keys share a slot, so a hit is one `MGET` to one
    /// node; the price is that all of a table's keys live on one node, so one hot table loads
    /// one node. Without it keys spread over every node and a hit reads from up to three nodes
    /// at once (the client splits the `MGET` by slot). No effect on one node.
    ///
    /// ```
    /// use momento_seaorm_cache::RedisBackend;
    /// let spread = RedisBackend::builder()
    ///     .cluster(["redis://127.0.0.1:7000"])
    ///     .hash_tags(false)
    ///     .build()?;
    /// assert!(format!("{spread:?}").contains("hash_tags: false"));
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn hash_tags(mut self, hash_tags: bool) -> Self {
        self.hash_tags = Some(hash_tags);
        self
    }

    /// Verifies `rediss://` servers against these PEM root certificates (a private CA, or a
    /// self-signed server) instead of the public roots (feature `redis-tls`). Every URL must
    /// then be `rediss://`; a bad PEM fails at `build()`.
    ///
    /// ```
    /// use momento_seaorm_cache::RedisBackend;
    /// let error = RedisBackend::builder()
    ///     .url("redis://127.0.0.1:6379")
    ///     .tls_root_certificates(b"-----BEGIN CERTIFICATE-----".to_vec())
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.to_string().contains("rediss://"), "{error}");
    /// ```
    #[cfg(feature = "redis-tls")]
    pub fn tls_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_roots = Some(pem.into());
        self
    }

    /// Checks the settings and makes the client; connects on first use.
    ///
    /// ```
    /// use momento_seaorm_cache::RedisBackend;
    /// let error = RedisBackend::builder().url("http://127.0.0.1:6379").build().unwrap_err();
    /// assert!(error.to_string().contains("redis://"), "{error}");
    /// ```
    pub fn build(self) -> Result<RedisBackend, ConfigError> {
        let default_ttl = self.default_ttl.unwrap_or(Duration::from_secs(60));
        if default_ttl.is_zero() {
            return Err(ConfigError::ZeroTtl {
                what: "RedisBackend's default_ttl",
            });
        }
        let replicas = match self.replicas {
            None => None,
            Some((count, timeout)) if count > 0 && !timeout.is_zero() => {
                Some(Replicas { count, timeout })
            }
            Some(_) => {
                return Err(redis_config(
                    "wait_for_replicas needs at least one replica and a non-zero timeout \
                     (Redis's WAIT with timeout 0 would block for ever)",
                ))
            }
        };
        let hash_tags = self.cluster.is_some() && self.hash_tags.unwrap_or(true);
        #[cfg(feature = "redis-tls")]
        let roots = self.tls_roots.as_deref();
        #[cfg(not(feature = "redis-tls"))]
        let roots = None;
        let (connection, nodes) = match (self.url, self.cluster) {
            (Some(url), None) => (single(&url, roots)?, vec![host_of(&url)]),
            (None, Some(urls)) if !urls.is_empty() => {
                let nodes = urls.iter().map(|u| host_of(u)).collect();
                (cluster(&urls, roots)?, nodes)
            }
            (None, Some(_)) => {
                return Err(redis_config("the cluster's list of node URLs is empty"))
            }
            (Some(_), Some(_)) => {
                return Err(redis_config(
                    "give either .url(..) for one node or .cluster(..) for a cluster, not both",
                ))
            }
            (None, None) => {
                return Err(redis_config(
                    "no server: give .url(\"redis://host:6379\") or .cluster([urls])",
                ))
            }
        };
        Ok(RedisBackend {
            connection,
            nodes,
            default_ttl,
            replicas,
            hash_tags,
        })
    }
}

fn redis_config(reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidRedis {
        reason: reason.into(),
    }
}

/// Rejects what is not a Redis URL, saying which schemes are.
fn checked(url: &str) -> Result<(), ConfigError> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        Some("redis" | "rediss" | "valkey" | "valkeys" | "redis+unix" | "unix") => Ok(()),
        _ => Err(redis_config(format!(
            "{} is not a Redis URL: use redis://host:6379 (rediss:// for TLS)",
            host_of(url)
        ))),
    }
}

/// Whether `url` connects over TLS.
fn is_tls(url: &str) -> bool {
    url.starts_with("rediss://") || url.starts_with("valkeys://")
}

/// Checks `url`; with root certificates it must be TLS, or the roots would silently go unused.
/// A TLS URL gets rustls's ring provider installed as the process default when none is: the
/// redis crate builds its TLS configuration from the process default, and rustls cannot pick
/// one on its own when several are compiled in (as with Momento's), so the first handshake
/// would panic.
fn checked_tls(url: &str, roots: Option<&[u8]>) -> Result<(), ConfigError> {
    checked(url)?;
    if roots.is_some() && !is_tls(url) {
        return Err(redis_config(format!(
            "tls_root_certificates is set but {} is not a TLS URL: use rediss://",
            host_of(url)
        )));
    }
    #[cfg(feature = "redis-tls")]
    if is_tls(url) && rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only when another thread installed one meanwhile: that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    Ok(())
}

/// Checks PEM root certificates, if any: at least one, all parse.
fn checked_roots(roots: Option<&[u8]>) -> Result<(), ConfigError> {
    #[cfg(feature = "redis-tls")]
    if let Some(pem) = roots {
        return parsed_roots(pem);
    }
    let _ = roots; // always None without the feature
    Ok(())
}

#[cfg(feature = "redis-tls")]
fn parsed_roots(pem: &[u8]) -> Result<(), ConfigError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let parsed: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
    match parsed {
        Ok(certificates) if !certificates.is_empty() => Ok(()),
        Ok(_) => Err(redis_config(
            "tls_root_certificates holds no PEM certificate",
        )),
        Err(e) => Err(redis_config(format!(
            "tls_root_certificates is not valid PEM: {e}"
        ))),
    }
}

/// The PEM roots as the client takes them.
#[cfg(feature = "redis-tls")]
fn certificates(roots: &[u8]) -> redis::TlsCertificates {
    redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(roots.to_vec()),
    }
}

fn single(url: &str, roots: Option<&[u8]>) -> Result<Connection, ConfigError> {
    checked_tls(url, roots)?;
    checked_roots(roots)?;
    let client = match roots {
        #[cfg(feature = "redis-tls")]
        Some(roots) => redis::Client::build_with_tls(url, certificates(roots)),
        _ => redis::Client::open(url),
    };
    let client = client.map_err(|e| redis_config(redacted(&e, url)))?;
    // No response timeout of the client's own (its default is 500 ms): every call already runs
    // under the cache's deadline (`guarded.rs`), and a second timer per call costs a hit ~1k
    // instructions (`docs/performance.md`).
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(None)
        .set_number_of_retries(1);
    Ok(Connection::Single(Box::new(Single {
        client,
        config,
        manager: OnceCell::new(),
    })))
}

fn cluster(urls: &[String], roots: Option<&[u8]>) -> Result<Connection, ConfigError> {
    for url in urls {
        checked_tls(url, roots)?;
    }
    checked_roots(roots)?;
    let builder =
        ClusterClient::builder(urls.iter().map(String::as_str)).connection_timeout(CONNECT_TIMEOUT);
    #[cfg(feature = "redis-tls")]
    let builder = match roots {
        Some(roots) => builder.certs(certificates(roots)),
        None => builder,
    };
    let client = builder.build().map_err(|e| redis_config(e.to_string()))?;
    Ok(Connection::Cluster(Box::new(Cluster {
        client,
        connection: OnceCell::new(),
    })))
}

/// `host:port` of a URL, without user or password (for `Debug` and errors).
pub(crate) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

/// The client's error text, with the URL's password taken out should it appear.
fn redacted(error: &RedisError, url: &str) -> String {
    let text = error.to_string();
    match url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
    {
        Some((credentials, _)) if !credentials.is_empty() => {
            text.replace(credentials, "<redacted>")
        }
        _ => text,
    }
}

/// Maps a client error to the fault kind the breaker and the counters use.
fn fault(error: RedisError) -> CacheFault {
    let kind = if error.is_timeout() {
        FaultKind::Timeout
    } else if error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_io_error()
        || error.is_cluster_error()
    {
        FaultKind::Unavailable
    } else if error.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(error.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"))
    {
        FaultKind::Authentication
    } else if matches!(error.code(), Some("OOM")) {
        FaultKind::LimitExceeded
    } else {
        FaultKind::Other
    };
    CacheFault::new(kind, error.to_string())
}

/// `PX` milliseconds: at least one (Redis rejects zero).
fn ttl_ms(ttl: Duration) -> u64 {
    (ttl.as_millis() as u64).max(1)
}

fn set_cmd(key: &str, value: &[u8], ttl: Duration) -> Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value).arg("PX").arg(ttl_ms(ttl));
    cmd
}

#[async_trait]
impl CacheBackend for RedisBackend {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheFault> {
        self.query(redis::cmd("GET").arg(key)).await
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>, CacheFault> {
        self.query(redis::cmd("MGET").arg(keys)).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheFault> {
        self.query::<()>(&set_cmd(key, &value, ttl)).await
    }

    async fn set_many(&self, items: &[(&str, Vec<u8>)], ttl: Duration) -> Result<(), CacheFault> {
        let sets = items.iter().map(|(key, value)| set_cmd(key, value, ttl));
        let sets: Vec<Cmd> = sets.collect();
        futures::future::try_join_all(sets.iter().map(|cmd| self.query::<()>(cmd))).await?;
        self.replicated().await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheFault> {
        self.query::<()>(redis::cmd("DEL").arg(key)).await?;
        self.replicated().await
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, CacheFault> {
        let mut cmd = set_cmd(key, &value, ttl);
        cmd.arg("NX");
        let reply: Value = self.query(&cmd).await?;
        Ok(!matches!(reply, Value::Nil))
    }

    fn supports_set_if_absent(&self) -> bool {
        true
    }

    fn default_ttl(&self) -> Option<Duration> {
        Some(self.default_ttl)
    }

    fn max_item_bytes(&self) -> Option<usize> {
        Some(REDIS_MAX_ITEM_BYTES)
    }

    fn hash_tags(&self) -> bool {
        self.hash_tags
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_errors_never_carry_the_password() {
        assert_eq!(host_of("redis://:hunter2@cache:6379/3"), "cache:6379");
        assert_eq!(host_of("rediss://user:hunter2@cache:6380"), "cache:6380");
        assert_eq!(host_of("redis://cache"), "cache");
        let error = RedisBackend::builder()
            .url("http://user:hunter2@cache:6379")
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            !error.contains("hunter2") && error.contains("cache:6379"),
            "{error}"
        );
        let builder = RedisBackend::builder().cluster(["redis://:hunter2@a:7000"]);
        let shown = format!("{builder:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("a:7000"),
            "{shown}"
        );
    }

    #[test]
    fn a_ttl_below_a_millisecond_is_one_millisecond() {
        assert_eq!(ttl_ms(Duration::from_micros(10)), 1);
        assert_eq!(ttl_ms(Duration::from_secs(2)), 2000);
    }
}
