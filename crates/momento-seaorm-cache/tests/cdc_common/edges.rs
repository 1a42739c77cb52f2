//! Change capture at the edges: writes that land in another table than the one named
//! (partitions, inheritance children, views over the table), statement-logged writes with
//! MySQL modifiers, tables with a dot in their name, DDL (columns added or dropped, a table
//! swapped in by two renames) and PostgreSQL's asynchronous commits. Each scenario caches a
//! read, changes the database outside the library, waits until the invalidator has caught up,
//! and compares what the cache serves with what the database answers.

use std::time::{Duration, Instant, SystemTime};

use momento_seaorm_cache::{CacheStatus, LoadAll, Loader};
use sea_orm::{Database, DatabaseConnection, JsonValue, SelectModel, Statement};

use super::{cached, read_with, Cdc, AUDIT, CHILDREN, PARENTS, PATIENCE};
use crate::common::Db;

/// A read of `sql` answers what the database answers now.
async fn assert_fresh(cdc: &Cdc, sql: &str, after: &str) {
    let (rows, status) = cdc.read(sql).await;
    let truth = cdc.truth(sql).await;
    assert_eq!(rows, truth, "{sql} after {after}: served {status:?}");
}

/// Caches each of `reads` (until a hit).
async fn cache_all(cdc: &Cdc, reads: &[&str]) {
    for sql in reads {
        cached(cdc, sql).await;
    }
}

/// Runs each of `setup` in order.
async fn run_all(cdc: &Cdc, setup: &[&str]) {
    for sql in setup {
        cdc.write(sql).await;
    }
}

/// A write to a partition (two levels down) or to an inheritance child invalidates reads of
/// the parent and of every ancestor; so does a write to a partition made after the
/// invalidator started.
pub async fn a_write_to_a_partition_or_child_invalidates_its_ancestors(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "parts").await else {
        return;
    };
    run_all(
        &cdc,
        &[
            "CREATE TABLE parts (id INT NOT NULL, v TEXT NOT NULL) PARTITION BY RANGE (id)",
            "CREATE TABLE parts_low PARTITION OF parts FOR VALUES FROM (0) TO (100) \
             PARTITION BY RANGE (id)",
            "CREATE TABLE parts_low_a PARTITION OF parts_low FOR VALUES FROM (0) TO (50)",
            "INSERT INTO parts VALUES (1, 'one')",
            "CREATE TABLE animals (id INT NOT NULL, v TEXT NOT NULL)",
            "CREATE TABLE cats () INHERITS (animals)",
            "INSERT INTO cats VALUES (1, 'tom')",
        ],
    )
    .await;
    cdc.caught_up().await;
    let parts = "SELECT id, v FROM parts ORDER BY id";
    let parts_low = "SELECT id, v FROM parts_low ORDER BY id";
    let animals = "SELECT id, v FROM animals ORDER BY id";
    cache_all(&cdc, &[parts, parts_low, animals]).await;
    cdc.write("INSERT INTO parts_low_a VALUES (2, 'two')").await;
    cdc.write("UPDATE cats SET v = 'felix' WHERE id = 1").await;
    cdc.caught_up().await;
    for sql in [parts, parts_low, animals] {
        assert_fresh(&cdc, sql, "writes to a partition and a child").await;
    }
    // A partition the invalidator has not seen yet.
    cache_all(&cdc, &[parts]).await;
    cdc.write("CREATE TABLE parts_high PARTITION OF parts FOR VALUES FROM (100) TO (200)")
        .await;
    cdc.write("INSERT INTO parts_high VALUES (150, 'new')")
        .await;
    cdc.caught_up().await;
    assert_fresh(&cdc, parts, "a write to a new partition").await;
    cdc.finish().await;
}

