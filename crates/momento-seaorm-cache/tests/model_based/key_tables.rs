//! The key tables of the model-based test: row precision beyond integer keys.
//!
//! `mk_accounts` has a UUID primary key (PostgreSQL `uuid`, MariaDB `BINARY(16)`, SQLite
//! `uuid_text`, as SeaORM maps a UUID), an `email` whose collation compares exactly
//! (tracked by value) and a `folded` one whose collation folds case and accents (MariaDB
//! `utf8mb4_general_ci`, SQLite `NOCASE`, a PostgreSQL nondeterministic collation: not
//! tracked); `mk_seats` has a composite primary key `(room, number)`. Writes and reads pick
//! from small sets of UUIDs, spellings (`'a@x'`, `'A@x'`, `'a@x '`, `'é@x'`...) and keys, so
//! they meet often; every read is compared with the same read run directly.

use std::time::Instant;

use momento_seaorm_cache::{CacheableConnection, LoadAll, ModelCache, Operation, ReadRequest};
use sea_orm::prelude::Uuid;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, JsonValue, SelectModel,
    Statement, Value,
};

use super::{outcome, same, Db, Gen, Outcome};

/// `mk_accounts`, as an entity (for `wrap(E).find_by_pk` by UUID).
pub mod mk_account {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "mk_accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub email: String,
        pub folded: String,
        pub team: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Spellings that some collations equate and others do not.
const EMAILS: [&str; 9] = [
    "a@x", "A@x", "a@x ", "b@x", "B@X", "b@x  ", "c@x", "é@x", "e@x",
];

/// A value bound to a key-table statement.
#[derive(Debug, Clone)]
pub enum KeyValue {
    Uuid(u128),
    Text(&'static str),
    Int(i32),
}

impl From<&KeyValue> for Value {
    fn from(value: &KeyValue) -> Value {
        match value {
            KeyValue::Uuid(bits) => Value::Uuid(Some(Uuid::from_u128(*bits))),
            KeyValue::Text(text) => Value::String(Some((*text).to_owned())),
            KeyValue::Int(n) => Value::Int(Some(*n)),
        }
    }
}

/// A write of the key tables: a statement with `?` marks and its values; `returning` ones
/// run as queries.
#[derive(Debug, Clone)]
pub struct KeyWrite {
    pub sql: &'static str,
    pub values: Vec<KeyValue>,
    pub returning: bool,
}

/// A read of the key tables.
#[derive(Debug, Clone)]
pub enum KeyRead {
    /// A `SELECT` through `read_statement`, its values bound.
    Sql {
        sql: &'static str,
        values: Vec<KeyValue>,
    },
    /// `wrap(mk_account::Entity).find_by_pk`.
    AccountPk(u128),
}

/// The key tables' DDL.
pub fn ddl(kind: Db) -> Vec<&'static str> {
    match kind {
        Db::Postgres => vec![
            "CREATE COLLATION mk_folding (provider = icu, locale = 'und-u-ks-level1', \
             deterministic = false)",
            "CREATE TABLE mk_accounts (id UUID PRIMARY KEY, email VARCHAR(40) NOT NULL, \
             folded TEXT COLLATE mk_folding NOT NULL, team INT NOT NULL)",
            "CREATE TABLE mk_seats (room INT NOT NULL, number INT NOT NULL, holder INT, \
             PRIMARY KEY (room, number))",
        ],
        Db::MySql => vec![
            "CREATE TABLE mk_accounts (id BINARY(16) PRIMARY KEY, \
             email VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL, \
             folded VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, \
             team INT NOT NULL)",
            "CREATE TABLE mk_seats (room INT NOT NULL, number INT NOT NULL, holder INT, \
             PRIMARY KEY (room, number))",
        ],
        Db::Sqlite => vec![
            "CREATE TABLE mk_accounts (id uuid_text PRIMARY KEY NOT NULL, email TEXT NOT NULL, \
             folded TEXT COLLATE NOCASE NOT NULL, team INTEGER NOT NULL)",
            "CREATE TABLE mk_seats (room INTEGER NOT NULL, number INTEGER NOT NULL, \
             holder INTEGER, PRIMARY KEY (room, number))",
        ],
    }
}

/// The UUID of account `n`.
fn uuid(n: u32) -> u128 {
    0x67e5_5044_10b1_426f_9247_bb68_0e5f_e000 + u128::from(n) * 0x1_0000_0001
}

/// The seed rows, as statements with their values.
pub fn seed() -> Vec<KeyWrite> {
    let mut out = Vec::new();
    for n in 0..6 {
        out.push(KeyWrite {
            sql: "INSERT INTO mk_accounts (id, email, folded, team) VALUES (?, ?, ?, ?)",
            values: vec![
                KeyValue::Uuid(uuid(n)),
                KeyValue::Text(EMAILS[n as usize]),
                KeyValue::Text(EMAILS[n as usize]),
                KeyValue::Int(n as i32 % 3),
            ],
            returning: false,
        });
    }
    for (room, number) in [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1)] {
        out.push(KeyWrite {
            sql: "INSERT INTO mk_seats (room, number, holder) VALUES (?, ?, ?)",
            values: vec![KeyValue::Int(room), KeyValue::Int(number), KeyValue::Int(0)],
            returning: false,
        });
    }
    out
}

