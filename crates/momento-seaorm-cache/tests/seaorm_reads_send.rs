//! Every cached read's future is `Send` (so it can run in a spawned task or a web handler),
//! checked at compile time on concrete SeaORM types.

mod common;
mod seaorm_reads_support;

use common::entities::{user, user_group};
use momento_seaorm_cache::{CacheQueryExt, CachedConnection, ModelCache};
use sea_orm::{EntityTrait, QuerySelect};
use seaorm_reads_support::{staff, tag, user_tag};

fn send<T: Send>(_: T) {}

/// Type-checked, never run.
#[allow(dead_code)]
fn every_cached_read_is_send(cache: &ModelCache, db: &CachedConnection, users: &Vec<user::Model>) {
    let find = user::Entity::find;
    send(find().cached(cache).all(db));
    send(find().cached(cache).one(db));
    send(find().cached(cache).require_one(db));
    send(find().cached(cache).count(db));
    send(find().cached(cache).exists(db));
    send(find().cached(cache).stream(db));
    send(
        find()
            .select_only()
            .cached(cache)
            .into_tuple::<i32>()
            .all(db),
    );
    let pages = find().cached(cache).paginate(db, 5);
    send(pages.fetch_page(1));
    send(pages.num_items_and_pages());
    send(find().cached(cache).paginate(db, 5).into_stream());
    let mut cursor = find().cached(cache).cursor_by(user::Column::Id);
    send(cursor.first(3).all(db));
    let pairs = find()
        .find_also_related(user_group::Entity)
        .find_also(user::Entity, tag::Entity);
    send(pairs.clone().cached(cache).all(db));
    send(pairs.consolidate().cached(cache).all(db));
    let groups = user_group::Entity::find().find_with_related(user::Entity);
    send(groups.cached(cache).all(db));
    send(users.cached(cache).load_one(user_group::Entity, db));
    send(users.cached(cache).load_many(tag::Entity, db));
    send(
        users
            .cached(cache)
            .load_many_to_many(tag::Entity, user_tag::Entity, db),
    );
    let staff: Vec<staff::Model> = Vec::new();
    send(
        staff
            .cached(cache)
            .load_self(staff::Entity, staff::Relation::ReportsTo, db),
    );
}

#[test]
fn cached_reads_are_send() {
    // The check is the function above compiling.
}
