//! The invalidation message: which generation keys a process bumped and which values' keys it
//! dropped, packed into topic payloads of at most [`MAX_PAYLOAD_BYTES`].
//!
//! ```text
//! version 2: [2][publisher: u64 LE][ (kind: u8 — 0 generation, 1 value; len: u16 LE; key) … ]
//! version 1: [1][publisher: u64 LE][ (len: u16 LE, generation key) … ]   (read, not written)
//! ```
//! A message with no keys is a subscriber's marker: it shows where the topic is, nothing more.
//! A key too long for one payload is sent as the global generation key instead (a flush: more
//! misses, never a missed invalidation).

/// Momento's topic payload limit.
pub(crate) const MAX_PAYLOAD_BYTES: usize = 4096;

const VERSION_1: u8 = 1;
const VERSION: u8 = 2;
const HEADER_BYTES: usize = 9;
const GENERATION: u8 = 0;
const VALUE: u8 = 1;

/// What one process tells the others: generation keys bumped, values' keys dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Invalidation {
    pub generations: Vec<String>,
    pub values: Vec<String>,
}

impl Invalidation {
    /// Adds `other`'s keys to these.
    pub(crate) fn extend(&mut self, other: Invalidation) {
        self.generations.extend(other.generations);
        self.values.extend(other.values);
    }

    /// Whether it names no key (a marker).
    pub(crate) fn is_empty(&self) -> bool {
        self.generations.is_empty() && self.values.is_empty()
    }
}

/// One decoded message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Message {
    /// The publishing process (its near cache's random id), so it can skip its own.
    pub publisher: u64,
    pub keys: Invalidation,
}

/// Packs `keys` into as few payloads as fit [`MAX_PAYLOAD_BYTES`] each, in order (generation
/// keys first); no payload when there is no key.
pub(crate) fn pack(publisher: u64, keys: &Invalidation, global: &str) -> Vec<Vec<u8>> {
    let mut payloads = Vec::new();
    let mut current = header(publisher);
    let kinds = keys.generations.iter().map(|k| (GENERATION, k));
    for (kind, key) in kinds.chain(keys.values.iter().map(|k| (VALUE, k))) {
        let (kind, key) = if HEADER_BYTES + 3 + key.len() > MAX_PAYLOAD_BYTES {
            (GENERATION, global)
        } else {
            (kind, key.as_str())
        };
        if current.len() + 3 + key.len() > MAX_PAYLOAD_BYTES {
            payloads.push(std::mem::replace(&mut current, header(publisher)));
        }
        current.push(kind);
        current.extend_from_slice(&(key.len() as u16).to_le_bytes());
        current.extend_from_slice(key.as_bytes());
    }
    if current.len() > HEADER_BYTES {
        payloads.push(current);
    }
    payloads
}

/// A marker: a message with no keys, which a subscriber publishes to learn where the topic is.
pub(crate) fn marker(publisher: u64) -> Vec<u8> {
    header(publisher)
}

fn header(publisher: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_PAYLOAD_BYTES);
    out.push(VERSION);
    out.extend_from_slice(&publisher.to_le_bytes());
    out
}

/// Reads a payload; `None` when it is not one of ours (the caller flushes: it cannot tell
/// what it missed).
pub(crate) fn unpack(payload: &[u8]) -> Option<Message> {
    if payload.len() < HEADER_BYTES || !matches!(payload[0], VERSION_1 | VERSION) {
        return None;
    }
    let tagged = payload[0] == VERSION;
    let publisher = u64::from_le_bytes(payload[1..HEADER_BYTES].try_into().ok()?);
    let mut keys = Invalidation::default();
    let mut rest = &payload[HEADER_BYTES..];
    while !rest.is_empty() {
        let kind = if tagged { *rest.first()? } else { GENERATION };
        rest = &rest[usize::from(tagged)..];
        let len = u16::from_le_bytes(rest.get(..2)?.try_into().ok()?) as usize;
        let key = String::from_utf8(rest.get(2..2 + len)?.to_vec()).ok()?;
        match kind {
            GENERATION => keys.generations.push(key),
            VALUE => keys.values.push(key),
            _ => return None,
        }
        rest = &rest[2 + len..];
    }
    Some(Message { publisher, keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_in_payloads_within_the_limit() {
        let keys = Invalidation {
            generations: (0..500).map(|i| format!("app:gen:t_{i}#id={i}")).collect(),
            values: (0..100).map(|i| format!("app:find_by_pk:t:{i}")).collect(),
        };
        let payloads = pack(7, &keys, "app:gen-all");
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD_BYTES));
        let mut back = Invalidation::default();
        for payload in &payloads {
            let message = unpack(payload).unwrap();
            assert_eq!(message.publisher, 7);
            back.extend(message.keys);
        }
        assert_eq!(back, keys);
    }

    #[test]
    fn an_oversized_key_becomes_the_global_key_and_garbage_is_refused() {
        let keys = Invalidation {
            values: vec!["x".repeat(5000)],
            ..Invalidation::default()
        };
        let payloads = pack(1, &keys, "g");
        let back = unpack(&payloads[0]).unwrap().keys;
        assert_eq!((back.generations, back.values), (vec!["g".into()], vec![]));
        assert_eq!(unpack(b"hello"), None);
        assert_eq!(unpack(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 9, 1, 0, b'a']), None);
        assert!(pack(1, &Invalidation::default(), "g").is_empty());
        assert!(unpack(&marker(3)).unwrap().keys.is_empty());
    }

    #[test]
    fn version_1_messages_are_generation_keys() {
        let mut payload = vec![1];
        payload.extend_from_slice(&5u64.to_le_bytes());
        payload.extend_from_slice(&[1, 0, b'u']);
        let message = unpack(&payload).unwrap();
        assert_eq!(message.keys.generations, vec!["u".to_owned()]);
    }
}
