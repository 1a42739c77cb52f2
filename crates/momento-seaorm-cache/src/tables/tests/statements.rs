//! Statements that change nothing, run something unseen, or are not understood.

use super::*;

#[test]
fn control_statements_change_nothing_and_garbage_is_unknown() {
    for sql in [
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT sp1",
        "RELEASE SAVEPOINT sp1",
        "ROLLBACK TO SAVEPOINT sp1",
        "START TRANSACTION",
        "SET TIME ZONE 'UTC'",
        "SET search_path TO app",
        "SHOW search_path",
        "EXPLAIN SELECT * FROM users",
        "EXPLAIN UPDATE users SET x = 1",
        "LOCK TABLE users IN ACCESS EXCLUSIVE MODE",
        "",
    ] {
        assert_is(Postgres, sql, Touches::Nothing);
    }
    for sql in [
        "SET NAMES utf8mb4",
        "SHOW TABLES",
        "EXPLAIN DELETE FROM users",
        "DESCRIBE users",
    ] {
        assert_is(MySql, sql, Touches::Nothing);
    }
    assert_is(
        Sqlite,
        "EXPLAIN QUERY PLAN DELETE FROM users",
        Touches::Nothing,
    );
    assert_is(Postgres, "THIS IS NOT SQL", Touches::Unknown);
    assert_is(Postgres, "CALL refresh_everything()", Touches::Unknown);
}

#[test]
fn explain_analyze_runs_its_statement() {
    assert_eq!(
        writes(Postgres, "EXPLAIN ANALYZE UPDATE users SET x = 1"),
        ["users"]
    );
    assert_eq!(
        writes(Postgres, "EXPLAIN (ANALYZE, BUFFERS) DELETE FROM users"),
        ["users"]
    );
    assert_eq!(
        writes(MySql, "EXPLAIN ANALYZE DELETE FROM `users`"),
        ["users"]
    );
    assert_is(
        Postgres,
        "EXPLAIN (ANALYZE false) DELETE FROM users",
        Touches::Nothing,
    );
    assert_is(
        Postgres,
        "EXPLAIN ANALYZE SELECT * FROM users",
        Touches::Nothing,
    );
    assert_is(
        Postgres,
        "EXPLAIN ANALYZE SELECT my_func()",
        Touches::Unknown,
    );
}

#[test]
fn pragmas_that_set_are_unknown() {
    assert_is(Sqlite, "PRAGMA foreign_keys", Touches::Nothing);
    assert_is(Sqlite, "PRAGMA user_version = 3", Touches::Unknown);
    assert_is(Sqlite, "PRAGMA foreign_keys = ON", Touches::Unknown);
    assert_is(Sqlite, "PRAGMA table_info('users')", Touches::Unknown);
}

#[test]
fn maintenance_changes_nothing_where_it_parses() {
    // Statistics and space reclaiming change no row a query sees.
    for (backend, sql) in [
        (Postgres, "VACUUM"),
        (Postgres, "VACUUM FULL users"),
        (Postgres, "ANALYZE users"),
        (Sqlite, "VACUUM"),
        (Sqlite, "ANALYZE"),
        (MySql, "ANALYZE TABLE `users`"),
    ] {
        assert_is(backend, sql, Touches::Nothing);
    }
    // A form the parser rejects is not understood.
    assert_is(Sqlite, "VACUUM INTO '/tmp/copy.db'", Touches::Unknown);
}

#[test]
fn procedures_and_dynamic_sql_are_unknown() {
    for backend in ALL {
        assert_is(backend, "CALL refresh_everything()", Touches::Unknown);
    }
    assert_is(
        Postgres,
        "DO $$ BEGIN DELETE FROM users; END $$",
        Touches::Unknown,
    );
    assert_is(Postgres, "EXECUTE purge(1)", Touches::Unknown);
    assert_is(MySql, "EXECUTE stmt USING @a", Touches::Unknown);
    // Preparing runs nothing; executing it is what counts.
    assert_is(
        Postgres,
        "PREPARE purge AS DELETE FROM users",
        Touches::Nothing,
    );
    assert_is(
        Postgres,
        "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql",
        Touches::Unknown,
    );
}
