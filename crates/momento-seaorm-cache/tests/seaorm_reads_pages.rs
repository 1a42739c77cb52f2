//! Pagination and cursors through `.cached(&cache)`, on SQLite, PostgreSQL and MariaDB: every
//! page, count and cursor page misses then hits with SeaORM's own value (same rows, same order,
//! same page boundaries) after running SeaORM's own statement; a write through the
//! `CachedConnection` to each table read makes it a miss; a transaction bypasses.

mod common;
mod seaorm_reads_support;

use common::entities::{user, user_group};
use common::Db;
use futures::TryStreamExt;
use momento_seaorm_cache::{CacheQueryExt, CacheStatus};
use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    TransactionSession, TransactionTrait,
};
use seaorm_reads_support::{ids, write_user, Fixture, UserName};

/// The cursors' order column.
const ID: user::Column = user::Column::Id;

/// Users 1 to 12 with their groups.
fn pairs() -> sea_orm::SelectTwo<user::Entity, user_group::Entity> {
    user::Entity::find()
        .find_also_related(user_group::Entity)
        .filter(user::Column::Id.lte(12))
}

/// Users 3 to 23 in id order: 21 rows, five pages of 5 (the last one short).
fn users() -> sea_orm::Select<user::Entity> {
    user::Entity::find()
        .filter(user::Column::Id.gt(2))
        .order_by_asc(user::Column::Id)
}

async fn paginate_pages_and_counts(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    pages_miss_then_hit(&fx).await;
    pages_walked_from_the_cache(&fx).await;
    pages_invalidated_by_writes(&fx).await;
    pages_bypass_in_a_transaction(&fx).await;
    fx.cleanup().await;
}

async fn pages_miss_then_hit(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    for page in 0..=5 {
        let rows = fx
            .miss_then_hit(
                &format!("fetch_page({page})"),
                async { users().paginate(plain, 5).fetch_page(page).await },
                || async {
                    users()
                        .cached(cache)
                        .paginate(conn, 5)
                        .fetch_page_with_status(page)
                        .await
                },
            )
            .await;
        let expected: Vec<i32> = (3..=23).skip(5 * page as usize).take(5).collect();
        assert_eq!(ids(&rows), expected, "page {page} boundaries");
    }
    let items = fx
        .miss_then_hit(
            "num_items",
            async { users().paginate(plain, 5).num_items().await },
            || async {
                users()
                    .cached(cache)
                    .paginate(conn, 5)
                    .num_items_with_status()
                    .await
            },
        )
        .await;
    assert_eq!(items, 21);
}

async fn pages_walked_from_the_cache(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    // num_pages and num_items_and_pages come from the cached count; the walks from the
    // cached pages: nothing runs.
    let truth = users().paginate(plain, 5);
    let (derived, ran) = fx
        .statements(async {
            let pages = users().cached(cache).paginate(conn, 5);
            let both = pages.num_items_and_pages().await.unwrap();
            let num_pages = pages.num_pages().await.unwrap();
            (num_pages, both.number_of_items, both.number_of_pages)
        })
        .await;
    let both = truth.num_items_and_pages().await.unwrap();
    let num_pages = truth.num_pages().await.unwrap();
    assert_eq!(
        derived,
        (num_pages, both.number_of_items, both.number_of_pages)
    );
    assert_eq!(num_pages, 5);
    assert!(ran.is_empty(), "{ran:?}");

    let mut walk = users().paginate(plain, 5);
    let mut pages = Vec::new();
    while let Some(rows) = walk.fetch_and_next().await.unwrap() {
        pages.push(rows);
    }
    let (walked, ran) = fx
        .statements(async {
            let mut walk = users().cached(cache).paginate(conn, 5);
            let mut out = Vec::new();
            while let Some(rows) = walk.fetch_and_next().await.unwrap() {
                out.push(rows);
            }
            assert_eq!(walk.cur_page(), 6);
            walk.set_page(1);
            (out, walk.fetch().await.unwrap())
        })
        .await;
    assert_eq!(walked.0, pages, "fetch_and_next walks SeaORM's pages");
    assert_eq!(walked.1, pages[1], "set_page and fetch");
    assert!(ran.is_empty(), "{ran:?}");
    let streamed: Vec<Vec<user::Model>> = users()
        .cached(cache)
        .paginate(conn, 5)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, pages, "into_stream");
}

async fn pages_invalidated_by_writes(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    fx.invalidated_by(
        "fetch_page(4) after a write to users",
        || async {
            users()
                .cached(cache)
                .paginate(conn, 5)
                .fetch_page_with_status(4)
                .await
        },
        fx.write_users("late1"),
        async { users().paginate(plain, 5).fetch_page(4).await },
    )
    .await;
    fx.invalidated_by(
        "num_items after a write to users",
        || async {
            users()
                .cached(cache)
                .paginate(conn, 5)
                .num_items_with_status()
                .await
        },
        fx.write_users("late2"),
        async { users().paginate(plain, 5).num_items().await },
    )
    .await;
}

