//! The floor no exact cache can go below on this load: the same requests, in the order they
//! were sent, replayed through an ideal cache (one copy shared by every process, unbounded,
//! invalidated the instant a write commits, exactly the reads the written row appears in). A
//! read of a key that was never read, or whose result a write changed since it was last read,
//! must go to the database whatever the cache; the real cache's database statements per request
//! can be compared with this figure to see what is the load's and what is the cache's.

use std::collections::HashSet;
use std::sync::Mutex;

use super::ops::Op;

/// A read's result, as the ideal cache keys it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Read {
    User(usize),
    Email(usize),
    Post(i64),
    UserPosts(usize),
    Search(i64),
    Stats(usize),
}

/// The ideal cache's state and counts.
#[derive(Debug, Default)]
struct State {
    cached: HashSet<Read>,
    reads: u64,
    misses: u64,
    writes: u64,
}

/// The ideal cache over the seeded data (post `p` belongs to user `(p - 1) / posts_per_user`
/// and has title `title-{p % 97}`; writes change neither).
#[derive(Debug)]
pub struct IdealCache {
    posts_per_user: usize,
    state: Mutex<State>,
}

/// What the ideal cache counted.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Floor {
    /// Reads replayed.
    pub reads: u64,
    /// Of those, reads that must go to the database.
    pub misses: u64,
    /// Writes through the service (each one database statement at least).
    pub writes: u64,
}

impl Floor {
    /// Database statements per service request at the least: misses and the service's writes
    /// over reads and those writes.
    pub fn statements_per_request(&self) -> f64 {
        let requests = self.reads + self.writes;
        if requests == 0 {
            return 0.0;
        }
        (self.misses + self.writes) as f64 / requests as f64
    }
}

impl IdealCache {
    /// An empty ideal cache.
    pub fn new(posts_per_user: usize) -> IdealCache {
        IdealCache {
            posts_per_user,
            state: Mutex::default(),
        }
    }

    /// Caches what one read of each op in `ops` would (the warm-up), without counting.
    pub fn fill(&self, ops: impl IntoIterator<Item = Op>) {
        let mut state = self.state.lock().expect("floor lock");
        for op in ops {
            if let Some(read) = read_of(op) {
                state.cached.insert(read);
            }
        }
    }

    /// Replays one request: a read is a hit if its key is cached, else a miss that caches it;
    /// a write drops every read its row appears in (the second service's writes invalidate but
    /// are not the service's requests, so they are not counted as writes).
    pub fn observe(&self, op: Op) {
        let mut state = self.state.lock().expect("floor lock");
        if let Some(read) = read_of(op) {
            state.reads += 1;
            if state.cached.insert(read) {
                state.misses += 1;
            }
            return;
        }
        let through_service = matches!(op, Op::Vote(_) | Op::Rename(_));
        state.writes += u64::from(through_service);
        match op {
            Op::Vote(id) | Op::PlainVote(id) => {
                let owner = ((id - 1) as usize) / self.posts_per_user.max(1);
                for read in [
                    Read::Post(id),
                    Read::UserPosts(owner),
                    Read::Stats(owner),
                    Read::Search(id % 97),
                ] {
                    state.cached.remove(&read);
                }
            }
            Op::Rename(u) | Op::PlainRename(u) => {
                state.cached.remove(&Read::User(u));
                state.cached.remove(&Read::Email(u));
            }
            _ => {}
        }
    }

    /// The counts so far.
    pub fn floor(&self) -> Floor {
        let state = self.state.lock().expect("floor lock");
        Floor {
            reads: state.reads,
            misses: state.misses,
            writes: state.writes,
        }
    }
}

fn read_of(op: Op) -> Option<Read> {
    Some(match op {
        Op::User(u) => Read::User(u),
        Op::UserByEmail(u) => Read::Email(u),
        Op::Post(id) => Read::Post(id),
        Op::UserPosts(u) => Read::UserPosts(u),
        Op::Search(t) => Read::Search(t),
        Op::UserStats(u) => Read::Stats(u),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_makes_the_next_read_of_each_read_it_changed_a_miss() {
        let ideal = IdealCache::new(3);
        // Post 5 belongs to user 1 and is titled title-5.
        let reads = [
            Op::Post(5),
            Op::UserPosts(1),
            Op::UserStats(1),
            Op::Search(5),
        ];
        ideal.fill(reads);
        ideal.fill([Op::User(1), Op::Post(6)]);
        for op in reads {
            ideal.observe(op);
        }
        assert_eq!(ideal.floor().misses, 0, "warm reads hit");
        ideal.observe(Op::PlainVote(5));
        for op in reads.into_iter().chain([Op::User(1), Op::Post(6)]) {
            ideal.observe(op);
        }
        let floor = ideal.floor();
        assert_eq!((floor.reads, floor.misses, floor.writes), (10, 4, 0));
        ideal.observe(Op::Rename(1));
        ideal.observe(Op::User(1));
        ideal.observe(Op::UserPosts(1));
        let floor = ideal.floor();
        assert_eq!((floor.reads, floor.misses, floor.writes), (12, 5, 1));
        assert!((floor.statements_per_request() - 6.0 / 13.0).abs() < 1e-9);
    }
}
