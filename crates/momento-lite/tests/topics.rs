//! Momento Topics through the official SDK's `TopicClient` (and, for what the SDK hides —
//! heartbeats, discontinuities — through the generated `PubsubClient`).

mod common;

use std::time::Duration;

use futures::StreamExt;
use momento::topics::configurations::Laptop;
use momento::topics::{Subscription, SubscriptionValue, ValueKind};
use momento::{MomentoErrorCode, TopicClient};
use momento_lite::{Fault, LiteServer, MomentoLite, Rpc, MAX_TOPIC_MESSAGE_SIZE};
use momento_protos::cache_client::pubsub as pb;
use pb::pubsub_client::PubsubClient;
use pb::subscription_item::Kind;
use tokio::time::{timeout, Instant};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use common::{client_for, error_code, CACHE};

const TOPIC: &str = "topic";

/// How long a test waits for an item it expects.
const PATIENCE: Duration = Duration::from_secs(10);

fn topic_client(server: &LiteServer) -> TopicClient {
    TopicClient::builder()
        .configuration(Laptop::latest())
        .credential_provider(server.credential_provider())
        .build()
        .expect("topic client builds")
}

/// A server built by `builder` with `CACHE` created, and a topic client for it.
async fn topics_server(builder: MomentoLite) -> (LiteServer, TopicClient) {
    let server = builder.start().await.expect("server starts");
    client_for(server.credential_provider())
        .create_cache(CACHE)
        .await
        .expect("create cache");
    let topics = topic_client(&server);
    (server, topics)
}

async fn subscribe(topics: &TopicClient) -> Subscription {
    topics.subscribe(CACHE, TOPIC).await.expect("subscribe")
}

async fn next_value(subscription: &mut Subscription) -> SubscriptionValue {
    timeout(PATIENCE, subscription.next())
        .await
        .expect("a value arrives in time")
        .expect("a subscription never ends")
}

/// The text and sequence number of the next value.
async fn next_text(subscription: &mut Subscription) -> (String, u64) {
    let value = next_value(subscription).await;
    let sequence = value.topic_sequence_number;
    (String::try_from(value).expect("a text value"), sequence)
}

async fn publish(topics: &TopicClient, text: &str) {
    topics.publish(CACHE, TOPIC, text).await.expect("publish");
}

#[tokio::test]
async fn published_values_reach_a_subscriber_with_increasing_sequence_numbers() {
    let (server, topics) = topics_server(MomentoLite::builder()).await;
    let mut subscription = subscribe(&topics).await;
    for i in 0..5 {
        publish(&topics, &format!("m{i}")).await;
    }
    let mut page = None;
    for i in 0..5u64 {
        let value = next_value(&mut subscription).await;
        assert_eq!(value.topic_sequence_number, i + 1);
        assert_ne!(value.topic_sequence_page, 0);
        assert_eq!(
            *page.get_or_insert(value.topic_sequence_page),
            value.topic_sequence_page
        );
        assert_eq!(value.publisher_id, "");
        assert_eq!(value.kind, ValueKind::Text(format!("m{i}")));
    }
    assert_eq!(server.faults().topic_counts().delivered, 5);
    server.shutdown().await;
}

#[tokio::test]
async fn two_subscribers_both_receive_every_value() {
    let (server, topics) = topics_server(MomentoLite::builder()).await;
    let mut first = subscribe(&topics).await;
    let mut second = subscribe(&topic_client(&server)).await;
    publish(&topics, "a").await;
    publish(&topics, "b").await;
    for subscription in [&mut first, &mut second] {
        assert_eq!(next_text(subscription).await, ("a".to_owned(), 1));
        assert_eq!(next_text(subscription).await, ("b".to_owned(), 2));
    }
    let counts = server.faults().topic_counts();
    assert_eq!((counts.published, counts.delivered), (2, 4));
    server.shutdown().await;
}

#[tokio::test]
async fn text_and_binary_values_arrive_as_published() {
    let (server, topics) = topics_server(MomentoLite::builder()).await;
    let mut subscription = subscribe(&topics).await;
    publish(&topics, "héllo").await;
    let bytes = vec![0u8, 255, 1, 128];
    topics
        .publish(CACHE, TOPIC, bytes.clone())
        .await
        .expect("publish bytes");
    let text = next_value(&mut subscription).await;
    assert_eq!(text.kind, ValueKind::Text("héllo".to_owned()));
    let binary = next_value(&mut subscription).await;
    assert_eq!(binary.kind, ValueKind::Binary(bytes));
    server.shutdown().await;
}

