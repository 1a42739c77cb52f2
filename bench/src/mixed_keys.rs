//! The mixed matrix's key types beyond integers (issue 19): a UUID primary key and a lookup by
//! email in a column that compares exactly.
//!
//! * `uuid`: `bench_accounts (id, name)` with a SeaORM `Uuid` primary key, as SeaORM creates
//!   it (PostgreSQL `uuid`, MariaDB `BINARY(16)`, SQLite `uuid_text`). A read is
//!   `cache.wrap(account::Entity).find_by_pk(&db, uuid)`; a write updates the row's `name` by
//!   primary key.
//! * `string`: `bench_contacts (id, email, name)`, `email` indexed, with an exact collation
//!   (PostgreSQL `text` in the default deterministic collation, MariaDB `VARCHAR(100)
//!   CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin`, SQLite `TEXT`, i.e. BINARY). A read is
//!   `contact::Entity::find().filter(email = ?).cached(&cache).all(&db)`; a write updates the
//!   row's `name` by primary key.
//!
//! Rank `k` of the Zipf distribution is row `k` (its UUID or its email); the operations,
//! writers, rates and stale-read checks are those of [`crate::mixed`].

use std::time::Instant;

use momento_seaorm_cache::{CacheQueryExt, InvalidatorHandle};
use sea_orm::prelude::Uuid;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Schema};
use sea_orm::{ActiveValue::Set, ActiveValue::Unchanged};

use crate::fixtures::BenchResult;
use crate::mixed::{self, DbFigures, MixedConfig, RateFigures, Rng, Side, Store, Zipf};
use crate::mixed_db::{DbKind, ScopedDb};

/// The key a cell reads and writes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Users by integer id and their posts by `user_id` ([`crate::mixed`]).
    Int,
    /// Accounts by UUID primary key.
    Uuid,
    /// Contacts by email.
    Str,
}

impl KeyKind {
    /// The name in the JSON keys.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Int => "int",
            KeyKind::Uuid => "uuid",
            KeyKind::Str => "string",
        }
    }
}

