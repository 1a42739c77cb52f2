//! The control plane: the `ScsControl` gRPC service that creates, lists, flushes and deletes
//! caches.
//!
//! Creating an existing cache answers `ALREADY_EXISTS` (the SDK's
//! `CreateCacheResponse::AlreadyExists`); deleting or flushing a missing one answers `NOT_FOUND`
//! (the SDK's `CacheNotFoundError`). Signing keys and indexes answer `UNIMPLEMENTED`.

use std::sync::Arc;

use momento_protos::control_client as pb;
use momento_protos::control_client::scs_control_server::ScsControl;
use tonic::{Request, Response, Status};

use crate::store::{Store, MAX_ITEM_SIZE};
use crate::unimplemented::unimplemented_rpcs;

/// The `ScsControl` service over a shared [`Store`].
#[derive(Debug, Clone)]
pub struct ControlService {
    store: Arc<Store>,
}

impl ControlService {
    /// A control service managing the caches of `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }
}

/// The limits `ListCaches` reports for every cache: only the item size is enforced among them
/// (`CacheLimits` has no field for the memory limit, which `LiteServer::cache_stats` reports).
fn cache_limits() -> pb::CacheLimits {
    pb::CacheLimits {
        max_item_size_kb: (MAX_ITEM_SIZE / 1024) as u32,
        ..Default::default()
    }
}

#[tonic::async_trait]
impl ScsControl for ControlService {
    async fn create_cache(
        &self,
        request: Request<pb::CreateCacheRequest>,
    ) -> Result<Response<pb::CreateCacheResponse>, Status> {
        let name = request.into_inner().cache_name;
        if name.trim().is_empty() {
            return Err(Status::invalid_argument("the cache name must not be empty"));
        }
        self.store.create_cache(&name)?;
        tracing::debug!(cache = %name, "created cache");
        Ok(Response::new(pb::CreateCacheResponse {}))
    }

    async fn delete_cache(
        &self,
        request: Request<pb::DeleteCacheRequest>,
    ) -> Result<Response<pb::DeleteCacheResponse>, Status> {
        let name = request.into_inner().cache_name;
        self.store.delete_cache(&name)?;
        tracing::debug!(cache = %name, "deleted cache");
        Ok(Response::new(pb::DeleteCacheResponse {}))
    }

    async fn list_caches(
        &self,
        _request: Request<pb::ListCachesRequest>,
    ) -> Result<Response<pb::ListCachesResponse>, Status> {
        let cache = self
            .store
            .cache_names()
            .into_iter()
            .map(|name| pb::Cache {
                cache_id: name.clone(),
                cache_name: name,
                cache_limits: Some(cache_limits()),
                topic_limits: None,
            })
            .collect();
        Ok(Response::new(pb::ListCachesResponse {
            cache,
            next_token: String::new(),
        }))
    }

    async fn flush_cache(
        &self,
        request: Request<pb::FlushCacheRequest>,
    ) -> Result<Response<pb::FlushCacheResponse>, Status> {
        let name = request.into_inner().cache_name;
        self.store.flush_cache(&name)?;
        tracing::debug!(cache = %name, "flushed cache");
        Ok(Response::new(pb::FlushCacheResponse {}))
    }

    unimplemented_rpcs! {
        create_signing_key: pb::CreateSigningKeyRequest => pb::CreateSigningKeyResponse;
        revoke_signing_key: pb::RevokeSigningKeyRequest => pb::RevokeSigningKeyResponse;
        list_signing_keys: pb::ListSigningKeysRequest => pb::ListSigningKeysResponse;
        create_index: pb::CreateIndexRequest => pb::CreateIndexResponse;
        delete_index: pb::DeleteIndexRequest => pb::DeleteIndexResponse;
        list_indexes: pb::ListIndexesRequest => pb::ListIndexesResponse;
    }
}
