//! The edge tables of the model-based test: tables whose writes the SQL text does not fully
//! show, and how statements on them run and are read back.
//!
//! On every database: `mx_items` (a generated integer key, nullable integer columns `k` and
//! `n`, a `SMALLINT` `m`), the view `mx_view` over it (`k <= 3`), `mx_clamp` (a trigger caps
//! `n` at 50 whatever is assigned) and `mx_audited` (a trigger logs every write into
//! `mx_audit`). On PostgreSQL also the partitioned `mx_parts` (`mx_parts_low` below id 60,
//! `mx_parts_high` above) and `mx_animals` with its inheritance child `mx_dogs`.
//!
//! Writes are statements with the values meant for their placeholders (or inlined); reads are
//! `SELECT`s through [`ModelCache::read_statement`] or the `mx_items` entity, each compared with
//! the same read run directly.

use std::time::Instant;

use momento_seaorm_cache::{
    CacheQueryExt, CacheableConnection, LoadAll, ModelCache, Operation, ReadRequest,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, JsonValue,
    QueryFilter, QueryOrder, SelectModel, Statement, Value,
};

use super::{outcome, same, Db, Outcome};

/// `mx_items`, as an entity (for `wrap(E).find_by_pk` and `.cached()` reads).
pub mod mx_item {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "mx_items")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub k: Option<i32>,
        pub n: Option<i32>,
        pub m: i16,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// How an edge write is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// `execute_raw` with bound values.
    Prepared,
    /// `execute_unprepared`, values inlined.
    Unprepared,
    /// `query_all_raw` (a `RETURNING` statement), bound values.
    Query,
}

/// A statement on the edge tables, as the database receives it.
#[derive(Debug, Clone)]
pub struct EdgeWrite {
    pub sql: String,
    pub values: Vec<Option<i32>>,
    pub how: How,
}

/// A read of the edge tables.
#[derive(Debug, Clone)]
pub enum EdgeRead {
    /// A `SELECT` through `read_statement`, its values bound.
    Sql { sql: String, values: Vec<i32> },
    /// `wrap(mx_item::Entity).find_by_pk`.
    ItemPk(i32),
    /// `mx_item::Entity::find().filter(k = ..).cached()`.
    ItemsWithK(i32),
}

/// The ids in the edge tables as of the last reload.
#[derive(Debug, Default)]
pub struct EdgeIds {
    pub items: Vec<i32>,
    pub clamp: Vec<i32>,
    pub audited: Vec<i32>,
    /// `mx_parts` (both partitions).
    pub parts: Vec<i32>,
    /// `ONLY mx_animals`, and its child `mx_dogs`.
    pub animals: Vec<i32>,
    pub dogs: Vec<i32>,
}

