//! Warms the cache before the cached run, as a service that has been running for a while would
//! be: one read of each of the hottest keys the mix can ask for (the lowest Zipf ranks), 16 at
//! a time, spread over the processes. The remote cache is shared, so each process's near cache
//! then fills from it on first use.

use std::sync::Arc;
use std::time::Instant;

use super::ops::{Ctx, Op};

/// Reads the hottest `users` users (by id, by email, their posts, their stats), the hottest
/// `posts` posts and every title search once; returns (requests, failures, seconds).
pub async fn warm(ctx: Arc<Ctx>, users: usize, posts: usize) -> (usize, usize, f64) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let (mut sent, mut failed) = (0, 0);
    for op in ops(users, posts) {
        if tasks.len() >= 16 {
            failed += usize::from(!matches!(tasks.join_next().await, Some(Ok(true))));
        }
        let ctx = ctx.clone();
        tasks.spawn(async move { matches!(ctx.execute(op).await, Some(Ok(()))) });
        sent += 1;
    }
    while let Some(done) = tasks.join_next().await {
        failed += usize::from(!matches!(done, Ok(true)));
    }
    (sent, failed, started.elapsed().as_secs_f64())
}

/// The reads of the warm-up: each of the hottest `users` users (by id, by email, their posts,
/// their stats), the hottest `posts` posts and every title search.
pub fn ops(users: usize, posts: usize) -> impl Iterator<Item = Op> {
    (0..users)
        .flat_map(|u| {
            [
                Op::User(u),
                Op::UserByEmail(u),
                Op::UserPosts(u),
                Op::UserStats(u),
            ]
        })
        .chain((1..=posts as i64).map(Op::Post))
        .chain((0..97).map(Op::Search))
}