/// A change to a base table invalidates reads of the views over it, of views over those
/// views, and of a view that calls a function (whose tables the catalog does not show).
pub async fn a_write_to_a_base_table_invalidates_the_views_over_it(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "views").await else {
        return;
    };
    let function = match kind {
        Db::Postgres => {
            "CREATE FUNCTION audit_changes() RETURNS INT AS \
             'SELECT changes FROM audit WHERE id = 1' LANGUAGE sql STABLE"
        }
        _ => {
            "CREATE FUNCTION audit_changes() RETURNS INT READS SQL DATA \
             RETURN (SELECT changes FROM audit WHERE id = 1)"
        }
    };
    run_all(
        &cdc,
        &[
            "CREATE VIEW parent_names AS SELECT id, name FROM parent",
            "CREATE VIEW parent_upper AS SELECT id, UPPER(name) AS up FROM parent_names",
            function,
            "CREATE VIEW audit_view AS SELECT audit_changes() AS c",
        ],
    )
    .await;
    cdc.caught_up().await;
    let reads = [
        "SELECT id, name FROM parent_names ORDER BY id",
        "SELECT id, up FROM parent_upper ORDER BY id",
        "SELECT c FROM audit_view",
    ];
    cache_all(&cdc, &reads).await;
    // The trigger on parent changes audit, which audit_view reads through the function.
    cdc.write("UPDATE parent SET name = 'uno' WHERE id = 1")
        .await;
    cdc.caught_up().await;
    for sql in reads {
        assert_fresh(&cdc, sql, "an UPDATE of the base table").await;
    }
    cdc.finish().await;
}

/// Tables whose name contains a dot are invalidated under their real name.
pub async fn a_table_with_a_dot_in_its_name_is_invalidated(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "dotted").await else {
        return;
    };
    let (create, insert, read, update) = match kind {
        Db::Postgres => (
            r#"CREATE TABLE "my.items" (id INT PRIMARY KEY, v TEXT NOT NULL)"#,
            r#"INSERT INTO "my.items" VALUES (1, 'old')"#,
            r#"SELECT id, v FROM "my.items" ORDER BY id"#,
            r#"UPDATE "my.items" SET v = 'new' WHERE id = 1"#,
        ),
        _ => (
            "CREATE TABLE `my.items` (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)",
            "INSERT INTO `my.items` VALUES (1, 'old')",
            "SELECT id, v FROM `my.items` ORDER BY id",
            "UPDATE `my.items` SET v = 'new' WHERE id = 1",
        ),
    };
    cdc.write(create).await;
    cdc.write(insert).await;
    cdc.caught_up().await;
    cache_all(&cdc, &[read]).await;
    cdc.write(update).await;
    cdc.caught_up().await;
    assert_fresh(&cdc, read, "an UPDATE of a dotted table").await;
    cdc.finish().await;
}

/// Statement-logged writes (a session in `binlog_format = STATEMENT`) with MySQL's
/// modifiers (`IGNORE`, `LOW_PRIORITY`) invalidate the table they write, and a
/// statement-logged write through a view invalidates the view's base table; the table a
/// trigger writes (not logged: a replica runs the trigger itself) is invalidated too.
pub async fn statement_logged_writes_with_modifiers_invalidate(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "modifiers").await else {
        return;
    };
    cdc.write("CREATE VIEW parent_names AS SELECT id, name FROM parent")
        .await;
    cdc.caught_up().await;
    let statement = "SET SESSION binlog_format = 'STATEMENT'";
    for (i, write) in [
        "UPDATE IGNORE parent SET name = 'w0' WHERE id = 1",
        "UPDATE LOW_PRIORITY parent SET name = 'w1' WHERE id = 1",
        "UPDATE LOW_PRIORITY IGNORE parent SET name = 'w2' WHERE id = 1",
        "INSERT IGNORE INTO parent VALUES (3, 'w3')",
        "DELETE LOW_PRIORITY QUICK IGNORE FROM parent WHERE id = 3",
        "UPDATE parent_names SET name = 'w5' WHERE id = 1",
    ]
    .into_iter()
    .enumerate()
    {
        cache_all(&cdc, &[PARENTS, AUDIT]).await;
        cdc.write_with_cli(&format!("{statement}; {write}"));
        cdc.caught_up().await;
        assert_fresh(&cdc, PARENTS, &format!("write {i}: {write}")).await;
        assert_fresh(&cdc, AUDIT, &format!("the trigger of write {i}: {write}")).await;
    }
    // `child` has no trigger: its table is found under the modifiers, and only it (and what
    // reaches it) is invalidated, not everything.
    let everything = format!("{}:gen-all", cdc.cache.prefix());
    for write in [
        "UPDATE LOW_PRIORITY IGNORE child SET note = 'c0' WHERE id = 10",
        "DELETE QUICK IGNORE FROM child WHERE id = 20",
    ] {
        cached(&cdc, CHILDREN).await;
        let before = cdc.momento.raw(&everything).await;
        cdc.write_with_cli(&format!("{statement}; {write}"));
        cdc.caught_up().await;
        assert_fresh(&cdc, CHILDREN, write).await;
        assert_eq!(
            cdc.momento.raw(&everything).await,
            before,
            "{write} invalidated everything"
        );
    }
    cdc.finish().await;
}

