//! One topic: its sequence page, its sequence counter and a bounded log of its recent messages.
//!
//! Every accepted publish takes the next sequence number (from 1). A kept message enters the
//! log and wakes the subscriptions; a dropped one (a fault) leaves a hole. The log holds the
//! last `capacity` kept messages and covers the sequence numbers from `window_start` on: a
//! subscription reading from below the window (resuming too far back, or too slow) is told so
//! with a `Discontinuity` and continues at the window start.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use momento_protos::cache_client::pubsub as pb;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::faults::PublishDecision;

/// The most messages one read hands to a subscription at a time.
const READ_BATCH: usize = 64;

/// A message in a topic's log.
#[derive(Debug)]
pub(crate) struct Message {
    /// Its topic sequence number.
    pub(crate) sequence: u64,
    /// The published value.
    pub(crate) value: pb::topic_value::Kind,
    /// Not before this instant may a subscription deliver it (the delay fault).
    pub(crate) deliver_at: Instant,
}

/// What a subscription reads next: maybe a discontinuity, then messages in order.
#[derive(Debug, Default)]
pub(crate) struct Read {
    /// Set when the subscription's cursor was below the log's window.
    pub(crate) discontinuity: Option<pb::Discontinuity>,
    /// Messages from the cursor on (at most [`READ_BATCH`]).
    pub(crate) messages: Vec<Arc<Message>>,
    /// The cursor after these messages: the next sequence number to read.
    pub(crate) next_cursor: u64,
}

/// A topic of one cache.
#[derive(Debug)]
pub(crate) struct Topic {
    page: u64,
    log: Mutex<Log>,
    /// The last sequence number of a kept message; subscriptions wait on it.
    latest: watch::Sender<u64>,
}

#[derive(Debug)]
struct Log {
    /// The sequence number the next publish takes.
    next_sequence: u64,
    /// The lowest sequence number the log still covers.
    window_start: u64,
    messages: VecDeque<Arc<Message>>,
    capacity: usize,
}

impl Topic {
    /// An empty topic on sequence page `page`, keeping its last `capacity` messages.
    pub(crate) fn new(page: u64, capacity: usize) -> Self {
        Self {
            page,
            log: Mutex::new(Log {
                next_sequence: 1,
                window_start: 1,
                messages: VecDeque::new(),
                capacity: capacity.max(1),
            }),
            latest: watch::Sender::new(0),
        }
    }

    /// The topic's sequence page.
    pub(crate) fn page(&self) -> u64 {
        self.page
    }

    /// A receiver that changes whenever a message is kept.
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// Gives `value` the next sequence number (returned) and, unless `decision` drops it, logs
    /// it and wakes the subscriptions.
    pub(crate) fn publish(&self, value: pb::topic_value::Kind, decision: PublishDecision) -> u64 {
        let mut log = self.lock();
        let sequence = log.next_sequence;
        log.next_sequence += 1;
        if decision.dropped {
            tracing::debug!(sequence, "momento-lite dropped a topic message");
            return sequence;
        }
        log.messages.push_back(Arc::new(Message {
            sequence,
            value,
            deliver_at: Instant::now() + decision.delay,
        }));
        if log.messages.len() > log.capacity {
            if let Some(evicted) = log.messages.pop_front() {
                log.window_start = evicted.sequence + 1;
            }
        }
        // Under the log lock, so subscriptions see the messages in the log once woken.
        self.latest.send_replace(sequence);
        sequence
    }

    /// Where a new subscription starts reading, and the discontinuity it is told first, for
    /// its `resume_at_topic_sequence_number` and `sequence_page`:
    /// - resume 0: at the next message published (nothing replayed, no discontinuity);
    /// - another page (a page of 0 is taken as this one): at the start of the log, after a
    ///   discontinuity giving this page (the topic was reset since the client's page);
    /// - resume N within the log (or at the next sequence number): at N, messages ≥ N replayed;
    /// - resume N below the log: at its start, after a discontinuity;
    /// - resume N beyond the next sequence number: at the next message, after a discontinuity.
    pub(crate) fn start(&self, resume_at: u64, page: u64) -> (u64, Option<pb::Discontinuity>) {
        let log = self.lock();
        let next = log.next_sequence;
        let discontinuity = |last: u64, new: u64| pb::Discontinuity {
            last_topic_sequence: last,
            new_topic_sequence: new,
            new_sequence_page: self.page,
        };
        if resume_at == 0 {
            (next, None)
        } else if page != 0 && page != self.page {
            let start = log.window_start;
            (start, Some(discontinuity(0, start - 1)))
        } else if resume_at > next {
            (next, Some(discontinuity(0, next - 1)))
        } else if resume_at < log.window_start {
            let start = log.window_start;
            (start, Some(discontinuity(resume_at - 1, start - 1)))
        } else {
            (resume_at, None)
        }
    }

