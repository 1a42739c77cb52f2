//! Topic faults: dropped messages, delayed delivery and broken subscription streams, plus the
//! counters of topic messages published, delivered and dropped.
//!
//! A dropped message still takes its sequence number (the topic log skips it), so subscribers
//! see a gap in `topic_sequence_number`, as after a message lost inside Momento. A delay holds
//! each message published while it is set until `published + delay` on every subscription
//! (messages stay in order). Breaking the streams ends every open `Subscribe` stream with
//! `UNAVAILABLE`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::FaultController;

/// Counts of topic messages since the server was built (see
/// [`FaultController::topic_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicCounts {
    /// Publishes accepted (each took a sequence number), dropped ones included.
    pub published: u64,
    /// Messages (items, not heartbeats or discontinuities) sent on subscription streams: a
    /// message delivered to two subscribers counts twice, a replayed one counts again.
    pub delivered: u64,
    /// Accepted publishes dropped by [`FaultController::drop_topic_messages`].
    pub dropped: u64,
    /// Subscription streams ended by [`FaultController::break_subscriptions`] calls (the number
    /// of calls, not of streams).
    pub breaks: u64,
}

/// What the topic faults do to one accepted publish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PublishDecision {
    /// Lose the message: it takes a sequence number but reaches no subscriber.
    pub(crate) dropped: bool,
    /// Hold the message this long before any subscriber gets it.
    pub(crate) delay: Duration,
}

/// The topic fault settings and counters, inside the shared state of a [`FaultController`].
#[derive(Debug)]
pub(crate) struct TopicFaults {
    /// The fraction of publishes to drop, as `f64` bits.
    drop_fraction: AtomicU64,
    /// The delivery delay in nanoseconds.
    delay_nanos: AtomicU64,
    published: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    breaks: AtomicU64,
    /// Bumped to end every open subscription stream; each stream watches it.
    streams: watch::Sender<u64>,
}

impl TopicFaults {
    pub(crate) fn new() -> Self {
        Self {
            drop_fraction: AtomicU64::new(0f64.to_bits()),
            delay_nanos: AtomicU64::new(0),
            published: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            breaks: AtomicU64::new(0),
            streams: watch::Sender::new(0),
        }
    }

    /// Switches dropping and delaying off (the counters stay).
    pub(crate) fn clear(&self) {
        self.drop_fraction.store(0f64.to_bits(), Ordering::Relaxed);
        self.delay_nanos.store(0, Ordering::Relaxed);
    }
}

impl FaultController {
    /// Drops a random fraction `p` of the messages published from now on (0 stops dropping;
    /// `p` is clamped to `0.0..=1.0`, NaN counts as 0). A dropped publish still succeeds and
    /// takes the next sequence number, but no subscriber receives it and no resumed
    /// subscription replays it: subscribers see a gap in the sequence numbers.
    pub fn drop_topic_messages(&self, p: f64) {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        tracing::info!(fraction = p, "momento-lite topic message drop fraction set");
        let topics = &self.shared.topics;
        topics.drop_fraction.store(p.to_bits(), Ordering::Relaxed);
    }

    /// Delays the delivery of every message published from now on by `d` on every
    /// subscription (`Duration::ZERO` stops delaying). Messages keep their order; a message
    /// published behind a delayed one waits for it.
    pub fn delay_topic_messages(&self, d: Duration) {
        tracing::info!(delay = ?d, "momento-lite topic delivery delay set");
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.shared
            .topics
            .delay_nanos
            .store(nanos, Ordering::Relaxed);
    }

    /// Ends every open subscription stream now with an `UNAVAILABLE` status, as a broken
    /// connection to Momento's topic service would. The SDK's `Subscription` does not report
    /// it: it resubscribes on its own (see the crate's topics documentation).
    pub fn break_subscriptions(&self) {
        tracing::info!("momento-lite breaking every subscription stream");
        self.shared.topics.breaks.fetch_add(1, Ordering::Relaxed);
        self.end_subscriptions();
    }

    /// The topic message counters: published, delivered, dropped, stream breaks.
    pub fn topic_counts(&self) -> TopicCounts {
        let topics = &self.shared.topics;
        TopicCounts {
            published: topics.published.load(Ordering::Relaxed),
            delivered: topics.delivered.load(Ordering::Relaxed),
            dropped: topics.dropped.load(Ordering::Relaxed),
            breaks: topics.breaks.load(Ordering::Relaxed),
        }
    }

    /// Ends every open subscription stream without counting a break (the server is stopping).
    pub(crate) fn end_subscriptions(&self) {
        self.shared
            .topics
            .streams
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// A receiver that sees a change when the subscription streams must end.
    pub(crate) fn subscription_generation(&self) -> watch::Receiver<u64> {
        self.shared.topics.streams.subscribe()
    }

    /// Counts an accepted publish and decides whether it is dropped or delayed.
    pub(crate) fn on_publish(&self) -> PublishDecision {
        let topics = &self.shared.topics;
        topics.published.fetch_add(1, Ordering::Relaxed);
        let fraction = f64::from_bits(topics.drop_fraction.load(Ordering::Relaxed));
        let dropped = self.chance(fraction);
        if dropped {
            topics.dropped.fetch_add(1, Ordering::Relaxed);
        }
        PublishDecision {
            dropped,
            delay: Duration::from_nanos(topics.delay_nanos.load(Ordering::Relaxed)),
        }
    }

    /// Counts a message sent on a subscription stream.
    pub(crate) fn count_delivered(&self) {
        self.shared.topics.delivered.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_and_delays_are_decided_and_counted() {
        let faults = FaultController::new();
        assert_eq!(faults.on_publish(), PublishDecision::default());
        faults.drop_topic_messages(1.0);
        faults.delay_topic_messages(Duration::from_millis(7));
        let decision = faults.on_publish();
        assert!(decision.dropped);
        assert_eq!(decision.delay, Duration::from_millis(7));
        faults.clear();
        assert_eq!(faults.on_publish(), PublishDecision::default());
        let counts = faults.topic_counts();
        assert_eq!((counts.published, counts.dropped), (3, 1));
    }

    #[test]
    fn breaking_streams_bumps_the_generation_and_the_count() {
        let faults = FaultController::new();
        let generation = faults.subscription_generation();
        faults.break_subscriptions();
        assert!(generation.has_changed().unwrap_or(false));
        faults.end_subscriptions();
        assert_eq!(faults.topic_counts().breaks, 1);
    }
}
