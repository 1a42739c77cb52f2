//! Push invalidation over a Momento topic, through the `Pubsub` gRPC service of
//! `momento-protos` (the protocol the SDK's `TopicClient` speaks), so the subscriber sees
//! every heartbeat, discontinuity and broken stream the SDK would hide.
//!
//! ```text
//! publisher task: bumps ─► packed (≤ 4 KB each) ─► Publish, in order
//! subscriber task: Subscribe ─► live ─► items: sequence + 1 on the same page? apply : flush
//!                                      discontinuity ─► flush
//!                  error, end of stream, no heartbeat within heartbeat_timeout
//!                      ─► unhealthy (flush, bypass) ─► subscribe again ─► live: healthy
//! ```

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use momento_protos::cache_client::pubsub::{
    pubsub_client::PubsubClient, subscription_item, topic_value, PublishRequest, SubscriptionItem,
    SubscriptionRequest, TopicItem, TopicValue,
};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tracing::{debug, warn};

use super::{wire, Near, NearCache};
use crate::error::ConfigError;

/// How long a failed subscription waits before it tries again.
const RESUBSCRIBE_BACKOFF: Duration = Duration::from_millis(20);

/// How a near cache reaches its Momento topic: the cache endpoint, the API key, the cache the
/// topic lives in, and the topic's name (default `<prefix>-near-invalidation`).
///
/// The endpoint is the gRPC cache endpoint (`https://cache.<your Momento endpoint>`; a v1 key
/// names it inside), or a momento-lite's `http://` endpoint.
///
/// ```
/// use std::time::Duration;
/// use momento_seaorm_cache::NearTopic;
/// let topic = NearTopic::new("http://127.0.0.1:8080", "token", "model-cache")
///     .topic_name("orders-near")
///     .heartbeat_timeout(Duration::from_secs(10));
/// assert_eq!(topic.cache_name(), "model-cache");
/// ```
#[derive(Clone)]
pub struct NearTopic {
    endpoint: String,
    auth_token: String,
    cache_name: String,
    topic: Option<String>,
    heartbeat_timeout: Option<Duration>,
}

impl std::fmt::Debug for NearTopic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NearTopic")
            .field("endpoint", &self.endpoint)
            .field("cache_name", &self.cache_name)
            .field("topic", &self.topic)
            .field("heartbeat_timeout", &self.heartbeat_timeout)
            .finish_non_exhaustive()
    }
}

impl NearTopic {
    /// A topic in `cache_name`, reached at `endpoint` with `auth_token` (the API key).
    ///
    /// ```
    /// use momento_seaorm_cache::NearTopic;
    /// let topic = NearTopic::new("http://127.0.0.1:8080", "token", "model-cache");
    /// assert!(!format!("{topic:?}").contains("token"));
    /// ```
    pub fn new(
        endpoint: impl Into<String>,
        auth_token: impl Into<String>,
        cache_name: impl Into<String>,
    ) -> NearTopic {
        NearTopic {
            endpoint: endpoint.into(),
            auth_token: auth_token.into(),
            cache_name: cache_name.into(),
            topic: None,
            heartbeat_timeout: None,
        }
    }

    /// The topic's name (default `<key prefix>-near-invalidation`): every process that shares
    /// the cache's keys must use the same one.
    ///
    /// ```
    /// use momento_seaorm_cache::NearTopic;
    /// let topic = NearTopic::new("http://127.0.0.1:8080", "t", "c").topic_name("near");
    /// # let _ = topic;
    /// ```
    pub fn topic_name(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Treats a subscription that delivers nothing — no message, no heartbeat — for this long
    /// as broken: flush, bypass, subscribe again. Off by default (Momento promises no
    /// heartbeat cadence); set it above the service's heartbeat interval.
    ///
    /// ```
    /// use std::time::Duration;
    /// use momento_seaorm_cache::NearTopic;
    /// let topic = NearTopic::new("http://127.0.0.1:8080", "t", "c")
    ///     .heartbeat_timeout(Duration::from_secs(5));
    /// # let _ = topic;
    /// ```
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = Some(timeout);
        self
    }

