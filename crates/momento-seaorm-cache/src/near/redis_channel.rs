//! Push invalidation over Redis pub/sub (feature `redis`): the same messages as the Momento
//! topic ([`wire`]), published with `PUBLISH` and followed with `SUBSCRIBE`.
//!
//! ```text
//! publisher task: bumps and drops ─► packed (≤ 4 KB each) ─► PUBLISH channel, in order
//! subscriber task: SUBSCRIBE on one node (the next one after a failure)
//!   ├─ refused or unreachable ─► back off (≤ 1 s) ─► again; the near cache stays bypassed
//!   └─ live ─► healthy
//!        message: apply (its keys drop the matching entries; not ours: flush)
//!        every heartbeat: PUBLISH a marker; nothing heard for two heartbeats
//!        or the connection closed ─► unhealthy (flush, bypass) ─► subscribe again
//! ```
//! **What bounds staleness.** Redis pub/sub has no sequence numbers and keeps nothing for a
//! subscriber that is away, but on a live connection it delivers every message in order, and it
//! closes a subscriber that falls behind (`client-output-buffer-limit pubsub`) rather than
//! skipping messages. So a message can be lost to a subscriber only with its connection, and
//! that is what the subscriber watches: a closed connection, or no message — its own marker
//! included — for two heartbeats (a connection dead without a close), makes the near cache
//! unhealthy (flushed and bypassed) until a new subscription is live. A message a publisher
//! could not send (`publish_failures`) is covered by `max_staleness`, as on Momento.
//!
//! On a cluster, classic pub/sub is used, not sharded: a `PUBLISH` on any node reaches the
//! subscribers of every node over the cluster bus, so the subscriber needs one live node, not
//! one per shard. The invalidation traffic is small (a few keys per write).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tracing::{debug, warn};

use super::wire::{self, Invalidation};
use super::{Near, NearCache};
use crate::backend::redis::host_of;
use crate::error::ConfigError;

/// How often a subscriber publishes its marker by default; two silent heartbeats count as a
/// dead connection.
pub const DEFAULT_REDIS_HEARTBEAT: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How a near cache reaches its Redis pub/sub channel: one node's URL, or some nodes of a
/// cluster, and the channel's name (default `<prefix>-near-invalidation`).
///
/// ```
/// use std::time::Duration;
/// use momento_seaorm_cache::NearRedisChannel;
/// let channel = NearRedisChannel::new("redis://:secret@127.0.0.1:6379")
///     .channel_name("orders-near")
///     .heartbeat(Duration::from_millis(500));
/// assert!(!format!("{channel:?}").contains("secret"));
/// ```
#[derive(Clone)]
pub struct NearRedisChannel {
    urls: Vec<String>,
    channel: Option<String>,
    heartbeat: Duration,
}

impl std::fmt::Debug for NearRedisChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<String> = self.urls.iter().map(|u| host_of(u)).collect();
        f.debug_struct("NearRedisChannel")
            .field("nodes", &hosts)
            .field("channel", &self.channel)
            .field("heartbeat", &self.heartbeat)
            .finish()
    }
}

impl NearRedisChannel {
    /// The channel on one Redis or Valkey node.
    ///
    /// ```
    /// use momento_seaorm_cache::{NearCache, NearRedisChannel};
    /// let near = NearCache::new(1 << 20).redis_channel(NearRedisChannel::new("redis://127.0.0.1:6379"));
    /// # let _ = near;
    /// ```
    pub fn new(url: impl Into<String>) -> NearRedisChannel {
        NearRedisChannel {
            urls: vec![url.into()],
            channel: None,
            heartbeat: DEFAULT_REDIS_HEARTBEAT,
        }
    }

