//! A model-based check of invalidation: thousands of random writes and reads, chosen by a
//! seeded RNG over a small key space (users 1..=36 in 5 teams, posts 1..=115; seeded with 30
//! and 100, the counts then wander, inserts leaning against the deletes), through two
//! `ModelCache`s on one momento-lite (two processes sharing a cache) and their own
//! `CachedConnection`s on one database. Every cached read is followed by the same query run
//! directly on the database; reads start after the writes before them returned, so under
//! `Strict` any difference is stale data, and the test fails with the seed, the operation and
//! the operations before it.
//!
//! Replay a failure with `MODEL_SEED=<seed> cargo test -p momento-seaorm-cache --test
//! model_based`; `MODEL_STEPS=<n>` changes the number of steps (default 10,000 per database).
//!
//! The writes cover ActiveModel insert/update/delete (non-key columns, and the foreign-key and
//! condition columns `team_id`/`user_id` that move rows between groups), `update_many` and
//! `delete_many` filtered on an equality, an `IN`, a range and a subquery, raw SQL through
//! `execute_unprepared` and `execute_raw` (bound values), explicit ids, transactions that commit
//! or roll back (with savepoints), and writes that fail (foreign keys, duplicate ids). The reads
//! cover `wrap(E).find_by_pk` (also of missing ids), `find_by_id().cached().one`, equality, `IN`,
//! conjunction, range and subquery filters, counts, a join (`find_also_related`),
//! `find_with_related`, `one` with an order, and whole tables; inside a transaction they bypass
//! and are compared with the transaction's own view.
//!
//! Besides, about a sixth of the writes and reads are on the edge tables
//! (`model_based/edge_tables.rs`, chosen in `model_based/edge_gen.rs`): statements whose effect
//! the SQL text does not fully show — every placeholder style the driver accepts, writes
//! through an updatable view, PostgreSQL partitions and an inheritance child, tables with
//! triggers (one overriding an assigned column, one writing another table), generated keys from
//! `NULL`/`0`/`DEFAULT`, columns assigned twice, `RETURNING` with non-column items, SQLite rowid
//! aliases, MariaDB's `INSERT IGNORE` out of range, modifiers, `||`/`&&` and executable
//! comments — read back by primary key, by integer column, by lists and whole; and 15% of the
//! transactions run DDL (on MariaDB an implicit commit), most then rolling back. Besides, 25%
//! of the writes and new reads are on the key tables (`model_based/key_tables.rs`): a UUID primary key, text
//! looked up in an exactly comparing and in a case-folding collation, and a composite key.

mod common;

use std::collections::VecDeque;
use std::fmt::Debug;
use std::time::{Duration, Instant};

use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{
    CacheQueryExt, CacheStatus, CacheableConnection, CachedConnection, ModelCache, ReadResult,
};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    ModelTrait, NotSet, QueryFilter, QueryOrder, Set, Statement, TransactionSession,
    TransactionTrait, Unchanged, Value,
};

/// `mb_users`: users in teams.
pub mod mb_user {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "mb_users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
        pub team_id: i32,
        pub score: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::mb_post::Entity")]
        Post,
    }

    impl Related<super::mb_post::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Post.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `mb_posts`: posts by users (a foreign key without cascade).
pub mod mb_post {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "mb_posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub user_id: i32,
        pub title: String,
        pub votes: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::mb_user::Entity",
            from = "Column::UserId",
            to = "super::mb_user::Column::Id"
        )]
        User,
    }

    impl Related<super::mb_user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

use mb_post::Column as P;
use mb_user::Column as U;

const USERS: usize = 30;
const POSTS: usize = 100;
const TEAMS: i32 = 5;
/// Explicit ids are chosen below these (autoincrement ids may go above).
const USER_IDS: i32 = 36;
const POST_IDS: i32 = 115;
const NAMES: [&str; 5] = ["ann", "bob", "cy", "dee", "eve"];
const TITLES: [&str; 4] = ["hello", "news", "rust", "cache"];
/// Steps per database unless `MODEL_STEPS` says otherwise.
const STEPS: usize = 10_000;
/// Steps that are one write, and steps that are a transaction (the rest are reads).
const WRITE_PERCENT: u32 = 12;
const TXN_PERCENT: u32 = 3;
/// How many recent reads are remembered, and how often a read repeats one of them.
const RECENT: usize = 16;
const REPEAT_PERCENT: u32 = 65;
/// Operations shown before a failing one.
const HISTORY: usize = 20;

// ---------------------------------------------------------------------------------------------
// Operations

/// A condition on `mb_users`.
#[derive(Debug, Clone)]
enum UserFilter {
    Id(i32),
    IdIn(Vec<i32>),
    IdAbove(i32),
    TeamEq(i32),
    TeamIn(Vec<i32>),
    ScoreRange(i32, i32),
}

/// A condition on `mb_posts`.
#[derive(Debug, Clone)]
enum PostFilter {
    Id(i32),
    IdAbove(i32),
    UserEq(i32),
    UserIn(Vec<i32>),
    VotesRange(i32, i32),
    /// `user_id IN (SELECT id FROM mb_users WHERE team_id = t)`.
    UsersOfTeam(i32),
}

/// A new value for `mb_users` rows.
#[derive(Debug, Clone)]
enum UserSet {
    Name(String),
    Score(i32),
    ScorePlus(i32),
    Team(i32),
}

/// A new value for `mb_posts` rows.
#[derive(Debug, Clone)]
enum PostSet {
    Title(String),
    Votes(i32),
    VotesPlus(i32),
    User(i32),
}

#[derive(Debug, Clone)]
enum Write {
    InsertUser {
        id: Option<i32>,
        name: String,
        team: i32,
        score: i32,
    },
    InsertPost {
        id: Option<i32>,
        user: i32,
        title: String,
        votes: i32,
    },
    /// ActiveModel update; `None` fields stay unchanged.
    UpdateUser {
        id: i32,
        name: Option<String>,
        team: Option<i32>,
        score: Option<i32>,
    },
    UpdatePost {
        id: i32,
        user: Option<i32>,
        title: Option<String>,
        votes: Option<i32>,
    },
    /// Deletes (or, with `move_to`, moves) the user's posts with `*_many`, then the user by its
    /// ActiveModel.
    DeleteUser {
        id: i32,
        move_to: Option<i32>,
    },
    /// ActiveModel delete of a fetched post.
    DeletePost {
        id: i32,
    },
    UpdateManyUsers {
        set: UserSet,
        filter: UserFilter,
    },
    UpdateManyPosts {
        set: PostSet,
        filter: PostFilter,
    },
    DeleteManyPosts {
        filter: PostFilter,
        returning: bool,
    },
    /// Deletes the posts of the matching users (a subquery), then the users.
    DeleteManyUsers {
        filter: UserFilter,
    },
    /// Raw SQL with `?` placeholders, through `execute_raw` with bound values or, inlined,
    /// through `execute_unprepared`.
    Raw {
        sql: String,
        values: Vec<i32>,
        prepared: bool,
    },
    /// A statement on the edge tables (`model_based/edge_tables.rs`).
    Edge(edge_tables::EdgeWrite),
    /// On the key tables (UUID, text and composite keys).
    Keys(key_tables::KeyWrite),
}

