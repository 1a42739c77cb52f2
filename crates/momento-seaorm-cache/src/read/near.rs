//! The near cache on the read path: served from process memory before the breaker and the
//! backend are consulted; a remote hit is kept near under the ticket taken before it.

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::path::ReadPath;
use crate::key::CacheKey;
use crate::metrics::ReadOutcome;
use crate::near::{NearLookup, NearTicket};
use crate::status::{CacheStatus, ReadResult};

impl ReadPath {
    /// A near hit for `key`, or the key back with the ticket its remote lookup takes (`None`:
    /// no near cache, or it is bypassed now).
    pub(super) fn near_lookup<T: DeserializeOwned>(
        &self,
        key: CacheKey,
        depends_on: Option<&[String]>,
    ) -> Result<ReadResult<T>, (CacheKey, Option<NearTicket>)> {
        let Some(near) = &self.near else {
            return Err((key, None));
        };
        match near.store.lookup(key.as_str(), depends_on) {
            NearLookup::Hit(entry) => match entry.value.decode::<T>() {
                Ok(value) => {
                    let outcome = ReadOutcome::NearHit;
                    Ok(self.finish(value, CacheStatus::NearHit, Some(key), outcome))
                }
                // Another type read under the same key: the remote path decides.
                Err(_) => Err((key, None)),
            },
            NearLookup::Miss(ticket) => Err((key, ticket)),
        }
    }

    /// Keeps what a remote hit served, under the ticket taken before its lookup.
    pub(super) fn near_keep(&self, key: &CacheKey, ticket: Option<NearTicket>, bytes: &Bytes) {
        if let (Some(near), Some(ticket)) = (&self.near, ticket) {
            near.store.keep(key.as_str(), ticket, bytes);
        }
    }
}
