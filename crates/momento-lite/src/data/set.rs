//! Handlers of the set RPCs: `SetUnion` (the SDK's `set_add_elements`), `SetDifference`
//! (`set_remove_elements`) and `SetFetch`.

use momento_protos::cache_client as pb;
use momento_protos::cache_client::set_difference_request::{subtrahend::SubtrahendSet, Difference};
use momento_protos::cache_client::{set_difference_response, set_fetch_response};
use tonic::{Request, Response, Status};

use super::{cache_name, ttl_ms};
use crate::store::set::CollectionTtl;
use crate::store::Store;

/// `SetUnion`: adds elements, creating the set with the request's TTL if absent.
pub fn set_union(
    store: &Store,
    request: Request<pb::SetUnionRequest>,
) -> Result<Response<pb::SetUnionResponse>, Status> {
    let cache = cache_name(&request)?;
    let union = request.into_inner();
    let ttl = CollectionTtl {
        ttl_ms: ttl_ms(union.ttl_milliseconds)?,
        refresh: union.refresh_ttl,
    };
    store.with_cache(&cache, |items, now| {
        items.set_union(union.set_name, union.elements, ttl, now)
    })?;
    Ok(Response::new(pb::SetUnionResponse {}))
}

/// `SetDifference`: removes elements (subtrahend form) or replaces the set with the request's
/// elements minus the stored ones (minuend form); answers whether the set existed.
pub fn set_difference(
    store: &Store,
    request: Request<pb::SetDifferenceRequest>,
) -> Result<Response<pb::SetDifferenceResponse>, Status> {
    use set_difference_response::{Found, Missing, Set};

    let cache = cache_name(&request)?;
    let difference = request.into_inner();
    let name = difference.set_name;
    let found = match difference.difference {
        Some(Difference::Subtrahend(subtrahend)) => match subtrahend.subtrahend_set {
            Some(SubtrahendSet::Set(set)) => store.with_cache(&cache, |items, now| {
                items.set_remove(&name, &set.elements, now)
            })?,
            Some(SubtrahendSet::Identity(_)) => {
                store.with_cache(&cache, |items, now| items.set_clear(&name, now))?
            }
            None => return Err(Status::invalid_argument("the subtrahend has no set")),
        },
        Some(Difference::Minuend(minuend)) => store.with_cache(&cache, |items, now| {
            items.set_replace_with_difference(&name, minuend.elements, now)
        })?,
        None => {
            return Err(Status::invalid_argument(
                "SetDifference requires a difference",
            ))
        }
    };
    let set = if found {
        Set::Found(Found {})
    } else {
        Set::Missing(Missing {})
    };
    Ok(Response::new(pb::SetDifferenceResponse { set: Some(set) }))
}

/// `SetFetch`: every element of the set, or missing.
pub fn set_fetch(
    store: &Store,
    request: Request<pb::SetFetchRequest>,
) -> Result<Response<pb::SetFetchResponse>, Status> {
    use set_fetch_response::{Found, Missing, Set};

    let cache = cache_name(&request)?;
    let name = request.into_inner().set_name;
    let elements = store.with_cache(&cache, |items, now| items.set_fetch(&name, now))?;
    let set = match elements {
        Some(elements) => Set::Found(Found { elements }),
        None => Set::Missing(Missing {}),
    };
    Ok(Response::new(pb::SetFetchResponse { set: Some(set) }))
}
