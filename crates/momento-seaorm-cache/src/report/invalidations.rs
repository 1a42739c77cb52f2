//! The invalidations this process made, by table: the last one of each table and of
//! everything, with why it was made. Recorded on the write path (never on a read).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Tables remembered at most; past this the oldest entries are dropped.
const MAX_TABLES: usize = 4_096;

/// Why the cache was invalidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvalidationCause {
    /// A write through a [`CachedConnection`](crate::CachedConnection) in this process.
    Write,
    /// A change-capture invalidator (or another caller of `try_invalidate_*`) in this process.
    ChangeCapture,
    /// An explicit call: `invalidate`, `invalidate_table`, `invalidate_all` (the admin page
    /// uses these).
    Explicit,
}

impl InvalidationCause {
    /// `write`, `change_capture` or `explicit`: the name used in the report and on the page.
    ///
    /// ```
    /// use momento_seaorm_cache::report::InvalidationCause;
    /// assert_eq!(InvalidationCause::ChangeCapture.as_str(), "change_capture");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidationCause::Write => "write",
            InvalidationCause::ChangeCapture => "change_capture",
            InvalidationCause::Explicit => "explicit",
        }
    }
}

/// How much one invalidation covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvalidationScope {
    /// Some rows or conditions of the table: reads pinned to other rows stayed cached.
    Rows,
    /// Every read of the table.
    Table,
    /// Every read of every table.
    Everything,
}

/// One invalidation this process made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Invalidation {
    /// When it was made (Unix time, milliseconds).
    pub at_ms: u64,
    /// Why.
    pub cause: InvalidationCause,
    /// How much it covered.
    pub scope: InvalidationScope,
    /// The table (`None` for everything).
    pub table: Option<String>,
}

/// The last invalidation of each table and of everything.
#[derive(Debug, Default)]
pub(crate) struct InvalidationLog {
    state: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    tables: HashMap<String, Invalidation>,
    everything: Option<Invalidation>,
}

/// Unix time now, in milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl InvalidationLog {
    /// Notes an invalidation of `tables` (`None`: everything).
    pub(crate) fn record<S: AsRef<str>>(
        &self,
        cause: InvalidationCause,
        scope: InvalidationScope,
        tables: Option<&[S]>,
    ) {
        let at_ms = now_ms();
        let mut log = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tables) = tables else {
            log.everything = Some(Invalidation {
                at_ms,
                cause,
                scope: InvalidationScope::Everything,
                table: None,
            });
            return;
        };
        for table in tables {
            let table = table.as_ref().to_owned();
            let entry = Invalidation {
                at_ms,
                cause,
                scope,
                table: Some(table.clone()),
            };
            log.tables.insert(table, entry);
        }
        if log.tables.len() > MAX_TABLES {
            let mut ages: Vec<(u64, String)> = log
                .tables
                .iter()
                .map(|(t, i)| (i.at_ms, t.clone()))
                .collect();
            ages.sort();
            for (_, table) in ages.into_iter().take(log.tables.len() - MAX_TABLES) {
                log.tables.remove(&table);
            }
        }
    }

    /// The last invalidation of any of `tables`, or of everything, whichever is later.
    pub(crate) fn last_of<S: AsRef<str>>(&self, tables: &[S]) -> Option<Invalidation> {
        let log = self.state.lock().unwrap_or_else(|e| e.into_inner());
        tables
            .iter()
            .filter_map(|t| log.tables.get(t.as_ref()))
            .chain(log.everything.as_ref())
            .max_by_key(|i| i.at_ms)
            .cloned()
    }

    /// The last invalidation of everything.
    pub(crate) fn everything(&self) -> Option<Invalidation> {
        let log = self.state.lock().unwrap_or_else(|e| e.into_inner());
        log.everything.clone()
    }
}
