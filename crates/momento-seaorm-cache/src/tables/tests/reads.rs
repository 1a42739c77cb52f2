//! Reads: the tables named, CTE scoping, locking reads, and the functions a read may call.

use super::*;

#[test]
fn reads_include_joins_and_subqueries_but_not_ctes() {
    let sql = r#"WITH recent AS (SELECT * FROM "orders") SELECT "users"."id" FROM "users"
        INNER JOIN "user_groups" ON 1 = 1
        WHERE "users"."id" IN (SELECT "user_id" FROM "App"."Payments") AND EXISTS (SELECT 1 FROM recent)"#;
    assert_eq!(
        reads(Postgres, sql),
        ["orders", "payments", "user_groups", "users"]
    );
    assert_eq!(
        reads(
            MySql,
            "SELECT `a`.`x` FROM `a` LEFT JOIN `b` ON `a`.`id` = `b`.`id`"
        ),
        ["a", "b"]
    );
}

#[test]
fn cte_names_shadow_tables_only_where_visible() {
    // A non-recursive CTE's own body reads the table it shadows.
    assert_eq!(
        reads(
            Postgres,
            "WITH users AS (SELECT * FROM users WHERE active) SELECT * FROM users"
        ),
        ["users"]
    );
    // A CTE in a subquery does not hide the table outside it.
    assert_eq!(
        reads(
            Postgres,
            "SELECT * FROM (WITH t AS (SELECT 1 AS x) SELECT x FROM t) s JOIN t ON true"
        ),
        ["t"]
    );
    // Later CTEs and the main body see earlier ones; a recursive CTE sees itself.
    for backend in ALL {
        assert_eq!(
            reads(
                backend,
                "WITH RECURSIVE tree AS (SELECT id FROM nodes UNION ALL \
                 SELECT n.id FROM nodes n JOIN tree ON n.parent = tree.id), \
                 top AS (SELECT id FROM tree) SELECT * FROM top"
            ),
            ["nodes"]
        );
    }
    // Only a reference spelled like the CTE (in every dialect's folding) is the CTE.
    assert_eq!(
        reads(
            Postgres,
            r#"WITH Users AS (SELECT 1 AS id) SELECT * FROM "Users", "users", users"#
        ),
        ["users"]
    );
    assert_eq!(
        reads(
            Postgres,
            r#"WITH "users" AS (SELECT 1 AS id) SELECT * FROM users"#
        ),
        Vec::<String>::new()
    );
    assert_eq!(reads(Postgres, "SELECT * FROM a UNION TABLE b"), ["a", "b"]);
    assert_eq!(reads(Postgres, "(TABLE b)"), ["b"]);
}

#[test]
fn locking_reads_are_reads() {
    for sql in [
        "SELECT id FROM users WHERE id = 1 FOR UPDATE",
        "SELECT id FROM users WHERE id = 1 FOR SHARE",
        "SELECT id FROM users WHERE id = 1 FOR UPDATE SKIP LOCKED",
    ] {
        assert_eq!(reads(Postgres, sql), ["users"], "{sql}");
        assert_eq!(reads(MySql, sql), ["users"], "{sql}");
    }
    // Locking forms the parser rejects are not understood: not cached, never a write missed.
    assert_is(
        Postgres,
        "SELECT id FROM users FOR NO KEY UPDATE",
        Touches::Unknown,
    );
    assert_is(
        MySql,
        "SELECT id FROM users LOCK IN SHARE MODE",
        Touches::Unknown,
    );
}