    /// The channel on a cluster: the subscriber follows one node at a time, trying the next
    /// on a failure.
    ///
    /// ```
    /// use momento_seaorm_cache::NearRedisChannel;
    /// let channel = NearRedisChannel::cluster(["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"]);
    /// assert!(format!("{channel:?}").contains("127.0.0.1:7001"));
    /// ```
    pub fn cluster<S: Into<String>>(urls: impl IntoIterator<Item = S>) -> NearRedisChannel {
        NearRedisChannel {
            urls: urls.into_iter().map(Into::into).collect(),
            channel: None,
            heartbeat: DEFAULT_REDIS_HEARTBEAT,
        }
    }

    /// The channel's name (default `<key prefix>-near-invalidation`).
    ///
    /// ```
    /// use momento_seaorm_cache::NearRedisChannel;
    /// let channel = NearRedisChannel::new("redis://127.0.0.1:6379").channel_name("near");
    /// assert!(format!("{channel:?}").contains("\"near\""));
    /// ```
    pub fn channel_name(mut self, name: impl Into<String>) -> Self {
        self.channel = Some(name.into());
        self
    }

    /// How often the subscriber publishes its marker (default 1 s, at least 10 ms); no message
    /// for two heartbeats counts as a dead connection.
    ///
    /// ```
    /// use std::time::Duration;
    /// use momento_seaorm_cache::NearRedisChannel;
    /// let channel = NearRedisChannel::new("redis://127.0.0.1:6379").heartbeat(Duration::from_secs(2));
    /// assert!(format!("{channel:?}").contains("2s"));
    /// ```
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = interval;
        self
    }

    fn clients(&self) -> Result<Vec<redis::Client>, ConfigError> {
        if self.urls.is_empty() {
            return Err(ConfigError::InvalidNearCache {
                fix: "give NearRedisChannel at least one node URL",
            });
        }
        if self.heartbeat < Duration::from_millis(10) {
            return Err(ConfigError::InvalidNearCache {
                fix: "give NearRedisChannel a heartbeat of at least 10 ms (default 1 s)",
            });
        }
        self.urls
            .iter()
            .map(|url| {
                redis::Client::open(url.as_str()).map_err(|_| ConfigError::InvalidNearCache {
                    fix: "NearRedisChannel: a node URL is not a Redis URL (redis://host:6379)",
                })
            })
            .collect()
    }
}

/// Where the channel is, for both tasks.
#[derive(Clone)]
struct Route {
    clients: Arc<Vec<redis::Client>>,
    channel: String,
    /// This process's id in messages: its own are skipped.
    id: u64,
    global: String,
    heartbeat: Duration,
}

/// Starts a near cache with push invalidation over Redis: unhealthy until its subscription is
/// live.
pub(super) fn start(
    settings: &NearCache,
    channel: &NearRedisChannel,
    global: &str,
    prefix: &str,
) -> Result<Arc<Near>, ConfigError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::InvalidNearCache {
        fix: "a near cache with a channel starts its subscriber at build(): call build() inside a tokio runtime",
    })?;
    let route = Route {
        clients: Arc::new(channel.clients()?),
        channel: channel
            .channel
            .clone()
            .unwrap_or_else(|| format!("{prefix}-near-invalidation")),
        id: fastrand::u64(..),
        global: global.to_owned(),
        heartbeat: channel.heartbeat,
    };
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let near = Arc::new(Near::with_publisher(settings, global, sender));
    let weak = Arc::downgrade(&near);
    let publisher = runtime.spawn(publish(route.clone(), receiver, weak.clone()));
    let subscriber = runtime.spawn(subscribe(route, weak));
    near.hold_tasks(vec![publisher.abort_handle(), subscriber.abort_handle()]);
    Ok(near)
}

/// A connection to publish on: the first node that answers.
async fn publisher_connection(route: &Route) -> Option<redis::aio::MultiplexedConnection> {
    for client in route.clients.iter() {
        let connect = client.get_multiplexed_async_connection();
        if let Ok(Ok(connection)) = tokio::time::timeout(route.heartbeat, connect).await {
            return Some(connection);
        }
    }
    None
}

