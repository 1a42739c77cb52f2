//! A Momento-compatible cache server for tests and offline development.
//!
//! momento-lite speaks Momento's gRPC protocol through the server traits generated in the official
//! `momento-protos` crate, so the official `momento` SDK talks to it unchanged: point a
//! [`momento::CacheClient`] at [`LiteServer::credential_provider`] and every supported call works
//! as it does against the service, errors included. A [`momento::TopicClient`] built with the
//! same credential provider publishes and subscribes to topics on the same port.
//!
//! # Map of the crate
//! - [`MomentoLite`] (this file) — the builder: host, port, auth token, memory limit per cache,
//!   topic heartbeat interval and log length; `start()` binds and spawns
//!   the server on the current tokio runtime and returns a [`LiteServer`] handle with its
//!   endpoint, a ready credential provider, its [`FaultController`], eviction counts and
//!   [`CacheStats`], `reset_topics()`, `stop()` / `start_again()` / `restart()` on the same port,
//!   and a graceful `shutdown()`.
//! - [`credential_provider`] (`net`) — a `CredentialProvider` for any insecure
//!   Momento-compatible endpoint, built from a disposable token and the SDK's insecure override.
//! - `store` — the data: caches of items (byte values and sets of byte elements), millisecond
//!   TTLs, the 5 MiB item size limit, and per cache an optional memory limit with
//!   least-recently-used eviction (see [`MomentoLite::max_memory_bytes`]).
//! - `data` — the `Scs` data-plane service: scalar RPCs (`Get`, `Set`, the `SetIf` family,
//!   `Increment`, TTLs, batches) and set RPCs (`SetUnion`, `SetDifference`, `SetFetch`).
//! - `control` — the `ScsControl` control-plane service: create, list, flush, delete caches.
//! - `topics` — the `Pubsub` service (Momento Topics: `Publish`, `Subscribe`): `hub.rs` the
//!   topics of the server and their pages, `topic.rs` one topic's sequence counter and bounded
//!   log of recent messages, `stream.rs` one subscription stream (replay, heartbeats,
//!   discontinuities, its end). Semantics in the module's documentation.
//! - `auth` — the auth token check, a tonic interceptor in front of every service.
//! - `error` — store failures and the gRPC status (code plus `err` metadata) each one answers.
//! - `unimplemented` — every other RPC of the cache services answers `UNIMPLEMENTED`.
//! - [`faults`] — fault injection: [`Fault`]s (latency, error statuses) on chosen [`Rpc`]s,
//!   dropped connections and a request counter, and (`faults/topics.rs`) dropped or delayed topic
//!   messages, broken subscription streams and [`TopicCounts`], driven by a [`FaultController`].
//!
//! # What the SDK's `TopicClient` makes of a subscription (momento 0.70)
//! `TopicClient::subscribe` returns a `Subscription`, a `Stream` of `SubscriptionValue`s
//! (`kind`, `topic_sequence_number`, `topic_sequence_page`, `publisher_id`). It never yields
//! heartbeats or discontinuities: it skips heartbeats, and a discontinuity only moves its
//! resume point (number and page). When its stream ends or fails it does not end or report
//! anything: it resubscribes at once (and again after each failed attempt, without backoff),
//! with `resume_at_topic_sequence_number` = the number of the last value it yielded (or of the
//! last discontinuity; 0 if neither) and that page. Since a resume at N replays N, the value
//! yielded last before the break is yielded again (same number); a subscription that had
//! yielded nothing resumes at 0 and misses what was published in between.
//!
//! ```
//! use futures::StreamExt;
//! use momento::topics::{configurations::Laptop, ValueKind};
//! use momento::{CacheClient, TopicClient};
//! use momento_lite::MomentoLite;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = MomentoLite::builder().start().await?;
//! let cache = CacheClient::builder()
//!     .default_ttl(std::time::Duration::from_secs(60))
//!     .configuration(momento::cache::configurations::Laptop::latest())
//!     .credential_provider(server.credential_provider())
//!     .build()?;
//! cache.create_cache("cache").await?; // a topic lives in an existing cache
//! let topics = TopicClient::builder()
//!     .configuration(Laptop::latest())
//!     .credential_provider(server.credential_provider())
//!     .build()?;
//!
//! let mut subscription = topics.subscribe("cache", "invalidations").await?;
//! topics.publish("cache", "invalidations", "key-1").await?;
//! let value = subscription.next().await.expect("a subscription never ends");
//! assert_eq!(value.kind, ValueKind::Text("key-1".into()));
//! assert_eq!(value.topic_sequence_number, 1);
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The binary (`cargo run -p momento-lite -- --port 8080 [--auth-token T] [--max-memory-mb N]`)
//! runs the same server until ctrl-c.

