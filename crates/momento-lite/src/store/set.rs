//! Set items: a collection of distinct byte elements under one key (`SetUnion`,
//! `SetDifference`, `SetFetch`).
//!
//! Collections follow Momento's TTL rule: a write that creates the set gives it the request's
//! TTL; a write to an existing set resets its TTL only when `refresh_ttl` is true. A set whose
//! last element is removed no longer exists.

use std::collections::BTreeSet;
use std::time::Instant;

use super::{expiry, Cache, Value};
use crate::error::StoreError;

/// The TTL part of a collection write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionTtl {
    /// TTL for a newly created collection, and for an existing one when `refresh` is true.
    pub ttl_ms: u64,
    /// Whether a write to an existing collection resets its TTL.
    pub refresh: bool,
}

impl Cache {
    /// Adds `elements` to the set under `name`, creating it if absent.
    pub fn set_union(
        &mut self,
        name: Vec<u8>,
        elements: Vec<Vec<u8>>,
        ttl: CollectionTtl,
        now: Instant,
    ) -> Result<(), StoreError> {
        let Some(set) = self.live_set(&name, now)? else {
            if elements.is_empty() {
                return Ok(());
            }
            let set = Value::Set(elements.into_iter().collect());
            return self.put(name, set, ttl.ttl_ms, now);
        };
        let added: usize = elements
            .iter()
            .filter(|element| !set.contains(*element))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(Vec::len)
            .sum();
        let current = set_size(set);
        self.entries.admit(&name, current.saturating_add(added))?;
        self.entries.update(&name, now, |item| {
            if let Value::Set(set) = &mut item.value {
                set.extend(elements);
            }
            if ttl.refresh {
                item.expires_at = expiry(now, ttl.ttl_ms);
            }
        });
        Ok(())
    }

    /// Removes `elements` from the set under `name`; returns whether the set existed.
    pub fn set_remove(
        &mut self,
        name: &[u8],
        elements: &[Vec<u8>],
        now: Instant,
    ) -> Result<bool, StoreError> {
        self.shrink_set(name, now, |set| {
            for element in elements {
                set.remove(element);
            }
        })
    }

    /// Replaces the set under `name` with `elements` minus its current elements; returns whether
    /// the set existed (a missing set is left missing). A result too large is refused and the set
    /// left as it was.
    pub fn set_replace_with_difference(
        &mut self,
        name: &[u8],
        elements: Vec<Vec<u8>>,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let Some(set) = self.live_set(name, now)? else {
            return Ok(false);
        };
        let mut minuend: BTreeSet<Vec<u8>> = elements.into_iter().collect();
        minuend.retain(|element| !set.contains(element));
        if minuend.is_empty() {
            self.entries.remove(name);
            return Ok(true);
        }
        self.entries.admit(name, set_size(&minuend))?;
        self.entries.update(name, now, |item| {
            item.value = Value::Set(minuend);
        });
        Ok(true)
    }

    /// Removes every element of the set under `name` (the set minus itself); returns whether the
    /// set existed.
    pub fn set_clear(&mut self, name: &[u8], now: Instant) -> Result<bool, StoreError> {
        self.shrink_set(name, now, BTreeSet::clear)
    }

    /// The elements of the set under `name`, or `None` if there is no such set. A hit is a use.
    pub fn set_fetch(
        &mut self,
        name: &[u8],
        now: Instant,
    ) -> Result<Option<Vec<Vec<u8>>>, StoreError> {
        let elements = self
            .live_set(name, now)?
            .map(|set| set.iter().cloned().collect());
        if elements.is_some() {
            self.entries.touch(name);
        }
        Ok(elements)
    }

    /// Applies `remove` (which only takes elements out) to the live set under `name`, deleting the
    /// set if it ends up empty; returns whether the set existed.
    fn shrink_set(
        &mut self,
        name: &[u8],
        now: Instant,
        remove: impl FnOnce(&mut BTreeSet<Vec<u8>>),
    ) -> Result<bool, StoreError> {
        if self.live_set(name, now)?.is_none() {
            return Ok(false);
        }
        let emptied = self
            .entries
            .update(name, now, |item| match &mut item.value {
                Value::Set(set) => {
                    remove(set);
                    set.is_empty()
                }
                Value::Bytes(_) => false,
            });
        if emptied == Some(true) {
            self.entries.remove(name);
        }
        Ok(true)
    }

