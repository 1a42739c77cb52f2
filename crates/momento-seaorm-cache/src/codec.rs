//! The stored value: a four-byte header, then the serialized (and maybe compressed) rows.
//!
//! ```text
//! byte 0..2  magic "MS"
//! byte 2     envelope version: 1, or 2 when metadata follows the header
//! byte 3     high nibble: serde format (0 JSON, 1 postcard); low nibble: compression
//!            (0 none, 1 zlib, 2 zstd)
//! version 2: one flags byte, then per set flag eight little-endian bytes:
//!            bit 0 fresh until, Unix milliseconds (stale-while-revalidate serves the value
//!            after this while refreshing it); bit 1 the generation stamp of the tables the
//!            value was read from (see `invalidate`); bit 2 expires at, Unix milliseconds
//!            (when the backend drops it: a near cache never keeps it longer)
//! then       body
//! ```
//! Because every value says how it was written, a reader configured with any compression reads
//! any writer's value. Anything that does not decode is a [`DecodeError`], which the cache treats
//! as a miss (and then overwrites), never as an error or a panic.

use std::io::{Read, Write};

use serde::{de::DeserializeOwned, Serialize};

use crate::error::DecodeError;

const MAGIC: [u8; 2] = *b"MS";
const VERSION: u8 = 1;
const VERSION_WITH_META: u8 = 2;
const HEADER_LEN: usize = 4;
const FLAG_FRESH_UNTIL: u8 = 1;
const FLAG_STAMP: u8 = 2;
const FLAG_EXPIRES: u8 = 4;

/// Now, in Unix milliseconds: the clock of the header's times.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What a stored value says about itself besides its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ValueMeta {
    /// Until when (Unix milliseconds) the value is fresh.
    pub fresh_until_ms: Option<u64>,
    /// The generation stamp of the tables it was read from.
    pub stamp: Option<u64>,
    /// When (Unix milliseconds) its TTL ends, as its writer computed it before storing it.
    pub expires_ms: Option<u64>,
}
/// Decompressed bodies larger than this are refused, so a corrupt or hostile value cannot make a
/// reader allocate without bound. Momento items are at most 5 MB compressed.
const MAX_DECOMPRESSED_BYTES: u64 = 256 * 1024 * 1024;

/// How a value's body is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Compression {
    /// Stored as serialized.
    #[default]
    None,
    /// zlib (deflate), as the Node library's `zlib` option.
    Zlib,
    /// Zstandard, level 3.
    Zstd,
}

/// How rows are serialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum SerdeFormat {
    /// JSON: readable, works with every serde type (including `serde_json::Value`).
    #[default]
    Json,
    /// postcard: compact and fast, but needs types that do not rely on `deserialize_any`
    /// (so not `serde_json::Value`; such queries are always stored as JSON).
    Postcard,
}

impl Compression {
    fn tag(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Zlib => 1,
            Compression::Zstd => 2,
        }
    }

    fn from_tag(tag: u8) -> Result<Self, DecodeError> {
        match tag {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Zlib),
            2 => Ok(Compression::Zstd),
            _ => Err(DecodeError::UnsupportedHeader("compression")),
        }
    }
}

impl SerdeFormat {
    fn tag(self) -> u8 {
        match self {
            SerdeFormat::Json => 0,
            SerdeFormat::Postcard => 1,
        }
    }

    fn from_tag(tag: u8) -> Result<Self, DecodeError> {
        match tag {
            0 => Ok(SerdeFormat::Json),
            1 => Ok(SerdeFormat::Postcard),
            _ => Err(DecodeError::UnsupportedHeader("serde format")),
        }
    }
}

/// Encodes and decodes stored values; see the module docs for the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Envelope {
    /// Serialization of the body.
    pub format: SerdeFormat,
    /// Compression of the body.
    pub compression: Compression,
}

impl Envelope {
    /// Serializes `value` behind a header that records this envelope's format and compression.
    ///
    /// ```
    /// use momento_seaorm_cache::{Compression, Envelope, SerdeFormat};
    /// let envelope = Envelope { format: SerdeFormat::Json, compression: Compression::Zstd };
    /// let bytes = envelope.encode(&vec![1, 2, 3]).unwrap();
    /// // Any envelope decodes it: the header says how it was written.
    /// let back: Vec<i32> = Envelope::default().decode(&bytes).unwrap();
    /// assert_eq!(back, vec![1, 2, 3]);
    /// ```
    pub fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, String> {
        self.encode_with_meta(value, ValueMeta::default())
    }