impl Gen {
    fn key_uuid(&mut self) -> KeyValue {
        KeyValue::Uuid(uuid(self.rng.u32(..9)))
    }

    fn key_email(&mut self) -> KeyValue {
        KeyValue::Text(EMAILS[self.rng.usize(..EMAILS.len())])
    }

    fn key_int(&mut self, max: i32) -> KeyValue {
        KeyValue::Int(self.rng.i32(1..=max))
    }

    /// A write of the key tables.
    pub(super) fn key_write(&mut self) -> Write {
        let (u, u2, e, e2) = (
            self.key_uuid(),
            self.key_uuid(),
            self.key_email(),
            self.key_email(),
        );
        let (t, r, r2, n, n2, h) = (
            self.key_int(3),
            self.key_int(2),
            self.key_int(3),
            self.key_int(2),
            self.key_int(2),
            self.key_int(9),
        );
        let returning = self.kind != Db::MySql && self.chance(30);
        let (sql, values) = match self.rng.u32(..16) {
            0 | 1 => (
                "INSERT INTO mk_accounts (id, email, folded, team) VALUES (?, ?, ?, ?)",
                vec![KeyValue::Uuid(uuid(self.rng.u32(..40))), e, e2, t],
            ),
            2 => ("UPDATE mk_accounts SET email = ? WHERE id = ?", vec![e, u]),
            3 => match self.chance(50) {
                true => (
                    "UPDATE mk_accounts SET folded = ?, team = ? WHERE id = ?",
                    vec![e, t, u],
                ),
                // The old value pinned: only a folding-blind tracker would miss it.
                false => (
                    "UPDATE mk_accounts SET folded = ? WHERE folded = ? AND id = ?",
                    vec![e, e2, u],
                ),
            },
            4 => (
                "UPDATE mk_accounts SET team = ? WHERE email = ?",
                vec![t, e],
            ),
            5 => (
                "UPDATE mk_accounts SET email = ? WHERE email = ?",
                vec![e, e2],
            ),
            6 => (
                "UPDATE mk_accounts SET team = ? WHERE folded = ?",
                vec![t, e],
            ),
            7 => ("DELETE FROM mk_accounts WHERE id = ?", vec![u]),
            8 => (
                "DELETE FROM mk_accounts WHERE email = ? OR folded = ?",
                vec![e, e2],
            ),
            9 => ("DELETE FROM mk_accounts WHERE id IN (?, ?)", vec![u, u2]),
            10 => ("UPDATE mk_accounts SET id = ? WHERE id = ?", vec![u, u2]),
            11 => (
                "INSERT INTO mk_seats (room, number, holder) VALUES (?, ?, ?)",
                vec![r, n, h],
            ),
            12 => (
                "UPDATE mk_seats SET holder = ? WHERE room = ? AND number = ?",
                vec![h, r, n],
            ),
            13 => (
                "UPDATE mk_seats SET number = ? WHERE room = ? AND number = ?",
                vec![n2, r, n],
            ),
            14 => (
                "UPDATE mk_seats SET holder = ? WHERE room IN (?, ?) AND number = ?",
                vec![h, r, r2, n],
            ),
            _ => match self.rng.u32(..2) {
                0 => (
                    "DELETE FROM mk_seats WHERE room = ? AND number = ?",
                    vec![r, n],
                ),
                _ => ("DELETE FROM mk_seats WHERE room = ?", vec![r]),
            },
        };
        let returning = returning && !sql.starts_with("INSERT INTO mk_seats");
        Write::Keys(KeyWrite {
            sql,
            values,
            returning,
        })
    }

