//! The data plane: the `Scs` gRPC service that reads and writes items in a cache.
//!
//! Every call names its cache in the `cache` request metadata, as the SDK sends it. A call on a
//! cache that does not exist answers `NOT_FOUND` without `err` metadata, which the SDK reports as
//! `CacheNotFoundError`. The handlers live by item type: [`scalar`] for byte values, [`set`] for
//! sets; RPCs of other item types (dictionaries, lists, sorted sets...) answer `UNIMPLEMENTED`.

mod scalar;
mod set;

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use momento_protos::cache_client as pb;
use momento_protos::cache_client::scs_server::Scs;
use tonic::{Request, Response, Status};

use crate::store::Store;
use crate::unimplemented::unimplemented_rpcs;

/// The stream type of the batch RPCs: one response per request item, in request order.
pub type BatchStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The `Scs` service over a shared [`Store`].
#[derive(Debug, Clone)]
pub struct DataService {
    store: Arc<Store>,
}

impl DataService {
    /// A data service reading and writing `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }
}

/// The cache a data request targets, from its `cache` metadata.
fn cache_name<T>(request: &Request<T>) -> Result<String, Status> {
    let value = request
        .metadata()
        .get("cache")
        .ok_or_else(|| Status::invalid_argument("missing the `cache` request metadata"))?;
    let name = value
        .to_str()
        .map_err(|_| Status::invalid_argument("the `cache` request metadata is not ASCII"))?;
    Ok(name.to_owned())
}

/// A request's TTL in milliseconds; Momento requires it to be positive.
fn ttl_ms(ttl_milliseconds: u64) -> Result<u64, Status> {
    if ttl_milliseconds == 0 {
        return Err(Status::invalid_argument(
            "ttl_milliseconds must be positive",
        ));
    }
    Ok(ttl_milliseconds)
}

#[tonic::async_trait]
impl Scs for DataService {
    type GetBatchStream = BatchStream<pb::GetResponse>;
    type SetBatchStream = BatchStream<pb::SetResponse>;

    async fn get(
        &self,
        request: Request<pb::GetRequest>,
    ) -> Result<Response<pb::GetResponse>, Status> {
        scalar::get(&self.store, request)
    }

    async fn get_batch(
        &self,
        request: Request<pb::GetBatchRequest>,
    ) -> Result<Response<Self::GetBatchStream>, Status> {
        scalar::get_batch(&self.store, request)
    }

    async fn set(
        &self,
        request: Request<pb::SetRequest>,
    ) -> Result<Response<pb::SetResponse>, Status> {
        scalar::set(&self.store, request)
    }

    async fn set_batch(
        &self,
        request: Request<pb::SetBatchRequest>,
    ) -> Result<Response<Self::SetBatchStream>, Status> {
        scalar::set_batch(&self.store, request)
    }

    async fn set_if(
        &self,
        request: Request<pb::SetIfRequest>,
    ) -> Result<Response<pb::SetIfResponse>, Status> {
        scalar::set_if(&self.store, request)
    }

    async fn set_if_not_exists(
        &self,
        request: Request<pb::SetIfNotExistsRequest>,
    ) -> Result<Response<pb::SetIfNotExistsResponse>, Status> {
        scalar::set_if_not_exists(&self.store, request)
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        scalar::delete(&self.store, request)
    }

    async fn keys_exist(
        &self,
        request: Request<pb::KeysExistRequest>,
    ) -> Result<Response<pb::KeysExistResponse>, Status> {
        scalar::keys_exist(&self.store, request)
    }

    async fn increment(
        &self,
        request: Request<pb::IncrementRequest>,
    ) -> Result<Response<pb::IncrementResponse>, Status> {
        scalar::increment(&self.store, request)
    }

    async fn update_ttl(
        &self,
        request: Request<pb::UpdateTtlRequest>,
    ) -> Result<Response<pb::UpdateTtlResponse>, Status> {
        scalar::update_ttl(&self.store, request)
    }

    async fn item_get_ttl(
        &self,
        request: Request<pb::ItemGetTtlRequest>,
    ) -> Result<Response<pb::ItemGetTtlResponse>, Status> {
        scalar::item_get_ttl(&self.store, request)
    }

