//! An in-process store on moka, bounded by bytes: for tests, small apps and local development.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use moka::future::Cache;

use super::CacheBackend;
use crate::error::{CacheFault, ConfigError};

/// Default capacity of a [`MemoryBackend`]: 64 MiB.
pub const DEFAULT_MEMORY_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone)]
struct Item {
    value: Bytes,
    ttl: Duration,
}

struct PerItemTtl;

impl moka::Expiry<String, Item> for PerItemTtl {
    fn expire_after_create(&self, _key: &String, item: &Item, _now: Instant) -> Option<Duration> {
        Some(item.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        item: &Item,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(item.ttl)
    }
}

/// An in-process [`CacheBackend`] on [moka](https://docs.rs/moka), bounded by the bytes of its
/// keys and values, honouring each item's TTL.
///
/// ```
/// # mod user {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
/// #     #[derive(serde::Serialize, serde::Deserialize)]
/// #     #[sea_orm(table_name = "users")]
/// #     pub struct Model {
/// #         #[sea_orm(primary_key)]
/// #         pub id: i32,
/// #         pub name: String,
/// #     }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// #     pub enum Relation {}
/// #     impl ActiveModelBehavior for ActiveModel {}
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// # sea_orm::ConnectionTrait::execute_unprepared(
/// #     &db,
/// #     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
/// #      INSERT INTO users VALUES (1, 'alice'), (2, 'bob')",
/// # )
/// # .await?;
/// use momento_seaorm_cache::{CacheStatus, MemoryBackend, ModelCache};
/// let backend = MemoryBackend::builder().max_capacity_bytes(8 * 1024 * 1024).build()?;
/// let cache = ModelCache::builder(backend).build()?;
/// let users = cache.wrap(user::Entity);
/// users.find_by_pk(&db, 1).await?;
/// assert_eq!(users.find_by_pk_with_status(&db, 1).await?.status, CacheStatus::Hit);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MemoryBackend {
    /// Hashed with foldhash (seeded per cache), not SipHash: a `Strict` hit hashes three keys.
    items: Cache<String, Item, foldhash::fast::RandomState>,
    capacity: u64,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("capacity_bytes", &self.capacity)
            .field("entries", &self.items.entry_count())
            .finish()
    }
}

/// Builds a [`MemoryBackend`].
#[derive(Debug, Clone)]
pub struct MemoryBackendBuilder {
    capacity: u64,
}

impl MemoryBackend {
    /// A builder with a capacity of [`DEFAULT_MEMORY_CAPACITY_BYTES`] (64 MiB).
    ///
    /// ```
    /// use momento_seaorm_cache::MemoryBackend;
    /// let backend = MemoryBackend::builder().build()?;
    /// assert!(format!("{backend:?}").contains("capacity_bytes: 67108864"));
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn builder() -> MemoryBackendBuilder {
        MemoryBackendBuilder {
            capacity: DEFAULT_MEMORY_CAPACITY_BYTES,
        }
    }

    /// A backend with the default capacity (64 MiB).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), momento_seaorm_cache::CacheFault> {
    /// use std::time::Duration;
    /// use momento_seaorm_cache::{CacheBackend, MemoryBackend};
    /// let backend = MemoryBackend::new();
    /// backend.set("greeting", b"hello".to_vec(), Duration::from_secs(60)).await?;
    /// assert_eq!(backend.get("greeting").await?.as_deref(), Some(&b"hello"[..]));
    /// # Ok(()) }
    /// ```
    pub fn new() -> MemoryBackend {
        MemoryBackend::builder()
            .build()
            .expect("the default capacity is valid")
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        MemoryBackend::new()
    }
}