    /// The cache the topic lives in.
    ///
    /// ```
    /// use momento_seaorm_cache::NearTopic;
    /// assert_eq!(NearTopic::new("http://h:1", "t", "c").cache_name(), "c");
    /// ```
    pub fn cache_name(&self) -> &str {
        &self.cache_name
    }

    fn client(&self) -> Result<Client, ConfigError> {
        let invalid = |e: &dyn std::fmt::Display| ConfigError::Momento {
            message: format!("near cache topic endpoint {:?}: {e}", self.endpoint),
        };
        let mut endpoint = Endpoint::from_shared(self.endpoint.clone()).map_err(|e| invalid(&e))?;
        if self.endpoint.starts_with("https://") {
            let tls = ClientTlsConfig::new().with_webpki_roots();
            endpoint = endpoint.tls_config(tls).map_err(|e| invalid(&e))?;
        }
        let channel = endpoint
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_while_idle(true)
            .connect_lazy();
        let token: tonic::metadata::MetadataValue<_> = self
            .auth_token
            .parse()
            .map_err(|_| invalid(&"the API key is not a valid header value"))?;
        let auth = Auth { token };
        Ok(PubsubClient::with_interceptor(channel, auth))
    }
}

/// Adds the API key to every request.
#[derive(Clone)]
struct Auth {
    token: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
}

impl tonic::service::Interceptor for Auth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.token.clone());
        Ok(request)
    }
}

type Client = PubsubClient<InterceptedService<Channel, Auth>>;

/// Where a topic is, for both tasks.
#[derive(Clone)]
struct Route {
    client: Client,
    cache_name: String,
    topic: String,
    /// This process's id in messages: its own are skipped.
    id: u64,
    global: String,
}

/// Starts a near cache with push invalidation: unhealthy until its subscription is live.
pub(super) fn start(
    settings: &NearCache,
    topic: &NearTopic,
    global: &str,
    prefix: &str,
) -> Result<Arc<Near>, ConfigError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::InvalidNearCache {
        fix: "a near cache with a topic starts its subscriber at build(): call build() inside a tokio runtime",
    })?;
    let route = Route {
        client: topic.client()?,
        cache_name: topic.cache_name.clone(),
        topic: topic
            .topic
            .clone()
            .unwrap_or_else(|| format!("{prefix}-near-invalidation")),
        id: fastrand::u64(..),
        global: global.to_owned(),
    };
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let mut near = Near::local(settings, global, false);
    near.publisher = Some(sender);
    let near = Arc::new_cyclic(|weak: &Weak<Near>| {
        let publisher = runtime.spawn(publish(route.clone(), receiver, weak.clone()));
        let heartbeat = topic.heartbeat_timeout;
        let subscriber = runtime.spawn(subscribe(route, heartbeat, weak.clone()));
        near.tasks = vec![publisher.abort_handle(), subscriber.abort_handle()];
        near
    });
    Ok(near)
}

/// Publishes bumps in order, each batch packed into as few messages as fit.
async fn publish(
    route: Route,
    mut bumps: tokio::sync::mpsc::UnboundedReceiver<Vec<String>>,
    near: Weak<Near>,
) {
    let mut client = route.client.clone();
    while let Some(mut keys) = bumps.recv().await {
        while let Ok(more) = bumps.try_recv() {
            keys.extend(more);
        }
        for payload in wire::pack(route.id, &keys, &route.global) {
            let request = PublishRequest {
                cache_name: route.cache_name.clone(),
                topic: route.topic.clone(),
                value: Some(TopicValue {
                    kind: Some(topic_value::Kind::Binary(payload)),
                }),
            };
            let published = client.publish(request).await;
            let Some(near) = near.upgrade() else { return };
            let stats = &near.store.stats;
            match published {
                Ok(_) => stats.messages_published.fetch_add(1, Ordering::Relaxed),
                Err(status) => {
                    warn!(%status, "near cache: could not publish an invalidation; other processes revalidate within max_staleness");
                    stats.publish_failures.fetch_add(1, Ordering::Relaxed)
                }
            };
        }
    }
}

/// Where the subscription stands between items.
#[derive(Default)]
struct Position {
    /// (page, sequence number) of the last item or discontinuity.
    last: Option<(u64, u64)>,
}