/// The edge tables, views and triggers on `kind`.
pub fn ddl(kind: Db) -> Vec<&'static str> {
    match kind {
        Db::Sqlite => vec![
            "CREATE TABLE mx_items (id INTEGER PRIMARY KEY, k INTEGER, n INTEGER, \
             m SMALLINT NOT NULL DEFAULT 0)",
            "CREATE VIEW mx_view AS SELECT id, k, n FROM mx_items WHERE k <= 3",
            "CREATE TABLE mx_clamp (id INTEGER PRIMARY KEY AUTOINCREMENT, k INTEGER, n INTEGER)",
            "CREATE TRIGGER mx_clamp_u AFTER UPDATE ON mx_clamp WHEN NEW.n > 50 BEGIN \
             UPDATE mx_clamp SET n = 50 WHERE id = NEW.id; END",
            "CREATE TRIGGER mx_clamp_i AFTER INSERT ON mx_clamp WHEN NEW.n > 50 BEGIN \
             UPDATE mx_clamp SET n = 50 WHERE id = NEW.id; END",
            "CREATE TABLE mx_audited (id INTEGER PRIMARY KEY, k INTEGER, n INTEGER)",
            "CREATE TABLE mx_audit (item_id INTEGER, k INTEGER)",
            "CREATE TRIGGER mx_audited_i AFTER INSERT ON mx_audited BEGIN \
             INSERT INTO mx_audit (item_id, k) VALUES (NEW.id, NEW.k); END",
            "CREATE TRIGGER mx_audited_u AFTER UPDATE ON mx_audited BEGIN \
             INSERT INTO mx_audit (item_id, k) VALUES (NEW.id, NEW.k); END",
            "CREATE TRIGGER mx_audited_d AFTER DELETE ON mx_audited BEGIN \
             INSERT INTO mx_audit (item_id, k) VALUES (OLD.id, OLD.k); END",
        ],
        Db::Postgres => vec![
            "CREATE TABLE mx_items (id SERIAL PRIMARY KEY, k INT, n INT, \
             m SMALLINT NOT NULL DEFAULT 0)",
            "CREATE VIEW mx_view AS SELECT id, k, n FROM mx_items WHERE k <= 3",
            "CREATE TABLE mx_clamp (id SERIAL PRIMARY KEY, k INT, n INT)",
            "CREATE FUNCTION mx_clamp_f() RETURNS trigger AS $$ BEGIN \
             IF NEW.n > 50 THEN NEW.n := 50; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER mx_clamp_t BEFORE INSERT OR UPDATE ON mx_clamp \
             FOR EACH ROW EXECUTE FUNCTION mx_clamp_f()",
            "CREATE TABLE mx_audited (id INT PRIMARY KEY, k INT, n INT)",
            "CREATE TABLE mx_audit (item_id INT, k INT)",
            "CREATE FUNCTION mx_audit_f() RETURNS trigger AS $$ BEGIN \
             IF TG_OP = 'DELETE' THEN INSERT INTO mx_audit VALUES (OLD.id, OLD.k); RETURN OLD; \
             END IF; INSERT INTO mx_audit VALUES (NEW.id, NEW.k); RETURN NEW; END $$ \
             LANGUAGE plpgsql",
            "CREATE TRIGGER mx_audit_t AFTER INSERT OR UPDATE OR DELETE ON mx_audited \
             FOR EACH ROW EXECUTE FUNCTION mx_audit_f()",
            "CREATE TABLE mx_parts (id INT NOT NULL PRIMARY KEY, k INT, n INT) \
             PARTITION BY RANGE (id)",
            "CREATE TABLE mx_parts_low PARTITION OF mx_parts FOR VALUES FROM (1) TO (60)",
            "CREATE TABLE mx_parts_high PARTITION OF mx_parts FOR VALUES FROM (60) TO (1000)",
            "CREATE TABLE mx_animals (id INT PRIMARY KEY, k INT, n INT)",
            "CREATE TABLE mx_dogs (bark TEXT DEFAULT 'woof') INHERITS (mx_animals)",
        ],
        Db::MySql => vec![
            "CREATE TABLE mx_items (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NULL, \
             n INT NULL, m SMALLINT NOT NULL DEFAULT 0) ENGINE=InnoDB",
            "CREATE VIEW mx_view AS SELECT id, k, n FROM mx_items WHERE k <= 3",
            "CREATE TABLE mx_clamp (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NULL, \
             n INT NULL) ENGINE=InnoDB",
            "CREATE TRIGGER mx_clamp_u BEFORE UPDATE ON mx_clamp FOR EACH ROW \
             SET NEW.n = LEAST(NEW.n, 50)",
            "CREATE TRIGGER mx_clamp_i BEFORE INSERT ON mx_clamp FOR EACH ROW \
             SET NEW.n = LEAST(NEW.n, 50)",
            "CREATE TABLE mx_audited (id INT NOT NULL PRIMARY KEY, k INT NULL, n INT NULL) \
             ENGINE=InnoDB",
            "CREATE TABLE mx_audit (item_id INT, k INT) ENGINE=InnoDB",
            "CREATE TRIGGER mx_audited_i AFTER INSERT ON mx_audited FOR EACH ROW \
             INSERT INTO mx_audit (item_id, k) VALUES (NEW.id, NEW.k)",
            "CREATE TRIGGER mx_audited_u AFTER UPDATE ON mx_audited FOR EACH ROW \
             INSERT INTO mx_audit (item_id, k) VALUES (NEW.id, NEW.k)",
            "CREATE TRIGGER mx_audited_d AFTER DELETE ON mx_audited FOR EACH ROW \
             INSERT INTO mx_audit (item_id, k) VALUES (OLD.id, OLD.k)",
        ],
    }
}

