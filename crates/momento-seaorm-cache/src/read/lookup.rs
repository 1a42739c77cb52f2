//! Looking a value up and judging it: one get (or batch get with the generations it depends
//! on), then the header decides — outdated values are never decoded, large ones are decoded on
//! the blocking pool.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use super::path::Reading;
use crate::breaker::Admission;
use crate::codec::{Header, ValueMeta};
use crate::connection::CacheableConnection;
use crate::error::DecodeError;
use crate::generations::Seen;
use crate::guarded::NoAnswer;
use crate::load::Loader;
use crate::policy::{now_ms, OFF_WORKER_BYTES};
use crate::status::{CacheStatus, ReadResult};

/// What one lookup fetched: the stored bytes (or why the cache could not answer), and the
/// generations seen (`None` when none are checked).
pub(super) struct Fetched {
    pub got: Result<Option<Bytes>, NoAnswer>,
    pub seen: Option<Seen>,
}

/// What a lookup that could not serve learned, for the load that follows.
#[derive(Debug, Clone)]
pub(super) struct Missed {
    /// Whether to store what gets loaded (not after a fault).
    pub store: bool,
    /// The generations seen, to stamp the loaded value with.
    pub seen: Option<Seen>,
}

impl Missed {
    /// The stamp a flight is shared under.
    pub(super) fn stamp(&self) -> Option<u64> {
        self.seen.as_ref().and_then(Seen::stamp)
    }
}

/// A value the lookup served, and its stored bytes (for callers waiting on the same flight).
pub(super) type Served<T> = (ReadResult<T>, Bytes);

/// What a stored value turned out to be for a read that saw `seen`.
pub(super) enum Found<T> {
    /// Written under the generations seen (or none are checked); decoded.
    Current(T, ValueMeta),
    /// Written before a write to one of its tables, or a generation is absent; not decoded.
    Outdated,
    /// Not a value this reader can decode.
    Undecodable(DecodeError),
}

/// Judges `bytes` by their header first and decodes the body only when they are current.
pub(super) async fn examine<T>(bytes: &Bytes, seen: Option<&Seen>) -> Found<T>
where
    T: DeserializeOwned + Send + 'static,
{
    let header = match Header::parse(bytes) {
        Ok(header) => header,
        Err(error) => return Found::Undecodable(error),
    };
    let current = match seen {
        None => true,
        Some(Seen::Complete(stamp)) => header.meta.stamp == Some(*stamp),
        Some(Seen::Incomplete(_)) => false,
    };
    if !current {
        return Found::Outdated;
    }
    let decoded = if bytes.len() > OFF_WORKER_BYTES {
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || header.decode(&bytes))
            .await
            .unwrap_or_else(|e| Err(DecodeError::Deserialize(e.to_string())))
    } else {
        header.decode(bytes)
    };
    match decoded {
        Ok(value) => Found::Current(value, header.meta),
        Err(error) => Found::Undecodable(error),
    }
}

/// The batch get's values (the value first, then the generations fetched) with the generations
/// created beside it filled in where the batch found them absent (the batch may have run first).
fn with_created(
    mut values: Vec<Option<Bytes>>,
    unseen: &[usize],
    created: Vec<Option<u64>>,
) -> Vec<Option<Bytes>> {
    for (&position, created) in unseen.iter().zip(created) {
        let slot = values.get_mut(position + 1);
        if let (Some(slot @ None), Some(generation)) = (slot, created) {
            *slot = Some(Bytes::copy_from_slice(&generation.to_le_bytes()));
        }
    }
    values
}

/// Whether a value with `meta` is past its fresh-until.
pub(super) fn is_stale(meta: &ValueMeta) -> bool {
    meta.fresh_until_ms.is_some_and(|until| now_ms() > until)
}

