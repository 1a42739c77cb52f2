//! Which connections may use the cache: a transaction never does.
//!
//! Whether a read runs inside a transaction is a property of the connection's type, known at
//! compile time, not a runtime guess.

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};

/// A SeaORM connection that can say whether it is inside a transaction.
///
/// Cached reads on a connection in a transaction bypass the cache (they may see the
/// transaction's own uncommitted writes, which must neither be served to nor stored for others).
pub trait CacheableConnection: ConnectionTrait {
    /// `true` when reads on this connection run inside a transaction.
    fn in_transaction(&self) -> bool;

    /// A connection a background task may own, for stale-while-revalidate refreshes; `None`
    /// makes such a refresh run in the caller's task instead.
    fn detached(&self) -> Option<DatabaseConnection> {
        None
    }
}

impl CacheableConnection for DatabaseConnection {
    fn in_transaction(&self) -> bool {
        false
    }

    fn detached(&self) -> Option<DatabaseConnection> {
        Some(self.clone())
    }
}

impl CacheableConnection for DatabaseTransaction {
    fn in_transaction(&self) -> bool {
        true
    }
}