#[derive(Debug, Clone)]
enum Read {
    UserPk {
        id: i32,
        wrap: bool,
    },
    PostPk {
        id: i32,
        wrap: bool,
    },
    UsersWhere(UserFilter),
    PostsWhere(PostFilter),
    UsersNamed(String),
    TeamAndScoreAbove(i32, i32),
    CountPostsWhere(PostFilter),
    CountUsersWhere(UserFilter),
    /// Posts with their authors, authors in a team (a join).
    PostsWithAuthorsOfTeam(i32),
    /// Users of a team with their posts (`find_with_related`).
    TeamWithPosts(i32),
    /// The user's most voted post (`one` with an order).
    TopPostOf(i32),
    AllUsers,
    AllPosts,
    /// `wrap(E).count` of a team's users.
    WrapCountTeam(i32),
    /// A read of the edge tables (`model_based/edge_tables.rs`).
    Edge(edge_tables::EdgeRead),
    /// Of the key tables.
    Keys(key_tables::KeyRead),
}

#[derive(Debug, Clone)]
enum Step {
    Write { cache: usize, write: Write },
    Read { cache: usize, read: Read },
    Transaction(Txn),
}

#[derive(Debug, Clone)]
struct Txn {
    cache: usize,
    writes: Vec<Write>,
    /// Writes in a savepoint, committed (true) or rolled back.
    nested: Option<(Vec<Write>, bool)>,
    /// A read inside the transaction (a bypass), compared with the transaction's own view.
    read_inside: Option<Read>,
    /// A read outside the transaction, before it ends, through the other cache (not on SQLite,
    /// whose in-memory database has one connection).
    read_outside: Option<Read>,
    commit: bool,
}

// ---------------------------------------------------------------------------------------------
// Conditions and SQL

impl UserFilter {
    fn condition(&self) -> Condition {
        let c = Condition::all();
        match self {
            UserFilter::Id(id) => c.add(U::Id.eq(*id)),
            UserFilter::IdIn(ids) => c.add(U::Id.is_in(ids.clone())),
            UserFilter::IdAbove(id) => c.add(U::Id.gt(*id)),
            UserFilter::TeamEq(t) => c.add(U::TeamId.eq(*t)),
            UserFilter::TeamIn(ts) => c.add(U::TeamId.is_in(ts.clone())),
            UserFilter::ScoreRange(a, b) => c.add(U::Score.between(*a, *b)),
        }
    }

    /// The condition in SQL with `?` placeholders, its values pushed on `values`.
    fn sql(&self, values: &mut Vec<i32>) -> String {
        sql_of(
            values,
            match self {
                UserFilter::Id(id) => ("id = ?", vec![*id]),
                UserFilter::IdIn(ids) => ("id IN", ids.clone()),
                UserFilter::IdAbove(id) => ("id > ?", vec![*id]),
                UserFilter::TeamEq(t) => ("team_id = ?", vec![*t]),
                UserFilter::TeamIn(ts) => ("team_id IN", ts.clone()),
                UserFilter::ScoreRange(a, b) => ("score BETWEEN ? AND ?", vec![*a, *b]),
            },
        )
    }
}

impl PostFilter {
    fn condition(&self) -> Condition {
        let c = Condition::all();
        match self {
            PostFilter::Id(id) => c.add(P::Id.eq(*id)),
            PostFilter::IdAbove(id) => c.add(P::Id.gt(*id)),
            PostFilter::UserEq(u) => c.add(P::UserId.eq(*u)),
            PostFilter::UserIn(us) => c.add(P::UserId.is_in(us.clone())),
            PostFilter::VotesRange(a, b) => c.add(P::Votes.between(*a, *b)),
            PostFilter::UsersOfTeam(t) => c.add(
                P::UserId.in_subquery(
                    Query::select()
                        .column(U::Id)
                        .from(mb_user::Entity)
                        .and_where(U::TeamId.eq(*t))
                        .to_owned(),
                ),
            ),
        }
    }

    fn sql(&self, values: &mut Vec<i32>) -> String {
        sql_of(
            values,
            match self {
                PostFilter::Id(id) => ("id = ?", vec![*id]),
                PostFilter::IdAbove(id) => ("id > ?", vec![*id]),
                PostFilter::UserEq(u) => ("user_id = ?", vec![*u]),
                PostFilter::UserIn(us) => ("user_id IN", us.clone()),
                PostFilter::VotesRange(a, b) => ("votes BETWEEN ? AND ?", vec![*a, *b]),
                PostFilter::UsersOfTeam(t) => (
                    "user_id IN (SELECT id FROM mb_users WHERE team_id = ?)",
                    vec![*t],
                ),
            },
        )
    }
}

/// `("x IN", [1, 2])` becomes `x IN (?, ?)`; anything else is taken as it is.
fn sql_of(values: &mut Vec<i32>, (sql, vals): (&str, Vec<i32>)) -> String {
    let text = if sql.ends_with(" IN") {
        let marks = vec!["?"; vals.len()].join(", ");
        format!("{sql} ({marks})")
    } else {
        sql.to_owned()
    };
    values.extend(vals);
    text
}

impl UserSet {
    fn expr(&self) -> (U, Expr) {
        match self {
            UserSet::Name(n) => (U::Name, Expr::value(n.clone())),
            UserSet::Score(s) => (U::Score, Expr::value(*s)),
            UserSet::ScorePlus(d) => (U::Score, Expr::col(U::Score).add(*d)),
            UserSet::Team(t) => (U::TeamId, Expr::value(*t)),
        }
    }

    fn sql(&self, values: &mut Vec<i32>) -> String {
        match self {
            // Names come from a fixed list of plain words.
            UserSet::Name(n) => format!("name = '{n}'"),
            UserSet::Score(s) => sql_of(values, ("score = ?", vec![*s])),
            UserSet::ScorePlus(d) => sql_of(values, ("score = score + ?", vec![*d])),
            UserSet::Team(t) => sql_of(values, ("team_id = ?", vec![*t])),
        }
    }
}

impl PostSet {
    fn expr(&self) -> (P, Expr) {
        match self {
            PostSet::Title(t) => (P::Title, Expr::value(t.clone())),
            PostSet::Votes(v) => (P::Votes, Expr::value(*v)),
            PostSet::VotesPlus(d) => (P::Votes, Expr::col(P::Votes).add(*d)),
            PostSet::User(u) => (P::UserId, Expr::value(*u)),
        }
    }

    fn sql(&self, values: &mut Vec<i32>) -> String {
        match self {
            PostSet::Title(t) => format!("title = '{t}'"),
            PostSet::Votes(v) => sql_of(values, ("votes = ?", vec![*v])),
            PostSet::VotesPlus(d) => sql_of(values, ("votes = votes + ?", vec![*d])),
            PostSet::User(u) => sql_of(values, ("user_id = ?", vec![*u])),
        }
    }
}

