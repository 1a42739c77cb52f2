//! Errors: configuration mistakes caught at `build()`, and cache faults.
//!
//! Read calls never return these: a [`CacheFault`] is logged and the query goes to the database,
//! so a cached read fails only when the database fails (`sea_orm::DbErr`).

use std::time::Duration;

use thiserror::Error;

/// A configuration mistake, reported by a builder's `build()` with what to change.
///
/// No variant ever carries the API key or any part of it.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No credential provider was given and `MOMENTO_API_KEY` is not set.
    #[error(
        "no Momento API key: set the MOMENTO_API_KEY environment variable (and MOMENTO_ENDPOINT \
         for a v2 key), or pass MomentoBackend::builder().credential_provider(..)"
    )]
    MissingApiKey,
    /// `MOMENTO_API_KEY` is set but empty.
    #[error("MOMENTO_API_KEY is set but empty: put your Momento API key in it")]
    EmptyApiKey,
    /// `MOMENTO_API_KEY` holds something that is not a Momento API key.
    #[error("MOMENTO_API_KEY is not a valid Momento API key: {hint}")]
    MalformedApiKey {
        /// What is wrong and how to fix it (never the key itself).
        hint: &'static str,
    },
    /// The cache name is empty.
    #[error("the cache name is empty: give a name such as \"model-cache\"")]
    EmptyCacheName,
    /// The cache name has characters Momento does not accept.
    #[error(
        "the cache name {name:?} is invalid: use at most 255 ASCII letters, digits, '-', '_' or '.'"
    )]
    InvalidCacheName {
        /// The rejected name.
        name: String,
    },
    /// A TTL of zero would store nothing.
    #[error("{what} is zero: give a TTL of at least one millisecond")]
    ZeroTtl {
        /// Which setting.
        what: &'static str,
    },
    /// A TTL longer than the backend allows (Momento: 24 hours).
    #[error("{what} of {ttl:?} exceeds the backend's maximum of {max:?}: lower it")]
    TtlTooLong {
        /// Which setting.
        what: &'static str,
        /// The rejected TTL.
        ttl: Duration,
        /// The backend's maximum.
        max: Duration,
    },
    /// The key prefix is empty or contains `:`, which separates the parts of a key.
    #[error("the key prefix {prefix:?} is invalid: it must be non-empty and contain no ':'")]
    InvalidKeyPrefix {
        /// The rejected prefix.
        prefix: String,
    },
    /// The TTL jitter is not a fraction between 0 and 1.
    #[error("the TTL jitter {jitter} is not between 0.0 and 1.0: use e.g. 0.1 for up to 10%")]
    InvalidJitter {
        /// The rejected jitter.
        jitter: f64,
    },
    /// A zero deadline would skip the cache on every read.
    #[error("the cache timeout is zero: give cache calls at least a millisecond (default 200 ms)")]
    ZeroTimeout,
    /// Load leases need `set_if_absent`, which this backend does not have.
    #[error("load leases need a backend with set_if_absent; the {backend} backend has none: drop .load_lease(..)")]
    LeaseUnsupported {
        /// The backend's name.
        backend: &'static str,
    },
    /// A `RedisBackend` setting is missing or invalid.
    #[error("RedisBackend: {reason}")]
    InvalidRedis {
        /// What is wrong and how to fix it (never a password).
        reason: String,
    },
    /// The circuit breaker would never open or never probe.
    #[error(
        "the circuit breaker needs a failure threshold of at least 1 and a non-zero cool-down"
    )]
    InvalidBreaker,
    /// The report's bound on query shapes is outside `1..=MAX_REPORT_QUERIES`.
    #[error("report_queries({queries}) is out of range: keep between 1 and {max} query shapes")]
    InvalidReportQueries {
        /// The rejected bound.
        queries: usize,
        /// The largest bound accepted.
        max: usize,
    },
    /// The global generation's hold is longer than `max`: every `invalidate_all` would wait it.
    #[error(
        "global_generation_hold({hold:?}) is too long: each invalidate_all waits the hold before \
         it returns; keep it at most {max:?}"
    )]
    InvalidGlobalHold {
        /// The rejected hold.
        hold: std::time::Duration,
        /// The longest hold accepted.
        max: std::time::Duration,
    },
    /// The near cache's settings cannot work.
    #[error("the near cache is misconfigured: {fix}")]
    InvalidNearCache {
        /// What to change.
        fix: &'static str,
    },
    /// The memory backend was given no room.
    #[error("the memory backend's capacity is zero bytes: give it at least one byte")]
    ZeroCapacity,
    /// The Momento client could not be built or the cache could not be checked or created.
    #[error("Momento setup failed: {message}")]
    Momento {
        /// The SDK's message (which never contains the key).
        message: String,
    },
}

/// What kind of fault a cache backend had; used in logs and, later, metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// The backend could not be reached or refused service.
    Unavailable,
    /// The call took too long.
    Timeout,
    /// The backend throttled the call or the item was too large.
    LimitExceeded,
    /// The cache does not exist.
    NotFound,
    /// The credentials were refused.
    Authentication,
    /// Anything else.
    Other,
}

impl FaultKind {
    /// The name used in logs and metric labels (the same text as its `Display`).
    ///
    /// ```
    /// use momento_seaorm_cache::FaultKind;
    /// assert_eq!(FaultKind::Timeout.as_str(), "timeout");
    /// assert_eq!(FaultKind::LimitExceeded.to_string(), "limit_exceeded");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Unavailable => "unavailable",
            FaultKind::Timeout => "timeout",
            FaultKind::LimitExceeded => "limit_exceeded",
            FaultKind::NotFound => "not_found",
            FaultKind::Authentication => "authentication",
            FaultKind::Other => "other",
        }
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cache backend call that failed. Logged as a warning; the read then goes to the database.
#[derive(Debug, Error, Clone)]
#[error("cache fault ({kind}): {message}")]
pub struct CacheFault {
    /// The kind of fault.
    pub kind: FaultKind,
    /// A description from the backend (never an API key).
    pub message: String,
}

impl CacheFault {
    /// A fault of `kind` with a message; what a [`CacheBackend`](crate::CacheBackend) returns
    /// when a call fails.
    ///
    /// ```
    /// use momento_seaorm_cache::{CacheFault, FaultKind};
    /// let fault = CacheFault::new(FaultKind::Unavailable, "connection refused");
    /// assert_eq!(fault.kind, FaultKind::Unavailable);
    /// assert_eq!(fault.to_string(), "cache fault (unavailable): connection refused");
    /// ```
    pub fn new(kind: FaultKind, message: impl Into<String>) -> Self {
        CacheFault {
            kind,
            message: message.into(),
        }
    }
}

/// A stored value that could not be read back; treated as a miss and overwritten.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The value is shorter than the header or does not start with the magic bytes.
    #[error("not a momento-seaorm-cache value (bad magic or too short)")]
    NotAnEnvelope,
    /// The header names a version, format or compression this reader does not know.
    #[error("unsupported header: {0}")]
    UnsupportedHeader(&'static str),
    /// The body did not decompress.
    #[error("decompression failed: {0}")]
    Decompress(String),
    /// The body did not deserialize into the requested type.
    #[error("deserialization failed: {0}")]
    Deserialize(String),
}
