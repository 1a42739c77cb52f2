//! Which generation keys this process has looked up before: a hint, so a lookup that is likely
//! to find a generation absent (the first read of a row) creates it beside its batch get rather
//! than after it, saving a miss one round trip.
//!
//! A direct-mapped table of key hashes: no lock, no allocation, a fixed 512 KiB. It is only a
//! hint: a key forgotten (its slot taken by another) costs one set-if-absent beside a lookup
//! that did not need it; a key remembered that has since been evicted is found absent by the
//! batch get and created after it, as without the hint. Correctness never depends on it.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many keys the table remembers at most.
const SLOTS: usize = 1 << 16;

/// Generation keys looked up before, by hash.
#[derive(Debug)]
pub(crate) struct SeenKeys {
    slots: Box<[AtomicU64]>,
    hasher: foldhash::fast::RandomState,
}

impl Default for SeenKeys {
    fn default() -> Self {
        SeenKeys {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl SeenKeys {
    /// Whether `key` was looked up before; remembers it either way.
    pub(crate) fn check_in(&self, key: &str) -> bool {
        let hash = self.hasher.hash_one(key);
        // Never zero, so an empty slot matches no key.
        let tag = hash | 1;
        let slot = &self.slots[(hash >> 32) as usize % SLOTS];
        if slot.load(Ordering::Relaxed) == tag {
            return true;
        }
        slot.store(tag, Ordering::Relaxed);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_new_once_then_seen() {
        let seen = SeenKeys::default();
        assert!(!seen.check_in("p:gen:users#id=1"));
        assert!(seen.check_in("p:gen:users#id=1"));
        assert!(!seen.check_in("p:gen:users#id=2"));
        assert!(seen.check_in("p:gen:users#id=2"));
        // Far more keys than slots: the early ones are mostly forgotten (a forgotten key only
        // costs a spare set-if-absent).
        for i in 0..SLOTS * 4 {
            assert!(!seen.check_in(&format!("k{i}")), "k{i} is new");
        }
        let remembered = (0..SLOTS)
            .filter(|i| seen.check_in(&format!("k{i}")))
            .count();
        assert!(remembered < SLOTS / 4, "{remembered} of {SLOTS}");
    }
}