async fn pages_bypass_in_a_transaction(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    let txn = conn.begin().await.unwrap();
    write_user(&txn, "in_txn", None).await;
    let page = users()
        .cached(cache)
        .paginate(&txn, 5)
        .fetch_page_with_status(4)
        .await;
    let page = page.unwrap();
    assert_eq!(page.status, CacheStatus::Bypass, "a transaction bypasses");
    assert_eq!(
        page.value,
        users().paginate(&txn, 5).fetch_page(4).await.unwrap()
    );
    assert_eq!(
        page.value.last().unwrap().username,
        "in_txn",
        "sees its own write"
    );
    let count = users()
        .cached(cache)
        .paginate(&txn, 5)
        .num_items_with_status()
        .await;
    let count = count.unwrap();
    assert_eq!((count.status, count.value), (CacheStatus::Bypass, 24));
    txn.rollback().await.unwrap();
}

async fn paginate_every_selector(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    tuple_pages(&fx).await;
    joined_pages(&fx).await;
    raw_pages(&fx).await;
    a_page_is_a_limit_and_offset(&fx).await;
    fx.cleanup().await;
}

async fn tuple_pages(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let tuples = || {
        users()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::Username)
            .into_tuple::<(i32, String)>()
    };
    fx.miss_then_hit(
        "into_tuple: fetch_page(2)",
        async { tuples().paginate(plain, 4).fetch_page(2).await },
        || async {
            tuples()
                .cached(cache)
                .paginate(conn, 4)
                .fetch_page_with_status(2)
                .await
        },
    )
    .await;
    fx.miss_then_hit(
        "into_tuple: num_items",
        async { tuples().paginate(plain, 4).num_items().await },
        || async {
            tuples()
                .cached(cache)
                .paginate(conn, 4)
                .num_items_with_status()
                .await
        },
    )
    .await;
}

async fn joined_pages(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let joined = || users().find_also_related(user_group::Entity);
    fx.miss_then_hit(
        "find_also_related: fetch_page(1)",
        async { joined().paginate(plain, 6).fetch_page(1).await },
        || async {
            joined()
                .cached(cache)
                .paginate(conn, 6)
                .fetch_page_with_status(1)
                .await
        },
    )
    .await;
    fx.invalidated_by(
        "find_also_related page after a write to user_groups",
        || async {
            joined()
                .cached(cache)
                .paginate(conn, 6)
                .fetch_page_with_status(1)
                .await
        },
        fx.write_groups("renamed"),
        async { joined().paginate(plain, 6).fetch_page(1).await },
    )
    .await;
}

async fn raw_pages(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let raw = || {
        let sql = "SELECT * FROM users WHERE id > 2 ORDER BY id";
        user::Entity::find().from_raw_sql(Statement::from_string(fx.db.backend(), sql))
    };
    fx.miss_then_hit(
        "raw SQL: fetch_page(3)",
        async { raw().paginate(plain, 5).fetch_page(3).await },
        || async {
            raw()
                .cached(cache)
                .paginate(conn, 5)
                .fetch_page_with_status(3)
                .await
        },
    )
    .await;
    fx.miss_then_hit(
        "raw SQL: num_items",
        async { raw().paginate(plain, 5).num_items().await },
        || async {
            raw()
                .cached(cache)
                .paginate(conn, 5)
                .num_items_with_status()
                .await
        },
    )
    .await;
}

async fn a_page_is_a_limit_and_offset(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    // A page is the statement `.limit(n).offset(p * n).all()` runs: one key for both.
    let page = users()
        .cached(cache)
        .paginate(conn, 7)
        .fetch_page_with_status(1)
        .await;
    let all = users()
        .limit(7)
        .offset(7)
        .cached(cache)
        .all_with_status(conn)
        .await;
    let (page, all) = (page.unwrap(), all.unwrap());
    assert_eq!(
        (page.status, all.status),
        (CacheStatus::Miss, CacheStatus::Hit)
    );
    assert_eq!((page.key, page.value), (all.key, all.value));
}

async fn cursor_pages(kind: Db) {
    let Some(fx) = Fixture::new(kind).await else {
        return;
    };
    cursor_reads(&fx).await;
    cursor_partial_models(&fx).await;
    cursor_changes_like_seaorms(&fx).await;
    joined_cursors(&fx).await;
    cursors_invalidated_by_writes(&fx).await;
    cursor_bypass_in_a_transaction(&fx).await;
    fx.cleanup().await;
}