/// Columns added or dropped invalidate cached `SELECT *` reads.
pub async fn adding_or_dropping_a_column_invalidates(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "columns").await else {
        return;
    };
    let conn = unprepared(&cdc).await;
    let star = "SELECT * FROM parent ORDER BY id";
    for ddl in [
        "ALTER TABLE parent ADD COLUMN extra INT NOT NULL DEFAULT 7",
        "ALTER TABLE parent DROP COLUMN extra",
    ] {
        for _ in 0..50 {
            if read_with(&cdc.cache, &conn, star).await.1 == CacheStatus::Hit {
                break;
            }
        }
        cdc.write(ddl).await;
        cdc.caught_up().await;
        let (rows, status) = read_with(&cdc.cache, &conn, star).await;
        assert_eq!(
            rows,
            truth_with(&conn, star).await,
            "{star} after {ddl}: served {status:?}"
        );
    }
    cdc.finish().await;
}

/// A connection for `SELECT *` across DDL: PostgreSQL refuses a prepared `SELECT *` whose
/// columns changed ("cached plan must not change result type"), so on PostgreSQL it
/// prepares nothing.
async fn unprepared(cdc: &Cdc) -> DatabaseConnection {
    match cdc.kind {
        Db::Postgres => {
            let url = super::postgres_url();
            let sep = if url.contains('?') { '&' } else { '?' };
            let url = format!(
                "{url}{sep}options=-c%20search_path%3D{}&statement-cache-capacity=0",
                cdc.schema
            );
            Database::connect(&url).await.expect("connect")
        }
        _ => cdc.db.conn.clone(),
    }
}

/// `sql` straight from the database through `conn`.
async fn truth_with(conn: &DatabaseConnection, sql: &str) -> Vec<JsonValue> {
    let statement = Statement::from_string(conn.get_database_backend(), sql);
    LoadAll::<SelectModel<JsonValue>>::new(statement)
        .load(conn)
        .await
        .expect("database read")
}

/// DDL in a transaction that also changes rows (PostgreSQL: the transaction decodes with its
/// rows, so only the periodic catalog comparison finds the DDL) is invalidated within the
/// stated bound (`DDL_CHECK_EVERY`, 500 ms, plus a poll); checked with a generous margin.
pub async fn ddl_with_row_changes_in_one_transaction_is_invalidated_within_the_bound(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "mixedddl").await else {
        return;
    };
    cdc.write("CREATE TABLE items (id INT PRIMARY KEY, v TEXT NOT NULL)")
        .await;
    cdc.write("INSERT INTO items VALUES (1, 'a')").await;
    cdc.caught_up().await;
    let conn = unprepared(&cdc).await;
    let star = "SELECT * FROM items ORDER BY id";
    for _ in 0..50 {
        if read_with(&cdc.cache, &conn, star).await.1 == CacheStatus::Hit {
            break;
        }
    }
    cdc.write(
        "BEGIN; UPDATE parent SET name = 'mixed' WHERE id = 1; \
         ALTER TABLE items ADD COLUMN extra INT NOT NULL DEFAULT 7; COMMIT",
    )
    .await;
    let committed = Instant::now();
    let truth = truth_with(&conn, star).await;
    loop {
        let (rows, status) = read_with(&cdc.cache, &conn, star).await;
        if rows == truth {
            break;
        }
        assert!(
            committed.elapsed() < Duration::from_secs(5),
            "{star} still served {status:?} 5 s after the DDL"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "cdc {kind:?}: DDL with row changes invalidated {:.0} ms after its commit",
        committed.elapsed().as_secs_f64() * 1e3
    );
    cdc.finish().await;
}

