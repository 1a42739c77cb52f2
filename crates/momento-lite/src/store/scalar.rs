//! Scalar items: one byte value per key (`Get`, `Set`, the `SetIf` family, `Increment`).

use std::time::Instant;

use super::{Cache, Value};
use crate::error::StoreError;

/// The condition of a conditional write, as the `SetIf` request's `condition` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetCondition {
    /// Write only if the key holds nothing.
    Absent,
    /// Write only if the key holds a value.
    Present,
    /// Write only if the key holds exactly this value.
    Equal(Vec<u8>),
    /// Write if the key holds nothing or anything but this value.
    NotEqual(Vec<u8>),
    /// Write only if the key holds a value other than this one.
    PresentAndNotEqual(Vec<u8>),
    /// Write if the key holds nothing or exactly this value.
    AbsentOrEqual(Vec<u8>),
}

impl SetCondition {
    /// Whether a write may proceed given the current value (`None` when absent).
    fn holds(&self, current: Option<&[u8]>) -> bool {
        match (self, current) {
            (SetCondition::Absent, current) => current.is_none(),
            (SetCondition::Present, current) => current.is_some(),
            (SetCondition::Equal(expected), current) => current == Some(expected.as_slice()),
            (SetCondition::NotEqual(other), current) => current != Some(other.as_slice()),
            (SetCondition::PresentAndNotEqual(other), Some(current)) => current != other.as_slice(),
            (SetCondition::PresentAndNotEqual(_), None) => false,
            (SetCondition::AbsentOrEqual(expected), current) => {
                current.is_none_or(|current| current == expected.as_slice())
            }
        }
    }
}

impl Cache {
    /// The scalar value under `key`, or `None` if absent. A hit is a use.
    pub fn get(&mut self, key: &[u8], now: Instant) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self.scalar(key, now)?.map(<[u8]>::to_vec);
        if value.is_some() {
            self.entries.touch(key);
        }
        Ok(value)
    }

    /// Stores a scalar value with a TTL, replacing any item under `key`.
    pub fn set(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        ttl_ms: u64,
        now: Instant,
    ) -> Result<(), StoreError> {
        self.put(key, Value::Bytes(value), ttl_ms, now)
    }

    /// Stores every `(key, value, ttl_ms)` write in order, or none of them if any is too large.
    /// Each write may evict items, earlier writes of the batch included.
    pub fn set_all(
        &mut self,
        writes: Vec<(Vec<u8>, Vec<u8>, u64)>,
        now: Instant,
    ) -> Result<(), StoreError> {
        for (key, value, _) in &writes {
            self.entries.admit(key, value.len())?;
        }
        for (key, value, ttl_ms) in writes {
            self.set(key, value, ttl_ms, now)?;
        }
        Ok(())
    }

    /// Stores a scalar value if `condition` holds; returns whether it was stored. Only a write
    /// that stores is a use.
    pub fn set_if(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        ttl_ms: u64,
        condition: &SetCondition,
        now: Instant,
    ) -> Result<bool, StoreError> {
        if !condition.holds(self.scalar(&key, now)?) {
            return Ok(false);
        }
        self.set(key, value, ttl_ms, now)?;
        Ok(true)
    }

    /// Adds `amount` to the base-10 integer under `key` (absent counts as 0), stores the result
    /// as its decimal text with a fresh TTL and returns it.
    pub fn increment(
        &mut self,
        key: Vec<u8>,
        amount: i64,
        ttl_ms: u64,
        now: Instant,
    ) -> Result<i64, StoreError> {
        let current = match self.scalar(&key, now)? {
            None => 0,
            Some(bytes) => parse_integer(bytes).ok_or(StoreError::NotAnInteger)?,
        };
        let value = current
            .checked_add(amount)
            .ok_or(StoreError::IncrementOverflow)?;
        self.set(key, value.to_string().into_bytes(), ttl_ms, now)?;
        Ok(value)
    }

    /// The live scalar under `key`; a set under `key` is a wrong-type error. Not a use.
    fn scalar(&mut self, key: &[u8], now: Instant) -> Result<Option<&[u8]>, StoreError> {
        match self.live(key, now).map(|item| &item.value) {
            None => Ok(None),
            Some(Value::Bytes(bytes)) => Ok(Some(bytes)),
            Some(other) => Err(StoreError::WrongType {
                expected: "scalar",
                found: other.kind(),
            }),
        }
    }
}