#[test]
fn what_seaorm_emits_stays_a_read() {
    // Paginate's count, casts, aggregates, case folding, exists, window functions.
    assert_eq!(
        reads(
            Postgres,
            r#"SELECT COUNT(*) AS num_items FROM (SELECT "cake"."id" FROM "cake") AS "sub_query""#
        ),
        ["cake"]
    );
    assert_eq!(
        reads(
            MySql,
            "SELECT COUNT(*) AS num_items FROM (SELECT `cake`.`id` FROM `cake`) AS `sub_query`"
        ),
        ["cake"]
    );
    for backend in ALL {
        assert_eq!(
            reads(
                backend,
                r#"SELECT CAST("id" AS TEXT), LOWER("name"), UPPER("name"), COALESCE(MAX("n"), 0),
                   SUM("n"), AVG("n"), MIN("n"), ABS(-1), LENGTH("name"), ROUND(1.5)
                   FROM "t" GROUP BY "name""#
            ),
            ["t"]
        );
        assert_eq!(
            reads(
                backend,
                r#"SELECT EXISTS(SELECT 1 FROM "t" WHERE "t"."id" = 1) AS "exists""#
            ),
            ["t"]
        );
        assert_eq!(
            reads(
                backend,
                "SELECT id, ROW_NUMBER() OVER (PARTITION BY g ORDER BY id) FROM t \
                 WHERE created < CURRENT_TIMESTAMP"
            ),
            ["t"]
        );
    }
}

#[test]
fn read_only_built_ins_of_each_dialect_keep_a_read_a_read() {
    assert_eq!(
        reads(
            Postgres,
            r#"SELECT "id"::text, json_build_object('a', "a"), json_agg("b"), array_agg("c"),
               date_trunc('day', "at"), now() FROM "t"
               WHERE "id" = ANY($1) AND to_tsvector("body") @@ to_tsquery($2)"#
        ),
        ["t"]
    );
    assert_eq!(
        reads(Postgres, "SELECT pg_catalog.lower(name) FROM t"),
        ["t"]
    );
    assert_eq!(
        reads(Postgres, "SELECT * FROM generate_series(1, 3)"),
        ["generate_series"]
    );
    assert_eq!(
        reads(
            MySql,
            "SELECT IFNULL(`a`, 0), JSON_EXTRACT(`j`, '$.x'), NOW() FROM `t`"
        ),
        ["t"]
    );
    assert_eq!(
        reads(
            Sqlite,
            r#"SELECT IFNULL("a", 0), datetime('now'), json_extract("j", '$.x') FROM "t""#
        ),
        ["t"]
    );
}

#[test]
fn a_function_not_known_read_only_makes_a_statement_unknown() {
    for backend in ALL {
        for sql in [
            "SELECT my_func()",
            "SELECT id, archive_user(id) FROM users",
            "SELECT * FROM users WHERE touch(id) > 0",
            "SELECT nextval('users_id_seq')",
            "SELECT setval('users_id_seq', 10)",
            "SELECT set_config('search_path', 'app', false)",
            "UPDATE users SET x = my_func()",
            "SELECT app.lower(name) FROM users",
        ] {
            assert_is(backend, sql, Touches::Unknown);
        }
    }
    assert_is(Postgres, "SELECT * FROM my_func()", Touches::Unknown);
    assert_is(
        Postgres,
        "SELECT * FROM users, LATERAL f(users.id) x",
        Touches::Unknown,
    );
    assert_is(Postgres, "SELECT a ### b FROM t", Touches::Unknown);
}

#[test]
fn uncacheable_built_ins_make_a_read_nothing() {
    // Not cached (a random pick or a lock is not a function of the tables), and no
    // invalidation either: they change no table.
    for (backend, sql) in [
        (Postgres, "SELECT * FROM t ORDER BY RANDOM() LIMIT 1"),
        (MySql, "SELECT * FROM t ORDER BY RAND() LIMIT 1"),
        (Sqlite, "SELECT * FROM t ORDER BY RANDOM() LIMIT 1"),
        (Postgres, "SELECT pg_advisory_lock(1)"),
        (Postgres, "SELECT pg_try_advisory_xact_lock(42)"),
        (Postgres, "SELECT gen_random_uuid()"),
        (Postgres, "SELECT currval('users_id_seq')"),
        (MySql, "SELECT LAST_INSERT_ID()"),
        (MySql, "SELECT GET_LOCK('job', 10)"),
        (Sqlite, "SELECT last_insert_rowid()"),
    ] {
        assert_is(backend, sql, Touches::Nothing);
    }
    // In a write they change nothing about what is written.
    assert_eq!(
        writes(Postgres, "INSERT INTO t (id) VALUES (gen_random_uuid())"),
        ["t"]
    );
    // Next to an unknown call, unknown wins.
    assert_is(Postgres, "SELECT random(), my_func()", Touches::Unknown);
}
