//! After a miss: take the lease, create absent generations, load from the database, encode
//! under the storing policy and store — inline or in the background (the flight stays
//! joinable, and deletes of the key wait, until a background store lands) — and refresh stale
//! values.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sea_orm::DbErr;
use serde::Serialize;

use super::lease::LeaseOutcome;
use super::lookup::Missed;
use super::path::{ReadPath, Reading};
use crate::breaker::Admission;
use crate::codec::ValueMeta;
use crate::connection::CacheableConnection;
use crate::flight::{FlightKey, Landing, Stored};
use crate::generations::Seen;
use crate::key::CacheKey;
use crate::load::Loader;
use crate::status::{CacheStatus, ReadResult};

impl ReadPath {
    /// Stores encoded bytes loaded under `stamp`, in a background task when configured: the
    /// flight of (key, stamp) then ends, and explicit deletes of the key go ahead, only once
    /// the set has returned.
    pub(super) async fn store(
        self: &Arc<Self>,
        key: &CacheKey,
        stamp: Option<u64>,
        bytes: Bytes,
        ttl: Duration,
    ) -> Stored {
        if !self.background_writes {
            self.set_now(key, bytes, ttl).await;
            return Stored::Yes;
        }
        let pending = self.pending.start(key);
        let path = Arc::clone(self);
        let flight = FlightKey {
            key: key.clone(),
            stamp,
        };
        tokio::spawn(async move {
            path.set_now(&flight.key, bytes, ttl).await;
            if let Some(flights) = &path.flights {
                flights.stored(&flight);
            }
            drop(pending);
        });
        Stored::Pending
    }

    async fn set_now(&self, key: &CacheKey, bytes: Bytes, ttl: Duration) {
        let value = bytes.to_vec();
        let _ = self
            .backend
            .set(Admission::Use, key.as_str(), value, ttl)
            .await;
    }
}

impl<C: CacheableConnection> Reading<'_, C> {
    /// After a miss: takes the lease if configured, loads from the database, stores. Returns
    /// the caller's result and what waiters on the same flight may take.
    pub(super) async fn fill<L: Loader>(
        &self,
        loader: L,
        missed: Missed,
    ) -> (Result<ReadResult<L::Output>, DbErr>, Landing) {
        let Missed { mut store, seen } = missed;
        let flights = self.path.flights.as_ref();
        if store && flights.is_some_and(|f| f.landed_since(&self.key, self.started)) {
            // A flight stored this key after this caller's lookup began: look again.
            if let Some((served, bytes)) = self.recheck::<L::Output>().await {
                return (Ok(served), Landing::Hit(bytes));
            }
        }
        let mut leased = false;
        if let (true, Some(lease)) = (store, self.path.lease) {
            match self.take_lease(lease).await {
                LeaseOutcome::Acquired => leased = true,
                LeaseOutcome::Absent => {}
                LeaseOutcome::ValueAppeared => {
                    if let Some((served, bytes)) = self.recheck::<L::Output>().await {
                        return (Ok(served), Landing::Hit(bytes));
                    }
                }
            }
        }
        // Only a present generation stands in a stamp: a read that saw one absent (and could
        // not create it) does not store.
        let stamp = seen.as_ref().and_then(Seen::stamp);
        store &= seen.is_none() || stamp.is_some();
        let (loaded, landing) = match self.path.load(self.db, loader).await {
            Ok(value) => {
                let (value, landing) = self.keep(value, stamp, store).await;
                (Ok(value), landing)
            }
            Err(error) => (Err(error), Landing::Nothing),
        };
        if leased {
            self.release_lease().await;
        }
        (loaded.map(|v| self.finish(v, CacheStatus::Miss)), landing)
    }

    /// Encodes a loaded value and stores it unless `store` is false (after a fault, or when
    /// a generation could not be created) or the policy says not to; returns what waiters on
    /// the same flight may take.
    async fn keep<T: Serialize + Send + 'static>(
        &self,
        value: T,
        stamp: Option<u64>,
        store: bool,
    ) -> (T, Landing) {
        let policy = &self.path.policy;
        let (value, encoded) = policy.encode(&self.key, value, self.options, stamp).await;
        let Some(encoded) = encoded else {
            return (value, Landing::Nothing);
        };
        let stored = match encoded.store_for {
            Some(ttl) if store => {
                crate::report::stored(encoded.bytes.len());
                let bytes = encoded.bytes.clone();
                self.path.store(&self.key, stamp, bytes, ttl).await
            }
            _ => Stored::No,
        };
        (value, Landing::Loaded(encoded.bytes, stored))
    }

    /// Refreshes a stale value once per stored version in this process, in a background task
    /// on a detached connection. Gives the loader back when the connection has none (the
    /// caller then refreshes in its own task and serves the fresh value).
    pub(super) fn refresh_in_background<L: Loader>(
        &self,
        meta: &ValueMeta,
        seen: Option<&Seen>,
        loader: L,
    ) -> Result<(), L> {
        let Some(conn) = self.db.detached() else {
            return Err(loader);
        };
        // One refresh per stale version of a value: later readers of the same version skip,
        // even after the refresh has landed (they fetched before it did).
        let version = (self.key.clone(), meta.fresh_until_ms.unwrap_or_default());
        let claimed = {
            // Check and insert under one lock: exactly one reader of a version claims it.
            let _claiming = self.path.claiming.lock().unwrap_or_else(|e| e.into_inner());
            let fresh = !self.path.refreshing.contains_key(&version);
            if fresh {
                self.path.refreshing.insert(version, ());
            }
            fresh
        };
        if !claimed {
            return Ok(());
        }
        let path = Arc::clone(self.path);
        let key = self.key.clone();
        let options = self.options;
        let stamp = seen.and_then(Seen::stamp);
        tokio::spawn(async move {
            if let Ok(value) = path.load(&conn, loader).await {
                let (_, encoded) = path.policy.encode(&key, value, options, stamp).await;
                if let Some(encoded) = encoded {
                    if let Some(ttl) = encoded.store_for {
                        path.set_now(&key, encoded.bytes, ttl).await;
                    }
                }
            }
        });
        Ok(())
    }
}