/// `sql` with its `?` placeholders numbered for PostgreSQL, or the values inlined.
fn placeholders(backend: DbBackend, sql: &str, values: &[i32], inline: bool) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            if inline {
                out.push_str(&values[n].to_string());
            } else if backend == DbBackend::Postgres {
                out.push_str(&format!("${}", n + 1));
            } else {
                out.push('?');
            }
            n += 1;
        } else {
            out.push(ch);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Choosing operations

/// What the generator knows of the database: the ids as of the last write.
#[derive(Default)]
struct Shadow {
    users: Vec<i32>,
    posts: Vec<i32>,
    edge: edge_tables::EdgeIds,
}

/// The share of writes and new reads on the key tables (`model_based/key_tables.rs`).
const KEY_PERCENT: u32 = 25;

struct Gen {
    rng: fastrand::Rng,
    /// The database (which edge statements it has).
    kind: Db,
    /// Whether a read may run outside an open transaction (a second connection).
    concurrent_reads: bool,
    /// Recent reads, repeated often: a repeated read finds its entry stored, so it is either a
    /// hit that must still be right, or a miss that a write must have caused.
    recent: VecDeque<Read>,
}

impl Gen {
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.rng.usize(..items.len())].clone()
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.u32(..100) < percent
    }

    fn team(&mut self) -> i32 {
        self.rng.i32(1..=TEAMS)
    }

    fn name(&mut self) -> String {
        self.pick(&NAMES).to_owned()
    }

    fn title(&mut self) -> String {
        self.pick(&TITLES).to_owned()
    }

    /// Mostly an existing user, sometimes any id (maybe missing).
    fn user_id(&mut self, s: &Shadow) -> i32 {
        if !s.users.is_empty() && self.chance(85) {
            let i = self.rng.usize(..s.users.len());
            s.users[i]
        } else {
            self.rng.i32(1..=USER_IDS + 2)
        }
    }

    fn post_id(&mut self, s: &Shadow) -> i32 {
        if !s.posts.is_empty() && self.chance(85) {
            let i = self.rng.usize(..s.posts.len());
            s.posts[i]
        } else {
            self.rng.i32(1..=POST_IDS + 2)
        }
    }

    /// Mostly an existing user, rarely one that is missing (the write then fails on the
    /// foreign key).
    fn author(&mut self, s: &Shadow) -> i32 {
        if s.users.is_empty() || self.chance(3) {
            self.rng.i32(1..=USER_IDS + 2)
        } else {
            let i = self.rng.usize(..s.users.len());
            s.users[i]
        }
    }

    fn ids(&mut self, one: impl Fn(&mut Gen) -> i32) -> Vec<i32> {
        let n = self.rng.usize(1..=4);
        (0..n).map(|_| one(self)).collect()
    }

    fn range(&mut self, max: i32) -> (i32, i32) {
        let a = self.rng.i32(0..=max);
        (a, a + self.rng.i32(0..=max / 3))
    }

    fn user_filter(&mut self, s: &Shadow) -> UserFilter {
        match self.rng.u32(..6) {
            0 => UserFilter::Id(self.user_id(s)),
            1 => UserFilter::IdIn(self.ids(|g| g.user_id(s))),
            2 => UserFilter::IdAbove(self.rng.i32(20..=USER_IDS)),
            3 => UserFilter::TeamEq(self.team()),
            4 => UserFilter::TeamIn(self.ids(|g| g.team())),
            _ => {
                let (a, b) = self.range(100);
                UserFilter::ScoreRange(a, b)
            }
        }
    }

    fn post_filter(&mut self, s: &Shadow) -> PostFilter {
        match self.rng.u32(..6) {
            0 => PostFilter::Id(self.post_id(s)),
            1 => PostFilter::IdAbove(self.rng.i32(80..=POST_IDS)),
            2 => PostFilter::UserEq(self.user_id(s)),
            3 => PostFilter::UserIn(self.ids(|g| g.user_id(s))),
            4 => {
                let (a, b) = self.range(50);
                PostFilter::VotesRange(a, b)
            }
            _ => PostFilter::UsersOfTeam(self.team()),
        }
    }

    fn user_set(&mut self) -> UserSet {
        match self.rng.u32(..4) {
            0 => UserSet::Name(self.name()),
            1 => UserSet::Score(self.rng.i32(0..=100)),
            2 => UserSet::ScorePlus(self.rng.i32(-5..=5)),
            _ => UserSet::Team(self.team()),
        }
    }

    fn post_set(&mut self, s: &Shadow) -> PostSet {
        match self.rng.u32(..4) {
            0 => PostSet::Title(self.title()),
            1 => PostSet::Votes(self.rng.i32(0..=50)),
            2 => PostSet::VotesPlus(self.rng.i32(-3..=3)),
            _ => PostSet::User(self.author(s)),
        }
    }

    /// A free id below `max`, or `None` (autoincrement) sometimes or when none is free.
    fn new_id(&mut self, taken: &[i32], max: i32) -> Option<i32> {
        if self.chance(25) {
            return None;
        }
        let free: Vec<i32> = (1..=max).filter(|id| !taken.contains(id)).collect();
        if free.is_empty() {
            None
        } else {
            Some(self.pick(&free))
        }
    }

    fn write(&mut self, s: &Shadow) -> Write {
        if self.chance(KEY_PERCENT) {
            return self.key_write();
        }
        // Inserts and deletes lean towards keeping about USERS users and POSTS posts.
        // Below the target, inserts grow with the deficit and deletes stop at half of it.
        let (users, posts) = (s.users.len(), s.posts.len());
        let deficit = |n: usize, target: usize| (target.saturating_sub(n) * 20 / target) as u32;
        let deletes = |n: usize, target: usize, w: u32| {
            if n * 2 < target {
                0
            } else if n < target {
                w
            } else {
                w * 3
            }
        };
        let weights: [(u32, u32); 12] = [
            (0, 3 + deficit(users, USERS) * 2), // insert user
            (1, 6 + deficit(posts, POSTS) * 8), // insert post
            (2, 8),                             // update user
            (3, 10),                            // update post
            (4, deletes(users, USERS, 1)),      // delete user
            (5, deletes(posts, POSTS, 2)),      // delete post
            (6, 6),                             // update_many users
            (7, 6),                             // update_many posts
            (8, deletes(posts, POSTS, 1)),      // delete_many posts
            (9, deletes(users, USERS, 1)),      // delete_many users
            (10, 12),                           // raw
            (11, 16),                           // edge tables (edge_gen.rs)
        ];
        let total: u32 = weights.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.u32(..total);
        let mut kind = 0;
        for (k, w) in weights {
            if roll < w {
                kind = k;
                break;
            }
            roll -= w;
        }
        match kind {
            0 => {
                let taken = &s.users;
                Write::InsertUser {
                    id: self.new_id(taken, USER_IDS),
                    name: self.name(),
                    team: self.team(),
                    score: self.rng.i32(0..=100),
                }
            }
            1 => {
                let taken = &s.posts;
                Write::InsertPost {
                    id: self.new_id(taken, POST_IDS),
                    user: self.author(s),
                    title: self.title(),
                    votes: self.rng.i32(0..=50),
                }
            }
            2 => {
                let id = self.user_id(s);
                let (name, team, score) = match self.rng.u32(..4) {
                    0 => (Some(self.name()), None, None),
                    1 => (None, None, Some(self.rng.i32(0..=100))),
                    2 => (None, Some(self.team()), None),
                    _ => (
                        Some(self.name()),
                        Some(self.team()),
                        Some(self.rng.i32(0..=100)),
                    ),
                };
                Write::UpdateUser {
                    id,
                    name,
                    team,
                    score,
                }
            }
            3 => {
                let id = self.post_id(s);
                let (user, title, votes) = match self.rng.u32(..4) {
                    0 => (None, Some(self.title()), None),
                    1 => (None, None, Some(self.rng.i32(0..=50))),
                    2 => (Some(self.author(s)), None, None),
                    _ => (
                        Some(self.author(s)),
                        Some(self.title()),
                        Some(self.rng.i32(0..=50)),
                    ),
                };
                Write::UpdatePost {
                    id,
                    user,
                    title,
                    votes,
                }
            }
            4 => Write::DeleteUser {
                id: self.user_id(s),
                move_to: if self.chance(50) {
                    Some(self.author(s))
                } else {
                    None
                },
            },
            5 => Write::DeletePost {
                id: self.post_id(s),
            },
            6 => Write::UpdateManyUsers {
                set: self.user_set(),
                filter: self.user_filter(s),
            },
            7 => Write::UpdateManyPosts {
                set: self.post_set(s),
                filter: self.post_filter(s),
            },
            8 => Write::DeleteManyPosts {
                filter: self.post_filter(s),
                returning: self.chance(30),
            },
            9 => Write::DeleteManyUsers {
                filter: self.user_filter(s),
            },
            10 => self.raw(s),
            _ => self.edge_write(s),
        }
    }

    fn raw(&mut self, s: &Shadow) -> Write {
        let mut values = Vec::new();
        let sql = match self.rng.u32(..8) {
            0 => {
                let set = self.user_set().sql(&mut values);
                let filter = self.user_filter(s).sql(&mut values);
                format!("UPDATE mb_users SET {set} WHERE {filter}")
            }
            1 | 2 => {
                let set = self.post_set(s).sql(&mut values);
                let filter = self.post_filter(s).sql(&mut values);
                format!("UPDATE mb_posts SET {set} WHERE {filter}")
            }
            3 => {
                let filter = self.post_filter(s).sql(&mut values);
                format!("DELETE FROM mb_posts WHERE {filter}")
            }
            4 => {
                // Only users without posts: the foreign key would refuse the others.
                let filter = self.user_filter(s).sql(&mut values);
                format!(
                    "DELETE FROM mb_users WHERE {filter} AND id NOT IN \
                     (SELECT user_id FROM mb_posts)"
                )
            }
            5 => {
                // An explicit id, maybe taken (then the insert fails).
                let id = if self.chance(80) {
                    let taken = &s.users;
                    self.new_id(taken, USER_IDS)
                        .unwrap_or_else(|| self.rng.i32(1..=USER_IDS))
                } else {
                    self.user_id(s)
                };
                let name = self.name();
                values.extend([id, self.team(), self.rng.i32(0..=100)]);
                format!(
                    "INSERT INTO mb_users (id, name, team_id, score) VALUES (?, '{name}', ?, ?)"
                )
            }
            6 => {
                let id = {
                    let taken = &s.posts;
                    self.new_id(taken, POST_IDS)
                        .unwrap_or_else(|| self.rng.i32(1..=POST_IDS))
                };
                let title = self.title();
                values.extend([id, self.author(s), self.rng.i32(0..=50)]);
                format!(
                    "INSERT INTO mb_posts (id, user_id, title, votes) VALUES (?, ?, '{title}', ?)"
                )
            }
            _ => {
                // Moves every post of one user to another.
                values.extend([self.author(s), self.user_id(s)]);
                "UPDATE mb_posts SET user_id = ? WHERE user_id = ?".to_owned()
            }
        };
        Write::Raw {
            sql,
            values,
            prepared: self.chance(50),
        }
    }

    /// A recent read again (usually), or a new one.
    fn read(&mut self, s: &Shadow) -> Read {
        if !self.recent.is_empty() && self.chance(REPEAT_PERCENT) {
            let i = self.rng.usize(..self.recent.len());
            return self.recent[i].clone();
        }
        let read = self.new_read(s);
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(read.clone());
        read
    }

    fn new_read(&mut self, s: &Shadow) -> Read {
        if self.chance(KEY_PERCENT) {
            return self.key_read();
        }
        match self.rng.u32(..21) {
            0 | 1 => Read::UserPk {
                id: self.user_id(s),
                wrap: self.chance(60),
            },
            2 | 3 => Read::PostPk {
                id: self.post_id(s),
                wrap: self.chance(60),
            },
            4 => Read::UsersWhere(self.user_filter(s)),
            5 | 6 => Read::PostsWhere(self.post_filter(s)),
            7 => Read::UsersNamed(self.name()),
            8 => Read::TeamAndScoreAbove(self.team(), self.rng.i32(0..=100)),
            9 => Read::CountPostsWhere(self.post_filter(s)),
            10 => Read::CountUsersWhere(self.user_filter(s)),
            11 => Read::PostsWithAuthorsOfTeam(self.team()),
            12 => Read::TeamWithPosts(self.team()),
            13 => Read::TopPostOf(self.user_id(s)),
            14 => match self.rng.u32(..3) {
                0 => Read::AllUsers,
                1 => Read::AllPosts,
                _ => Read::WrapCountTeam(self.team()),
            },
            15 => Read::PostsWhere(PostFilter::UserEq(self.user_id(s))),
            _ => self.edge_read(s),
        }
    }

    fn step(&mut self, s: &Shadow) -> Step {
        let cache = self.rng.usize(..2);
        let roll = self.rng.u32(..100);
        if roll < WRITE_PERCENT {
            Step::Write {
                cache,
                write: self.write(s),
            }
        } else if roll < WRITE_PERCENT + TXN_PERCENT {
            Step::Transaction(self.transaction(s, cache))
        } else {
            Step::Read {
                cache,
                read: self.read(s),
            }
        }
    }
}

