//! A cache's settings, their defaults, and the checks `build()` runs on them.

use std::time::Duration;

use crate::backend::CacheBackend;
use crate::breaker::BreakerConfig;
use crate::codec::Envelope;
use crate::error::ConfigError;
use crate::generations::Consistency;
use crate::generations::{DEFAULT_GLOBAL_HOLD, MAX_GLOBAL_HOLD};
use crate::key::DEFAULT_MAX_KEY_LEN;
use crate::near::NearCache;
use crate::report::{DEFAULT_REPORT_QUERIES, MAX_REPORT_QUERIES};

/// The key prefix used when none is given, as in the Node library.
pub const DEFAULT_KEY_PREFIX: &str = "model-cache";
/// The TTL used when neither the builder nor the backend gives one.
pub const FALLBACK_TTL: Duration = Duration::from_secs(60);
/// The deadline of each cache call when none is given: a cache that answers slower than this
/// is no faster than most databases.
pub const DEFAULT_CACHE_TIMEOUT: Duration = Duration::from_millis(200);
/// The TTL jitter when none is given: stored TTLs are shortened by up to 10%.
pub const DEFAULT_TTL_JITTER: f64 = 0.1;

/// Every setting of a cache, as the builder collects them.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub prefix: String,
    pub ttl: Option<Duration>,
    pub envelope: Envelope,
    pub max_key_len: usize,
    pub timeout: Duration,
    pub breaker: Option<BreakerConfig>,
    pub single_flight: bool,
    pub lease: Option<Duration>,
    pub ttl_jitter: f64,
    pub background_writes: bool,
    pub consistency: Consistency,
    /// Strict mode: how long a fetched global generation is used.
    pub global_hold: Duration,
    pub near: Option<NearCache>,
    /// Query shapes kept for the report.
    pub report_queries: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            ttl: None,
            envelope: Envelope::default(),
            max_key_len: DEFAULT_MAX_KEY_LEN,
            timeout: DEFAULT_CACHE_TIMEOUT,
            breaker: Some(BreakerConfig::default()),
            single_flight: true,
            lease: None,
            ttl_jitter: DEFAULT_TTL_JITTER,
            background_writes: false,
            consistency: Consistency::Strict,
            global_hold: DEFAULT_GLOBAL_HOLD,
            near: None,
            report_queries: DEFAULT_REPORT_QUERIES,
        }
    }
}

impl Settings {
    /// The default TTL: the builder's, else the backend's, else [`FALLBACK_TTL`].
    pub(crate) fn resolved_ttl(&self, backend: &dyn CacheBackend) -> Duration {
        self.ttl
            .or_else(|| backend.default_ttl())
            .unwrap_or(FALLBACK_TTL)
    }

    /// Checks every setting against the others and the backend.
    pub(crate) fn validate(&self, backend: &dyn CacheBackend) -> Result<(), ConfigError> {
        if self.prefix.is_empty() || self.prefix.contains(':') {
            return Err(ConfigError::InvalidKeyPrefix {
                prefix: self.prefix.clone(),
            });
        }
        let ttl = self.resolved_ttl(backend);
        if ttl.is_zero() {
            return Err(ConfigError::ZeroTtl {
                what: "the default TTL",
            });
        }
        if let Some(max) = backend.max_ttl().filter(|max| ttl > *max) {
            return Err(ConfigError::TtlTooLong {
                what: "the default TTL",
                ttl,
                max,
            });
        }
        if !(0.0..=1.0).contains(&self.ttl_jitter) {
            return Err(ConfigError::InvalidJitter {
                jitter: self.ttl_jitter,
            });
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        if let Some(config) = &self.breaker {
            if config.failure_threshold == 0 || config.cool_down.is_zero() {
                return Err(ConfigError::InvalidBreaker);
            }
        }
        if self.consistency == Consistency::Bounded(Duration::ZERO) {
            return Err(ConfigError::ZeroTtl {
                what: "the bounded-staleness window",
            });
        }
        if self.global_hold > MAX_GLOBAL_HOLD {
            return Err(ConfigError::InvalidGlobalHold {
                hold: self.global_hold,
                max: MAX_GLOBAL_HOLD,
            });
        }
        if !(1..=MAX_REPORT_QUERIES).contains(&self.report_queries) {
            return Err(ConfigError::InvalidReportQueries {
                queries: self.report_queries,
                max: MAX_REPORT_QUERIES,
            });
        }
        self.validate_lease(backend)
    }

    fn validate_lease(&self, backend: &dyn CacheBackend) -> Result<(), ConfigError> {
        let Some(lease) = self.lease else {
            return Ok(());
        };
        if lease.is_zero() {
            return Err(ConfigError::ZeroTtl {
                what: "the load lease",
            });
        }
        if !backend.supports_set_if_absent() {
            return Err(ConfigError::LeaseUnsupported {
                backend: backend.name(),
            });
        }
        Ok(())
    }
}