impl Position {
    /// Whether `item` follows the last one without a gap; remembers it.
    fn follows(&mut self, page: u64, sequence: u64) -> bool {
        let follows = match self.last {
            None => true,
            Some((last_page, last)) => last_page == page && sequence == last + 1,
        };
        self.last = Some((page, sequence));
        follows
    }
}

/// Keeps one subscription live, applying what arrives; any sign of loss flushes, and a broken
/// subscription keeps the near cache bypassed until a new one is live.
async fn subscribe(route: Route, heartbeat: Option<Duration>, near: Weak<Near>) {
    let mut client = route.client.clone();
    loop {
        let request = SubscriptionRequest {
            cache_name: route.cache_name.clone(),
            topic: route.topic.clone(),
            resume_at_topic_sequence_number: 0,
            sequence_page: 0,
        };
        match client.subscribe(request).await {
            Ok(response) => {
                let stream = response.into_inner();
                if !follow(&route, stream, heartbeat, &near).await {
                    return;
                }
            }
            Err(status) => debug!(%status, "near cache: subscribe failed; retrying"),
        }
        tokio::time::sleep(RESUBSCRIBE_BACKOFF).await;
    }
}

/// Follows one stream until it breaks; `false` when the near cache is gone.
async fn follow(
    route: &Route,
    mut stream: tonic::Streaming<SubscriptionItem>,
    heartbeat: Option<Duration>,
    near: &Weak<Near>,
) -> bool {
    let Some(live) = near.upgrade() else {
        return false;
    };
    // Subscribed: what is published from now on reaches this stream. Entries and tickets from
    // before were flushed when the last stream broke (or never existed).
    live.store.set_healthy(true);
    drop(live);
    let mut position = Position::default();
    loop {
        let next = match heartbeat {
            Some(limit) => tokio::time::timeout(limit, stream.message()).await,
            None => Ok(stream.message().await),
        };
        let Some(near) = near.upgrade() else {
            return false;
        };
        let item = match next {
            Ok(Ok(Some(item))) => item,
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
                debug!("near cache: subscription ended, failed or went silent; flushing");
                near.store.stats.gaps.fetch_add(1, Ordering::Relaxed);
                near.store.set_healthy(false);
                return true;
            }
        };
        match item.kind {
            Some(subscription_item::Kind::Item(item)) => apply(route, &near, &mut position, item),
            Some(subscription_item::Kind::Discontinuity(gap)) => {
                position.last = Some((gap.new_sequence_page, gap.new_topic_sequence));
                near.store.stats.gaps.fetch_add(1, Ordering::Relaxed);
                near.store.flush();
            }
            Some(subscription_item::Kind::Heartbeat(_)) | None => {}
        }
    }
}

/// Applies one item: a gap before it flushes; its keys drop the matching entries.
fn apply(route: &Route, near: &Near, position: &mut Position, item: TopicItem) {
    let stats = &near.store.stats;
    if !position.follows(item.sequence_page, item.topic_sequence_number) {
        stats.gaps.fetch_add(1, Ordering::Relaxed);
        near.store.flush();
    }
    let payload = match item.value.and_then(|v| v.kind) {
        Some(topic_value::Kind::Binary(bytes)) => bytes,
        Some(topic_value::Kind::Text(text)) => text.into_bytes(),
        None => Vec::new(),
    };
    match wire::unpack(&payload) {
        Some(message) if message.publisher == route.id => {}
        Some(message) => {
            stats.messages_received.fetch_add(1, Ordering::Relaxed);
            near.store.bumped(&message.keys);
        }
        None => {
            stats.messages_received.fetch_add(1, Ordering::Relaxed);
            near.store.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Position;

    #[test]
    fn a_position_follows_only_the_next_number_on_the_same_page() {
        let mut position = Position::default();
        assert!(position.follows(3, 10), "the first item sets the position");
        assert!(position.follows(3, 11));
        assert!(!position.follows(3, 13), "12 was missed");
        assert!(!position.follows(4, 14), "a new page");
        assert!(position.follows(4, 15));
    }
}
