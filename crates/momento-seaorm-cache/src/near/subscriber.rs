//! The subscriber task: keeps one subscription to the topic live and applies what arrives. Any
//! sign of loss flushes; a broken subscription keeps the near cache bypassed until a new one is
//! live; a refused one is logged and tried again.
//!
//! ```text
//! Subscribe (after the first item: resuming at the last sequence seen + 1, on its page)
//!   ├─ refused ─► warn (at once, then every 10 s while it lasts) ─► back off (≤ 1 s) ─► again
//!   └─ live ─► position known? healthy at once
//!              : publish a marker (again every second), healthy at the first item or gap
//!        item: sequence = last + 1 on the same page? apply : flush (a gap), then apply
//!        discontinuity ─► flush
//!        error, end of stream, no heartbeat within heartbeat_timeout
//!            ─► unhealthy (flush, bypass) ─► subscribe again
//! ```
//! The position survives resubscriptions, so a message lost between two streams, or right after
//! a new one starts, shows as a gap at the next item. Before the first item there is no position
//! to check against: the store stays bypassed until one arrives, and the marker makes one
//! arrive on a quiet topic. Nothing kept before that moment can miss a bump published earlier
//! (a bump is recorded in the backend before it is published).

use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::{Duration, Instant};

use momento_protos::cache_client::pubsub::{
    subscription_item, topic_value, SubscriptionItem, SubscriptionRequest, TopicItem,
};
use tracing::{debug, info, warn};

use super::topic::{Client, Route};
use super::{wire, Near};

/// The first wait after a refused subscription; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How often a subscription refused again and again is logged.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// How long a new stream without a position waits for an item before publishing its marker
/// again.
const MARKER_RETRY: Duration = Duration::from_secs(1);

/// Where the subscription stands: the last item or discontinuity seen, across streams.
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

    fn known(&self) -> bool {
        self.last.is_some()
    }

    /// (resume at, page) for the next subscription: just after the last item seen.
    fn resume(&self) -> (u64, u64) {
        self.last.map_or((0, 0), |(page, last)| (last + 1, page))
    }
}

/// Refused subscriptions in a row: how long to wait, when to warn.
#[derive(Default)]
struct Refusals {
    count: u64,
    warned: Option<Instant>,
}

impl Refusals {
    fn refused(&mut self, status: &tonic::Status, topic: &str) {
        self.count += 1;
        if self.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            warn!(%status, topic, attempts = self.count,
                "near cache: cannot subscribe to its invalidation topic; reads skip the near cache until it can, retrying");
            self.warned = Some(Instant::now());
        }
    }

    fn subscribed(&mut self, topic: &str) {
        if self.count > 0 {
            info!(
                topic,
                attempts = self.count,
                "near cache: subscribed to its invalidation topic"
            );
        }
        *self = Refusals::default();
    }

    fn backoff(&self) -> Duration {
        let doublings = self.count.saturating_sub(1).min(6) as u32;
        (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
    }
}

/// Keeps one subscription live for as long as the near cache exists.
pub(super) async fn run(route: Route, heartbeat: Option<Duration>, near: Weak<Near>) {
    let mut client = route.client.clone();
    let mut position = Position::default();
    let mut refusals = Refusals::default();
    loop {
        let (resume, page) = position.resume();
        let request = SubscriptionRequest {
            cache_name: route.cache_name.clone(),
            topic: route.topic.clone(),
            resume_at_topic_sequence_number: resume,
            sequence_page: page,
        };
        match client.subscribe(request).await {
            Ok(response) => {
                refusals.subscribed(&route.topic);
                let stream = response.into_inner();
                if !follow(&route, stream, heartbeat, &near, &mut position).await {
                    return;
                }
            }
            Err(status) => refusals.refused(&status, &route.topic),
        }
        if near.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(refusals.backoff()).await;
    }
}

/// Publishes this process's marker, so an item arrives even on a quiet topic (waiting at most
/// [`MARKER_RETRY`]: the stream is not read meanwhile).
async fn publish_marker(client: &mut Client, route: &Route) {
    let request = route.publish_request(wire::marker(route.id));
    match tokio::time::timeout(MARKER_RETRY, client.publish(request)).await {
        Ok(Ok(_)) => {}
        Ok(Err(status)) => debug!(%status, "near cache: could not publish its marker"),
        Err(_) => debug!("near cache: its marker was not published in time"),
    }
}

/// Follows one stream until it breaks; `false` when the near cache is gone.
async fn follow(
    route: &Route,
    mut stream: tonic::Streaming<SubscriptionItem>,
    heartbeat: Option<Duration>,
    near: &Weak<Near>,
    position: &mut Position,
) -> bool {
    let mut client = route.client.clone();
    match near.upgrade() {
        // Resumed just after the last item seen: the first item is checked against it.
        Some(live) if position.known() => live.store.set_healthy(true),
        Some(_) => publish_marker(&mut client, route).await,
        None => return false,
    }
    let mut heard = Instant::now();
    loop {
        let limit = match position.known() {
            true => heartbeat,
            false => Some(heartbeat.map_or(MARKER_RETRY, |h| h.min(MARKER_RETRY))),
        };
        let next = match limit {
            Some(limit) => tokio::time::timeout(limit, stream.message()).await,
            None => Ok(stream.message().await),
        };
        let Some(near) = near.upgrade() else {
            return false;
        };
        let item = match next {
            Ok(Ok(Some(item))) => item,
            Err(_) if heartbeat.is_none_or(|h| heard.elapsed() < h) => {
                publish_marker(&mut client, route).await;
                continue;
            }
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
                debug!("near cache: subscription ended, failed or went silent; flushing");
                near.store.stats.gaps.fetch_add(1, Ordering::Relaxed);
                near.store.set_healthy(false);
                return true;
            }
        };
        heard = Instant::now();
        match item.kind {
            Some(subscription_item::Kind::Item(item)) => apply(route, &near, position, item),
            Some(subscription_item::Kind::Discontinuity(gap)) => {
                position.last = Some((gap.new_sequence_page, gap.new_topic_sequence));
                near.store.stats.gaps.fetch_add(1, Ordering::Relaxed);
                near.store.flush();
            }
            Some(subscription_item::Kind::Heartbeat(_)) | None => {}
        }
        if position.known() && !near.store.is_healthy() {
            near.store.set_healthy(true);
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
    near.received(route.id, &payload);
}

#[cfg(test)]
mod tests {
    use super::{Position, Refusals};
    use std::time::Duration;

    #[test]
    fn a_position_follows_only_the_next_number_on_the_same_page_and_resumes_after_it() {
        let mut position = Position::default();
        assert_eq!(position.resume(), (0, 0), "nothing seen: from now on");
        assert!(position.follows(3, 10), "the first item sets the position");
        assert!(position.follows(3, 11));
        assert_eq!(position.resume(), (12, 3));
        assert!(!position.follows(3, 13), "12 was missed");
        assert!(!position.follows(4, 14), "a new page");
        assert!(position.follows(4, 15));
    }

    #[test]
    fn refusals_back_off_up_to_a_second() {
        let mut refusals = Refusals {
            count: 1,
            warned: None,
        };
        assert_eq!(refusals.backoff(), Duration::from_millis(20));
        refusals.count = 3;
        assert_eq!(refusals.backoff(), Duration::from_millis(80));
        refusals.count = 50;
        assert_eq!(refusals.backoff(), Duration::from_secs(1));
    }
}
