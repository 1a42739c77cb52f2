//! Momento Topics: the `Pubsub` gRPC service (`Publish`, `Subscribe`), on the same port as the
//! cache services, behind the same auth check and fault layer.
//!
//! - A topic lives in a cache, which must exist: publishing or subscribing to a topic of a
//!   missing cache answers `NOT_FOUND` without `err` metadata (the SDK's `CacheNotFoundError`).
//!   Topics are not created explicitly; the first publish or subscription creates one
//!   ([`hub`]).
//! - Each topic has a sequence page (a random number drawn when the topic is created, greater
//!   than any page drawn before) and a sequence counter from 1; every accepted publish takes
//!   the next number ([`topic`]). Topics survive a server stop or restart (page and counter
//!   continue); [`LiteServer::reset_topics`](crate::LiteServer::reset_topics) forgets them, so
//!   the counter restarts at 1 on a new page.
//! - A value is text or bytes of at most [`MAX_TOPIC_MESSAGE_SIZE`] (4 KiB, Momento's hard
//!   limit); a larger one is refused `RESOURCE_EXHAUSTED` with `err: request_size_limit_exceeded`
//!   (the SDK's `LimitExceededError`). A publish without a value, or with an empty topic name,
//!   is `INVALID_ARGUMENT`. Items are delivered with an empty `publisher_id`.
//! - `Subscribe` with `resume_at_topic_sequence_number` 0 streams the messages published after
//!   it; with N it first replays the logged messages numbered N and up (N included), or, when N
//!   is no longer logged or the page differs, a `Discontinuity` and then the log from its start
//!   (see `Topic::start`). Each topic logs its last 1,000 messages
//!   ([`MomentoLite::topic_buffer`](crate::MomentoLite::topic_buffer)); a subscription that
//!   falls that far behind gets a `Discontinuity` too. Idle streams carry a `Heartbeat` every
//!   5 s ([`MomentoLite::topic_heartbeat`](crate::MomentoLite::topic_heartbeat)). A stream ends
//!   with `UNAVAILABLE` when the server stops or the streams are broken by
//!   [`FaultController::break_subscriptions`] ([`stream`]).

mod hub;
mod stream;
mod topic;

use std::sync::Arc;

use momento_protos::cache_client::pubsub as pb;
use momento_protos::cache_client::pubsub::pubsub_server::Pubsub;
use momento_protos::common::Empty;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Response, Status};

pub(crate) use hub::{TopicHub, TopicSettings};
use stream::{Subscriber, SubscriptionStream};

use crate::faults::FaultController;
use crate::store::Store;

/// The largest topic message momento-lite accepts, in bytes (a text value counts its UTF-8
/// bytes): 4 KiB, Momento Topics' payload size limit.
pub const MAX_TOPIC_MESSAGE_SIZE: usize = 4 * 1024;

/// The `err` metadata value of a refused oversized publish; the SDK reports it as
/// `LimitExceededError`, "Request size limit exceeded for this account".
pub const REQUEST_SIZE_LIMIT_EXCEEDED: &str = "request_size_limit_exceeded";

/// The `Pubsub` service over the server's store (for cache existence), topics and faults.
#[derive(Debug, Clone)]
pub(crate) struct PubsubService {
    store: Arc<Store>,
    hub: Arc<TopicHub>,
    faults: FaultController,
}

impl PubsubService {
    /// A topics service over these caches, topics and faults.
    pub(crate) fn new(store: Arc<Store>, hub: Arc<TopicHub>, faults: FaultController) -> Self {
        Self { store, hub, faults }
    }

    /// Fails unless the cache exists and the topic is named.
    fn check(&self, cache: &str, topic: &str) -> Result<(), Status> {
        if topic.is_empty() {
            return Err(Status::invalid_argument("the topic name must not be empty"));
        }
        self.store.with_cache(cache, |_, _| Ok(()))?;
        Ok(())
    }
}

/// The value of a publish, checked against the size limit.
fn publish_value(value: Option<pb::TopicValue>) -> Result<pb::topic_value::Kind, Status> {
    let kind = value
        .and_then(|value| value.kind)
        .ok_or_else(|| Status::invalid_argument("a publish needs a text or binary value"))?;
    let size = match &kind {
        pb::topic_value::Kind::Text(text) => text.len(),
        pb::topic_value::Kind::Binary(bytes) => bytes.len(),
    };
    if size > MAX_TOPIC_MESSAGE_SIZE {
        let message = format!(
            "topic message of {size} bytes exceeds the limit of {MAX_TOPIC_MESSAGE_SIZE} bytes"
        );
        let mut status = Status::new(Code::ResourceExhausted, message);
        status.metadata_mut().insert(
            "err",
            MetadataValue::from_static(REQUEST_SIZE_LIMIT_EXCEEDED),
        );
        return Err(status);
    }
    Ok(kind)
}

#[tonic::async_trait]
impl Pubsub for PubsubService {
    type SubscribeStream = SubscriptionStream;

    async fn publish(
        &self,
        request: Request<pb::PublishRequest>,
    ) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        self.check(&request.cache_name, &request.topic)?;
        let value = publish_value(request.value)?;
        let decision = self.faults.on_publish();
        let topic = self.hub.topic(&request.cache_name, &request.topic);
        let sequence = topic.publish(value, decision);
        tracing::trace!(cache = %request.cache_name, topic = %request.topic, sequence, "published");
        Ok(Response::new(Empty {}))
    }

    async fn subscribe(
        &self,
        request: Request<pb::SubscriptionRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let request = request.into_inner();
        self.check(&request.cache_name, &request.topic)?;
        if !self.hub.is_open() {
            return Err(Status::unavailable("momento-lite is stopping"));
        }
        let topic = self.hub.topic(&request.cache_name, &request.topic);
        let (cursor, discontinuity) = topic.start(
            request.resume_at_topic_sequence_number,
            request.sequence_page,
        );
        tracing::debug!(
            cache = %request.cache_name,
            topic = %request.topic,
            resume_at = request.resume_at_topic_sequence_number,
            cursor,
            "subscribed"
        );
        let heartbeat = self.hub.settings().heartbeat;
        let subscriber =
            Subscriber::new(topic, cursor, discontinuity, heartbeat, self.faults.clone());
        Ok(Response::new(subscriber.into_stream()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(len: usize) -> Option<pb::TopicValue> {
        Some(pb::TopicValue {
            kind: Some(pb::topic_value::Kind::Binary(vec![0; len])),
        })
    }

    #[test]
    fn values_up_to_the_limit_pass() {
        assert!(publish_value(binary(MAX_TOPIC_MESSAGE_SIZE)).is_ok());
        let status = publish_value(binary(MAX_TOPIC_MESSAGE_SIZE + 1)).expect_err("too large");
        assert_eq!(status.code(), Code::ResourceExhausted);
        let err = status.metadata().get("err").and_then(|v| v.to_str().ok());
        assert_eq!(err, Some(REQUEST_SIZE_LIMIT_EXCEEDED));
        let missing = publish_value(None).expect_err("no value");
        assert_eq!(missing.code(), Code::InvalidArgument);
    }
}
