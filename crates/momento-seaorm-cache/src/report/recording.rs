//! Recording one read into its shape's counters: a [`Timed`] loader that times the queries
//! the read path runs, the outcome once the read returns, and — through a task-local set for
//! the read — the size of the value the read path stores ([`stored`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use sea_orm::{ConnectionTrait, DbErr};

use super::figures::ShapeCounters;
use super::invalidations::now_ms;
use crate::load::Loader;
use crate::status::ReadResult;

tokio::task_local! {
    /// The shape of the read running in this task.
    static CURRENT: Arc<ShapeCounters>;
}

/// A loader that counts and times its query into a shape.
pub(crate) struct Timed<L> {
    loader: L,
    shape: Arc<ShapeCounters>,
}

impl<L: Loader> Loader for Timed<L> {
    type Output = L::Output;

    async fn load<C: ConnectionTrait>(self, db: &C) -> Result<Self::Output, DbErr> {
        let started = Instant::now();
        let result = self.loader.load(db).await;
        self.shape.loaded(started.elapsed(), now_ms());
        result
    }
}

/// Runs one read (`read` is handed the loader to run it with) and records it into `shape`.
pub(crate) async fn recorded<L, T, F, Fut>(
    shape: Arc<ShapeCounters>,
    loader: L,
    read: F,
) -> Result<ReadResult<T>, DbErr>
where
    L: Loader,
    F: FnOnce(Timed<L>) -> Fut,
    Fut: Future<Output = Result<ReadResult<T>, DbErr>>,
{
    let timed = Timed {
        loader,
        shape: shape.clone(),
    };
    let result = CURRENT.scope(shape.clone(), read(timed)).await;
    shape.read(result.as_ref().ok().map(|r| r.status));
    result
}

/// Counts a value of `bytes` bytes stored for the read running in this task (none: not a
/// recorded read, e.g. a background refresh).
pub(crate) fn stored(bytes: usize) {
    let _ = CURRENT.try_with(|shape| shape.stored(bytes));
}