/// Parses an ASCII base-10 signed integer, rejecting anything else (spaces, `+`, empty input).
fn parse_integer(bytes: &[u8]) -> Option<i64> {
    if bytes.first() == Some(&b'+') {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: u64 = 60_000;

    fn cache_with(key: &[u8], value: &[u8]) -> (Cache, Instant) {
        let mut cache = Cache::default();
        let now = Instant::now();
        cache.set(key.to_vec(), value.to_vec(), TTL, now).unwrap();
        (cache, now)
    }

    #[test]
    fn conditions_match_the_sdk_documentation() {
        let absent = None;
        let v = Some(&b"v"[..]);
        let w = Some(&b"w"[..]);
        let cases = [
            (SetCondition::Absent, [true, false, false]),
            (SetCondition::Present, [false, true, true]),
            (SetCondition::Equal(b"v".to_vec()), [false, true, false]),
            (SetCondition::NotEqual(b"v".to_vec()), [true, false, true]),
            (
                SetCondition::PresentAndNotEqual(b"v".to_vec()),
                [false, false, true],
            ),
            (
                SetCondition::AbsentOrEqual(b"v".to_vec()),
                [true, true, false],
            ),
        ];
        for (condition, expected) in cases {
            let got = [
                condition.holds(absent),
                condition.holds(v),
                condition.holds(w),
            ];
            assert_eq!(got, expected, "{condition:?} on [absent, v, w]");
        }
    }

    #[test]
    fn set_if_writes_only_when_the_condition_holds() {
        let (mut cache, now) = cache_with(b"k", b"old");
        let stored = cache.set_if(
            b"k".to_vec(),
            b"new".to_vec(),
            TTL,
            &SetCondition::Absent,
            now,
        );
        assert_eq!(stored, Ok(false));
        assert_eq!(cache.get(b"k", now), Ok(Some(b"old".to_vec())));
        let equal = SetCondition::Equal(b"old".to_vec());
        assert_eq!(
            cache.set_if(b"k".to_vec(), b"new".to_vec(), TTL, &equal, now),
            Ok(true)
        );
        assert_eq!(cache.get(b"k", now), Ok(Some(b"new".to_vec())));
    }

    #[test]
    fn increment_starts_from_zero_and_rejects_non_integers() {
        let (mut cache, now) = cache_with(b"text", b"12a");
        assert_eq!(cache.increment(b"n".to_vec(), 5, TTL, now), Ok(5));
        assert_eq!(cache.increment(b"n".to_vec(), -7, TTL, now), Ok(-2));
        assert_eq!(cache.get(b"n", now), Ok(Some(b"-2".to_vec())));
        assert_eq!(
            cache.increment(b"text".to_vec(), 1, TTL, now),
            Err(StoreError::NotAnInteger)
        );
        cache
            .set(b"max".to_vec(), i64::MAX.to_string().into_bytes(), TTL, now)
            .unwrap();
        assert_eq!(
            cache.increment(b"max".to_vec(), 1, TTL, now),
            Err(StoreError::IncrementOverflow)
        );
    }

    #[test]
    fn integers_are_plain_ascii_decimal() {
        assert_eq!(parse_integer(b"-42"), Some(-42));
        assert_eq!(parse_integer(b"+42"), None);
        assert_eq!(parse_integer(b" 42"), None);
        assert_eq!(parse_integer(b""), None);
    }
}