    /// Like [`encode`](Self::encode), recording `meta` in the header.
    pub(crate) fn encode_with_meta<T: Serialize + ?Sized>(
        &self,
        value: &T,
        meta: ValueMeta,
    ) -> Result<Vec<u8>, String> {
        self.frame(meta, &self.serialize(value)?)
    }

    /// The body before compression: `value` in this envelope's serde format.
    pub(crate) fn serialize<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, String> {
        serialize(self.format, value)
    }

    /// The body, if it serializes to at most `limit` bytes; `Ok(None)` as soon as it grows past
    /// that (so a caller on an async worker spends at most `limit` bytes of serialization
    /// before moving the work elsewhere).
    pub(crate) fn serialize_within<T: Serialize + ?Sized>(
        &self,
        value: &T,
        limit: usize,
    ) -> Result<Option<Vec<u8>>, String> {
        let mut out = Bounded {
            buf: Vec::with_capacity(128),
            limit,
        };
        let result = match self.format {
            SerdeFormat::Json => serde_json::to_writer(&mut out, value).map_err(|e| e.to_string()),
            SerdeFormat::Postcard => postcard::to_io(value, &mut out)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        match result {
            Ok(()) => Ok(Some(out.buf)),
            Err(_) if out.buf.len() > limit => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The stored value: the header with `meta`, then `body` compressed.
    pub(crate) fn frame(&self, meta: ValueMeta, body: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(HEADER_LEN + 17 + body.len());
        out.extend_from_slice(&MAGIC);
        let fields = [meta.fresh_until_ms, meta.stamp, meta.expires_ms];
        let has_meta = fields.iter().any(Option::is_some);
        out.push(if has_meta { VERSION_WITH_META } else { VERSION });
        out.push((self.format.tag() << 4) | self.compression.tag());
        if has_meta {
            let flags = u8::from(meta.fresh_until_ms.is_some()) * FLAG_FRESH_UNTIL
                + u8::from(meta.stamp.is_some()) * FLAG_STAMP
                + u8::from(meta.expires_ms.is_some()) * FLAG_EXPIRES;
            out.push(flags);
            for field in fields.into_iter().flatten() {
                out.extend_from_slice(&field.to_le_bytes());
            }
        }
        match self.compression {
            Compression::None => out.extend_from_slice(body),
            Compression::Zlib => {
                let mut encoder =
                    flate2::write::ZlibEncoder::new(out, flate2::Compression::default());
                encoder.write_all(body).map_err(|e| e.to_string())?;
                out = encoder.finish().map_err(|e| e.to_string())?;
            }
            Compression::Zstd => {
                let mut encoder =
                    zstd::stream::write::Encoder::new(out, 3).map_err(|e| e.to_string())?;
                encoder.write_all(body).map_err(|e| e.to_string())?;
                out = encoder.finish().map_err(|e| e.to_string())?;
            }
        }
        Ok(out)
    }

    /// Reads a value written by any envelope. The receiver's own settings play no part: the
    /// header decides. Any malformed input is a [`DecodeError`].
    ///
    /// ```
    /// use momento_seaorm_cache::{Compression, DecodeError, Envelope, SerdeFormat};
    /// let writer = Envelope { format: SerdeFormat::Postcard, compression: Compression::Zlib };
    /// let bytes = writer.encode(&("alice", 1)).unwrap();
    /// let back: (String, i32) = Envelope::default().decode(&bytes)?;
    /// assert_eq!(back, ("alice".to_owned(), 1));
    /// let garbage = Envelope::default().decode::<(String, i32)>(b"not a value");
    /// assert!(matches!(garbage, Err(DecodeError::NotAnEnvelope)));
    /// # Ok::<(), DecodeError>(())
    /// ```
    pub fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        decode(bytes)
    }
}

/// Reads a value written by any [`Envelope`].
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    decode_with_meta(bytes).map(|(value, _)| value)
}

/// Reads a value and what its header says about it.
pub(crate) fn decode_with_meta<T: DeserializeOwned>(
    bytes: &[u8],
) -> Result<(T, ValueMeta), DecodeError> {
    let header = Header::parse(bytes)?;
    header.decode(bytes).map(|value| (value, header.meta))
}

/// A value's parsed header: read first, so a value can be judged (stamp, freshness) before
/// its body is decompressed and deserialized.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub meta: ValueMeta,
    format: SerdeFormat,
    compression: Compression,
    body_start: usize,
}