#![warn(missing_docs)]

mod auth;
mod control;
mod data;
mod error;
pub mod faults;
mod net;
mod store;
mod topics;
mod unimplemented;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use momento::CredentialProvider;
use momento_protos::cache_client::pubsub::pubsub_server::PubsubServer;
use momento_protos::cache_client::scs_server::ScsServer;
use momento_protos::control_client::scs_control_server::ScsControlServer;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;

use crate::auth::TokenCheck;
use crate::control::ControlService;
use crate::data::DataService;
use crate::faults::FaultLayer;
use crate::net::bind;
use crate::store::Store;
use crate::topics::{PubsubService, TopicHub, TopicSettings};

pub use crate::faults::{Fault, FaultController, ParseRpcError, Rpc, RpcFilter, TopicCounts};
pub use crate::net::credential_provider;
pub use crate::store::{CacheStats, ITEM_OVERHEAD_BYTES, MAX_ITEM_SIZE};
pub use crate::topics::{MAX_TOPIC_MESSAGE_SIZE, REQUEST_SIZE_LIMIT_EXCEEDED};

/// The API key a [`LiteServer`] without an auth token hands to clients (it accepts any key).
const DUMMY_AUTH_TOKEN: &str = "momento-lite";

/// The largest request message the server decodes. Above the SDK's own 10,486,000-byte send
/// limit, so an oversized item reaches the item size check and is refused as Momento refuses it,
/// rather than failing in the transport.
const MAX_DECODING_MESSAGE_SIZE: usize = 32 * 1024 * 1024;

/// How long [`LiteServer::shutdown`] lets open connections drain before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The default interval of topic heartbeats, as Momento's.
const DEFAULT_TOPIC_HEARTBEAT: Duration = Duration::from_secs(5);

/// The default number of recent messages each topic keeps for resuming subscriptions.
const DEFAULT_TOPIC_BUFFER: usize = 1_000;

/// How often [`LiteServer::stop`] closes connections again while the server task winds down (a
/// connection accepted just before the stop signal still gets closed).
const STOP_POLL: Duration = Duration::from_millis(50);

/// Builds and starts a momento-lite server.
///
/// Defaults: host 127.0.0.1, port 0 (an ephemeral port, see [`LiteServer::addr`]), no auth, no
/// memory limit, topic heartbeats every 5 s, 1,000 messages kept per topic.
///
/// ```
/// use std::time::Duration;
///
/// use momento::cache::configurations::Laptop;
/// use momento::CacheClient;
/// use momento_lite::MomentoLite;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = MomentoLite::builder().start().await?;
/// let client = CacheClient::builder()
///     .default_ttl(Duration::from_secs(60))
///     .configuration(Laptop::latest())
///     .credential_provider(server.credential_provider())
///     .build()?;
///
/// client.create_cache("cache").await?;
/// client.set("cache", "greeting", "hello").await?;
/// let greeting: String = client.get("cache", "greeting").await?.try_into()?;
/// assert_eq!(greeting, "hello");
///
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MomentoLite {
    host: IpAddr,
    port: u16,
    auth_token: Option<String>,
    max_memory_bytes: Option<u64>,
    topics: TopicSettings,
}

