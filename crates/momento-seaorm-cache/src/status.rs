//! What a cached read returns besides its value: where the answer came from ([`CacheStatus`])
//! and under which key ([`ReadResult`]).

use crate::key::CacheKey;

/// Where a cached read's answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheStatus {
    /// Decoded from the cache.
    Hit,
    /// Served from this process's near cache (`ModelCacheBuilder::near_cache`), with no
    /// backend call.
    NearHit,
    /// Decoded from the cache after its TTL, within the stale-while-revalidate window; a
    /// refresh was started.
    Stale,
    /// Read from the database (the cache missed, faulted, or its breaker is open).
    Miss,
    /// Read from the database without touching the cache: inside a transaction, or for a table
    /// whose invalidation this process still owes.
    Bypass,
}

impl CacheStatus {
    /// `hit`, `near_hit`, `stale`, `miss` or `bypass`: the name used in logs, metric labels and `Display`.
    ///
    /// ```
    /// use momento_seaorm_cache::CacheStatus;
    /// assert_eq!(CacheStatus::Hit.as_str(), "hit");
    /// assert_eq!(CacheStatus::Bypass.to_string(), "bypass");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::NearHit => "near_hit",
            CacheStatus::Stale => "stale",
            CacheStatus::Miss => "miss",
            CacheStatus::Bypass => "bypass",
        }
    }
}

impl CacheStatus {
    /// Whether the answer came from a cache, near or remote, fresh or stale.
    ///
    /// ```
    /// use momento_seaorm_cache::CacheStatus;
    /// assert!(CacheStatus::NearHit.is_hit() && CacheStatus::Hit.is_hit());
    /// assert!(!CacheStatus::Miss.is_hit());
    /// ```
    pub fn is_hit(self) -> bool {
        matches!(
            self,
            CacheStatus::Hit | CacheStatus::NearHit | CacheStatus::Stale
        )
    }
}

impl std::fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of a cached read: what the database would have returned, and how it was served.
/// What the `*_with_status` methods return.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadResult<T> {
    /// What the database would have returned.
    pub value: T,
    /// Hit, stale, miss or bypass.
    pub status: CacheStatus,
    /// The key read and written; `None` for a bypass.
    pub key: Option<CacheKey>,
}
