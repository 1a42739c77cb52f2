//! Load leases across processes: on a miss, one process takes a short set-if-absent lease and
//! queries; the others wait for its value, then query themselves if it never comes.

use std::time::{Duration, Instant};

use super::path::Reading;
use crate::breaker::Admission;
use crate::connection::CacheableConnection;

/// What trying to take a load lease found.
pub(super) enum LeaseOutcome {
    /// This process loads; it releases the lease after storing.
    Acquired,
    /// No lease could be taken or awaited (a fault, or the holder never stored): load anyway.
    Absent,
    /// Another process stored the value while this one waited (judge it with a fresh lookup:
    /// the generations may have been created since this read saw them).
    ValueAppeared,
}

impl<C: CacheableConnection> Reading<'_, C> {
    /// Takes the load lease of this read's key, or waits up to `lease` for its holder's value.
    pub(super) async fn take_lease(&self, lease: Duration) -> LeaseOutcome {
        let backend = &self.path.backend;
        let lease_key = self.path.keys.lease(&self.key);
        let attempt = backend
            .set_if_absent(self.admission, lease_key.as_str(), b"1".to_vec(), lease)
            .await;
        match attempt {
            Ok(true) => return LeaseOutcome::Acquired,
            Ok(false) => {}
            Err(_) => return LeaseOutcome::Absent,
        }
        let deadline = Instant::now() + lease;
        let poll = (lease / 20).max(Duration::from_millis(5));
        while Instant::now() < deadline {
            tokio::time::sleep(poll).await;
            match backend.get(self.admission, self.key.as_str()).await {
                Ok(Some(_)) => return LeaseOutcome::ValueAppeared,
                Ok(None) => {}
                Err(_) => return LeaseOutcome::Absent,
            }
        }
        LeaseOutcome::Absent
    }

    /// Releases the lease this read took (a fault is logged; the lease expires anyway).
    pub(super) async fn release_lease(&self) {
        let lease_key = self.path.keys.lease(&self.key);
        let _ = self
            .path
            .backend
            .delete(Admission::Use, lease_key.as_str())
            .await;
    }
}
