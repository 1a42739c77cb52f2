//! One subscription stream: the items of a topic from a cursor on, heartbeats while it is idle,
//! discontinuities when it falls behind the topic's log, and an `UNAVAILABLE` end when the
//! streams are broken (a fault) or the server stops.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use momento_protos::cache_client::pubsub as pb;
use pb::subscription_item::Kind;
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tonic::Status;

use super::topic::{Message, Topic};
use crate::faults::FaultController;

/// The stream type of `Subscribe`.
pub(crate) type SubscriptionStream =
    Pin<Box<dyn Stream<Item = Result<pb::SubscriptionItem, Status>> + Send>>;

/// What a subscription sends next.
enum Pending {
    Discontinuity(pb::Discontinuity),
    Message(Arc<Message>),
}

/// The state of one subscription stream.
pub(crate) struct Subscriber {
    topic: Arc<Topic>,
    /// The next sequence number to read from the topic.
    cursor: u64,
    pending: VecDeque<Pending>,
    /// Changes when the topic keeps a message.
    latest: watch::Receiver<u64>,
    /// Changes when the streams must end.
    ended: watch::Receiver<u64>,
    heartbeat: Interval,
    faults: FaultController,
    done: bool,
}

impl Subscriber {
    /// A subscription to `topic` reading from `cursor`, telling `discontinuity` first if any.
    pub(crate) fn new(
        topic: Arc<Topic>,
        cursor: u64,
        discontinuity: Option<pb::Discontinuity>,
        heartbeat: std::time::Duration,
        faults: FaultController,
    ) -> Self {
        let heartbeat = heartbeat.max(std::time::Duration::from_millis(1));
        let mut interval = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            latest: topic.watch(),
            ended: faults.subscription_generation(),
            topic,
            cursor,
            pending: discontinuity
                .map(Pending::Discontinuity)
                .into_iter()
                .collect(),
            heartbeat: interval,
            faults,
            done: false,
        }
    }

    /// The stream of this subscription's items.
    pub(crate) fn into_stream(self) -> SubscriptionStream {
        Box::pin(futures::stream::unfold(self, |mut subscriber| async move {
            let item = subscriber.next().await?;
            Some((item, subscriber))
        }))
    }

    /// The next item: a pending one (once its delivery time has come), a heartbeat when the
    /// interval elapses first, or the end.
    async fn next(&mut self) -> Option<Result<pb::SubscriptionItem, Status>> {
        if self.done {
            return None;
        }
        loop {
            if let Some(pending) = self.pending.pop_front() {
                return self.deliver(pending).await;
            }
            // Marks the current value seen, so a later publish wakes `changed` below.
            if *self.latest.borrow_and_update() >= self.cursor {
                self.refill();
                continue;
            }
            tokio::select! {
                biased;
                _ = self.ended.changed() => return self.end(),
                changed = self.latest.changed() => {
                    if changed.is_err() {
                        return self.end();
                    }
                }
                _ = self.heartbeat.tick() => {
                    return Some(Ok(item(Kind::Heartbeat(pb::Heartbeat {}))));
                }
            }
        }
    }

    /// Sends `pending`, after waiting for its delivery time (unless the stream ends first).
    async fn deliver(&mut self, pending: Pending) -> Option<Result<pb::SubscriptionItem, Status>> {
        let kind = match pending {
            Pending::Discontinuity(discontinuity) => Kind::Discontinuity(discontinuity),
            Pending::Message(message) => {
                if message.deliver_at > Instant::now() {
                    tokio::select! {
                        biased;
                        _ = self.ended.changed() => return self.end(),
                        () = tokio::time::sleep_until(message.deliver_at) => {}
                    }
                }
                self.faults.count_delivered();
                Kind::Item(pb::TopicItem {
                    topic_sequence_number: message.sequence,
                    value: Some(pb::TopicValue {
                        kind: Some(message.value.clone()),
                    }),
                    publisher_id: String::new(),
                    sequence_page: self.topic.page(),
                })
            }
        };
        Some(Ok(item(kind)))
    }

    /// Reads the topic's log from the cursor into the pending items.
    fn refill(&mut self) {
        let read = self.topic.read(self.cursor);
        self.cursor = read.next_cursor;
        self.pending
            .extend(read.discontinuity.map(Pending::Discontinuity));
        self.pending
            .extend(read.messages.into_iter().map(Pending::Message));
    }

    /// Ends the stream with `UNAVAILABLE`, as a broken connection to the service would.
    fn end(&mut self) -> Option<Result<pb::SubscriptionItem, Status>> {
        self.done = true;
        Some(Err(Status::unavailable(
            "momento-lite ended the subscription stream",
        )))
    }
}

fn item(kind: Kind) -> pb::SubscriptionItem {
    pb::SubscriptionItem { kind: Some(kind) }
}