/// Rows in the edge tables before the run (explicit ids; generated ones start higher).
pub fn seed(kind: Db, rng: &mut fastrand::Rng) -> Vec<String> {
    let mut rows = |table: &str, ids: &mut dyn Iterator<Item = i32>| {
        let values: Vec<String> = ids
            .map(|id| format!("({id}, {}, {})", rng.i32(1..=6), rng.i32(0..=50)))
            .collect();
        format!(
            "INSERT INTO {table} (id, k, n) VALUES {}",
            values.join(", ")
        )
    };
    let mut out = vec![
        rows("mx_items", &mut (1..=20)),
        rows("mx_clamp", &mut (1..=10)),
        rows("mx_audited", &mut (1..=10)),
    ];
    if kind == Db::Postgres {
        out.push(rows("mx_parts", &mut (1..=20).map(|i| i * 4)));
        out.push(rows("mx_animals", &mut (1..=10)));
        out.push(rows("mx_dogs", &mut (61..=70)));
        for table in ["mx_items", "mx_clamp"] {
            out.push(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1000)"
            ));
        }
    }
    out
}

/// Reloads `ids` from the database.
pub async fn refresh<C: ConnectionTrait>(db: &C, kind: Db, ids: &mut EdgeIds) {
    let mut sql = "SELECT 0 AS t, id FROM mx_items UNION ALL SELECT 1, id FROM mx_clamp \
                   UNION ALL SELECT 2, id FROM mx_audited"
        .to_owned();
    if kind == Db::Postgres {
        sql.push_str(
            " UNION ALL SELECT 3, id FROM mx_parts UNION ALL SELECT 4, id FROM ONLY mx_animals \
             UNION ALL SELECT 5, id FROM mx_dogs",
        );
    }
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("reload the edge ids");
    *ids = EdgeIds::default();
    for row in rows {
        let table: i32 = row.try_get("", "t").expect("t");
        let id: i32 = row.try_get("", "id").expect("id");
        let list = match table {
            0 => &mut ids.items,
            1 => &mut ids.clamp,
            2 => &mut ids.audited,
            3 => &mut ids.parts,
            4 => &mut ids.animals,
            _ => &mut ids.dogs,
        };
        list.push(id);
    }
}

/// Runs `write` on `db` (a `CachedConnection` or `CachedTransaction`).
pub async fn run_write<C: ConnectionTrait>(db: &C, write: &EdgeWrite) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    let statement = || {
        let values = write.values.iter().map(|v| Value::Int(*v));
        Statement::from_sql_and_values(backend, write.sql.as_str(), values)
    };
    match write.how {
        How::Unprepared => {
            let result = db.execute_unprepared(&write.sql).await?;
            Ok(format!("{} rows", result.rows_affected()))
        }
        How::Prepared => {
            let result = db.execute_raw(statement()).await?;
            Ok(format!("{} rows", result.rows_affected()))
        }
        How::Query => {
            let rows = db.query_all_raw(statement()).await?;
            Ok(format!("{} rows returned", rows.len()))
        }
    }
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
    read: &EdgeRead,
) -> Result<Outcome, String>
where
    C: CacheableConnection,
    D: ConnectionTrait,
{
    let backend: DbBackend = plain.get_database_backend();
    match read {
        EdgeRead::Sql { sql, values } => {
            let statement = || {
                let values = values.iter().map(|v| Value::from(*v));
                Statement::from_sql_and_values(backend, sql.as_str(), values)
            };
            let request = ReadRequest::new(Operation::All, statement());
            compare!(
                cache.read_statement(conn, request, LoadAll::<SelectModel<JsonValue>>::new),
                direct(plain, statement()),
                same,
            )
        }
        EdgeRead::ItemPk(id) => compare!(
            cache
                .wrap(mx_item::Entity)
                .find_by_pk_with_status(conn, *id),
            mx_item::Entity::find_by_id(*id).one(plain),
            same,
        ),
        EdgeRead::ItemsWithK(k) => {
            let q = || {
                mx_item::Entity::find()
                    .filter(mx_item::Column::K.eq(*k))
                    .order_by_asc(mx_item::Column::Id)
            };
            compare!(
                q().cached(cache).all_with_status(conn),
                q().all(plain),
                same,
            )
        }
    }
}