    async fn set_union(
        &self,
        request: Request<pb::SetUnionRequest>,
    ) -> Result<Response<pb::SetUnionResponse>, Status> {
        set::set_union(&self.store, request)
    }

    async fn set_difference(
        &self,
        request: Request<pb::SetDifferenceRequest>,
    ) -> Result<Response<pb::SetDifferenceResponse>, Status> {
        set::set_difference(&self.store, request)
    }

    async fn set_fetch(
        &self,
        request: Request<pb::SetFetchRequest>,
    ) -> Result<Response<pb::SetFetchResponse>, Status> {
        set::set_fetch(&self.store, request)
    }

    unimplemented_rpcs! {
        get_with_hash: pb::GetWithHashRequest => pb::GetWithHashResponse;
        set_if_hash: pb::SetIfHashRequest => pb::SetIfHashResponse;
        item_get_type: pb::ItemGetTypeRequest => pb::ItemGetTypeResponse;
        dictionary_get: pb::DictionaryGetRequest => pb::DictionaryGetResponse;
        dictionary_fetch: pb::DictionaryFetchRequest => pb::DictionaryFetchResponse;
        dictionary_set: pb::DictionarySetRequest => pb::DictionarySetResponse;
        dictionary_increment: pb::DictionaryIncrementRequest => pb::DictionaryIncrementResponse;
        dictionary_delete: pb::DictionaryDeleteRequest => pb::DictionaryDeleteResponse;
        dictionary_length: pb::DictionaryLengthRequest => pb::DictionaryLengthResponse;
        set_sample: pb::SetSampleRequest => pb::SetSampleResponse;
        set_contains: pb::SetContainsRequest => pb::SetContainsResponse;
        set_length: pb::SetLengthRequest => pb::SetLengthResponse;
        set_pop: pb::SetPopRequest => pb::SetPopResponse;
        list_push_front: pb::ListPushFrontRequest => pb::ListPushFrontResponse;
        list_push_back: pb::ListPushBackRequest => pb::ListPushBackResponse;
        list_pop_front: pb::ListPopFrontRequest => pb::ListPopFrontResponse;
        list_pop_back: pb::ListPopBackRequest => pb::ListPopBackResponse;
        list_erase: pb::ListEraseRequest => pb::ListEraseResponse;
        list_remove: pb::ListRemoveRequest => pb::ListRemoveResponse;
        list_fetch: pb::ListFetchRequest => pb::ListFetchResponse;
        list_length: pb::ListLengthRequest => pb::ListLengthResponse;
        list_concatenate_front: pb::ListConcatenateFrontRequest => pb::ListConcatenateFrontResponse;
        list_concatenate_back: pb::ListConcatenateBackRequest => pb::ListConcatenateBackResponse;
        list_retain: pb::ListRetainRequest => pb::ListRetainResponse;
        sorted_set_put: pb::SortedSetPutRequest => pb::SortedSetPutResponse;
        sorted_set_fetch: pb::SortedSetFetchRequest => pb::SortedSetFetchResponse;
        sorted_set_get_score: pb::SortedSetGetScoreRequest => pb::SortedSetGetScoreResponse;
        sorted_set_remove: pb::SortedSetRemoveRequest => pb::SortedSetRemoveResponse;
        sorted_set_increment: pb::SortedSetIncrementRequest => pb::SortedSetIncrementResponse;
        sorted_set_get_rank: pb::SortedSetGetRankRequest => pb::SortedSetGetRankResponse;
        sorted_set_length: pb::SortedSetLengthRequest => pb::SortedSetLengthResponse;
        sorted_set_length_by_score: pb::SortedSetLengthByScoreRequest => pb::SortedSetLengthByScoreResponse;
        sorted_set_union_store: pb::SortedSetUnionStoreRequest => pb::SortedSetUnionStoreResponse;
    }
}

#[cfg(test)]
mod tests {
    use momento_protos::cache_client::set_if_not_exists_response;
    use tonic::metadata::MetadataValue;
    use tonic::Code;

    use super::*;