    /// The live set under `name`; a scalar under `name` is a wrong-type error. Not a use.
    fn live_set(
        &mut self,
        name: &[u8],
        now: Instant,
    ) -> Result<Option<&BTreeSet<Vec<u8>>>, StoreError> {
        match self.live(name, now).map(|item| &item.value) {
            None => Ok(None),
            Some(Value::Set(set)) => Ok(Some(set)),
            Some(other) => Err(StoreError::WrongType {
                expected: "set",
                found: other.kind(),
            }),
        }
    }
}

/// The bytes of a set's elements.
fn set_size(set: &BTreeSet<Vec<u8>>) -> usize {
    set.iter().map(Vec::len).sum()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn elements(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    const REFRESH: CollectionTtl = CollectionTtl {
        ttl_ms: 1000,
        refresh: true,
    };

    #[test]
    fn union_then_remove_then_fetch() {
        let mut cache = Cache::default();
        let now = Instant::now();
        cache
            .set_union(b"s".to_vec(), elements(&["a", "b"]), REFRESH, now)
            .unwrap();
        cache
            .set_union(b"s".to_vec(), elements(&["b", "c"]), REFRESH, now)
            .unwrap();
        assert_eq!(
            cache.set_remove(b"s", &elements(&["a", "zz"]), now),
            Ok(true)
        );
        assert_eq!(cache.set_fetch(b"s", now), Ok(Some(elements(&["b", "c"]))));
        assert_eq!(
            cache.set_remove(b"missing", &elements(&["a"]), now),
            Ok(false)
        );
    }

    #[test]
    fn removing_the_last_element_deletes_the_set() {
        let mut cache = Cache::default();
        let now = Instant::now();
        cache
            .set_union(b"s".to_vec(), elements(&["a"]), REFRESH, now)
            .unwrap();
        assert_eq!(cache.set_clear(b"s", now), Ok(true));
        assert_eq!(cache.set_fetch(b"s", now), Ok(None));
        assert!(!cache.exists(b"s", now));
    }

    #[test]
    fn the_minuend_form_stores_request_minus_stored() {
        let mut cache = Cache::default();
        let now = Instant::now();
        cache
            .set_union(b"s".to_vec(), elements(&["a", "b"]), REFRESH, now)
            .unwrap();
        let found = cache.set_replace_with_difference(b"s", elements(&["b", "c"]), now);
        assert_eq!(found, Ok(true));
        assert_eq!(cache.set_fetch(b"s", now), Ok(Some(elements(&["c"]))));
    }

    #[test]
    fn refresh_false_keeps_the_ttl_of_an_existing_set() {
        let mut cache = Cache::default();
        let now = Instant::now();
        cache
            .set_union(b"s".to_vec(), elements(&["a"]), REFRESH, now)
            .unwrap();
        let keep = CollectionTtl {
            ttl_ms: 50_000,
            refresh: false,
        };
        cache
            .set_union(b"s".to_vec(), elements(&["b"]), keep, now)
            .unwrap();
        assert_eq!(
            cache.remaining_ttl(b"s", now),
            Some(Duration::from_millis(1000))
        );
        let refresh = CollectionTtl {
            refresh: true,
            ..keep
        };
        cache
            .set_union(b"s".to_vec(), elements(&["c"]), refresh, now)
            .unwrap();
        assert_eq!(
            cache.remaining_ttl(b"s", now),
            Some(Duration::from_millis(50_000))
        );
    }

    #[test]
    fn set_operations_on_a_scalar_are_wrong_type() {
        let mut cache = Cache::default();
        let now = Instant::now();
        cache.set(b"k".to_vec(), b"v".to_vec(), 1000, now).unwrap();
        let error = StoreError::WrongType {
            expected: "set",
            found: "scalar",
        };
        assert_eq!(cache.set_fetch(b"k", now), Err(error.clone()));
        assert_eq!(
            cache.set_union(b"k".to_vec(), elements(&["a"]), REFRESH, now),
            Err(error)
        );
    }
}