impl Gen {
    fn transaction(&mut self, s: &Shadow, cache: usize) -> Txn {
        let n = self.rng.usize(1..=3);
        let mut writes: Vec<Write> = (0..n).map(|_| self.write(s)).collect();
        let mut nested = if self.chance(25) {
            Some((vec![self.write(s)], self.chance(50)))
        } else {
            None
        };
        // DDL among the writes (on MariaDB an implicit commit, after which no savepoint can
        // begin: so in the savepoint when there is one), then mostly a rollback.
        let ddl = self.chance(15);
        if ddl {
            let list = match nested.as_mut() {
                Some((writes, _)) => writes,
                None => &mut writes,
            };
            let at = self.rng.usize(..=list.len());
            list.insert(at, self.ddl());
        }
        let read_inside = if self.chance(50) {
            Some(self.read(s))
        } else {
            None
        };
        let read_outside = if self.concurrent_reads && self.chance(50) {
            Some(self.read(s))
        } else {
            None
        };
        Txn {
            cache,
            writes,
            nested,
            read_inside,
            read_outside,
            commit: self.chance(if ddl { 30 } else { 70 }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running operations

/// Runs `write` on `db` (a `CachedConnection` or `CachedTransaction`); `Err` is the database's
/// refusal (a foreign key, a duplicate id, a missing row), which the model allows.
async fn run_write<C: ConnectionTrait>(db: &C, write: &Write) -> Result<String, DbErr> {
    match write {
        Write::InsertUser {
            id,
            name,
            team,
            score,
        } => {
            let model = mb_user::ActiveModel {
                id: id.map_or(NotSet, Set),
                name: Set(name.clone()),
                team_id: Set(*team),
                score: Set(*score),
            }
            .insert(db)
            .await?;
            Ok(format!("inserted user {}", model.id))
        }
        Write::InsertPost {
            id,
            user,
            title,
            votes,
        } => {
            let model = mb_post::ActiveModel {
                id: id.map_or(NotSet, Set),
                user_id: Set(*user),
                title: Set(title.clone()),
                votes: Set(*votes),
            }
            .insert(db)
            .await?;
            Ok(format!("inserted post {}", model.id))
        }
        Write::UpdateUser {
            id,
            name,
            team,
            score,
        } => {
            mb_user::ActiveModel {
                id: Unchanged(*id),
                name: name.clone().map_or(NotSet, Set),
                team_id: team.map_or(NotSet, Set),
                score: score.map_or(NotSet, Set),
            }
            .update(db)
            .await?;
            Ok("updated".to_owned())
        }
        Write::UpdatePost {
            id,
            user,
            title,
            votes,
        } => {
            mb_post::ActiveModel {
                id: Unchanged(*id),
                user_id: user.map_or(NotSet, Set),
                title: title.clone().map_or(NotSet, Set),
                votes: votes.map_or(NotSet, Set),
            }
            .update(db)
            .await?;
            Ok("updated".to_owned())
        }
        Write::DeleteUser { id, move_to } => {
            let posts = match move_to {
                Some(to) => {
                    mb_post::Entity::update_many()
                        .col_expr(P::UserId, Expr::value(*to))
                        .filter(P::UserId.eq(*id))
                        .exec(db)
                        .await?
                        .rows_affected
                }
                None => {
                    mb_post::Entity::delete_many()
                        .filter(P::UserId.eq(*id))
                        .exec(db)
                        .await?
                        .rows_affected
                }
            };
            let user = mb_user::ActiveModel {
                id: Set(*id),
                ..Default::default()
            };
            let deleted = user.delete(db).await?.rows_affected;
            Ok(format!("{posts} posts, {deleted} users"))
        }
        Write::DeletePost { id } => {
            // Fetched through the same connection (a read that bypasses nothing: it is plain
            // SeaORM), then deleted by its model.
            match mb_post::Entity::find_by_id(*id).one(db).await? {
                Some(post) => Ok(format!("{} deleted", post.delete(db).await?.rows_affected)),
                None => Ok("no such post".to_owned()),
            }
        }
        Write::UpdateManyUsers { set, filter } => {
            let (col, expr) = set.expr();
            let n = mb_user::Entity::update_many()
                .col_expr(col, expr)
                .filter(filter.condition())
                .exec(db)
                .await?
                .rows_affected;
            Ok(format!("{n} rows"))
        }
        Write::UpdateManyPosts { set, filter } => {
            let (col, expr) = set.expr();
            let n = mb_post::Entity::update_many()
                .col_expr(col, expr)
                .filter(filter.condition())
                .exec(db)
                .await?
                .rows_affected;
            Ok(format!("{n} rows"))
        }
        Write::DeleteManyPosts { filter, returning } => {
            let delete = mb_post::Entity::delete_many().filter(filter.condition());
            if *returning && db.support_returning() {
                let rows = delete.exec_with_returning(db).await?;
                Ok(format!("{} rows returned", rows.len()))
            } else {
                Ok(format!("{} rows", delete.exec(db).await?.rows_affected))
            }
        }
        Write::DeleteManyUsers { filter } => {
            let posts = mb_post::Entity::delete_many()
                .filter(
                    P::UserId.in_subquery(
                        Query::select()
                            .column(U::Id)
                            .from(mb_user::Entity)
                            .cond_where(filter.condition())
                            .to_owned(),
                    ),
                )
                .exec(db)
                .await?
                .rows_affected;
            let users = mb_user::Entity::delete_many()
                .filter(filter.condition())
                .exec(db)
                .await?
                .rows_affected;
            Ok(format!("{posts} posts, {users} users"))
        }
        Write::Raw {
            sql,
            values,
            prepared,
        } => {
            let backend = db.get_database_backend();
            let result = if *prepared {
                let sql = placeholders(backend, sql, values, false);
                let values = values.iter().map(|v| Value::from(*v));
                db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
                    .await?
            } else {
                db.execute_unprepared(&placeholders(backend, sql, values, true))
                    .await?
            };
            Ok(format!("{} rows", result.rows_affected()))
        }
        Write::Edge(write) => edge_tables::run_write(db, write).await,
        Write::Keys(write) => key_tables::run_write(db, write).await,
    }
}

/// A read's answer through the cache, and the database's own answer, as text when they differ.
struct Outcome {
    status: CacheStatus,
    mismatch: Option<(String, String)>,
    /// Time spent in the cached read and in the direct one.
    times: (Duration, Duration),
}

fn outcome<T: PartialEq + Debug>(
    cached: Result<ReadResult<T>, DbErr>,
    direct: Result<T, DbErr>,
    normalize: impl Fn(T) -> T,
    times: (Duration, Duration),
) -> Result<Outcome, String> {
    let cached = cached.map_err(|e| format!("the cached read failed: {e}"))?;
    let direct = direct.map_err(|e| format!("the direct read failed: {e}"))?;
    let (got, want) = (normalize(cached.value), normalize(direct));
    Ok(Outcome {
        status: cached.status,
        mismatch: (got != want).then(|| (format!("{got:?}"), format!("{want:?}"))),
        times,
    })
}

/// Awaits the cached read, then the direct one, and compares them (after `normalize`).
macro_rules! compare {
    ($cached:expr, $direct:expr, $normalize:expr $(,)?) => {{
        let start = Instant::now();
        let cached = $cached.await;
        let between = Instant::now();
        let direct = $direct.await;
        let times = (between - start, between.elapsed());
        outcome(cached, direct, $normalize, times)
    }};
}

fn same<T>(v: T) -> T {
    v
}

// After `compare!`, which they use.
#[path = "model_based/edge_gen.rs"]
mod edge_gen;
#[path = "model_based/edge_reads.rs"]
mod edge_reads;
#[path = "model_based/edge_tables.rs"]
mod edge_tables;
#[path = "model_based/key_tables.rs"]
mod key_tables;

/// Runs `read` through `cache` on `conn`, and directly on `plain`.
async fn run_read<C, D>(
    cache: &ModelCache,
    conn: &C,
    plain: &D,
    read: &Read,
) -> Result<Outcome, String>
where
    C: CacheableConnection,
    D: ConnectionTrait,
{
    let users = || mb_user::Entity::find().order_by_asc(U::Id);
    let posts = || mb_post::Entity::find().order_by_asc(P::Id);
    match read {
        Read::UserPk { id, wrap: true } => compare!(
            cache
                .wrap(mb_user::Entity)
                .find_by_pk_with_status(conn, *id),
            mb_user::Entity::find_by_id(*id).one(plain),
            same,
        ),
        Read::UserPk { id, wrap: false } => compare!(
            mb_user::Entity::find_by_id(*id)
                .cached(cache)
                .one_with_status(conn),
            mb_user::Entity::find_by_id(*id).one(plain),
            same,
        ),
        Read::PostPk { id, wrap: true } => compare!(
            cache
                .wrap(mb_post::Entity)
                .find_by_pk_with_status(conn, *id),
            mb_post::Entity::find_by_id(*id).one(plain),
            same,
        ),
        Read::PostPk { id, wrap: false } => compare!(
            mb_post::Entity::find_by_id(*id)
                .cached(cache)
                .one_with_status(conn),
            mb_post::Entity::find_by_id(*id).one(plain),
            same,
        ),
        Read::UsersWhere(f) => {
            let q = || users().filter(f.condition());
            compare!(
                q().cached(cache).all_with_status(conn),
                q().all(plain),
                same,
            )
        }
        Read::PostsWhere(f) => {
            let q = || posts().filter(f.condition());
            compare!(
                q().cached(cache).all_with_status(conn),
                q().all(plain),
                same,
            )
        }
        Read::UsersNamed(name) => {
            let q = || users().filter(U::Name.eq(name.as_str()));
            compare!(
                q().cached(cache).all_with_status(conn),
                q().all(plain),
                same,
            )
        }
        Read::TeamAndScoreAbove(team, score) => {
            let q = || {
                users()
                    .filter(U::TeamId.eq(*team))
                    .filter(U::Score.gt(*score))
            };
            compare!(
                q().cached(cache).all_with_status(conn),
                q().all(plain),
                same,
            )
        }
        Read::CountPostsWhere(f) => {
            use sea_orm::PaginatorTrait;
            let q = || mb_post::Entity::find().filter(f.condition());
            compare!(
                q().cached(cache).count_with_status(conn),
                q().count(plain),
                same,
            )
        }
        Read::CountUsersWhere(f) => {
            use sea_orm::PaginatorTrait;
            let q = || mb_user::Entity::find().filter(f.condition());
            compare!(
                q().cached(cache).count_with_status(conn),
                q().count(plain),
                same,
            )
        }
        Read::PostsWithAuthorsOfTeam(team) => {
            let q = || {
                posts()
                    .find_also_related(mb_user::Entity)
                    .filter(U::TeamId.eq(*team))
            };
            compare!(
                q().cached(cache).all_with_status(conn),
                q().all(plain),
                same,
            )
        }
        Read::TeamWithPosts(team) => {
            let q = || {
                users()
                    .filter(U::TeamId.eq(*team))
                    .find_with_related(mb_post::Entity)
                    .order_by_asc(P::Id)
            };
            let sorted = |mut rows: Vec<(mb_user::Model, Vec<mb_post::Model>)>| {
                rows.sort_by_key(|(u, _)| u.id);
                for (_, posts) in &mut rows {
                    posts.sort_by_key(|p| p.id);
                }
                rows
            };
            compare!(
                q().cached(cache).all_with_status(conn),
                q().all(plain),
                sorted,
            )
        }
        Read::TopPostOf(user) => {
            let q = || {
                mb_post::Entity::find()
                    .filter(P::UserId.eq(*user))
                    .order_by_desc(P::Votes)
                    .order_by_asc(P::Id)
            };
            compare!(
                q().cached(cache).one_with_status(conn),
                q().one(plain),
                same,
            )
        }
        Read::AllUsers => compare!(
            users().cached(cache).all_with_status(conn),
            users().all(plain),
            same,
        ),
        Read::AllPosts => compare!(
            posts().cached(cache).all_with_status(conn),
            posts().all(plain),
            same,
        ),
        Read::WrapCountTeam(team) => {
            use sea_orm::PaginatorTrait;
            let q = || mb_user::Entity::find().filter(U::TeamId.eq(*team));
            compare!(
                cache.wrap(mb_user::Entity).count_with_status(conn, q()),
                q().count(plain),
                same,
            )
        }
        Read::Edge(read) => edge_tables::run_read(cache, conn, plain, read).await,
        Read::Keys(read) => key_tables::run_read(cache, conn, plain, read).await,
    }
}

// ---------------------------------------------------------------------------------------------
// The run

#[derive(Debug, Default)]
struct Counts {
    writes: usize,
    failed_writes: usize,
    reads: usize,
    hits: usize,
    misses: usize,
    bypasses: usize,
    other: usize,
    transactions: usize,
    /// Of the above, those on the edge tables: writes (refused ones), reads (hits).
    edge_writes: (usize, usize),
    edge_reads: (usize, usize),
    /// Time spent in cached reads, the same reads run directly, writes, and reloading the
    /// generator's view of the rows.
    time_cached: Duration,
    time_direct: Duration,
    time_writes: Duration,
    time_reload: Duration,
}

struct Run {
    kind: Db,
    seed: u64,
    caches: [ModelCache; 2],
    conns: [CachedConnection; 2],
    shadow: Shadow,
    history: VecDeque<String>,
    counts: Counts,
    index: usize,
}

impl Run {
    fn remember(&mut self, line: String) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(line);
    }

    fn fail(&self, what: &str) -> ! {
        let history: Vec<String> = self
            .history
            .iter()
            .map(|line| format!("    {line}"))
            .collect();
        panic!(
            "model_based {kind:?} seed={seed} op #{index}: {what}\n  the last {n} operations \
             (oldest first):\n{history}\n  replay: MODEL_SEED={seed} cargo test -p \
             momento-seaorm-cache --test model_based {test}",
            kind = self.kind,
            seed = self.seed,
            index = self.index,
            n = self.history.len(),
            history = history.join("\n"),
            test = format!("{:?}", self.kind).to_lowercase(),
        )
    }

    fn count_write(&mut self, label: &str, write: &Write, result: Result<String, DbErr>) {
        let edge = matches!(write, Write::Edge(_));
        self.counts.writes += 1;
        self.counts.edge_writes.0 += usize::from(edge);
        let text = match result {
            Ok(done) => done,
            Err(e) => {
                self.counts.failed_writes += 1;
                self.counts.edge_writes.1 += usize::from(edge);
                format!("refused: {e}")
            }
        };
        self.remember(format!("#{} {label} {write:?} -> {text}", self.index));
    }

    fn check_read(&mut self, label: String, read: &Read, result: Result<Outcome, String>) {
        self.counts.reads += 1;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(e) => self.fail(&format!("{label} {read:?}: {e}")),
        };
        self.counts.time_cached += outcome.times.0;
        self.counts.time_direct += outcome.times.1;
        if let Read::Edge(_) = read {
            self.counts.edge_reads.0 += 1;
            self.counts.edge_reads.1 += usize::from(outcome.status == CacheStatus::Hit);
        }
        match outcome.status {
            CacheStatus::Hit => self.counts.hits += 1,
            CacheStatus::Miss => self.counts.misses += 1,
            CacheStatus::Bypass => self.counts.bypasses += 1,
            CacheStatus::Stale | CacheStatus::NearHit => self.counts.other += 1,
        }
        if let Some((got, want)) = outcome.mismatch {
            self.fail(&format!(
                "{label} {read:?} ({status}) returned\n    {got}\n  but the database has\n    \
                 {want}",
                status = outcome.status
            ));
        }
        self.remember(format!(
            "#{} {label} {read:?} -> {}",
            self.index, outcome.status
        ));
    }

    /// Reloads the rows the generator chooses from (directly from the database).
    async fn refresh(&mut self) {
        let start = Instant::now();
        let plain = self.conns[0].inner();
        let sql = "SELECT 0 AS t, id FROM mb_users UNION ALL SELECT 1 AS t, id FROM mb_posts";
        let rows = plain
            .query_all_raw(Statement::from_string(plain.get_database_backend(), sql))
            .await
            .expect("reload the ids");
        self.shadow.users.clear();
        self.shadow.posts.clear();
        for row in rows {
            let (table, id): (i32, i32) = (
                row.try_get("", "t").unwrap(),
                row.try_get("", "id").unwrap(),
            );
            match table {
                0 => self.shadow.users.push(id),
                _ => self.shadow.posts.push(id),
            }
        }
        edge_tables::refresh(plain, self.kind, &mut self.shadow.edge).await;
        self.counts.time_reload += start.elapsed();
    }

    async fn step(&mut self, step: Step) {
        match step {
            Step::Write { cache, write } => {
                let start = Instant::now();
                let result = run_write(&self.conns[cache], &write).await;
                self.counts.time_writes += start.elapsed();
                self.count_write(&format!("write via {cache}:"), &write, result);
                // The generator's view may lag a little (it only picks ids): reloaded after
                // every third write.
                if self.counts.writes.is_multiple_of(3) {
                    self.refresh().await;
                }
            }
            Step::Read { cache, read } => {
                let conn = &self.conns[cache];
                let result = run_read(&self.caches[cache], conn, conn.inner(), &read).await;
                self.check_read(format!("read via {cache}:"), &read, result);
            }
            Step::Transaction(txn) => self.transaction(txn).await,
        }
    }

    async fn transaction(&mut self, txn: Txn) {
        self.counts.transactions += 1;
        let c = txn.cache;
        let other = 1 - c;
        let t = self.conns[c].begin().await.expect("begin");
        self.remember(format!("#{} begin via {c}", self.index));
        // Only PostgreSQL aborts a transaction on a refused statement.
        let aborts = self.kind == Db::Postgres;
        let mut broken = false;
        for write in &txn.writes {
            let result = run_write(&t, write).await;
            broken |= aborts && result.is_err();
            self.count_write("  in txn:", write, result);
        }
        // After a refused statement PostgreSQL refuses every statement until the end (a
        // savepoint too), so the savepoint and the read inside are skipped then.
        if let Some((writes, commit)) = txn.nested.as_ref().filter(|_| !broken) {
            let nested = t.begin().await.expect("savepoint");
            let mut nested_broken = false;
            for write in writes {
                let result = run_write(&nested, write).await;
                nested_broken |= result.is_err();
                self.count_write("    in savepoint:", write, result);
            }
            // PostgreSQL aborts the whole transaction on an error, savepoint or not, until the
            // savepoint is rolled back; commit only what did not fail.
            let commit = *commit && !nested_broken;
            let result = if commit {
                nested.commit().await
            } else {
                nested.rollback().await
            };
            // A savepoint that cannot end (on MariaDB, DDL in it committed the transaction, and
            // the savepoint with it) leaves the driver retrying its rollback on every later
            // statement of the transaction.
            broken |= result.is_err();
            let verb = if commit { "commit" } else { "rollback" };
            self.remember(format!("#{}   savepoint {verb}: {result:?}", self.index));
        }
        if let Some(read) = txn.read_inside.as_ref().filter(|_| !broken) {
            let result = run_read(&self.caches[c], &t, &t, read).await;
            self.check_read("  read in txn:".to_owned(), read, result);
        }
        if let Some(read) = &txn.read_outside {
            let conn = &self.conns[other];
            let result = run_read(&self.caches[other], conn, conn.inner(), read).await;
            self.check_read(format!("  read via {other} during txn:"), read, result);
        }
        let result = if txn.commit {
            t.commit().await
        } else {
            t.rollback().await
        };
        let verb = if txn.commit { "commit" } else { "rollback" };
        self.remember(format!("#{} {verb}: {result:?}", self.index));
        self.refresh().await;
    }
}

fn seed() -> u64 {
    match std::env::var("MODEL_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("MODEL_SEED={text} is not a u64")),
        Err(_) => fastrand::u64(..),
    }
}

fn steps() -> usize {
    std::env::var("MODEL_STEPS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(STEPS)
}

/// The two tables, on `backend`'s dialect (a foreign key without cascade).
fn ddl(backend: DbBackend) -> [&'static str; 2] {
    match backend {
        DbBackend::Sqlite => [
            "CREATE TABLE mb_users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, \
             team_id INTEGER NOT NULL, score INTEGER NOT NULL)",
            "CREATE TABLE mb_posts (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT \
             NULL REFERENCES mb_users(id), title TEXT NOT NULL, votes INTEGER NOT NULL)",
        ],
        DbBackend::Postgres => [
            "CREATE TABLE mb_users (id SERIAL PRIMARY KEY, name TEXT NOT NULL, team_id INTEGER \
             NOT NULL, score INTEGER NOT NULL)",
            "CREATE TABLE mb_posts (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES \
             mb_users(id), title TEXT NOT NULL, votes INTEGER NOT NULL)",
        ],
        _ => [
            "CREATE TABLE mb_users (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, name \
             VARCHAR(32) NOT NULL, team_id INT NOT NULL, score INT NOT NULL) ENGINE=InnoDB",
            "CREATE TABLE mb_posts (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id INT NOT \
             NULL, title VARCHAR(32) NOT NULL, votes INT NOT NULL, FOREIGN KEY (user_id) \
             REFERENCES mb_users(id)) ENGINE=InnoDB",
        ],
    }
}

/// The store the two caches share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Momento,
    #[cfg(feature = "redis")]
    Redis,
    #[cfg(feature = "redis")]
    RedisCluster,
}

/// Two caches on `store` with the same cache name and prefix (two processes), and what keeps
/// the store running; `None` when the store is not available here (printed).
async fn two_caches(store: Store) -> Option<(ModelCache, ModelCache, Box<dyn std::any::Any>)> {
    match store {
        Store::Momento => {
            let momento = TestCache::start("model-cache").await;
            let a = momento.model_cache(|b| b).await;
            let b = momento.model_cache(|b| b).await;
            Some((a, b, Box::new(momento)))
        }
        #[cfg(feature = "redis")]
        Store::Redis => {
            let url = common::redis::shared_url().await?;
            let prefix = common::redis::unique_prefix("model");
            let backend = || {
                momento_seaorm_cache::RedisBackend::builder()
                    .url(&url)
                    .build()
            };
            let a = common::redis::model_cache(backend().unwrap(), &prefix, |b| b);
            let b = common::redis::model_cache(backend().unwrap(), &prefix, |b| b);
            Some((a, b, Box::new(())))
        }
        #[cfg(feature = "redis")]
        Store::RedisCluster => {
            let cluster = common::redis::OwnCluster::start().await?;
            let a = common::redis::model_cache(cluster.backend(), "model", |b| b);
            let b = common::redis::model_cache(cluster.backend(), "model", |b| b);
            Some((a, b, Box::new(cluster)))
        }
    }
}

async fn model_based(kind: Db) {
    model_based_on(kind, Store::Momento).await
}

async fn model_based_on(kind: Db, store: Store) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    let seed = seed();
    let steps = steps();
    eprintln!("model_based seed={seed} ({kind:?} on {store:?}, {steps} steps)");
    let backend = db.backend();
    for sql in ddl(backend) {
        db.conn.execute_unprepared(sql).await.expect("create table");
    }
    // The seed rows, with explicit ids; autoincrement ids start above the explicit range.
    let mut rng = fastrand::Rng::with_seed(seed);
    for id in 1..=USERS as i32 {
        let sql = format!(
            "INSERT INTO mb_users (id, name, team_id, score) VALUES ({id}, '{}', {}, {})",
            NAMES[rng.usize(..NAMES.len())],
            rng.i32(1..=TEAMS),
            rng.i32(0..=100)
        );
        db.conn.execute_unprepared(&sql).await.expect("seed user");
    }
    for id in 1..=POSTS as i32 {
        let sql = format!(
            "INSERT INTO mb_posts (id, user_id, title, votes) VALUES ({id}, {}, '{}', {})",
            rng.i32(1..=USERS as i32),
            TITLES[rng.usize(..TITLES.len())],
            rng.i32(0..=50)
        );
        db.conn.execute_unprepared(&sql).await.expect("seed post");
    }
    for sql in key_tables::ddl(kind) {
        db.conn.execute_unprepared(sql).await.expect(sql);
    }
    for write in key_tables::seed() {
        key_tables::run_write(&db.conn, &write)
            .await
            .unwrap_or_else(|e| panic!("key tables: {write:?}: {e}"));
    }
    for sql in edge_tables::ddl(kind)
        .into_iter()
        .map(str::to_owned)
        .chain(edge_tables::seed(kind, &mut rng))
    {
        db.conn
            .execute_unprepared(&sql)
            .await
            .unwrap_or_else(|e| panic!("edge tables: {sql}: {e}"));
    }
    if backend == DbBackend::Postgres {
        for table in ["mb_users", "mb_posts"] {
            db.conn
                .execute_unprepared(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1000)"
                ))
                .await
                .expect("move the sequence");
        }
    }

    // Two caches on one server, same cache name and prefix: two processes.
    let Some((a, b, store_guard)) = two_caches(store).await else {
        return;
    };
    let conns = [
        CachedConnection::new(db.conn.clone(), &a),
        CachedConnection::new(db.conn.clone(), &b),
    ];
    let mut run = Run {
        kind,
        seed,
        caches: [a, b],
        conns,
        shadow: Shadow::default(),
        history: VecDeque::new(),
        counts: Counts::default(),
        index: 0,
    };
    run.refresh().await;
    let mut gen = Gen {
        rng,
        kind,
        concurrent_reads: kind != Db::Sqlite,
        recent: VecDeque::new(),
    };
    let started = Instant::now();
    for index in 0..steps {
        run.index = index;
        let step = gen.step(&run.shadow);
        run.step(step).await;
    }
    let elapsed = started.elapsed();
    let counts = &run.counts;
    let outside = counts.hits + counts.misses + counts.other;
    let hit_share = counts.hits as f64 / outside.max(1) as f64;
    eprintln!(
        "model_based {kind:?} seed={seed}: {ops} operations ({counts:?}) in {elapsed:.1?}; \
         {:.1}% of the reads outside transactions were hits; finally {} users, {} posts",
        hit_share * 100.0,
        run.shadow.users.len(),
        run.shadow.posts.len(),
        ops = counts.writes + counts.reads,
    );
    assert!(
        counts.writes + counts.reads >= steps,
        "every step ran an operation: {counts:?}"
    );
    assert!(
        counts.failed_writes * 4 < counts.writes,
        "most writes changed something: {counts:?}"
    );
    assert!(
        hit_share > MIN_HIT_SHARE,
        "the cache served a meaningful share of the reads ({:.1}% <= {:.1}%): {counts:?}",
        hit_share * 100.0,
        MIN_HIT_SHARE * 100.0
    );
    for table in ["mb_posts", "mb_users"] {
        db.conn
            .execute_unprepared(&format!("DROP TABLE {table}"))
            .await
            .expect("drop table");
    }
    drop(run);
    drop(store_guard);
    db.cleanup().await;
}

/// The share of reads (outside transactions) that must be hits.
const MIN_HIT_SHARE: f64 = 0.10;

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn model_based() {
        super::model_based(super::Db::Sqlite).await
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn model_based() {
        super::model_based(super::Db::Postgres).await
    }
}

mod mysql {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn model_based() {
        super::model_based(super::Db::MySql).await
    }
}

/// The same check with the two caches on Redis: the machine's server, and a three-primary
/// cluster of the test's own.
#[cfg(feature = "redis")]
mod redis {
    use super::{Db, Store};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn model_based_sqlite() {
        super::model_based_on(Db::Sqlite, Store::Redis).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn model_based_postgres() {
        super::model_based_on(Db::Postgres, Store::Redis).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn model_based_postgres_on_a_cluster() {
        super::model_based_on(Db::Postgres, Store::RedisCluster).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn model_based_mysql_on_a_cluster() {
        super::model_based_on(Db::MySql, Store::RedisCluster).await
    }
}