    /// The messages from `cursor` on, after a discontinuity if the log no longer covers it.
    pub(crate) fn read(&self, cursor: u64) -> Read {
        let log = self.lock();
        let mut read = Read::default();
        let mut cursor = cursor;
        if cursor < log.window_start {
            read.discontinuity = Some(pb::Discontinuity {
                last_topic_sequence: cursor.saturating_sub(1),
                new_topic_sequence: log.window_start - 1,
                new_sequence_page: self.page,
            });
            cursor = log.window_start;
        }
        let first = log.messages.partition_point(|m| m.sequence < cursor);
        read.messages = log
            .messages
            .range(first..)
            .take(READ_BATCH)
            .cloned()
            .collect();
        read.next_cursor = match read.messages.last() {
            Some(last) if read.messages.len() == READ_BATCH => last.sequence + 1,
            // Everything up to the next publish was read (or dropped).
            _ => log.next_sequence.max(cursor),
        };
        read
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> pb::topic_value::Kind {
        pb::topic_value::Kind::Text(s.to_owned())
    }

    fn keep() -> PublishDecision {
        PublishDecision::default()
    }

    fn sequences(read: &Read) -> Vec<u64> {
        read.messages.iter().map(|m| m.sequence).collect()
    }

    #[test]
    fn sequence_numbers_start_at_one_and_drops_leave_holes() {
        let topic = Topic::new(7, 10);
        assert_eq!(topic.publish(text("a"), keep()), 1);
        let drop = PublishDecision {
            dropped: true,
            ..keep()
        };
        assert_eq!(topic.publish(text("b"), drop), 2);
        assert_eq!(topic.publish(text("c"), keep()), 3);
        let read = topic.read(1);
        assert_eq!(sequences(&read), [1, 3]);
        assert_eq!(read.next_cursor, 4);
        assert!(read.discontinuity.is_none());
    }

    #[test]
    fn the_log_is_bounded_and_reading_below_it_is_a_discontinuity() {
        let topic = Topic::new(7, 3);
        for i in 0..5 {
            topic.publish(text(&i.to_string()), keep());
        }
        let read = topic.read(2);
        assert_eq!(sequences(&read), [3, 4, 5]);
        let discontinuity = read.discontinuity.expect("2 was evicted");
        assert_eq!(discontinuity.last_topic_sequence, 1);
        assert_eq!(discontinuity.new_topic_sequence, 2);
        assert_eq!(discontinuity.new_sequence_page, 7);
    }

    #[test]
    fn resuming_follows_the_number_and_the_page() {
        let topic = Topic::new(7, 3);
        for i in 0..5 {
            topic.publish(text(&i.to_string()), keep());
        }
        assert_eq!(topic.start(0, 0), (6, None));
        assert_eq!(topic.start(4, 7), (4, None));
        assert_eq!(topic.start(6, 0), (6, None));
        let (cursor, discontinuity) = topic.start(1, 7);
        assert_eq!(cursor, 3);
        assert_eq!(discontinuity.map(|d| d.new_topic_sequence), Some(2));
        let (cursor, discontinuity) = topic.start(4, 99);
        assert_eq!(cursor, 3);
        let discontinuity = discontinuity.expect("another page");
        assert_eq!(
            (
                discontinuity.last_topic_sequence,
                discontinuity.new_sequence_page
            ),
            (0, 7)
        );
        let (cursor, discontinuity) = topic.start(50, 7);
        assert_eq!(
            (cursor, discontinuity.map(|d| d.new_topic_sequence)),
            (6, Some(5))
        );
    }
}
