//! Push invalidation over a Momento topic, through the `Pubsub` gRPC service of
//! `momento-protos` (the protocol the SDK's `TopicClient` speaks), so the subscriber sees
//! every heartbeat, discontinuity and broken stream the SDK would hide.
//!
//! ```text
//! build(): the near cache (unhealthy) ─► then its two tasks, each holding a Weak of it
//! publisher task: bumps and drops ─► packed (≤ 4 KB each) ─► Publish, in order
//! subscriber task: see `subscriber`
//! ```

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use momento_protos::cache_client::pubsub::{
    pubsub_client::PubsubClient, topic_value, PublishRequest, TopicValue,
};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tracing::warn;

use super::wire::{self, Invalidation};
use super::{subscriber, Near, NearCache};
use crate::error::ConfigError;

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
pub(super) struct Auth {
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

pub(super) type Client = PubsubClient<InterceptedService<Channel, Auth>>;

/// Where a topic is, for both tasks.
#[derive(Clone)]
pub(super) struct Route {
    pub client: Client,
    pub cache_name: String,
    pub topic: String,
    /// This process's id in messages: its own are skipped.
    pub id: u64,
    pub global: String,
}

impl Route {
    /// A publish request of `payload` on this topic.
    pub(super) fn publish_request(&self, payload: Vec<u8>) -> PublishRequest {
        PublishRequest {
            cache_name: self.cache_name.clone(),
            topic: self.topic.clone(),
            value: Some(TopicValue {
                kind: Some(topic_value::Kind::Binary(payload)),
            }),
        }
    }
}

/// Starts a near cache with push invalidation: unhealthy until its subscription is live.
///
/// The near cache exists before its tasks start, so a task that runs at once (another worker,
/// a descheduled builder) always finds it.
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
    let near = Arc::new(Near::with_publisher(settings, global, sender));
    let weak = Arc::downgrade(&near);
    let publisher = runtime.spawn(publish(route.clone(), receiver, weak.clone()));
    let heartbeat = topic.heartbeat_timeout;
    let subscriber = runtime.spawn(subscriber::run(route, heartbeat, weak));
    near.hold_tasks(vec![publisher.abort_handle(), subscriber.abort_handle()]);
    Ok(near)
}

/// Publishes bumps and drops in order, each batch packed into as few messages as fit.
async fn publish(
    route: Route,
    mut bumps: tokio::sync::mpsc::UnboundedReceiver<Invalidation>,
    near: Weak<Near>,
) {
    let mut client = route.client.clone();
    while let Some(mut keys) = bumps.recv().await {
        while let Ok(more) = bumps.try_recv() {
            keys.extend(more);
        }
        for payload in wire::pack(route.id, &keys, &route.global) {
            let published = client.publish(route.publish_request(payload)).await;
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
