//! Load leases across processes: on a miss, one process takes a short set-if-absent lease and
//! queries; the others wait for its value, then query themselves if it never comes.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::breaker::Admission;
use crate::cache::ModelCache;
use crate::key::CacheKey;

/// What trying to take a load lease found.
pub(crate) enum LeaseOutcome {
    /// This process loads; it releases the lease after storing.
    Acquired,
    /// No lease could be taken or awaited (a fault, or the holder never stored): load anyway.
    Absent,
    /// Another process stored the value while this one waited.
    ValueAppeared(Bytes),
}

impl ModelCache {
    fn lease_key(&self, key: &CacheKey) -> CacheKey {
        CacheKey::lease_for(key, &self.shared.prefix)
    }

    /// Takes the load lease for `key`, or waits up to `lease` for its holder's value.
    pub(crate) async fn take_lease(
        &self,
        key: &CacheKey,
        lease: Duration,
        admission: Admission,
    ) -> LeaseOutcome {
        let lease_key = self.lease_key(key);
        let attempt = self
            .backend()
            .set_if_absent(lease_key.as_str(), b"1".to_vec(), lease);
        match self.guarded(admission, "lease", &lease_key, attempt).await {
            Ok(true) => return LeaseOutcome::Acquired,
            Ok(false) => {}
            Err(()) => return LeaseOutcome::Absent,
        }
        let deadline = Instant::now() + lease;
        let poll = (lease / 20).max(Duration::from_millis(5));
        while Instant::now() < deadline {
            tokio::time::sleep(poll).await;
            match self
                .guarded(admission, "get", key, self.backend().get(key.as_str()))
                .await
            {
                Ok(Some(bytes)) => return LeaseOutcome::ValueAppeared(bytes),
                Ok(None) => {}
                Err(()) => return LeaseOutcome::Absent,
            }
        }
        LeaseOutcome::Absent
    }

    pub(crate) async fn release_lease(&self, key: &CacheKey) {
        let lease_key = self.lease_key(key);
        let delete = self.backend().delete(lease_key.as_str());
        let _ = self
            .guarded(Admission::Use, "lease release", &lease_key, delete)
            .await;
    }
}
