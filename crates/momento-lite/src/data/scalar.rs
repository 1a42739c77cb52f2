//! Handlers of the scalar RPCs: translate a request into a store call and its result into the
//! response message the SDK expects.

use futures::stream;
use momento_protos::cache_client as pb;
use momento_protos::cache_client::{
    item_get_ttl_response, set_if_not_exists_response, set_if_request, set_if_response,
    update_ttl_request, update_ttl_response, ECacheResult,
};
use tonic::{Request, Response, Status};

use super::{cache_name, ttl_ms, BatchStream};
use crate::store::scalar::SetCondition;
use crate::store::{Store, TtlOutcome, TtlUpdate};

/// `Get`: the value under the key as a hit, or a miss.
pub fn get(
    store: &Store,
    request: Request<pb::GetRequest>,
) -> Result<Response<pb::GetResponse>, Status> {
    let cache = cache_name(&request)?;
    let key = request.into_inner().cache_key;
    store.count_keys_read(1);
    let value = store.with_cache(&cache, |items, now| items.get(&key, now))?;
    Ok(Response::new(get_response(value)))
}

/// `GetBatch`: one `Get` answer per key, streamed in request order.
pub fn get_batch(
    store: &Store,
    request: Request<pb::GetBatchRequest>,
) -> Result<Response<BatchStream<pb::GetResponse>>, Status> {
    let cache = cache_name(&request)?;
    let gets = request.into_inner().items;
    store.count_keys_read(gets.len());
    let answers: Vec<Result<pb::GetResponse, Status>> =
        store.with_cache(&cache, |items, now| {
            Ok(gets
                .iter()
                .map(|get| {
                    let value = items.get(&get.cache_key, now)?;
                    Ok(get_response(value))
                })
                .collect())
        })?;
    Ok(Response::new(Box::pin(stream::iter(answers))))
}

fn get_response(value: Option<Vec<u8>>) -> pb::GetResponse {
    match value {
        Some(cache_body) => pb::GetResponse {
            result: ECacheResult::Hit.into(),
            cache_body,
            message: String::new(),
        },
        None => pb::GetResponse {
            result: ECacheResult::Miss.into(),
            ..Default::default()
        },
    }
}

fn set_ok() -> pb::SetResponse {
    pb::SetResponse {
        result: ECacheResult::Ok.into(),
        message: String::new(),
    }
}

/// `Set`: stores the value with its TTL.
pub fn set(
    store: &Store,
    request: Request<pb::SetRequest>,
) -> Result<Response<pb::SetResponse>, Status> {
    let cache = cache_name(&request)?;
    let set = request.into_inner();
    let ttl = ttl_ms(set.ttl_milliseconds)?;
    store.with_cache(&cache, |items, now| {
        items.set(set.cache_key, set.cache_body, ttl, now)
    })?;
    Ok(Response::new(set_ok()))
}

/// `SetBatch`: stores every item or, if any is refused, none; one answer per item.
pub fn set_batch(
    store: &Store,
    request: Request<pb::SetBatchRequest>,
) -> Result<Response<BatchStream<pb::SetResponse>>, Status> {
    let cache = cache_name(&request)?;
    let sets = request.into_inner().items;
    let mut writes = Vec::with_capacity(sets.len());
    for set in sets {
        writes.push((set.cache_key, set.cache_body, ttl_ms(set.ttl_milliseconds)?));
    }
    let count = writes.len();
    store.with_cache(&cache, |items, now| items.set_all(writes, now))?;
    let answers = std::iter::repeat_with(|| Ok(set_ok())).take(count);
    Ok(Response::new(Box::pin(stream::iter(answers))))
}

/// `SetIf`: stores the value if the request's condition holds.
pub fn set_if(
    store: &Store,
    request: Request<pb::SetIfRequest>,
) -> Result<Response<pb::SetIfResponse>, Status> {
    use set_if_request::Condition;

    let cache = cache_name(&request)?;
    let set = request.into_inner();
    let ttl = ttl_ms(set.ttl_milliseconds)?;
    let condition = match set.condition {
        Some(Condition::Absent(_)) => SetCondition::Absent,
        Some(Condition::Present(_)) => SetCondition::Present,
        Some(Condition::Equal(c)) => SetCondition::Equal(c.value_to_check),
        Some(Condition::NotEqual(c)) => SetCondition::NotEqual(c.value_to_check),
        Some(Condition::PresentAndNotEqual(c)) => {
            SetCondition::PresentAndNotEqual(c.value_to_check)
        }
        Some(Condition::AbsentOrEqual(c)) => SetCondition::AbsentOrEqual(c.value_to_check),
        None => return Err(Status::invalid_argument("SetIf requires a condition")),
    };
    let stored = store.with_cache(&cache, |items, now| {
        items.set_if(set.cache_key, set.cache_body, ttl, &condition, now)
    })?;
    let result = if stored {
        set_if_response::Result::Stored(set_if_response::Stored {})
    } else {
        set_if_response::Result::NotStored(set_if_response::NotStored {})
    };
    Ok(Response::new(pb::SetIfResponse {
        result: Some(result),
    }))
}