impl MomentoLite {
    /// A builder with the defaults: 127.0.0.1, an ephemeral port, no auth, no memory limit.
    pub fn builder() -> MomentoLite {
        MomentoLite {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            auth_token: None,
            max_memory_bytes: None,
            topics: TopicSettings {
                heartbeat: DEFAULT_TOPIC_HEARTBEAT,
                buffer: DEFAULT_TOPIC_BUFFER,
            },
        }
    }

    /// The address to listen on (127.0.0.1 by default).
    pub fn host(mut self, host: impl Into<IpAddr>) -> Self {
        self.host = host.into();
        self
    }

    /// The port to listen on; 0 (the default) picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Requires every request to carry exactly this token in its `authorization` metadata;
    /// others are refused `UNAUTHENTICATED` (the SDK's `AuthenticationError`).
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(token.into());
        self
    }

    /// Gives every cache a memory limit of `bytes`, as a Momento cache has: a write that would
    /// take a cache over it first drops the cache's expired items, then evicts its least recently
    /// used items until the cache fits. The limit applies to each named cache on its own.
    ///
    /// - Each item is charged its key bytes plus its value bytes (a set: the sum of its elements)
    ///   plus [`ITEM_OVERHEAD_BYTES`]; an overwrite replaces the old charge, a delete, an expiry or
    ///   a flush frees it.
    /// - A use, which makes an item the most recently used: a `Get`/`GetBatch` or `SetFetch` hit,
    ///   and every write that stores or changes the item (`Set`, `SetBatch`, `Increment`, a
    ///   `SetIf` that stores, `SetUnion`, `SetDifference`, an `UpdateTtl` that applies). Probes
    ///   (`KeysExist`, `ItemGetTtl`) are not uses.
    /// - An item charged more than the whole limit is refused as an item over Momento's item
    ///   size limit is (the SDK's `LimitExceededError`), and nothing is evicted for it.
    ///
    /// Without this (the default) caches grow without limit. Evictions are counted by
    /// [`LiteServer::evictions`] and [`LiteServer::cache_stats`] and logged at debug level.
    pub fn max_memory_bytes(mut self, bytes: u64) -> Self {
        self.max_memory_bytes = Some(bytes);
        self
    }

    /// [`max_memory_bytes`](Self::max_memory_bytes) in mebibytes: `mb` × 1,048,576 bytes.
    pub fn max_memory_mb(self, mb: u64) -> Self {
        self.max_memory_bytes(mb.saturating_mul(1024 * 1024))
    }

    /// How often an open topic subscription stream carries a heartbeat (5 s by default, as
    /// Momento; at least 1 ms). The SDK's `Subscription` hides heartbeats from its caller.
    pub fn topic_heartbeat(mut self, interval: Duration) -> Self {
        self.topics.heartbeat = interval.max(Duration::from_millis(1));
        self
    }

    /// How many recent messages each topic keeps (1,000 by default, at least 1), so a
    /// subscription resuming at sequence number N gets the messages from N on if they are still
    /// kept, and a `Discontinuity` first otherwise.
    pub fn topic_buffer(mut self, messages: usize) -> Self {
        self.topics.buffer = messages.max(1);
        self
    }

    /// Binds the port and spawns the server on the current tokio runtime; returns once the
    /// server is listening.
    ///
    /// # Panics
    /// If called outside a tokio runtime.
    pub async fn start(self) -> io::Result<LiteServer> {
        let listener = bind(SocketAddr::new(self.host, self.port))?;
        let mut server = LiteServer {
            addr: listener.local_addr()?,
            auth_token: self.auth_token,
            store: Arc::new(Store::with_max_memory(self.max_memory_bytes)),
            faults: FaultController::new(),
            topics: Arc::new(TopicHub::new(self.topics)),
            running: None,
        };
        server.running = Some(server.serve(listener));
        Ok(server)
    }
}

