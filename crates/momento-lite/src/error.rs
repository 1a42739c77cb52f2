//! Why a store operation failed, and the gRPC status Momento answers for each reason.
//!
//! The official SDK turns a status into a `MomentoErrorCode` by its code and, for some codes, by
//! the `err` metadata entry (see `status_to_error` in the SDK's `errors.rs`). Each variant here
//! is mapped so the SDK reports the same error it would against the real service.

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

/// A failed store operation: a missing or duplicate cache, a refused value, or a wrong type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The request named a cache that was never created (or was deleted).
    #[error("cache not found: {0}")]
    CacheNotFound(String),
    /// `CreateCache` named a cache that already exists.
    #[error("cache already exists: {0}")]
    CacheAlreadyExists(String),
    /// Key plus value would exceed the item size limit.
    #[error("item size {size} bytes exceeds the limit of {limit} bytes")]
    ItemTooLarge {
        /// Bytes the item would occupy (key plus value or elements).
        size: usize,
        /// The limit it exceeds.
        limit: usize,
    },
    /// The item alone is charged more than its cache's memory limit, so evicting every other
    /// item would not make room for it. Answered like [`ItemTooLarge`](Self::ItemTooLarge).
    #[error(
        "item of {size} bytes (overhead included) exceeds the cache memory limit of {limit} bytes"
    )]
    ExceedsMemoryLimit {
        /// Bytes the item would be charged: key, value and the per-item overhead.
        size: u64,
        /// The cache's memory limit.
        limit: u64,
    },
    /// `Increment` found a stored value that is not a base-10 ASCII integer.
    #[error("the stored value is not an integer")]
    NotAnInteger,
    /// `Increment` would overflow a signed 64-bit integer.
    #[error("incrementing the stored value would overflow")]
    IncrementOverflow,
    /// The operation expects one item type but the key holds another.
    #[error("the item is a {found}, not a {expected}")]
    WrongType {
        /// The type the operation works on.
        expected: &'static str,
        /// The type stored under the key.
        found: &'static str,
    },
}

/// The `err` metadata value Momento sends with an item that is too large.
pub const ITEM_SIZE_LIMIT_EXCEEDED: &str = "item_size_limit_exceeded";

impl From<StoreError> for Status {
    fn from(error: StoreError) -> Self {
        let message = error.to_string();
        match error {
            // No `err` metadata: the SDK reads a bare NOT_FOUND as CacheNotFoundError.
            StoreError::CacheNotFound(_) => Status::not_found(message),
            StoreError::CacheAlreadyExists(_) => Status::already_exists(message),
            StoreError::ItemTooLarge { .. } | StoreError::ExceedsMemoryLimit { .. } => {
                let mut status = Status::new(Code::ResourceExhausted, message);
                status
                    .metadata_mut()
                    .insert("err", MetadataValue::from_static(ITEM_SIZE_LIMIT_EXCEEDED));
                status
            }
            StoreError::NotAnInteger
            | StoreError::IncrementOverflow
            | StoreError::WrongType { .. } => Status::failed_precondition(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_item_carries_the_err_metadata_the_sdk_reads() {
        let status = Status::from(StoreError::ItemTooLarge { size: 10, limit: 5 });
        assert_eq!(status.code(), Code::ResourceExhausted);
        let err = status.metadata().get("err").map(|v| v.to_str().ok());
        assert_eq!(err, Some(Some(ITEM_SIZE_LIMIT_EXCEEDED)));
    }

    #[test]
    fn an_item_over_the_memory_limit_is_refused_like_an_oversized_one() {
        let status = Status::from(StoreError::ExceedsMemoryLimit { size: 10, limit: 5 });
        assert_eq!(status.code(), Code::ResourceExhausted);
        let err = status.metadata().get("err").map(|v| v.to_str().ok());
        assert_eq!(err, Some(Some(ITEM_SIZE_LIMIT_EXCEEDED)));
    }

    #[test]
    fn a_missing_cache_is_a_bare_not_found() {
        let status = Status::from(StoreError::CacheNotFound("c".into()));
        assert_eq!(status.code(), Code::NotFound);
        assert!(status.metadata().get("err").is_none());
    }
}
