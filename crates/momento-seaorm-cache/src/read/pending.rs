//! Background stores that have not landed yet, by key, so an explicit delete of a key in this
//! process waits for them: a value loaded before the delete must not be stored after it.
//!
//! With `background_writes(true)` a miss returns before its set reaches the cache. Its flight
//! stays joinable until then (`Stored::Pending`), so reads in this process take the loaded
//! value instead of querying again; a delete (`invalidate_by_pk`, `invalidate` of a query)
//! waits here for the stores of its keys, each bounded by the cache's deadline, then deletes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::key::CacheKey;

/// The background stores in flight, per key, each numbered in the order it started.
#[derive(Debug, Default)]
pub(crate) struct PendingStores {
    in_flight: Mutex<InFlight>,
    landed: Notify,
}

#[derive(Debug, Default)]
struct InFlight {
    /// The number the next store gets.
    next: u64,
    by_key: HashMap<CacheKey, Vec<u64>>,
}

/// One background store in flight; it counts as landed when dropped (after its set returned,
/// or when its task is dropped unrun).
#[derive(Debug)]
pub(crate) struct Pending {
    stores: Arc<PendingStores>,
    key: CacheKey,
    number: u64,
}

impl PendingStores {
    /// Counts a store of `key` that starts now, until the returned guard is dropped.
    pub(crate) fn start(self: &Arc<Self>, key: &CacheKey) -> Pending {
        let mut in_flight = self.lock();
        let number = in_flight.next;
        in_flight.next += 1;
        in_flight
            .by_key
            .entry(key.clone())
            .or_default()
            .push(number);
        Pending {
            stores: Arc::clone(self),
            key: key.clone(),
            number,
        }
    }

    /// Waits until every store of `key` that started before this call has landed (those that
    /// start meanwhile are not waited for; each store ends within the deadline).
    pub(crate) async fn landed(&self, key: &CacheKey) {
        let before = self.lock().next;
        loop {
            let notified = self.landed.notified();
            tokio::pin!(notified);
            // Registered before the check, so a landing between the check and the wait wakes it.
            notified.as_mut().enable();
            if !self.any_before(key, before) {
                return;
            }
            notified.await;
        }
    }

    /// Whether a store of `key` numbered below `before` is in flight.
    fn any_before(&self, key: &CacheKey, before: u64) -> bool {
        let in_flight = self.lock();
        let numbers = in_flight.by_key.get(key);
        numbers.is_some_and(|n| n.iter().any(|&number| number < before))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        {
            let mut in_flight = self.stores.lock();
            if let Some(numbers) = in_flight.by_key.get_mut(&self.key) {
                numbers.retain(|&number| number != self.number);
                if numbers.is_empty() {
                    in_flight.by_key.remove(&self.key);
                }
            }
        }
        self.stores.landed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{KeyFormat, Operation};
    use std::time::Duration;

    fn key(sql: &str) -> CacheKey {
        let statement = sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, sql);
        KeyFormat::new("p".into(), 1024).statement(Operation::All, "t", &statement)
    }

    #[tokio::test]
    async fn a_wait_ends_when_the_stores_of_its_key_before_it_have_landed() {
        let stores = Arc::new(PendingStores::default());
        let (a, b) = (key("SELECT 1"), key("SELECT 2"));
        let first = stores.start(&a);
        let second = stores.start(&a);
        let other = stores.start(&b);
        let wait = stores.landed(&a);
        tokio::pin!(wait);
        let short = Duration::from_millis(20);
        // The first poll begins the wait: it waits for the two stores of `a` started before.
        assert!(tokio::time::timeout(short, &mut wait).await.is_err());
        // Started after the wait began: not waited for.
        let later = stores.start(&a);
        drop(first);
        assert!(
            tokio::time::timeout(short, &mut wait).await.is_err(),
            "one store of the key from before the wait is still in flight"
        );
        drop(second);
        tokio::time::timeout(Duration::from_secs(10), &mut wait)
            .await
            .expect("the wait ends when the key's earlier stores have landed");
        assert!(
            stores.any_before(&a, u64::MAX),
            "the later store is still counted"
        );
        drop(later);
        // A key with no store in flight does not wait; another key's store does not count.
        tokio::time::timeout(Duration::from_secs(10), stores.landed(&a))
            .await
            .unwrap();
        assert!(stores.any_before(&b, u64::MAX));
        drop(other);
        assert!(!stores.any_before(&b, u64::MAX));
    }
}