impl fmt::Debug for MomentoLite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MomentoLite")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("max_memory_bytes", &self.max_memory_bytes)
            .field("topic_heartbeat", &self.topics.heartbeat)
            .field("topic_buffer", &self.topics.buffer)
            .finish()
    }
}

/// A running momento-lite server. Dropping it stops the server without waiting; call
/// [`shutdown`](LiteServer::shutdown) to wait until the port is released.
///
/// [`stop`](LiteServer::stop) and [`start_again`](LiteServer::start_again) (or both at once,
/// [`restart`](LiteServer::restart)) take the server down and bring it back on the same port, as
/// an outage of the real service would; clients keep working once it is back.
pub struct LiteServer {
    addr: SocketAddr,
    auth_token: Option<String>,
    store: Arc<Store>,
    faults: FaultController,
    topics: Arc<TopicHub>,
    running: Option<Running>,
}

/// The serving task of a [`LiteServer`] that is up.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl LiteServer {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients connect to, such as `http://127.0.0.1:PORT` (a server listening on an
    /// unspecified address is reached through the loopback address).
    pub fn endpoint(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// A credential provider for this server: its endpoint in plain text, with its auth token
    /// (or a dummy one when the server requires none).
    pub fn credential_provider(&self) -> CredentialProvider {
        let token = self.auth_token.as_deref().unwrap_or(DUMMY_AUTH_TOKEN);
        credential_provider(&self.endpoint(), token)
    }

    /// The fault controller of this server: inject latency and errors, drop connections, drop,
    /// delay and break topic messages and subscriptions, count requests and topic messages. It stays valid across [`stop`](Self::stop) and [`start_again`](Self::start_again),
    /// and active faults stay active.
    pub fn faults(&self) -> FaultController {
        self.faults.clone()
    }

    /// The memory limit of each cache in bytes, or `None` when caches grow without limit (see
    /// [`MomentoLite::max_memory_bytes`]).
    pub fn max_memory_bytes(&self) -> Option<u64> {
        self.store.max_memory_bytes()
    }

    /// How many items the server has evicted to keep its caches within their memory limit, over
    /// all caches (deleted ones included) since it started. Expired and deleted items are not
    /// evictions.
    pub fn evictions(&self) -> u64 {
        self.store.evictions()
    }

    /// How many keys `Get` and `GetBatch` requests have looked up since the server started: one
    /// per `Get`, one per key of a `GetBatch` (the elements Momento bills), hits and misses alike.
    /// Requests refused by an injected fault or for a missing cache are counted too.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = momento_lite::MomentoLite::builder().start().await?;
    /// assert_eq!(server.keys_read(), 0);
    /// server.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn keys_read(&self) -> u64 {
        self.store.keys_read()
    }

    /// The memory accounting of the named cache (its expired items dropped first), or `None` if
    /// there is no such cache.
    pub fn cache_stats(&self, cache: &str) -> Option<CacheStats> {
        self.store.cache_stats(cache)
    }

    /// Forgets every topic, as a reset of Momento's topics would: the next publish or
    /// subscription to a topic creates it afresh, its sequence numbers restarting at 1 on a new
    /// (greater) sequence page, and every open subscription stream ends, so the SDK resubscribes
    /// with its old page and gets the new topic (after a discontinuity the SDK hides: its next
    /// values carry the new page).
    pub fn reset_topics(&self) {
        self.topics.reset();
        self.faults.end_subscriptions();
    }

    /// Whether the server is up (not [stopped](Self::stop)).
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Takes the server down abruptly, as a crash would: stops accepting connections, closes
    /// the open ones (requests in flight fail) and returns once the port is released. Until
    /// [`start_again`](Self::start_again) clients cannot connect; the SDK reports their calls as
    /// `ServerUnavailable`. The caches and items are kept, and so are the topics (page and
    /// sequence counter); open subscription streams end. Does nothing on a stopped server.
    pub async fn stop(&mut self) {
        let Some(Running { stop, mut task }) = self.running.take() else {
            return;
        };
        self.topics.set_open(false);
        let _ = stop.send(());
        self.faults.end_subscriptions();
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        loop {
            self.faults.drop_connections();
            if tokio::time::timeout(STOP_POLL, &mut task).await.is_ok() {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("momento-lite did not stop in time; aborting it");
                task.abort();
                let _ = task.await;
                break;
            }
        }
        tracing::info!(addr = %self.addr, "momento-lite stopped");
    }

    /// Brings a [stopped](Self::stop) server back on the same address and port, with the data
    /// it held when it stopped (a restarted Momento keeps its items too), the same auth token
    /// and the same [`FaultController`]. Clients built before the stop reconnect on their next
    /// call. Does nothing on a running server.
    ///
    /// # Errors
    /// If the port cannot be bound again (another process took it).
    pub async fn start_again(&mut self) -> io::Result<()> {
        if self.running.is_none() {
            let listener = bind(self.addr)?;
            self.running = Some(self.serve(listener));
        }
        Ok(())
    }

    /// [`stop`](Self::stop), then [`start_again`](Self::start_again): every connection is closed
    /// and the server comes back on the same port with its data.
    ///
    /// # Errors
    /// If the port cannot be bound again.
    pub async fn restart(&mut self) -> io::Result<()> {
        self.stop().await;
        self.start_again().await
    }

    /// Stops accepting connections, lets open ones drain (for up to 5 seconds) and returns once
    /// the port is released, so a new server can bind it right away. Subscription streams end
    /// at once (they would never drain).
    pub async fn shutdown(mut self) {
        let Some(Running { stop, mut task }) = self.running.take() else {
            return;
        };
        self.topics.set_open(false);
        let _ = stop.send(());
        self.faults.end_subscriptions();
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            tracing::warn!("momento-lite connections did not drain; stopping anyway");
            task.abort();
            let _ = task.await;
        }
    }

    /// Spawns the gRPC server on `listener` over this server's store, topics, token and faults.
    fn serve(&self, listener: TcpListener) -> Running {
        let token_check = TokenCheck::new(self.auth_token.as_deref());
        let data = ScsServer::new(DataService::new(Arc::clone(&self.store)))
            .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE);
        let control = ScsControlServer::new(ControlService::new(Arc::clone(&self.store)));
        let pubsub = PubsubServer::new(PubsubService::new(
            Arc::clone(&self.store),
            Arc::clone(&self.topics),
            self.faults.clone(),
        ))
        .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE);
        self.topics.set_open(true);
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let incoming = faults::closable(incoming, &self.faults);
        let (stop, stopped) = oneshot::channel::<()>();
        let serve = Server::builder()
            .layer(FaultLayer::new(self.faults.clone()))
            .add_service(InterceptedService::new(data, token_check.clone()))
            .add_service(InterceptedService::new(control, token_check.clone()))
            .add_service(InterceptedService::new(pubsub, token_check))
            .serve_with_incoming_shutdown(incoming, async {
                // A dropped sender stops the server too.
                let _ = stopped.await;
            });
        let task = tokio::spawn(async move {
            let result = serve.await;
            if let Err(error) = &result {
                tracing::warn!(%error, "momento-lite server stopped with an error");
            }
            result
        });
        tracing::info!(addr = %self.addr, "momento-lite listening");
        Running { stop, task }
    }
}

impl fmt::Debug for LiteServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiteServer")
            .field("addr", &self.addr)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("running", &self.running.is_some())
            .finish()
    }
}

impl Drop for LiteServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.topics.set_open(false);
            let _ = running.stop.send(());
            self.faults.end_subscriptions();
        }
    }
}