impl MemoryBackendBuilder {
    /// The most bytes of keys plus values to keep; least valuable items are evicted beyond it.
    ///
    /// ```
    /// use momento_seaorm_cache::MemoryBackend;
    /// let backend = MemoryBackend::builder().max_capacity_bytes(1024 * 1024).build()?;
    /// assert!(format!("{backend:?}").contains("capacity_bytes: 1048576"));
    /// # Ok::<(), momento_seaorm_cache::ConfigError>(())
    /// ```
    pub fn max_capacity_bytes(mut self, bytes: u64) -> Self {
        self.capacity = bytes;
        self
    }

    /// Builds the backend; a zero capacity is a [`ConfigError::ZeroCapacity`].
    ///
    /// ```
    /// use momento_seaorm_cache::{ConfigError, MemoryBackend};
    /// assert!(MemoryBackend::builder().max_capacity_bytes(1 << 20).build().is_ok());
    /// let err = MemoryBackend::builder().max_capacity_bytes(0).build().unwrap_err();
    /// assert_eq!(err, ConfigError::ZeroCapacity);
    /// ```
    pub fn build(self) -> Result<MemoryBackend, ConfigError> {
        if self.capacity == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        let items = Cache::builder()
            .max_capacity(self.capacity)
            .weigher(|key: &String, item: &Item| {
                u32::try_from(key.len() + item.value.len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerItemTtl)
            .build_with_hasher(foldhash::fast::RandomState::default());
        Ok(MemoryBackend {
            items,
            capacity: self.capacity,
        })
    }
}

#[async_trait]
impl CacheBackend for MemoryBackend {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheFault> {
        Ok(self.items.get(key).await.map(|item| item.value))
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>, CacheFault> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.items.get(*key).await.map(|item| item.value));
        }
        Ok(values)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheFault> {
        let item = Item {
            value: Bytes::from(value),
            ttl,
        };
        self.items.insert(key.to_owned(), item).await;
        Ok(())
    }

    async fn set_many(&self, items: &[(&str, Vec<u8>)], ttl: Duration) -> Result<(), CacheFault> {
        for (key, value) in items {
            let item = Item {
                value: Bytes::copy_from_slice(value),
                ttl,
            };
            self.items.insert((*key).to_owned(), item).await;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheFault> {
        self.items.invalidate(key).await;
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, CacheFault> {
        let item = Item {
            value: Bytes::from(value),
            ttl,
        };
        let entry = self.items.entry_by_ref(key).or_insert(item).await;
        Ok(entry.is_fresh())
    }

    fn supports_set_if_absent(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_reads_and_expires() {
        let backend = MemoryBackend::new();
        backend
            .set("k", b"v".to_vec(), Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(backend.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(backend.get("k").await.unwrap(), None);
        backend
            .set("k", b"v".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        backend.delete("k").await.unwrap();
        assert_eq!(backend.get("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn set_if_absent_stores_only_once() {
        let backend = MemoryBackend::new();
        let ttl = Duration::from_secs(60);
        assert!(backend
            .set_if_absent("k", b"a".to_vec(), ttl)
            .await
            .unwrap());
        assert!(!backend
            .set_if_absent("k", b"b".to_vec(), ttl)
            .await
            .unwrap());
        assert_eq!(backend.get("k").await.unwrap().as_deref(), Some(&b"a"[..]));
    }

    #[tokio::test]
    async fn stays_within_its_byte_budget() {
        let backend = MemoryBackend::builder()
            .max_capacity_bytes(10_000)
            .build()
            .unwrap();
        for i in 0..100 {
            backend
                .set(
                    &format!("key-{i}"),
                    vec![0u8; 1_000],
                    Duration::from_secs(60),
                )
                .await
                .unwrap();
        }
        backend.items.run_pending_tasks().await;
        assert!(
            backend.items.weighted_size() <= 10_000,
            "{}",
            backend.items.weighted_size()
        );
        assert!(backend.items.entry_count() < 100);
    }

    #[test]
    fn zero_capacity_is_refused() {
        let err = MemoryBackend::builder()
            .max_capacity_bytes(0)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::ZeroCapacity);
    }
}