impl Header {
    /// Parses the header of `bytes`; the body is not touched.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Header, DecodeError> {
        if bytes.len() < HEADER_LEN || bytes[..2] != MAGIC {
            return Err(DecodeError::NotAnEnvelope);
        }
        let mut meta = ValueMeta::default();
        let mut at = HEADER_LEN;
        match bytes[2] {
            VERSION => {}
            VERSION_WITH_META => {
                let flags = *bytes.get(at).ok_or(DecodeError::NotAnEnvelope)?;
                if flags & !(FLAG_FRESH_UNTIL | FLAG_STAMP | FLAG_EXPIRES) != 0 {
                    return Err(DecodeError::UnsupportedHeader("metadata flags"));
                }
                at += 1;
                let mut field = || -> Result<u64, DecodeError> {
                    let raw = bytes.get(at..at + 8).ok_or(DecodeError::NotAnEnvelope)?;
                    at += 8;
                    Ok(u64::from_le_bytes(raw.try_into().unwrap_or_default()))
                };
                if flags & FLAG_FRESH_UNTIL != 0 {
                    meta.fresh_until_ms = Some(field()?);
                }
                if flags & FLAG_STAMP != 0 {
                    meta.stamp = Some(field()?);
                }
                if flags & FLAG_EXPIRES != 0 {
                    meta.expires_ms = Some(field()?);
                }
            }
            _ => return Err(DecodeError::UnsupportedHeader("version")),
        }
        Ok(Header {
            meta,
            format: SerdeFormat::from_tag(bytes[3] >> 4)?,
            compression: Compression::from_tag(bytes[3] & 0x0f)?,
            body_start: at,
        })
    }

    /// Decodes the body of the value this header was parsed from.
    pub(crate) fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        decode_body(self.format, self.compression, &bytes[self.body_start..])
    }
}

impl Header {
    /// The body uncompressed, with its serde format: what a near cache keeps, so a near hit
    /// only deserializes.
    pub(crate) fn plain_body(&self, bytes: &bytes::Bytes) -> Result<PlainBody, DecodeError> {
        let body = bytes.slice(self.body_start..);
        let plain = match self.compression {
            Compression::None => body,
            Compression::Zlib => {
                bytes::Bytes::from(read_bounded(flate2::read::ZlibDecoder::new(&body[..]))?)
            }
            Compression::Zstd => {
                let decoder = zstd::stream::read::Decoder::new(&body[..])
                    .map_err(|e| DecodeError::Decompress(e.to_string()))?;
                bytes::Bytes::from(read_bounded(decoder)?)
            }
        };
        Ok(PlainBody {
            format: self.format,
            body: plain,
        })
    }
}

/// A value's body, uncompressed, and the format it is serialized in.
#[derive(Debug, Clone)]
pub(crate) struct PlainBody {
    pub format: SerdeFormat,
    pub body: bytes::Bytes,
}

impl PlainBody {
    /// Deserializes the body.
    pub(crate) fn decode<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        deserialize(self.format, &self.body)
    }
}

fn decode_body<T: DeserializeOwned>(
    format: SerdeFormat,
    compression: Compression,
    body: &[u8],
) -> Result<T, DecodeError> {
    match compression {
        Compression::None => deserialize(format, body),
        Compression::Zlib => {
            let decoded = read_bounded(flate2::read::ZlibDecoder::new(body))?;
            deserialize(format, &decoded)
        }
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(body)
                .map_err(|e| DecodeError::Decompress(e.to_string()))?;
            let decoded = read_bounded(decoder)?;
            deserialize(format, &decoded)
        }
    }
}

fn read_bounded(reader: impl Read) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    reader
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Decompress(e.to_string()))?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(DecodeError::Decompress(
            "body exceeds the size limit".into(),
        ));
    }
    Ok(out)
}

