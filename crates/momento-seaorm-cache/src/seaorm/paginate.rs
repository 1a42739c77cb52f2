//! `.cached(&cache).paginate(&db, page_size)`: SeaORM's `Paginator`, with each page and the
//! item count read through the cache.
//!
//! SeaORM builds every statement: the paginator runs on a [`Recorder`], which hands over the
//! page's `LIMIT`/`OFFSET` query (or the `COUNT(*)` of `num_items`) without running it; that
//! statement is then read through [`ModelCache::read_statement`]. A page is keyed under `all`,
//! like `.limit(n).offset(p * n).all()`, which runs the same statement; the count under
//! `num_items`, which `num_pages` and `num_items_and_pages` share.
//!
//! ```no_run
//! # mod user {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
//! #     #[sea_orm(table_name = "users")]
//! #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub name: String }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! # async fn run(db: sea_orm::DatabaseConnection, cache: momento_seaorm_cache::ModelCache)
//! # -> Result<(), sea_orm::DbErr> {
//! use momento_seaorm_cache::CacheQueryExt;
//! use sea_orm::{EntityTrait, QueryOrder};
//! let pages = user::Entity::find()
//!     .order_by_asc(user::Column::Id)
//!     .cached(&cache)
//!     .paginate(&db, 20);
//! let third: Vec<user::Model> = pages.fetch_page(2).await?;
//! let total = pages.num_items_and_pages().await?;
//! # let _ = (third, total);
//! # Ok(()) }
//! ```

use sea_orm::{DbErr, ItemsAndPagesNumber, Paginator, PaginatorTrait, SelectorTrait};
use serde::{de::DeserializeOwned, Serialize};

use crate::cache::ModelCache;
use crate::capture::{capture, Recorder};
use crate::connection::CacheableConnection;
use crate::key::Operation;
use crate::load::{LoadAll, LoadNumItems};
use crate::policy::StoreOptions;
use crate::seaorm::query::{CacheableSelect, CachedQuery};
use crate::seaorm::shape::{single, Shape};
use crate::seaorm::stream::RowsStream;
use crate::status::ReadResult;

/// SeaORM's `Paginator` over a query bound to a cache: the same methods, each page and count
/// a cached read. Made by [`CachedQuery::paginate`].
pub struct CachedPaginator<'db, C, S>
where
    S: SelectorTrait + 'static,
{
    db: &'db C,
    pager: Paginator<'static, Recorder, S>,
    page_size: u64,
    cache: ModelCache,
    options: StoreOptions,
    shape: Shape,
}

/// How SeaORM decodes the rows of `Q`.
type Selected<Q> = <Q as CacheableSelect>::Selector;

impl<Q: CacheableSelect> CachedQuery<Q> {
    /// SeaORM's `paginate(db, page_size)`: pages of `page_size` rows (panics on zero, like
    /// SeaORM), each read through the cache.
    pub fn paginate<'db, C>(
        self,
        db: &'db C,
        page_size: u64,
    ) -> CachedPaginator<'db, C, Selected<Q>>
    where
        C: CacheableConnection,
        Q: PaginatorTrait<'static, Recorder, Selector = Selected<Q>>,
    {
        let recorder = Recorder::of(db.get_database_backend());
        CachedPaginator {
            db,
            pager: self.query.paginate(recorder, page_size),
            page_size,
            cache: self.cache,
            options: self.options,
            shape: Shape::of::<Q>(),
        }
    }
}

impl<'db, C, S> CachedPaginator<'db, C, S>
where
    C: CacheableConnection,
    S: SelectorTrait + Send + Sync + 'static,
    S::Item: Serialize + DeserializeOwned + Send + 'static,
{
    /// The rows of page `page` (from zero), like SeaORM's `fetch_page`.
    pub async fn fetch_page(&self, page: u64) -> Result<Vec<S::Item>, DbErr> {
        Ok(self.fetch_page_with_status(page).await?.value)
    }

    /// Like [`fetch_page`](Self::fetch_page), also saying whether it was a hit and the key.
    pub async fn fetch_page_with_status(
        &self,
        page: u64,
    ) -> Result<ReadResult<Vec<S::Item>>, DbErr> {
        let (built, seen) = capture(self.pager.fetch_page(page)).await;
        built?;
        let statement = single(seen, "Paginator::fetch_page")?;
        let (cache, options) = (&self.cache, self.options);
        self.shape
            .read(
                cache,
                self.db,
                Operation::All,
                statement,
                options,
                LoadAll::<S>::new,
            )
            .await
    }

    /// The rows of the current page, like SeaORM's `fetch`.
    pub async fn fetch(&self) -> Result<Vec<S::Item>, DbErr> {
        self.fetch_page(self.pager.cur_page()).await
    }

    /// The number of rows of the query without its limit and offset, like SeaORM's
    /// `num_items`.
    pub async fn num_items(&self) -> Result<u64, DbErr> {
        Ok(self.num_items_with_status().await?.value)
    }

    /// Like [`num_items`](Self::num_items), also saying whether it was a hit and the key.
    pub async fn num_items_with_status(&self) -> Result<ReadResult<u64>, DbErr> {
        let (built, seen) = capture(self.pager.num_items()).await;
        built?;
        let statement = single(seen, "Paginator::num_items")?;
        let (cache, options) = (&self.cache, self.options);
        let loader = LoadNumItems::new;
        self.shape
            .read(
                cache,
                self.db,
                Operation::NumItems,
                statement,
                options,
                loader,
            )
            .await
    }

    /// The number of pages, like SeaORM's `num_pages` (from the cached `num_items`).
    pub async fn num_pages(&self) -> Result<u64, DbErr> {
        let items = self.num_items().await?;
        Ok(self.pages(items))
    }

    /// The number of rows and of pages, like SeaORM's `num_items_and_pages`.
    pub async fn num_items_and_pages(&self) -> Result<ItemsAndPagesNumber, DbErr> {
        let number_of_items = self.num_items().await?;
        Ok(ItemsAndPagesNumber {
            number_of_items,
            number_of_pages: self.pages(number_of_items),
        })
    }

    fn pages(&self, items: u64) -> u64 {
        items / self.page_size + u64::from(!items.is_multiple_of(self.page_size))
    }

    /// Moves to the next page, like SeaORM's `next`.
    pub fn next(&mut self) {
        self.pager.next();
    }

    /// The current page, like SeaORM's `cur_page`.
    pub fn cur_page(&self) -> u64 {
        self.pager.cur_page()
    }

    /// Sets the current page, like SeaORM's `set_page`.
    pub fn set_page(&mut self, page: u64) {
        self.pager.set_page(page);
    }

    /// The current page and a move to the next; `None` once a page is empty. Like SeaORM's
    /// `fetch_and_next`.
    pub async fn fetch_and_next(&mut self) -> Result<Option<Vec<S::Item>>, DbErr> {
        let rows = self.fetch().await?;
        self.next();
        Ok((!rows.is_empty()).then_some(rows))
    }

    /// The pages from the current one on, as a stream, like SeaORM's `into_stream`.
    pub fn into_stream(self) -> RowsStream<'db, Vec<S::Item>>
    where
        C: Send,
        S::Item: Sync,
    {
        Box::pin(futures::stream::try_unfold(self, |mut pages| async move {
            Ok(pages.fetch_and_next().await?.map(|rows| (rows, pages)))
        }))
    }
}
