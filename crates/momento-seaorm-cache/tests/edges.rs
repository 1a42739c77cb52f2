//! Trust at the edges: statements whose effect the SQL text does not show, or shows
//! differently to the parser than to the server, never leave a cached read stale.
//!
//! Each case sets up tables on a real database, caches some reads (checking they are cached),
//! runs one write through a `CachedConnection` (or a transaction on it), and compares every
//! cached read with the database. Classes: values the database changes (generated keys,
//! clamping, last assignment wins, triggers, rowid aliases, conflict clauses, shadowing
//! `RETURNING`, placeholder styles), writes that land in other tables (views, partitions,
//! inheritance), dialect the parser reads differently (executable comments, `||`, modifiers),
//! implicit commits, and names with dots.

mod common;

use common::{Db, TestCache, TestDb};
use momento_seaorm_cache::{
    CacheStatus, CachedConnection, LoadAll, ModelCache, Operation, ReadRequest,
};
use sea_orm::{
    ConnectionTrait, FromQueryResult, JsonValue, SelectModel, Statement, TransactionSession,
    TransactionTrait, Value,
};

/// Entities for the tables the cases write, registered in every cache as an application's
/// would be (the catalog, not these, decides what is tracked; before it, only tables with a
/// known entity were tracked by row).
macro_rules! entity {
    ($module:ident, $table:literal, { $($column:ident: $ty:ty),* }) => {
        mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[derive(serde::Serialize, serde::Deserialize)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i32,
                $(pub $column: $ty,)*
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity!(items, "items", { n: Option<i32> });
entity!(t, "t", { n: Option<i32> });
entity!(u, "u", { email: Option<String>, n: Option<i32> });
entity!(small, "small", { n: Option<i16> });
entity!(posts, "posts", { user_id: Option<i32>, title: Option<String> });
entity!(base, "base", { n: Option<i32> });
entity!(parts, "parts", { n: Option<i32> });
entity!(animals, "animals", { n: Option<i32> });

fn register(cache: &ModelCache) {
    cache.register::<items::Entity>();
    cache.register::<t::Entity>();
    cache.register::<u::Entity>();
    cache.register::<small::Entity>();
    cache.register::<posts::Entity>();
    cache.register::<base::Entity>();
    cache.register::<parts::Entity>();
    cache.register::<animals::Entity>();
}

/// The write a case makes.
enum Write {
    /// Raw SQL, unprepared.
    Sql(&'static str),
    /// A prepared statement with bound values.
    Bound(&'static str, Vec<Value>),
    /// A statement run as a query (its rows returned: `RETURNING`).
    Query(&'static str),
    /// Statements in a `CachedTransaction`, then a rollback.
    RolledBack(Vec<&'static str>),
    /// Statements in a `CachedTransaction`, then a commit.
    Committed(Vec<&'static str>),
}

struct Case {
    name: &'static str,
    setup: Vec<&'static str>,
    /// Reads cached before the write and compared with the database after it.
    reads: Vec<&'static str>,
    /// Reads that must not be cached at all (compared all the same).
    uncached: Vec<&'static str>,
    write: Write,
}

fn case(name: &'static str, setup: &[&'static str], reads: &[&'static str], write: Write) -> Case {
    Case {
        name,
        setup: setup.to_vec(),
        reads: reads.to_vec(),
        uncached: Vec::new(),
        write,
    }
}

async fn read(
    cache: &ModelCache,
    db: &CachedConnection,
    sql: &str,
) -> (Vec<JsonValue>, CacheStatus) {
    let statement = Statement::from_string(db.get_database_backend(), sql.to_owned());
    let request = ReadRequest::new(Operation::All, statement);
    let read = cache
        .read_statement(db, request, LoadAll::<SelectModel<JsonValue>>::new)
        .await
        .unwrap_or_else(|e| panic!("cached read {sql}: {e}"));
    (read.value, read.status)
}

async fn truth(db: &CachedConnection, sql: &str) -> Vec<JsonValue> {
    let backend = db.get_database_backend();
    let rows = db
        .inner()
        .query_all_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("direct read {sql}: {e}"));
    rows.iter()
        .map(|row| JsonValue::from_query_result(row, "").expect("row as JSON"))
        .collect()
}

/// Runs `cases` on `kind`: every cached read equals the database after each write. Returns the
/// names of the cases that served a stale read.
async fn run(kind: Db, cases: Vec<Case>) {
    let mut stale = Vec::new();
    for case in cases {
        let Some(test) = TestDb::new(kind).await else {
            return;
        };
        for sql in &case.setup {
            test.conn
                .execute_unprepared(sql)
                .await
                .unwrap_or_else(|e| panic!("{}: setup {sql}: {e}", case.name));
        }
        let momento = TestCache::start("edges").await;
        let cache = momento.model_cache(|b| b).await;
        register(&cache);
        let db = CachedConnection::new(test.conn.clone(), &cache);
        for sql in &case.reads {
            read(&cache, &db, sql).await;
            let (_, status) = read(&cache, &db, sql).await;
            assert_eq!(status, CacheStatus::Hit, "{}: {sql} is cached", case.name);
        }
        for sql in &case.uncached {
            read(&cache, &db, sql).await;
            let (_, status) = read(&cache, &db, sql).await;
            if status == CacheStatus::Hit {
                stale.push(format!("{}: {sql} was cached", case.name));
            }
        }
        write(&db, &case).await;
        for sql in case.reads.iter().chain(&case.uncached) {
            let (cached, status) = read(&cache, &db, sql).await;
            let expected = truth(&db, sql).await;
            if cached != expected {
                stale.push(format!(
                    "{}: {sql} served {cached:?} ({status:?}), the database has {expected:?}",
                    case.name
                ));
            }
        }
        momento.server.shutdown().await;
        test.cleanup().await;
    }
    assert!(
        stale.is_empty(),
        "stale reads on {kind:?}:\n{}",
        stale.join("\n")
    );
}

async fn write(db: &CachedConnection, case: &Case) {
    let backend = db.get_database_backend();
    let failed = |e: sea_orm::DbErr| -> ! { panic!("{}: write: {e}", case.name) };
    match &case.write {
        Write::Sql(sql) => {
            db.execute_unprepared(sql)
                .await
                .unwrap_or_else(|e| failed(e));
        }
        Write::Bound(sql, values) => {
            let statement = Statement::from_sql_and_values(backend, *sql, values.clone());
            db.execute_raw(statement)
                .await
                .unwrap_or_else(|e| failed(e));
        }
        Write::Query(sql) => {
            let statement = Statement::from_string(backend, sql.to_owned());
            db.query_all_raw(statement)
                .await
                .unwrap_or_else(|e| failed(e));
        }
        Write::RolledBack(statements) => {
            let txn = db.begin().await.unwrap_or_else(|e| failed(e));
            for sql in statements {
                txn.execute_unprepared(sql)
                    .await
                    .unwrap_or_else(|e| failed(e));
            }
            txn.rollback().await.unwrap_or_else(|e| failed(e));
        }
        Write::Committed(statements) => {
            let txn = db.begin().await.unwrap_or_else(|e| failed(e));
            for sql in statements {
                txn.execute_unprepared(sql)
                    .await
                    .unwrap_or_else(|e| failed(e));
            }
            txn.commit().await.unwrap_or_else(|e| failed(e));
        }
    }
}

/// Values the database changes: generated keys for `NULL` (and `0` on MariaDB), the last of two
/// assignments, clamping, triggers that override a column.
fn values_the_database_changes(kind: Db) -> Vec<Case> {
    let items = match kind {
        Db::MySql => "CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, n INT)",
        Db::Sqlite => "CREATE TABLE items (id INTEGER PRIMARY KEY, n INT)",
        Db::Postgres => "CREATE TABLE items (id SERIAL PRIMARY KEY, n INT)",
    };
    let seed = "INSERT INTO items (n) VALUES (1), (2)";
    let reads = [
        "SELECT * FROM items WHERE id = 3",
        "SELECT * FROM items WHERE id = 4",
    ];
    let mut cases = vec![case(
        "a trigger overrides an assigned column",
        &[items, seed, trigger(kind)],
        &[
            "SELECT * FROM items WHERE n = 99",
            "SELECT * FROM items WHERE id = 1",
        ],
        Write::Sql("UPDATE items SET n = 5 WHERE id = 1"),
    )];
    if kind == Db::Postgres {
        return cases;
    }
    cases.extend([
        case(
            "INSERT VALUES (NULL, ..) generates the key",
            &[items, seed],
            &reads,
            Write::Sql("INSERT INTO items (id, n) VALUES (NULL, 7)"),
        ),
        case(
            "two rows with NULL keys",
            &[items, seed],
            &reads,
            Write::Sql("INSERT INTO items (id, n) VALUES (NULL, 7), (NULL, 8)"),
        ),
        case(
            "a NULL bind for the key",
            &[items, seed],
            &reads,
            Write::Bound(
                "INSERT INTO items (id, n) VALUES (?, ?)",
                vec![Value::Int(None), Value::Int(Some(7))],
            ),
        ),
        case(
            "a column assigned twice keeps the last",
            &[items, seed],
            &[
                "SELECT * FROM items WHERE n = 1",
                "SELECT * FROM items WHERE n = 3",
            ],
            Write::Sql("UPDATE items SET n = 3, n = 1 WHERE id = 2 AND n = 2"),
        ),
    ]);
    if kind == Db::MySql {
        cases.extend([
            case(
                "VALUES (0, ..) generates the key",
                &[items, seed],
                &reads,
                Write::Sql("INSERT INTO items (id, n) VALUES (0, 7)"),
            ),
            case(
                "INSERT IGNORE clamps into SMALLINT",
                &["CREATE TABLE small (id INT PRIMARY KEY, n SMALLINT)"],
                &[
                    "SELECT * FROM small WHERE n = 32767",
                    "SELECT * FROM small WHERE id = 5",
                ],
                Write::Sql("INSERT IGNORE INTO small (id, n) VALUES (5, 40000)"),
            ),
        ]);
    }
    cases
}

/// A trigger that sets `items.n` to 99 whatever is inserted.
fn trigger(kind: Db) -> &'static str {
    match kind {
        Db::MySql => "CREATE TRIGGER items_n BEFORE INSERT ON items FOR EACH ROW SET NEW.n = 99",
        Db::Sqlite => {
            "CREATE TRIGGER items_n AFTER INSERT ON items BEGIN \
             UPDATE items SET n = 99 WHERE id = NEW.id; END"
        }
        Db::Postgres => {
            "CREATE FUNCTION items_n() RETURNS trigger AS $$ BEGIN NEW.n := 99; RETURN NEW; END $$ \
             LANGUAGE plpgsql; CREATE TRIGGER items_n BEFORE INSERT ON items \
             FOR EACH ROW EXECUTE FUNCTION items_n()"
        }
    }
}

/// A trigger on one table writing another, which the statement does not name.
fn a_trigger_writing_elsewhere(kind: Db) -> Case {
    let audit = match kind {
        Db::MySql => {
            "CREATE TRIGGER audit_items AFTER UPDATE ON items FOR EACH ROW \
             INSERT INTO audit (item_id) VALUES (NEW.id)"
        }
        Db::Sqlite => {
            "CREATE TRIGGER audit_items AFTER UPDATE ON items BEGIN \
             INSERT INTO audit (item_id) VALUES (NEW.id); END"
        }
        Db::Postgres => {
            "CREATE FUNCTION audit_items() RETURNS trigger AS $$ BEGIN \
             INSERT INTO audit (item_id) VALUES (NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER audit_items AFTER UPDATE ON items \
             FOR EACH ROW EXECUTE FUNCTION audit_items()"
        }
    };
    case(
        "a trigger writes a table the statement does not name",
        &[
            "CREATE TABLE items (id INT PRIMARY KEY, n INT)",
            "CREATE TABLE audit (item_id INT)",
            "INSERT INTO items (id, n) VALUES (1, 1)",
            audit,
        ],
        &[
            "SELECT * FROM audit WHERE item_id = 1",
            "SELECT COUNT(*) AS c FROM audit",
        ],
        Write::Sql("UPDATE items SET n = 2 WHERE id = 1"),
    )
}

/// The same trigger, fired in a transaction right after DDL: the DDL made this process forget
/// its catalog and a transaction does not read it again, so nothing shows the trigger then.
fn a_trigger_after_ddl_in_a_transaction(kind: Db) -> Case {
    let mut case = a_trigger_writing_elsewhere(kind);
    case.name = "a trigger fires in a transaction after DDL (no catalog held)";
    case.write = Write::Committed(vec![
        "CREATE TABLE IF NOT EXISTS edge_ddl (id INT)",
        "UPDATE items SET n = 2 WHERE id = 1",
    ]);
    case
}

/// SQLite only: rowid aliases, schema conflict clauses, placeholder styles.
fn sqlite_forms() -> Vec<Case> {
    let t = "CREATE TABLE t (id INTEGER PRIMARY KEY, n INT)";
    let seed = "INSERT INTO t (id, n) VALUES (1, 1), (2, 2)";
    let moved = [
        "SELECT * FROM t WHERE id = 99",
        "SELECT * FROM t WHERE id = 1",
    ];
    vec![
        case("SET rowid moves the key", &[t, seed], &moved, Write::Sql("UPDATE t SET rowid = 99 WHERE id = 1")),
        case("SET oid moves the key", &[t, seed], &moved, Write::Sql("UPDATE t SET oid = 99 WHERE id = 1")),
        case(
            "SET _rowid_ moves the key",
            &[t, seed],
            &moved,
            Write::Sql("UPDATE t SET _rowid_ = 99 WHERE id = 1"),
        ),
        case(
            "WHERE rowid picks the row",
            &[t, seed],
            &["SELECT * FROM t WHERE id = 2"],
            Write::Sql("DELETE FROM t WHERE rowid = 2"),
        ),
        case(
            "ON CONFLICT REPLACE in the schema deletes another row",
            &[
                "CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT UNIQUE ON CONFLICT REPLACE, n INT)",
                "INSERT INTO u (id, email, n) VALUES (1, 'a', 1), (2, 'b', 2)",
            ],
            &["SELECT * FROM u WHERE id = 1", "SELECT * FROM u WHERE n = 1"],
            Write::Sql("INSERT INTO u (id, email, n) VALUES (3, 'a', 3)"),
        ),
        case(
            "a $1 placeholder after ? is the second value",
            &[t, seed],
            &["SELECT * FROM t WHERE id = 2", "SELECT * FROM t WHERE id = 50"],
            Write::Bound("UPDATE t SET n = ? WHERE id = $1", vec![50.into(), 2.into()]),
        ),
        case(
            "?NNN placeholders out of order",
            &[t, seed],
            &["SELECT * FROM t WHERE id = 2", "SELECT * FROM t WHERE id = 50"],
            Write::Bound("UPDATE t SET n = ?2 WHERE id = ?1", vec![2.into(), 50.into()]),
        ),
        case(
            "numbered placeholders",
            &[t, seed],
            &["SELECT * FROM t WHERE id = 2", "SELECT * FROM t WHERE n = 2"],
            Write::Bound("UPDATE t SET n = ?1 WHERE id = ?2 AND n = ?3", vec![9.into(), 2.into(), 2.into()]),
        ),
    ]
}

/// `RETURNING *, 1 AS n`: the expression shadows the real column in the rows returned.
fn a_shadowing_returning() -> Case {
    case(
        "RETURNING *, 1 AS user_id",
        &[
            "CREATE TABLE posts (id INT PRIMARY KEY, user_id INT, title TEXT)",
            "INSERT INTO posts VALUES (1, 5, 'a'), (2, 5, 'b')",
        ],
        &["SELECT * FROM posts WHERE user_id = 5"],
        Write::Query("UPDATE posts SET title = 'x' WHERE id = 2 RETURNING *, 1 AS user_id"),
    )
}

/// Writes through a view land in its base table; writes to the base table change the view.
fn views(kind: Db) -> Vec<Case> {
    let setup = [
        "CREATE TABLE base (id INT PRIMARY KEY, n INT)",
        "INSERT INTO base VALUES (1, 1), (2, 2)",
        "CREATE VIEW v AS SELECT id, n FROM base",
    ];
    let reads = [
        "SELECT * FROM base WHERE id = 1",
        "SELECT * FROM base WHERE id = 3",
        "SELECT * FROM v WHERE id = 2",
    ];
    let mut cases = vec![case(
        "a write to the base table changes the view",
        &setup,
        &reads,
        Write::Sql("UPDATE base SET n = 7 WHERE id = 2"),
    )];
    if kind != Db::Sqlite {
        cases.extend([
            case(
                "UPDATE through a view",
                &setup,
                &reads,
                Write::Sql("UPDATE v SET n = 5 WHERE id = 1"),
            ),
            case(
                "INSERT through a view",
                &setup,
                &reads,
                Write::Sql("INSERT INTO v (id, n) VALUES (3, 3)"),
            ),
            case(
                "DELETE through a view",
                &setup,
                &reads,
                Write::Sql("DELETE FROM v WHERE id = 1"),
            ),
        ]);
    }
    cases
}

/// PostgreSQL: partitions and inheritance children share rows with their parents.
fn postgres_families() -> Vec<Case> {
    let parts = [
        "CREATE TABLE parts (id INT, n INT) PARTITION BY RANGE (id)",
        "CREATE TABLE parts_low PARTITION OF parts FOR VALUES FROM (0) TO (100)",
        "CREATE TABLE parts_high PARTITION OF parts FOR VALUES FROM (100) TO (200)",
        "INSERT INTO parts VALUES (5, 1), (150, 1)",
    ];
    let part_reads = [
        "SELECT * FROM parts WHERE id = 5",
        "SELECT * FROM parts WHERE n = 1",
        "SELECT * FROM parts_low WHERE id = 5",
    ];
    let animals = [
        "CREATE TABLE animals (id INT PRIMARY KEY, n INT)",
        "CREATE TABLE dogs (bark TEXT) INHERITS (animals)",
        "INSERT INTO animals VALUES (1, 1)",
        "INSERT INTO dogs VALUES (2, 1, 'woof')",
    ];
    let animal_reads = [
        "SELECT * FROM animals WHERE n = 1",
        "SELECT * FROM animals WHERE id = 10",
        "SELECT * FROM dogs WHERE id = 2",
    ];
    vec![
        case(
            "a write to a partition",
            &parts,
            &part_reads,
            Write::Sql("UPDATE parts_low SET n = 9 WHERE id = 5"),
        ),
        case(
            "a write to the parent lands in a partition",
            &parts,
            &part_reads,
            Write::Sql("UPDATE parts SET n = 8 WHERE id = 5"),
        ),
        case(
            "an insert into a child",
            &animals,
            &animal_reads,
            Write::Sql("INSERT INTO dogs VALUES (10, 1, 'arf')"),
        ),
        case(
            "a write to the parent reaches the child",
            &animals,
            &animal_reads,
            Write::Sql("UPDATE animals SET n = 3 WHERE id = 2"),
        ),
    ]
}

/// MariaDB: executable comments, `||` as `OR`, modifiers, an implicit commit before DDL.
fn mariadb_forms() -> Vec<Case> {
    let t = "CREATE TABLE t (id INT PRIMARY KEY, n INT)";
    let seed = "INSERT INTO t VALUES (1, 1), (5, 5), (6, 6)";
    let reads = [
        "SELECT * FROM t WHERE id = 6",
        "SELECT * FROM t WHERE id = 1",
    ];
    let mut cases = vec![
        case(
            "an executable comment",
            &[t, seed],
            &reads,
            Write::Sql("UPDATE t SET n = 0 WHERE id = 5 /*M! OR id = 6 */"),
        ),
        case(
            "a MySQL executable comment",
            &[t, seed],
            &reads,
            Write::Sql("UPDATE t SET n = 0 WHERE id = 5 /*! OR id = 6 */"),
        ),
        case(
            "|| is OR",
            &[t, seed],
            &reads,
            Write::Sql("UPDATE t SET n = 0 WHERE id = 5 || id = 6"),
        ),
        case(
            "&& is AND",
            &[t, seed],
            &reads,
            Write::Sql("UPDATE t SET n = 0 WHERE id = 6 && n = 6"),
        ),
        case(
            "UPDATE LOW_PRIORITY",
            &[t, seed],
            &reads,
            Write::Sql("UPDATE LOW_PRIORITY t SET n = 3 WHERE id = 1"),
        ),
        case(
            "UPDATE IGNORE",
            &[t, seed],
            &reads,
            Write::Sql("UPDATE IGNORE t SET n = 3 WHERE id = 6"),
        ),
        case(
            "DELETE QUICK",
            &[t, seed],
            &reads,
            Write::Sql("DELETE QUICK FROM t WHERE id = 6"),
        ),
        case(
            "DDL commits a transaction before its rollback",
            &[t, seed],
            &reads,
            Write::RolledBack(vec![
                "UPDATE t SET n = 9 WHERE id = 6",
                "CREATE TABLE other (id INT)",
            ]),
        ),
    ];
    let mut read_with_comment = case(
        "a cached read with an executable comment",
        &[t, seed],
        &[],
        Write::Sql("UPDATE t SET n = 7 WHERE id = 6"),
    );
    read_with_comment.uncached = vec!["SELECT * FROM t WHERE id = 5 /*M! OR id = 6 */"];
    cases.push(read_with_comment);
    cases
}

/// A table whose name has a dot, written through the connection.
fn a_dotted_name(kind: Db) -> Case {
    let (create, update, read) = match kind {
        Db::MySql => (
            "CREATE TABLE `my.items` (id INT PRIMARY KEY, n INT)",
            "UPDATE `my.items` SET n = 2 WHERE id = 1",
            "SELECT * FROM `my.items` WHERE n = 1",
        ),
        _ => (
            "CREATE TABLE \"my.items\" (id INT PRIMARY KEY, n INT)",
            "UPDATE \"my.items\" SET n = 2 WHERE id = 1",
            "SELECT * FROM \"my.items\" WHERE n = 1",
        ),
    };
    let insert = match kind {
        Db::MySql => "INSERT INTO `my.items` VALUES (1, 1)",
        _ => "INSERT INTO \"my.items\" VALUES (1, 1)",
    };
    case(
        "a table named my.items",
        &[create, insert],
        &[read],
        Write::Sql(update),
    )
}

#[tokio::test]
async fn sqlite() {
    let kind = Db::Sqlite;
    let mut cases = values_the_database_changes(kind);
    cases.push(a_trigger_writing_elsewhere(kind));
    cases.push(a_trigger_after_ddl_in_a_transaction(kind));
    cases.extend(sqlite_forms());
    cases.push(a_shadowing_returning());
    cases.extend(views(kind));
    cases.push(a_dotted_name(kind));
    run(kind, cases).await;
}

#[tokio::test]
async fn postgres() {
    let kind = Db::Postgres;
    let mut cases = values_the_database_changes(kind);
    cases.push(a_trigger_writing_elsewhere(kind));
    cases.push(a_trigger_after_ddl_in_a_transaction(kind));
    cases.push(a_shadowing_returning());
    cases.extend(views(kind));
    cases.extend(postgres_families());
    cases.push(a_dotted_name(kind));
    run(kind, cases).await;
}

#[tokio::test]
async fn mysql() {
    let kind = Db::MySql;
    let mut cases = values_the_database_changes(kind);
    cases.push(a_trigger_writing_elsewhere(kind));
    cases.push(a_trigger_after_ddl_in_a_transaction(kind));
    cases.extend(views(kind));
    cases.extend(mariadb_forms());
    cases.push(a_dotted_name(kind));
    run(kind, cases).await;
}

mod dotted {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
    #[sea_orm(table_name = "my.items")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub n: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Explicit invalidation of a table whose name has a dot bumps that name, not the part after
/// the dot.
#[tokio::test]
async fn invalidating_a_dotted_name() {
    let Some(test) = TestDb::new(Db::Sqlite).await else {
        return;
    };
    test.conn
        .execute_unprepared("CREATE TABLE \"my.items\" (id INTEGER PRIMARY KEY, n INT)")
        .await
        .unwrap();
    let momento = TestCache::start("edges").await;
    let cache = momento.model_cache(|b| b).await;
    let db = CachedConnection::new(test.conn.clone(), &cache);
    let sql = "SELECT * FROM \"my.items\" WHERE n = 1";
    read(&cache, &db, sql).await;
    for how in ["my.items", "\"my.items\"", "entity"] {
        assert_eq!(
            read(&cache, &db, sql).await.1,
            CacheStatus::Hit,
            "{how}: cached"
        );
        match how {
            "entity" => cache.invalidate::<dotted::Entity>().await,
            name => cache.invalidate_table(name).await,
        }
        assert_eq!(
            read(&cache, &db, sql).await.1,
            CacheStatus::Miss,
            "{how}: invalidated"
        );
    }
    momento.server.shutdown().await;
}