/// A table swapped in by two renames invalidates reads of its name.
pub async fn a_table_swapped_in_by_renames_invalidates(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "swap").await else {
        return;
    };
    let text = if kind == Db::Postgres {
        "TEXT"
    } else {
        "VARCHAR(20)"
    };
    run_all(
        &cdc,
        &[
            &format!("CREATE TABLE items (id INT PRIMARY KEY, v {text} NOT NULL)"),
            &format!("CREATE TABLE items_new (id INT PRIMARY KEY, v {text} NOT NULL)"),
            "INSERT INTO items VALUES (1, 'old')",
            "INSERT INTO items_new VALUES (1, 'new')",
        ],
    )
    .await;
    cdc.caught_up().await;
    let read = "SELECT id, v FROM items ORDER BY id";
    cache_all(&cdc, &[read]).await;
    match kind {
        Db::Postgres => {
            cdc.write(
                "BEGIN; ALTER TABLE items RENAME TO items_old; \
                 ALTER TABLE items_new RENAME TO items; COMMIT",
            )
            .await
        }
        _ => {
            cdc.write("ALTER TABLE items RENAME TO items_old").await;
            cdc.write("ALTER TABLE items_new RENAME TO items").await;
        }
    }
    cdc.caught_up().await;
    assert_fresh(&cdc, read, "two renames").await;
    if kind == Db::MySql {
        // And back, in one statement.
        cache_all(&cdc, &[read]).await;
        cdc.write("RENAME TABLE items TO items_new, items_old TO items")
            .await;
        cdc.caught_up().await;
        assert_fresh(&cdc, read, "RENAME TABLE a TO b, c TO a").await;
    }
    cdc.finish().await;
}

/// An asynchronously committed write (`synchronous_commit = off`: the commit returns before
/// its WAL is flushed, and logical decoding reads only flushed WAL) is invalidated before
/// `caught_up_to_now()` returns.
pub async fn an_asynchronous_commit_is_caught_up(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "async").await else {
        return;
    };
    for i in 0..10 {
        cached(&cdc, PARENTS).await;
        cdc.write(&format!(
            "BEGIN; SET LOCAL synchronous_commit = off; \
             UPDATE parent SET name = 'async{i}' WHERE id = 1; COMMIT"
        ))
        .await;
        cdc.caught_up().await;
        assert_fresh(&cdc, PARENTS, &format!("asynchronous commit {i}")).await;
    }
    cdc.finish().await;
}

/// The progress the health gate uses (no one calls `caught_up_to_now`) never claims an
/// instant whose asynchronous commits are not yet invalidated.
pub async fn the_health_gate_never_claims_an_undecoded_asynchronous_commit(kind: Db) {
    let Some(cdc) = Cdc::new(kind, "asyncgate").await else {
        return;
    };
    for i in 0..10 {
        cached(&cdc, PARENTS).await;
        cdc.write(&format!(
            "BEGIN; SET LOCAL synchronous_commit = off; \
             UPDATE parent SET name = 'gate{i}' WHERE id = 1; COMMIT"
        ))
        .await;
        let committed = SystemTime::now();
        let started = Instant::now();
        while cdc.health.caught_up_at().is_none_or(|at| at <= committed) {
            assert!(started.elapsed() < PATIENCE, "no progress");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let (rows, status) = cdc.read(PARENTS).await;
        assert_eq!(
            rows,
            cdc.truth(PARENTS).await,
            "asynchronous commit {i}: served {status:?} once the gate claimed it"
        );
        assert_ne!(status, CacheStatus::Bypass, "the gate is open");
    }
    cdc.finish().await;
}