#[tokio::test]
async fn a_topic_of_a_missing_cache_is_cache_not_found() {
    let (server, topics) = topics_server(MomentoLite::builder()).await;
    let published = topics.publish("missing", TOPIC, "x").await;
    assert_eq!(error_code(published), MomentoErrorCode::CacheNotFoundError);
    let subscribed = topics.subscribe("missing", TOPIC).await.map(|_| ());
    assert_eq!(error_code(subscribed), MomentoErrorCode::CacheNotFoundError);
    server.shutdown().await;
}

#[tokio::test]
async fn a_publish_over_4_kib_is_refused_as_limit_exceeded() {
    let (server, topics) = topics_server(MomentoLite::builder()).await;
    let mut subscription = subscribe(&topics).await;
    let too_large = topics
        .publish(CACHE, TOPIC, vec![7u8; MAX_TOPIC_MESSAGE_SIZE + 1])
        .await;
    assert_eq!(error_code(too_large), MomentoErrorCode::LimitExceededError);
    let too_long = topics
        .publish(CACHE, TOPIC, "x".repeat(MAX_TOPIC_MESSAGE_SIZE + 1))
        .await;
    assert_eq!(error_code(too_long), MomentoErrorCode::LimitExceededError);
    topics
        .publish(CACHE, TOPIC, vec![7u8; MAX_TOPIC_MESSAGE_SIZE])
        .await
        .expect("4 KiB is accepted");
    // Refused publishes take no sequence number.
    let value = next_value(&mut subscription).await;
    assert_eq!(value.topic_sequence_number, 1);
    assert_eq!(
        value.kind,
        ValueKind::Binary(vec![7u8; MAX_TOPIC_MESSAGE_SIZE])
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_dropped_message_is_a_gap_in_the_sequence_numbers() {
    let (server, topics) = topics_server(MomentoLite::builder()).await;
    let faults = server.faults();
    let mut subscription = subscribe(&topics).await;
    publish(&topics, "first").await;
    faults.drop_topic_messages(1.0);
    publish(&topics, "lost").await;
    faults.drop_topic_messages(0.0);
    publish(&topics, "third").await;
    assert_eq!(next_text(&mut subscription).await, ("first".to_owned(), 1));
    assert_eq!(next_text(&mut subscription).await, ("third".to_owned(), 3));
    let counts = faults.topic_counts();
    assert_eq!((counts.published, counts.dropped), (3, 1));
    server.shutdown().await;
}

#[tokio::test]
async fn after_a_break_the_sdk_resubscribes_at_its_last_value_and_yields_it_again() {
    let (server, topics) = topics_server(MomentoLite::builder()).await;
    let faults = server.faults();
    let mut subscription = subscribe(&topics).await;
    publish(&topics, "a").await;
    publish(&topics, "b").await;
    assert_eq!(next_text(&mut subscription).await, ("a".to_owned(), 1));
    assert_eq!(next_text(&mut subscription).await, ("b".to_owned(), 2));
    let subscribes_before = faults.requests();

    faults.break_subscriptions();
    // Let the old stream end before the next publish (it would otherwise carry it).
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Published while the stream is down: the resumed subscription replays it.
    publish(&topics, "c").await;
    // The SDK reports nothing; it resubscribes at 2 (its last value), which replays 2.
    assert_eq!(next_text(&mut subscription).await, ("b".to_owned(), 2));
    assert_eq!(next_text(&mut subscription).await, ("c".to_owned(), 3));
    publish(&topics, "d").await;
    assert_eq!(next_text(&mut subscription).await, ("d".to_owned(), 4));
    assert_eq!(faults.topic_counts().breaks, 1);
    // The publishes c and d, and at least one resubscription.
    assert!(faults.requests() > subscribes_before + 2);
    server.shutdown().await;
}

#[tokio::test]
async fn a_subscription_broken_before_its_first_value_misses_what_came_meanwhile() {
    let (server, topics) = topics_server(MomentoLite::builder()).await;
    let mut subscription = subscribe(&topics).await;
    server.faults().break_subscriptions();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The SDK resubscribes only when polled, with resume 0 (nothing received): "latest only".
    publish(&topics, "missed").await;
    let next = tokio::spawn(async move { next_text(&mut subscription).await });
    // Let the resubscription land before the next publish.
    tokio::time::sleep(Duration::from_millis(300)).await;
    publish(&topics, "seen").await;
    assert_eq!(next.await.expect("task"), ("seen".to_owned(), 2));
    server.shutdown().await;
}

#[tokio::test]
async fn a_delay_holds_messages_back_and_keeps_their_order() {
    let delay = Duration::from_millis(400);
    let (server, topics) = topics_server(MomentoLite::builder()).await;
    let faults = server.faults();
    let mut subscription = subscribe(&topics).await;
    faults.delay_topic_messages(delay);
    let published = Instant::now();
    for i in 0..5 {
        publish(&topics, &format!("m{i}")).await;
    }
    for i in 0..5u64 {
        assert_eq!(next_text(&mut subscription).await, (format!("m{i}"), i + 1));
        assert!(published.elapsed() >= delay, "delivered before the delay");
    }
    faults.clear();
    let undelayed = Instant::now();
    publish(&topics, "now").await;
    assert_eq!(next_text(&mut subscription).await, ("now".to_owned(), 6));
    assert!(undelayed.elapsed() < delay * 5, "clear() removes the delay");
    server.shutdown().await;
}

#[tokio::test]
async fn error_faults_can_target_publish_only() {
    let (server, topics) = topics_server(MomentoLite::builder()).await;
    let faults = server.faults();
    faults.inject(Fault::error(tonic::Code::Unavailable).on([Rpc::Publish]));
    let mut subscription = subscribe(&topics).await;
    let refused = topics.publish(CACHE, TOPIC, "x").await;
    assert_eq!(error_code(refused), MomentoErrorCode::ServerUnavailable);
    faults.clear();
    publish(&topics, "y").await;
    assert_eq!(next_text(&mut subscription).await, ("y".to_owned(), 1));
    server.shutdown().await;
}

#[tokio::test]
async fn a_reset_restarts_the_sequence_on_a_greater_page() {
    let (server, topics) = topics_server(MomentoLite::builder()).await;
    let mut subscription = subscribe(&topics).await;
    publish(&topics, "old").await;
    let old = next_value(&mut subscription).await;
    assert_eq!(old.topic_sequence_number, 1);

    server.reset_topics();
    publish(&topics, "new").await;
    // The SDK resubscribes with the old page; the new topic's log is replayed from 1.
    let new = next_value(&mut subscription).await;
    assert_eq!(new.kind, ValueKind::Text("new".to_owned()));
    assert_eq!(new.topic_sequence_number, 1);
    assert!(new.topic_sequence_page > old.topic_sequence_page);
    server.shutdown().await;
}

#[tokio::test]
async fn a_stopped_server_ends_streams_and_the_sdk_resumes_after_start_again() {
    let (mut server, topics) = topics_server(MomentoLite::builder()).await;
    let mut subscription = subscribe(&topics).await;
    publish(&topics, "before").await;
    assert_eq!(next_text(&mut subscription).await, ("before".to_owned(), 1));
    server.restart().await.expect("restart");
    publish(&topics, "after").await;
    // The topic survived the restart (same page, counter continued).
    assert_eq!(next_text(&mut subscription).await, ("before".to_owned(), 1));
    assert_eq!(next_text(&mut subscription).await, ("after".to_owned(), 2));
    server.shutdown().await;
}

// The gRPC level: what the SDK's `Subscription` hides.

/// Adds the `authorization` header, as the SDK's header interceptor does.
#[derive(Clone)]
struct Auth(&'static str);

impl tonic::service::Interceptor for Auth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let value = tonic::metadata::MetadataValue::from_static(self.0);
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

type RawClient = PubsubClient<InterceptedService<Channel, Auth>>;

async fn raw_client(server: &LiteServer, token: &'static str) -> RawClient {
    let channel = Channel::from_shared(server.endpoint())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    PubsubClient::with_interceptor(channel, Auth(token))
}

async fn raw_publish(client: &mut RawClient, text: &str) {
    let request = pb::PublishRequest {
        cache_name: CACHE.to_owned(),
        topic: TOPIC.to_owned(),
        value: Some(pb::TopicValue {
            kind: Some(pb::topic_value::Kind::Text(text.to_owned())),
        }),
    };
    client.publish(request).await.expect("publish");
}

async fn raw_subscribe(
    client: &mut RawClient,
    resume_at: u64,
    page: u64,
) -> tonic::Streaming<pb::SubscriptionItem> {
    let request = pb::SubscriptionRequest {
        cache_name: CACHE.to_owned(),
        topic: TOPIC.to_owned(),
        resume_at_topic_sequence_number: resume_at,
        sequence_page: page,
    };
    client
        .subscribe(request)
        .await
        .expect("subscribe")
        .into_inner()
}

async fn next_kind(stream: &mut tonic::Streaming<pb::SubscriptionItem>) -> Kind {
    let item = timeout(PATIENCE, stream.next())
        .await
        .expect("an item in time")
        .expect("the stream goes on")
        .expect("not an error");
    item.kind.expect("an item kind")
}

/// The sequence number and page of the next `TopicItem`, skipping heartbeats (within
/// `PATIENCE` in all).
async fn next_sequence(stream: &mut tonic::Streaming<pb::SubscriptionItem>) -> (u64, u64) {
    let item = async {
        loop {
            match next_kind(stream).await {
                Kind::Item(item) => return (item.topic_sequence_number, item.sequence_page),
                Kind::Heartbeat(_) => continue,
                Kind::Discontinuity(d) => panic!("unexpected {d:?}"),
            }
        }
    };
    timeout(PATIENCE, item).await.expect("an item in time")
}

#[tokio::test]
async fn heartbeats_arrive_at_the_configured_interval_behind_the_auth_check() {
    let builder = MomentoLite::builder()
        .auth_token("secret")
        .topic_heartbeat(Duration::from_millis(100));
    let (server, _topics) = topics_server(builder).await;
    let mut wrong = raw_client(&server, "wrong").await;
    let refused = wrong
        .subscribe(pb::SubscriptionRequest {
            cache_name: CACHE.to_owned(),
            topic: TOPIC.to_owned(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        refused.err().map(|s| s.code()),
        Some(tonic::Code::Unauthenticated)
    );

    let mut client = raw_client(&server, "secret").await;
    let mut stream = raw_subscribe(&mut client, 0, 0).await;
    let start = Instant::now();
    for _ in 0..3 {
        assert_eq!(
            next_kind(&mut stream).await,
            Kind::Heartbeat(pb::Heartbeat {})
        );
    }
    // Three heartbeats 100 ms apart, well before the 5 s default.
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn resuming_replays_from_the_number_or_starts_with_a_discontinuity() {
    let (server, _topics) = topics_server(MomentoLite::builder().topic_buffer(3)).await;
    let mut client = raw_client(&server, "any").await;
    for i in 0..5 {
        raw_publish(&mut client, &format!("m{i}")).await;
    }
    // Within the log: from 4 on, no discontinuity.
    let mut stream = raw_subscribe(&mut client, 4, 0).await;
    let (sequence, page) = next_sequence(&mut stream).await;
    assert_eq!(sequence, 4);
    assert_eq!(next_sequence(&mut stream).await, (5, page));

    // Below the log (1 and 2 were evicted): a discontinuity, then 3, 4, 5.
    let mut stream = raw_subscribe(&mut client, 1, page).await;
    let expected = pb::Discontinuity {
        last_topic_sequence: 0,
        new_topic_sequence: 2,
        new_sequence_page: page,
    };
    assert_eq!(next_kind(&mut stream).await, Kind::Discontinuity(expected));
    assert_eq!(next_sequence(&mut stream).await, (3, page));

    // Another page: a discontinuity naming this page, then the log.
    let mut stream = raw_subscribe(&mut client, 4, page + 1).await;
    match next_kind(&mut stream).await {
        Kind::Discontinuity(d) => assert_eq!(d.new_sequence_page, page),
        other => panic!("expected a discontinuity, got {other:?}"),
    }
    assert_eq!(next_sequence(&mut stream).await, (3, page));

    // Breaking the streams ends them with UNAVAILABLE.
    server.faults().break_subscriptions();
    // Heartbeats may come first; the end must come within PATIENCE.
    let ended = timeout(PATIENCE, async {
        loop {
            match stream.next().await {
                Some(Ok(_)) => continue,
                other => break other,
            }
        }
    })
    .await
    .expect("the stream ends in time");
    let status = ended
        .expect("an error before the end")
        .expect_err("an error");
    assert_eq!(status.code(), tonic::Code::Unavailable);
    server.shutdown().await;
}