    /// A data service over a store holding one empty cache, `c`.
    fn service() -> DataService {
        let store = Arc::new(Store::default());
        store.create_cache("c").expect("a new store has no caches");
        DataService::new(store)
    }

    /// A request for cache `c`.
    fn request<T>(message: T) -> Request<T> {
        let mut request = Request::new(message);
        request
            .metadata_mut()
            .insert("cache", MetadataValue::from_static("c"));
        request
    }

    fn get(key: &[u8]) -> pb::GetRequest {
        pb::GetRequest {
            cache_key: key.to_vec(),
        }
    }

    // The SDK never sends SetIfNotExists (its set_if_absent uses SetIf), so it is tested here.
    #[tokio::test]
    async fn set_if_not_exists_stores_only_on_an_absent_key() {
        use set_if_not_exists_response::Result as Outcome;

        let service = service();
        let write = |body: &str| pb::SetIfNotExistsRequest {
            cache_key: b"k".to_vec(),
            cache_body: body.as_bytes().to_vec(),
            ttl_milliseconds: 60_000,
        };
        let first = service.set_if_not_exists(request(write("a"))).await;
        let first = first.map(|r| r.into_inner().result);
        assert!(matches!(first, Ok(Some(Outcome::Stored(_)))), "{first:?}");
        let second = service.set_if_not_exists(request(write("b"))).await;
        let second = second.map(|r| r.into_inner().result);
        assert!(
            matches!(second, Ok(Some(Outcome::NotStored(_)))),
            "{second:?}"
        );
        let stored = service.get(request(get(b"k"))).await;
        assert_eq!(
            stored.ok().map(|r| r.into_inner().cache_body),
            Some(b"a".to_vec())
        );
    }

    #[tokio::test]
    async fn a_request_without_cache_metadata_is_invalid() {
        let status = service().get(Request::new(get(b"k"))).await.err();
        assert_eq!(status.map(|s| s.code()), Some(Code::InvalidArgument));
    }

    #[tokio::test]
    async fn a_zero_ttl_is_invalid_and_stores_nothing() {
        let service = service();
        let set = pb::SetRequest {
            cache_key: b"k".to_vec(),
            cache_body: b"v".to_vec(),
            ttl_milliseconds: 0,
        };
        let status = service.set(request(set)).await.err();
        assert_eq!(status.map(|s| s.code()), Some(Code::InvalidArgument));
        let miss = service.get(request(get(b"k"))).await;
        let miss = miss.ok().map(|r| r.into_inner().result);
        assert_eq!(miss, Some(i32::from(pb::ECacheResult::Miss)));
    }

    #[tokio::test]
    async fn set_if_without_a_condition_is_invalid() {
        let set_if = pb::SetIfRequest {
            cache_key: b"k".to_vec(),
            cache_body: b"v".to_vec(),
            ttl_milliseconds: 60_000,
            condition: None,
        };
        let status = service().set_if(request(set_if)).await.err();
        assert_eq!(status.map(|s| s.code()), Some(Code::InvalidArgument));
    }

    #[tokio::test]
    async fn a_refused_batch_stores_none_of_its_items() {
        let service = service();
        let item = |key: &[u8], size: usize| pb::SetRequest {
            cache_key: key.to_vec(),
            cache_body: vec![0; size],
            ttl_milliseconds: 60_000,
        };
        let batch = pb::SetBatchRequest {
            items: vec![item(b"small", 1), item(b"big", crate::store::MAX_ITEM_SIZE)],
        };
        let status = service.set_batch(request(batch)).await.err();
        assert_eq!(status.map(|s| s.code()), Some(Code::ResourceExhausted));
        let small = service.get(request(get(b"small"))).await;
        let small = small.ok().map(|r| r.into_inner().result);
        assert_eq!(small, Some(i32::from(pb::ECacheResult::Miss)));
    }

    #[tokio::test]
    async fn an_unimplemented_rpc_answers_unimplemented() {
        let status = service()
            .set_length(request(pb::SetLengthRequest::default()))
            .await
            .err();
        assert_eq!(status.map(|s| s.code()), Some(Code::Unimplemented));
    }
}
