//! The invalidation message: which generation keys a process bumped, packed into topic
//! payloads of at most [`MAX_PAYLOAD_BYTES`].
//!
//! ```text
//! [version: 1][publisher: u64 LE][ (len: u16 LE, key bytes) … ]
//! ```
//! A key too long for one payload is sent as the global generation key instead (a flush:
//! more misses, never a missed invalidation).

/// Momento's topic payload limit.
pub(crate) const MAX_PAYLOAD_BYTES: usize = 4096;

const VERSION: u8 = 1;
const HEADER_BYTES: usize = 9;

/// One decoded message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Message {
    /// The publishing process (its near cache's random id), so it can skip its own.
    pub publisher: u64,
    pub keys: Vec<String>,
}

/// Packs `keys` into as few payloads as fit [`MAX_PAYLOAD_BYTES`] each, in order.
pub(crate) fn pack(publisher: u64, keys: &[String], global: &str) -> Vec<Vec<u8>> {
    let mut payloads = Vec::new();
    let mut current = header(publisher);
    for key in keys {
        let key = if HEADER_BYTES + 2 + key.len() > MAX_PAYLOAD_BYTES {
            global
        } else {
            key.as_str()
        };
        if current.len() + 2 + key.len() > MAX_PAYLOAD_BYTES {
            payloads.push(std::mem::replace(&mut current, header(publisher)));
        }
        current.extend_from_slice(&(key.len() as u16).to_le_bytes());
        current.extend_from_slice(key.as_bytes());
    }
    if current.len() > HEADER_BYTES {
        payloads.push(current);
    }
    payloads
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
    if payload.len() < HEADER_BYTES || payload[0] != VERSION {
        return None;
    }
    let publisher = u64::from_le_bytes(payload[1..HEADER_BYTES].try_into().ok()?);
    let mut keys = Vec::new();
    let mut rest = &payload[HEADER_BYTES..];
    while !rest.is_empty() {
        let len = u16::from_le_bytes(rest.get(..2)?.try_into().ok()?) as usize;
        let key = rest.get(2..2 + len)?;
        keys.push(String::from_utf8(key.to_vec()).ok()?);
        rest = &rest[2 + len..];
    }
    Some(Message { publisher, keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_in_payloads_within_the_limit() {
        let keys: Vec<String> = (0..500)
            .map(|i| format!("app:gen:table_{i}#id={i}"))
            .collect();
        let payloads = pack(7, &keys, "app:gen-all");
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD_BYTES));
        let mut back = Vec::new();
        for payload in &payloads {
            let message = unpack(payload).unwrap();
            assert_eq!(message.publisher, 7);
            back.extend(message.keys);
        }
        assert_eq!(back, keys);
    }

    #[test]
    fn an_oversized_key_becomes_the_global_key_and_garbage_is_refused() {
        let keys = vec!["x".repeat(5000)];
        let payloads = pack(1, &keys, "g");
        assert_eq!(unpack(&payloads[0]).unwrap().keys, vec!["g".to_owned()]);
        assert_eq!(unpack(b"hello"), None);
        assert_eq!(unpack(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, b'a']), None);
        assert!(pack(1, &[], "g").is_empty());
    }
}