    /// A read of the key tables.
    pub(super) fn key_read(&mut self) -> Read {
        let (u, u2, e, e2) = (
            self.key_uuid(),
            self.key_uuid(),
            self.key_email(),
            self.key_email(),
        );
        let (t, r, r2, n) = (
            self.key_int(3),
            self.key_int(2),
            self.key_int(3),
            self.key_int(2),
        );
        let (sql, values) = match self.rng.u32(..11) {
            0 => {
                let KeyValue::Uuid(bits) = u else {
                    unreachable!()
                };
                return Read::Keys(KeyRead::AccountPk(bits));
            }
            1 => (
                "SELECT {a} FROM mk_accounts WHERE id = ? ORDER BY 1",
                vec![u],
            ),
            2 => (
                "SELECT {a} FROM mk_accounts WHERE id IN (?, ?) ORDER BY 1",
                vec![u, u2],
            ),
            3 | 4 => (
                "SELECT {a} FROM mk_accounts WHERE email = ? ORDER BY 1",
                vec![e],
            ),
            5 => (
                "SELECT {a} FROM mk_accounts WHERE email IN (?, ?) ORDER BY 1",
                vec![e, e2],
            ),
            6 => (
                "SELECT {a} FROM mk_accounts WHERE folded = ? ORDER BY 1",
                vec![e],
            ),
            7 => (
                "SELECT {a} FROM mk_accounts WHERE team = ? AND email = ? ORDER BY 1",
                vec![t, e],
            ),
            8 => (
                "SELECT * FROM mk_seats WHERE room = ? AND number = ? ORDER BY room, number",
                vec![r, n],
            ),
            9 => (
                "SELECT * FROM mk_seats WHERE number = ? AND room IN (?, ?) ORDER BY room, number",
                vec![n, r, r2],
            ),
            _ => match self.rng.u32(..3) {
                0 => (
                    "SELECT * FROM mk_seats WHERE room = ? ORDER BY room, number",
                    vec![r],
                ),
                1 => ("SELECT * FROM mk_seats ORDER BY room, number", vec![]),
                _ => ("SELECT {a} FROM mk_accounts ORDER BY 1", vec![]),
            },
        };
        Read::Keys(KeyRead::Sql { sql, values })
    }
}

use super::{Read, Write};

/// `sql` for `backend`: `$n` marks on PostgreSQL, the account columns with the id as text.
fn text_for(backend: DbBackend, sql: &str) -> String {
    let id = match backend {
        DbBackend::Postgres => "id::text AS id",
        _ => "lower(hex(id)) AS id",
    };
    let sql = sql.replace("{a}", &format!("{id}, email, folded, team"));
    if backend != DbBackend::Postgres {
        return sql;
    }
    let mut out = String::new();
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

fn statement(backend: DbBackend, sql: &str, values: &[KeyValue]) -> Statement {
    Statement::from_sql_and_values(
        backend,
        text_for(backend, sql),
        values.iter().map(Value::from),
    )
}

/// Runs `write` on `db`.
pub async fn run_write<C: ConnectionTrait>(db: &C, write: &KeyWrite) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    if write.returning {
        let sql = format!("{} RETURNING *", write.sql);
        let rows = db
            .query_all_raw(statement(backend, &sql, &write.values))
            .await?;
        return Ok(format!("{} rows returned", rows.len()));
    }
    let result = db
        .execute_raw(statement(backend, write.sql, &write.values))
        .await?;
    Ok(format!("{} rows", result.rows_affected()))
}

/// A `SELECT`'s rows as JSON, read directly.
async fn direct<D: ConnectionTrait>(db: &D, statement: Statement) -> Result<Vec<JsonValue>, DbErr> {
    let rows = db.query_all_raw(statement).await?;
    rows.iter()
        .map(|row| JsonValue::from_query_result(row, ""))
        .collect()
}

/// Runs `read` through `cache` on `conn`, and directly on `plain`.
pub async fn run_read<C, D>(
    cache: &ModelCache,
    conn: &C,
    plain: &D,
    read: &KeyRead,
) -> Result<Outcome, String>
where
    C: CacheableConnection,
    D: ConnectionTrait,
{
    let backend: DbBackend = plain.get_database_backend();
    match read {
        KeyRead::Sql { sql, values } => {
            let request = ReadRequest::new(Operation::All, statement(backend, sql, values));
            compare!(
                cache.read_statement(conn, request, LoadAll::<SelectModel<JsonValue>>::new),
                direct(plain, statement(backend, sql, values)),
                same,
            )
        }
        KeyRead::AccountPk(bits) => {
            let id = Uuid::from_u128(*bits);
            compare!(
                cache
                    .wrap(mk_account::Entity)
                    .find_by_pk_with_status(conn, id),
                mk_account::Entity::find_by_id(id).one(plain),
                same,
            )
        }
    }
}
