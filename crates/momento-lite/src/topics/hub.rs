//! The topics of a server: one [`Topic`] per (cache, topic name), created by its first publish
//! or subscription, with a sequence page drawn when it is created.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::topic::Topic;

/// How topics behave: the heartbeat interval of subscription streams and the log length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopicSettings {
    /// How often an open subscription stream carries a heartbeat.
    pub(crate) heartbeat: Duration,
    /// How many recent messages each topic keeps for resuming subscriptions.
    pub(crate) buffer: usize,
}

/// The topics of a server, kept across stops and restarts (like the caches).
#[derive(Debug)]
pub(crate) struct TopicHub {
    topics: Mutex<HashMap<(String, String), Arc<Topic>>>,
    /// The page the next created topic gets; pages only grow.
    next_page: AtomicU64,
    /// The state of the generator of page steps.
    random: AtomicU64,
    /// Whether the server is up and accepts subscriptions.
    open: AtomicBool,
    settings: TopicSettings,
}

impl TopicHub {
    /// A hub without topics, closed until the server serves.
    pub(crate) fn new(settings: TopicSettings) -> Self {
        let seed = RandomState::new().build_hasher().finish();
        Self {
            topics: Mutex::new(HashMap::new()),
            // A random first page below 2^40, so pages never wrap.
            next_page: AtomicU64::new((seed >> 24).max(1)),
            random: AtomicU64::new(seed),
            open: AtomicBool::new(false),
            settings,
        }
    }

    /// The settings topics and subscriptions follow.
    pub(crate) fn settings(&self) -> TopicSettings {
        self.settings
    }

    /// The topic `name` of `cache`, created (with a new page) if it does not exist.
    pub(crate) fn topic(&self, cache: &str, name: &str) -> Arc<Topic> {
        let mut topics = self.lock();
        let key = (cache.to_owned(), name.to_owned());
        let topic = topics.entry(key).or_insert_with(|| {
            let page = self.new_page();
            tracing::debug!(cache, topic = name, page, "momento-lite created a topic");
            Arc::new(Topic::new(page, self.settings.buffer))
        });
        Arc::clone(topic)
    }

    /// Forgets every topic: the next publish or subscription to each creates it afresh, with
    /// sequence numbers from 1 on a new, greater page.
    pub(crate) fn reset(&self) {
        self.lock().clear();
    }

    /// Opens (the server serves) or closes (it is stopping) the hub to new subscriptions.
    pub(crate) fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::Release);
    }

    /// Whether new subscriptions are accepted.
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// A page greater than every page handed out before: the last one plus a random step
    /// below 2^24.
    fn new_page(&self) -> u64 {
        let step = self
            .random
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_mul(0xBF58_476D_1CE4_E5B9)
            >> 40;
        self.next_page.fetch_add(step.max(1), Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), Arc<Topic>>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> TopicHub {
        TopicHub::new(TopicSettings {
            heartbeat: Duration::from_secs(5),
            buffer: 10,
        })
    }

    #[test]
    fn a_topic_is_one_per_cache_and_name() {
        let hub = hub();
        let a = hub.topic("c", "t");
        assert!(Arc::ptr_eq(&a, &hub.topic("c", "t")));
        assert!(!Arc::ptr_eq(&a, &hub.topic("d", "t")));
        assert_ne!(a.page(), hub.topic("c", "u").page());
        assert_ne!(a.page(), 0);
    }

    #[test]
    fn a_reset_topic_gets_a_greater_page() {
        let hub = hub();
        let before = hub.topic("c", "t").page();
        hub.reset();
        assert!(hub.topic("c", "t").page() > before);
    }
}