/// A writer that refuses to grow past `limit` bytes (it keeps one write past it, to say why).
struct Bounded {
    buf: Vec<u8>,
    limit: usize,
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() > self.limit {
            return Err(std::io::Error::other("body over the limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn serialize<T: Serialize + ?Sized>(format: SerdeFormat, value: &T) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(128);
    match format {
        SerdeFormat::Json => serde_json::to_writer(&mut out, value).map_err(|e| e.to_string())?,
        SerdeFormat::Postcard => {
            postcard::to_io(value, &mut out).map_err(|e| e.to_string())?;
        }
    }
    Ok(out)
}

fn deserialize<T: DeserializeOwned>(format: SerdeFormat, body: &[u8]) -> Result<T, DecodeError> {
    match format {
        SerdeFormat::Json => {
            serde_json::from_slice(body).map_err(|e| DecodeError::Deserialize(e.to_string()))
        }
        SerdeFormat::Postcard => {
            let (value, rest) = postcard::take_from_bytes(body)
                .map_err(|e| DecodeError::Deserialize(e.to_string()))?;
            if rest.is_empty() {
                Ok(value)
            } else {
                Err(DecodeError::Deserialize(
                    "trailing bytes after the body".into(),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Row {
        id: i32,
        name: String,
    }

    fn rows() -> Vec<Row> {
        (0..50)
            .map(|id| Row {
                id,
                name: format!("user {id}"),
            })
            .collect()
    }

    #[test]
    fn every_writer_is_read_by_every_reader() {
        let formats = [SerdeFormat::Json, SerdeFormat::Postcard];
        let compressions = [Compression::None, Compression::Zlib, Compression::Zstd];
        for format in formats {
            for compression in compressions {
                let writer = Envelope {
                    format,
                    compression,
                };
                let bytes = writer.encode(&rows()).unwrap();
                for reader_compression in compressions {
                    let reader = Envelope {
                        format: SerdeFormat::Json,
                        compression: reader_compression,
                    };
                    let back: Vec<Row> = reader.decode(&bytes).unwrap();
                    assert_eq!(back, rows(), "{writer:?} read by {reader:?}");
                }
            }
        }
    }

    #[test]
    fn bounded_serialization_stops_past_its_limit() {
        for format in [SerdeFormat::Json, SerdeFormat::Postcard] {
            let envelope = Envelope {
                format,
                ..Envelope::default()
            };
            let full = envelope.serialize(&rows()).unwrap();
            let within = envelope.serialize_within(&rows(), full.len()).unwrap();
            assert_eq!(within, Some(full.clone()), "{format:?}");
            assert_eq!(envelope.serialize_within(&rows(), 64).unwrap(), None);
        }
    }

    #[test]
    fn compression_shrinks_repetitive_rows() {
        let plain = Envelope::default().encode(&rows()).unwrap();
        for compression in [Compression::Zlib, Compression::Zstd] {
            let packed = Envelope {
                compression,
                ..Envelope::default()
            }
            .encode(&rows())
            .unwrap();
            assert!(
                packed.len() * 2 < plain.len(),
                "{compression:?}: {} vs {}",
                packed.len(),
                plain.len()
            );
        }
    }

    #[test]
    fn malformed_values_are_errors_not_panics() {
        let good = Envelope {
            compression: Compression::Zstd,
            ..Envelope::default()
        }
        .encode(&rows())
        .unwrap();
        assert!(matches!(
            decode::<Vec<Row>>(b""),
            Err(DecodeError::NotAnEnvelope)
        ));
        assert!(matches!(
            decode::<Vec<Row>>(b"[1,2]"),
            Err(DecodeError::NotAnEnvelope)
        ));
        assert!(matches!(
            decode::<Vec<Row>>(&[b'M', b'S', 9, 0]),
            Err(DecodeError::UnsupportedHeader("version"))
        ));
        assert!(matches!(
            decode::<Vec<Row>>(&[b'M', b'S', 1, 0x03]),
            Err(DecodeError::UnsupportedHeader("compression"))
        ));
        for cut in [4, 5, good.len() / 2, good.len() - 1] {
            assert!(
                decode::<Vec<Row>>(&good[..cut]).is_err(),
                "truncated at {cut}"
            );
        }
        // A JSON body of the wrong shape.
        let other = Envelope::default().encode(&"a string").unwrap();
        assert!(matches!(
            decode::<Vec<Row>>(&other),
            Err(DecodeError::Deserialize(_))
        ));
    }
}