/// `bench_accounts`: a UUID primary key.
pub mod account {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "bench_accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `bench_contacts`: looked up by `email` (table made per database, see `contacts_ddl`).
pub mod contact {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "bench_contacts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub email: String,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The UUID of account `k` (spread over the key space, as random UUIDs are).
pub fn uuid_of(k: i32) -> Uuid {
    let mut rng = Rng::new(k as u64);
    Uuid::from_u64_pair(rng.next_u64(), k as u64)
}

/// The email of contact `k`.
pub fn email_of(k: i32) -> String {
    format!("contact{k:06}@example.com")
}

/// `bench_contacts` with an exactly compared, indexed `email`.
fn contacts_ddl(kind: DbKind) -> [&'static str; 2] {
    let table = match kind {
        DbKind::Sqlite => {
            "CREATE TABLE bench_contacts (id INTEGER PRIMARY KEY NOT NULL, \
             email TEXT NOT NULL, name TEXT NOT NULL)"
        }
        DbKind::Postgres => {
            "CREATE TABLE bench_contacts (id INT PRIMARY KEY, email TEXT NOT NULL, \
             name TEXT NOT NULL)"
        }
        DbKind::MySql => {
            "CREATE TABLE bench_contacts (id INT PRIMARY KEY, \
             email VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL, \
             name VARCHAR(100) NOT NULL)"
        }
    };
    [
        table,
        "CREATE INDEX bench_contacts_email ON bench_contacts (email)",
    ]
}

/// Creates and fills the table of `key` with rows 1..=`rows`.
async fn seed(db: &ScopedDb, key: KeyKind, rows: i32) -> BenchResult<()> {
    let ids: Vec<i32> = (1..=rows).collect();
    match key {
        KeyKind::Uuid => {
            let schema = Schema::new(db.conn.get_database_backend());
            db.conn
                .execute(&schema.create_table_from_entity(account::Entity))
                .await?;
            for chunk in ids.chunks(1_000) {
                let rows = chunk.iter().map(|&k| account::ActiveModel {
                    id: Set(uuid_of(k)),
                    name: Set(format!("account {k:06}")),
                });
                account::Entity::insert_many(rows).exec(&db.conn).await?;
            }
            db.replica_identity_full(&["bench_accounts"]).await
        }
        KeyKind::Str => {
            for ddl in contacts_ddl(db.kind) {
                db.conn.execute_unprepared(ddl).await?;
            }
            for chunk in ids.chunks(1_000) {
                let rows = chunk.iter().map(|&k| contact::ActiveModel {
                    id: Set(k),
                    email: Set(email_of(k)),
                    name: Set(format!("contact {k:06}")),
                });
                contact::Entity::insert_many(rows).exec(&db.conn).await?;
            }
            db.replica_identity_full(&["bench_contacts"]).await
        }
        KeyKind::Int => Err("the int key is measured by mixed::measure".into()),
    }
}

/// The names as the writes left them (to check every read).
struct Expected {
    key: KeyKind,
    names: Vec<String>,
}

/// One cached read of row `k` on `side`, checked and counted into `f`.
async fn read(side: &Side, k: i32, expected: &Expected, f: &mut RateFigures) -> BenchResult<()> {
    let name = &expected.names[(k - 1) as usize];
    let (status, ok, list) = match expected.key {
        KeyKind::Uuid => {
            let r = side
                .cache
                .wrap(account::Entity)
                .find_by_pk_with_status(&side.conn, uuid_of(k))
                .await?;
            let ok = r
                .value
                .is_some_and(|a| a.id == uuid_of(k) && &a.name == name);
            (r.status, ok, false)
        }
        _ => {
            let r = contact::Entity::find()
                .filter(contact::Column::Email.eq(email_of(k)))
                .cached(&side.cache)
                .all_with_status(&side.conn)
                .await?;
            let ok = matches!(r.value.as_slice(), [c] if c.id == k && &c.name == name);
            (r.status, ok, true)
        }
    };
    mixed::count(status, list, ok, f);
    Ok(())
}

/// Updates row `k`'s name by primary key on `conn`.
async fn write_on<C: ConnectionTrait>(
    conn: &C,
    k: i32,
    expected: &mut Expected,
    f: &mut RateFigures,
) -> BenchResult<()> {
    f.writes += 1;
    let name = format!("{} w{}", expected.key.name(), f.writes);
    match expected.key {
        KeyKind::Uuid => {
            account::ActiveModel {
                id: Unchanged(uuid_of(k)),
                name: Set(name.clone()),
            }
            .update(conn)
            .await?;
        }
        _ => {
            contact::ActiveModel {
                id: Unchanged(k),
                name: Set(name.clone()),
                ..Default::default()
            }
            .update(conn)
            .await?;
        }
    }
    expected.names[(k - 1) as usize] = name;
    Ok(())
}

/// `ops` operations at `percent` writes; writes through `sides`' connections in turn, or
/// through `cdc`'s plain connection followed by catching up.
async fn run_ops(
    (sides, cdc): (&[Side; 2], Option<(&ScopedDb, &InvalidatorHandle)>),
    (zipf, rng): (&Zipf, &mut Rng),
    expected: &mut Expected,
    percent: u32,
    ops: usize,
) -> BenchResult<RateFigures> {
    let mut f = RateFigures {
        write_percent: percent,
        ops,
        ..Default::default()
    };
    let write_below = f64::from(percent) / 100.0;
    let started = Instant::now();
    for op in 0..ops {
        let k = zipf.sample(rng) as i32;
        if rng.next_f64() < write_below {
            match cdc {
                None => write_on(&sides[f.writes % 2].conn, k, expected, &mut f).await?,
                Some((db, handle)) => {
                    write_on(&db.conn, k, expected, &mut f).await?;
                    handle
                        .caught_up_to_now()
                        .await
                        .map_err(|e| format!("change capture: {e}"))?;
                }
            }
        } else {
            read(&sides[op % 2], k, expected, &mut f).await?;
        }
    }
    mixed::finish(&mut f, started.elapsed().as_secs_f64());
    Ok(f)
}

/// One cell of `key` on `db`: seeds the table, reads every key once, then runs each write
/// rate (warm-up, then the measured operations).
pub(crate) async fn measure(
    db: &ScopedDb,
    store: &Store,
    config: &MixedConfig,
    key: KeyKind,
    cdc: bool,
) -> BenchResult<DbFigures> {
    seed(db, key, config.users).await?;
    let sides = Side::pair(store, &db.conn)?;
    let slot = format!("bench_mixed_{}_{}", key.name(), std::process::id());
    let handle = match cdc {
        true => Some(db.invalidator(&sides[0].cache, &slot).await?),
        false => None,
    };
    let names = (1..=config.users)
        .map(|k| match key {
            KeyKind::Uuid => format!("account {k:06}"),
            _ => format!("contact {k:06}"),
        })
        .collect();
    let mut expected = Expected { key, names };
    let started = Instant::now();
    let populate = |parity: usize| {
        let (side, expected) = (&sides[parity], &expected);
        async move {
            let mut f = RateFigures::default();
            for k in (1..=config.users).filter(|&k| k as usize % 2 == parity) {
                read(side, k, expected, &mut f).await?;
            }
            BenchResult::Ok(f.stale_reads)
        }
    };
    let (even, odd) = tokio::join!(populate(0), populate(1));
    if even? + odd? > 0 {
        return Err(format!("{}: populating read wrong values", db.kind.name()).into());
    }
    let populate_seconds = started.elapsed().as_secs_f64();
    let zipf = Zipf::new(config.users as usize, config.zipf_s);
    let mut rng = Rng::new(config.seed);
    let mut rates = Vec::new();
    let via = handle.as_ref().map(|h| (db, h));
    for &percent in &config.write_percents {
        let gen = (&zipf, &mut rng);
        run_ops((&sides, via), gen, &mut expected, percent, config.warmup).await?;
        let gen = (&zipf, &mut rng);
        rates.push(run_ops((&sides, via), gen, &mut expected, percent, config.ops).await?);
    }
    if let Some(handle) = handle {
        db.stop_invalidator(handle, &slot).await;
    }
    Ok(DbFigures {
        database: db.kind.name(),
        store: store.name(),
        key: key.name(),
        writer: if cdc { "cdc" } else { "connection" },
        users: config.users,
        posts: 0,
        populate_seconds: (populate_seconds * 100.0).round() / 100.0,
        rates,
    })
}