impl<C: CacheableConnection> Reading<'_, C> {
    /// Reads the value and, when the read depends on generations, what it saw of them: in
    /// strict mode in the same batch call, in bounded mode from the in-process copy when it
    /// holds them all (unless a near cache will keep the value: then from the backend).
    pub(super) async fn fetch(&self) -> Fetched {
        let backend = &self.path.backend;
        let key = self.key.as_str();
        let Some(keys) = &self.depends_on else {
            let got = backend.get(self.admission, key).await;
            return Fetched { got, seen: None };
        };
        let local = match self.remote_generations {
            true => None,
            false => self.path.generations.local_stamp(keys),
        };
        if let Some(stamp) = local {
            let got = backend.get(self.admission, key).await;
            let seen = Some(Seen::Complete(stamp));
            return Fetched { got, seen };
        }
        // Strict: the global generation (always first) from the copy held, when it is recent.
        let generations = &self.path.generations;
        let holds = generations.holds_global_of(keys);
        let held = holds.then(|| generations.held_global()).flatten();
        let mut batch: Vec<&str> = Vec::with_capacity(keys.len() + 1);
        batch.push(key);
        let fetched = if held.is_some() {
            &keys[1..]
        } else {
            &keys[..]
        };
        batch.extend(fetched.iter().map(String::as_str));
        // When this read fetches gen-all for the others to hold (timed from the send).
        let sent = (holds && held.is_none()).then(std::time::Instant::now);
        // Generations this process never looked up (a row read for the first time) are
        // likely absent: created beside the batch get, not after it.
        let unseen = match self.admission {
            Admission::Use => generations.unseen(fetched),
            _ => Vec::new(),
        };
        let got = if unseen.is_empty() {
            backend.get_many(self.admission, &batch).await
        } else {
            let creating: Vec<&str> = unseen.iter().map(|&i| fetched[i].as_str()).collect();
            let (got, created) = tokio::join!(
                backend.get_many(self.admission, &batch),
                generations.create_beside(self.admission, &creating),
            );
            got.map(|values| with_created(values, &unseen, created))
        };
        match got {
            Ok(mut values) => {
                match (held, sent) {
                    (Some(global), _) => values.insert(1, Some(global)),
                    (None, Some(sent)) => {
                        generations.hold_global(values.get(1).and_then(Option::as_ref), sent)
                    }
                    (None, None) => {}
                }
                let mut seen = generations.observe(keys, &values[1..]);
                if let Seen::Incomplete(_) = seen {
                    // No stored value is current under an absent generation: create it now, so
                    // the load that follows is stamped with a generation any later write changes.
                    seen = generations.complete(self.admission, keys, seen).await;
                }
                let got = Ok(values.swap_remove(0));
                Fetched {
                    got,
                    seen: Some(seen),
                }
            }
            Err(no_answer) => Fetched {
                got: Err(no_answer),
                seen: None,
            },
        }
    }

    /// Looks the value up: serves it (a hit, or a stale value while one refresh starts; the
    /// caller sets the result's key), or gives the loader back with what the lookup learned.
    pub(super) async fn look<L: Loader>(
        &self,
        loader: L,
    ) -> Result<Served<L::Output>, (L, Missed)> {
        let Fetched { got, seen } = self.fetch().await;
        let cache_us = self.started.elapsed().as_micros() as u64;
        tracing::Span::current().record("cache_us", cache_us);
        let store = got.is_ok();
        if let Ok(Some(bytes)) = got {
            match examine::<L::Output>(&bytes, seen.as_ref()).await {
                Found::Current(value, meta) if is_stale(&meta) => {
                    match self.refresh_in_background(&meta, seen.as_ref(), loader) {
                        Ok(()) => {
                            let served = self.finish_unkeyed(value, CacheStatus::Stale);
                            return Ok((served, bytes));
                        }
                        // No connection a background task could own: refresh in this task.
                        Err(loader) => return Err((loader, Missed { store, seen })),
                    }
                }
                Found::Current(value, _) => {
                    return Ok((self.finish_unkeyed(value, CacheStatus::Hit), bytes));
                }
                Found::Outdated => {
                    self.path.counters.invalidated();
                    debug!(
                        key = self.key.as_str(),
                        "cached value predates a write to its tables; reloading"
                    );
                }
                Found::Undecodable(error) => {
                    self.path.counters.decode_failure();
                    warn!(key = self.key.as_str(), %error, "cached value does not decode; treating it as a miss and overwriting it");
                }
            }
        }
        Err((loader, Missed { store, seen }))
    }

    /// Looks the value up once more; only a current, fresh value counts.
    pub(super) async fn recheck<T>(&self) -> Option<Served<T>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let Fetched { got, seen } = self.fetch().await;
        let bytes = got.ok().flatten()?;
        match examine::<T>(&bytes, seen.as_ref()).await {
            Found::Current(value, meta) if !is_stale(&meta) => {
                Some((self.finish(value, CacheStatus::Hit), bytes))
            }
            _ => None,
        }
    }
}