/// Publishes bumps and drops in order, each batch packed into as few messages as fit.
async fn publish(
    route: Route,
    mut bumps: tokio::sync::mpsc::UnboundedReceiver<Invalidation>,
    near: Weak<Near>,
) {
    let mut connection = None;
    while let Some(mut keys) = bumps.recv().await {
        while let Ok(more) = bumps.try_recv() {
            keys.extend(more);
        }
        for payload in wire::pack(route.id, &keys, &route.global) {
            if connection.is_none() {
                connection = publisher_connection(&route).await;
            }
            let published = match connection.as_mut() {
                Some(c) => {
                    let cmd = redis::cmd("PUBLISH")
                        .arg(&route.channel)
                        .arg(payload)
                        .to_owned();
                    let call = cmd.query_async::<i64>(c);
                    matches!(tokio::time::timeout(route.heartbeat, call).await, Ok(Ok(_)))
                }
                None => false,
            };
            let Some(near) = near.upgrade() else { return };
            let stats = &near.store.stats;
            if published {
                stats.messages_published.fetch_add(1, Ordering::Relaxed);
            } else {
                connection = None;
                warn!("near cache: could not publish an invalidation on Redis; other processes revalidate within max_staleness");
                stats.publish_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Keeps one subscription live for as long as the near cache exists, moving to the next node
/// after a failure.
async fn subscribe(route: Route, near: Weak<Near>) {
    let mut node = 0;
    let mut backoff = Duration::from_millis(20);
    loop {
        let client = &route.clients[node % route.clients.len()];
        match follow(&route, client, &near).await {
            Followed::Gone => return,
            Followed::Broke => backoff = Duration::from_millis(20),
            Followed::Refused(error) => {
                debug!(%error, "near cache: could not subscribe on Redis; trying again");
                node += 1;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        if near.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff).await;
    }
}

enum Followed {
    /// The near cache was dropped.
    Gone,
    /// The subscription was live, then broke or went silent.
    Broke,
    /// No subscription could be made.
    Refused(String),
}

/// Subscribes on `client` and follows the channel until the connection closes or goes silent.
async fn follow(route: &Route, client: &redis::Client, near: &Weak<Near>) -> Followed {
    let setup = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&route.channel).await?;
        let publisher = client.get_multiplexed_async_connection().await?;
        Ok::<_, redis::RedisError>((pubsub, publisher))
    };
    let (mut pubsub, mut publisher) = match tokio::time::timeout(route.heartbeat * 2, setup).await {
        Ok(Ok(live)) => live,
        Ok(Err(error)) => return Followed::Refused(error.to_string()),
        Err(_) => return Followed::Refused("no answer within two heartbeats".into()),
    };
    // Live from here: anything published from now on reaches this subscription.
    match near.upgrade() {
        Some(live) => live.store.set_healthy(true),
        None => return Followed::Gone,
    }
    let mut messages = pubsub.on_message();
    let mut heard = Instant::now();
    let mut marked = Instant::now();
    loop {
        if marked.elapsed() >= route.heartbeat {
            let marker = redis::cmd("PUBLISH")
                .arg(&route.channel)
                .arg(wire::marker(route.id))
                .to_owned();
            let sent =
                tokio::time::timeout(route.heartbeat, marker.query_async::<i64>(&mut publisher));
            if !matches!(sent.await, Ok(Ok(_))) {
                debug!("near cache: could not publish its marker on Redis");
            }
            marked = Instant::now();
        }
        let wait = route.heartbeat.saturating_sub(marked.elapsed());
        let next = tokio::time::timeout(wait, messages.next()).await;
        let Some(live) = near.upgrade() else {
            return Followed::Gone;
        };
        match next {
            Ok(Some(message)) => {
                heard = Instant::now();
                live.received(route.id, message.get_payload_bytes());
            }
            Err(_) if heard.elapsed() < route.heartbeat * 2 => {}
            Ok(None) | Err(_) => {
                debug!("near cache: Redis subscription closed or went silent; flushing");
                live.store.stats.gaps.fetch_add(1, Ordering::Relaxed);
                live.store.set_healthy(false);
                return Followed::Broke;
            }
        }
    }
}