/// `SetIfNotExists`: stores the value only if the key holds nothing.
pub fn set_if_not_exists(
    store: &Store,
    request: Request<pb::SetIfNotExistsRequest>,
) -> Result<Response<pb::SetIfNotExistsResponse>, Status> {
    use set_if_not_exists_response::{NotStored, Result as Outcome, Stored};

    let cache = cache_name(&request)?;
    let set = request.into_inner();
    let ttl = ttl_ms(set.ttl_milliseconds)?;
    let stored = store.with_cache(&cache, |items, now| {
        items.set_if(
            set.cache_key,
            set.cache_body,
            ttl,
            &SetCondition::Absent,
            now,
        )
    })?;
    let result = if stored {
        Outcome::Stored(Stored {})
    } else {
        Outcome::NotStored(NotStored {})
    };
    Ok(Response::new(pb::SetIfNotExistsResponse {
        result: Some(result),
    }))
}

/// `Delete`: removes the item of any type; succeeds whether or not it existed.
pub fn delete(
    store: &Store,
    request: Request<pb::DeleteRequest>,
) -> Result<Response<pb::DeleteResponse>, Status> {
    let cache = cache_name(&request)?;
    let key = request.into_inner().cache_key;
    store.with_cache(&cache, |items, now| Ok(items.delete(&key, now)))?;
    Ok(Response::new(pb::DeleteResponse {}))
}

/// `KeysExist`: one flag per key, in request order, for items of any type.
pub fn keys_exist(
    store: &Store,
    request: Request<pb::KeysExistRequest>,
) -> Result<Response<pb::KeysExistResponse>, Status> {
    let cache = cache_name(&request)?;
    let keys = request.into_inner().cache_keys;
    let exists = store.with_cache(&cache, |items, now| {
        Ok(keys.iter().map(|key| items.exists(key, now)).collect())
    })?;
    Ok(Response::new(pb::KeysExistResponse { exists }))
}

/// `Increment`: adds to the integer under the key and stores it with the request's TTL.
pub fn increment(
    store: &Store,
    request: Request<pb::IncrementRequest>,
) -> Result<Response<pb::IncrementResponse>, Status> {
    let cache = cache_name(&request)?;
    let increment = request.into_inner();
    let ttl = ttl_ms(increment.ttl_milliseconds)?;
    let value = store.with_cache(&cache, |items, now| {
        items.increment(increment.cache_key, increment.amount, ttl, now)
    })?;
    Ok(Response::new(pb::IncrementResponse { value }))
}

/// `UpdateTtl`: overwrites, increases or decreases the TTL of an item of any type.
pub fn update_ttl(
    store: &Store,
    request: Request<pb::UpdateTtlRequest>,
) -> Result<Response<pb::UpdateTtlResponse>, Status> {
    use update_ttl_request::UpdateTtl;
    use update_ttl_response::{Missing, NotSet, Result as Outcome, Set};

    let cache = cache_name(&request)?;
    let request = request.into_inner();
    let update = match request.update_ttl {
        Some(UpdateTtl::IncreaseToMilliseconds(ms)) => TtlUpdate::Increase(ttl_ms(ms)?),
        Some(UpdateTtl::DecreaseToMilliseconds(ms)) => TtlUpdate::Decrease(ttl_ms(ms)?),
        Some(UpdateTtl::OverwriteToMilliseconds(ms)) => TtlUpdate::Overwrite(ttl_ms(ms)?),
        None => return Err(Status::invalid_argument("UpdateTtl requires a TTL")),
    };
    let outcome = store.with_cache(&cache, |items, now| {
        Ok(items.update_ttl(&request.cache_key, update, now))
    })?;
    let result = match outcome {
        TtlOutcome::Set => Outcome::Set(Set {}),
        TtlOutcome::NotSet => Outcome::NotSet(NotSet {}),
        TtlOutcome::Missing => Outcome::Missing(Missing {}),
    };
    Ok(Response::new(pb::UpdateTtlResponse {
        result: Some(result),
    }))
}

/// `ItemGetTtl`: the milliseconds left before an item of any type expires.
pub fn item_get_ttl(
    store: &Store,
    request: Request<pb::ItemGetTtlRequest>,
) -> Result<Response<pb::ItemGetTtlResponse>, Status> {
    use item_get_ttl_response::{Found, Missing, Result as Outcome};

    let cache = cache_name(&request)?;
    let key = request.into_inner().cache_key;
    let remaining = store.with_cache(&cache, |items, now| Ok(items.remaining_ttl(&key, now)))?;
    let result = match remaining {
        Some(remaining) => Outcome::Found(Found {
            remaining_ttl_millis: u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX),
        }),
        None => Outcome::Missing(Missing {}),
    };
    Ok(Response::new(pb::ItemGetTtlResponse {
        result: Some(result),
    }))
}