async fn cursor_reads(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let rows = fx
        .miss_then_hit(
            "after(5).first(4)",
            async {
                user::Entity::find()
                    .cursor_by(ID)
                    .after(5)
                    .first(4)
                    .all(plain)
                    .await
            },
            || async {
                let mut cursor = user::Entity::find().cached(cache).cursor_by(ID);
                cursor.after(5).first(4).all_with_status(conn).await
            },
        )
        .await;
    assert_eq!(ids(&rows), [6, 7, 8, 9]);
    let rows = fx
        .miss_then_hit(
            "before(10).last(3)",
            async {
                user::Entity::find()
                    .cursor_by(ID)
                    .before(10)
                    .last(3)
                    .all(plain)
                    .await
            },
            || async {
                let mut cursor = user::Entity::find().cached(cache).cursor_by(ID);
                cursor.before(10).last(3).all_with_status(conn).await
            },
        )
        .await;
    assert_eq!(
        ids(&rows),
        [7, 8, 9],
        "last() rows come back in the cursor's order"
    );
    let rows = fx
        .miss_then_hit(
            "desc().after(20).first(3)",
            async {
                user::Entity::find()
                    .cursor_by(ID)
                    .desc()
                    .after(20)
                    .first(3)
                    .all(plain)
                    .await
            },
            || async {
                let mut cursor = user::Entity::find().cached(cache).cursor_by(ID);
                cursor.desc().after(20).first(3).all_with_status(conn).await
            },
        )
        .await;
    assert_eq!(ids(&rows), [19, 18, 17]);
}

/// Cursors converted into a partial model, over a filtered query.
async fn cursor_partial_models(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    let names = fx
        .miss_then_hit(
            "into_partial_model, filtered, after(2).before(9)",
            async {
                let cursor = users().filter(user::Column::GroupId.eq(2)).cursor_by(ID);
                let mut cursor = cursor.into_partial_model::<UserName>();
                cursor.after(2).before(9).first(10).all(plain).await
            },
            || async {
                let cached = users().filter(user::Column::GroupId.eq(2)).cached(cache);
                let mut cursor = cached.cursor_by(ID).into_partial_model::<UserName>();
                cursor
                    .after(2)
                    .before(9)
                    .first(10)
                    .all_with_status(conn)
                    .await
            },
        )
        .await;
    assert_eq!(names.iter().map(|n| n.id).collect::<Vec<_>>(), [3, 7]);
}

async fn cursor_changes_like_seaorms(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    // SeaORM changes its cursor on every `all`; the cached cursor changes the same way.
    let mut plain_cursor = user::Entity::find().cursor_by(ID);
    plain_cursor.after(2).first(3);
    let mut cached_cursor = user::Entity::find().cached(cache).cursor_by(ID);
    cached_cursor.after(2).first(3);
    for round in 0..2 {
        let (truth, plain_sql) = fx.statements(plain_cursor.all(plain)).await;
        let (read, cached_sql) = fx.statements(cached_cursor.all_with_status(conn)).await;
        assert_eq!(read.unwrap().value, truth.unwrap(), "round {round}");
        assert_eq!(cached_sql, plain_sql, "round {round}: SeaORM's statement");
    }
}

async fn joined_cursors(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    fx.miss_then_hit(
        "find_also_related: cursor_by(ID).last(4)",
        async { pairs().cursor_by(ID).last(4).all(plain).await },
        || async {
            pairs()
                .cached(cache)
                .cursor_by(ID)
                .last(4)
                .all_with_status(conn)
                .await
        },
    )
    .await;
    fx.miss_then_hit(
        "find_also_related: cursor_by_other(group id).first(5)",
        async {
            let mut cursor = pairs().cursor_by_other(user_group::Column::Id);
            cursor.first(5).all(plain).await
        },
        || async {
            let mut cursor = pairs()
                .cached(cache)
                .cursor_by_other(user_group::Column::Id);
            cursor.first(5).all_with_status(conn).await
        },
    )
    .await;
}

async fn cursors_invalidated_by_writes(fx: &Fixture) {
    let (cache, conn, plain) = (&fx.cache, &fx.conn, fx.plain());
    fx.invalidated_by(
        "cursor after a write to users",
        || async {
            let mut cursor = user::Entity::find().cached(cache).cursor_by(ID);
            cursor.after(20).first(10).all_with_status(conn).await
        },
        fx.write_users("late"),
        async {
            user::Entity::find()
                .cursor_by(ID)
                .after(20)
                .first(10)
                .all(plain)
                .await
        },
    )
    .await;
    fx.invalidated_by(
        "find_also_related cursor after a write to user_groups",
        || async {
            pairs()
                .cached(cache)
                .cursor_by(ID)
                .last(4)
                .all_with_status(conn)
                .await
        },
        fx.write_groups("renamed"),
        async { pairs().cursor_by(ID).last(4).all(plain).await },
    )
    .await;
}

async fn cursor_bypass_in_a_transaction(fx: &Fixture) {
    let (cache, conn) = (&fx.cache, &fx.conn);
    let txn = conn.begin().await.unwrap();
    let added = write_user(&txn, "in_txn", None).await;
    let mut cursor = user::Entity::find().cached(cache).cursor_by(ID);
    let read = cursor
        .after(20)
        .first(10)
        .all_with_status(&txn)
        .await
        .unwrap();
    assert_eq!(read.status, CacheStatus::Bypass, "a transaction bypasses");
    assert_eq!(read.value.last(), Some(&added), "sees its own write");
    txn.rollback().await.unwrap();
}

per_database!(
    paginate_pages_and_counts,
    paginate_every_selector,
    cursor_pages
);
