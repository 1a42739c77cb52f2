//! The SeaORM front ends: every read API SeaORM offers, as a cached call.
//!
//! Each adapter describes a read (a [`ReadRequest`](crate::ReadRequest): key, tables, loader)
//! and hands it to [`ModelCache::read_statement`](crate::ModelCache::read_statement); none of
//! them touches the cache's parts. [`wrap`] gives the Node library's four operations,
//! [`query`] the `.cached(&cache)` drop-in on every selector, and the rest follow SeaORM's read
//! API one module each.

pub mod convert;
pub mod cursor;
pub(crate) mod exists;
pub mod loader;
pub mod paginate;
pub mod query;
pub mod related;
pub mod selectors;
pub mod self_loader;
pub(crate) mod shape;
pub mod stream;
pub mod wrap;
