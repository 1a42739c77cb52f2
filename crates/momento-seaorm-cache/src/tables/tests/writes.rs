//! Writes: every statement that can write is seen as a write, wherever it appears.

use super::*;

#[test]
fn writes_in_each_dialect() {
    assert_eq!(
        writes(
            Postgres,
            r#"INSERT INTO "users" ("name") VALUES ($1) RETURNING "id""#
        ),
        ["users"]
    );
    assert_eq!(
        writes(MySql, "UPDATE `users` SET `name` = ? WHERE `id` = ?"),
        ["users"]
    );
    assert_eq!(
        writes(
            Sqlite,
            r#"DELETE FROM "users" WHERE "id" IN (SELECT "id" FROM "old")"#
        ),
        ["old", "users"]
    );
    assert_eq!(writes(Postgres, "TRUNCATE TABLE audit"), ["audit"]);
    assert_eq!(
        writes(Sqlite, "DROP TABLE IF EXISTS temp_stuff"),
        ["temp_stuff"]
    );
    assert_eq!(
        writes(MySql, "ALTER TABLE `users` ADD COLUMN `x` INT"),
        ["users"]
    );
    assert_eq!(writes(Postgres, "CREATE TABLE fresh (id INT)"), ["fresh"]);
}

#[test]
fn data_modifying_ctes_are_writes() {
    // The known bug: this was taken for a read of nothing.
    assert_writes(
        Postgres,
        "WITH moved AS (UPDATE users SET group_id = 2 WHERE id = 1 RETURNING id) \
         SELECT id FROM moved",
        &["users"],
    );
    assert_writes(
        Postgres,
        "WITH gone AS (DELETE FROM sessions WHERE expires < now() RETURNING user_id), \
         added AS (INSERT INTO audit (user_id) SELECT user_id FROM gone RETURNING id) \
         SELECT count(*) FROM added",
        &["sessions", "audit"],
    );
    // Nested in a CTE's body, and in a subquery's CTE.
    assert_writes(
        Postgres,
        "WITH outer_cte AS (WITH inner_cte AS (DELETE FROM jobs RETURNING id) \
         SELECT id FROM inner_cte) SELECT * FROM outer_cte",
        &["jobs"],
    );
    assert_writes(
        Postgres,
        "SELECT * FROM (WITH d AS (DELETE FROM jobs RETURNING id) SELECT id FROM d) AS s",
        &["jobs"],
    );
    // A CTE inside INSERT ... SELECT.
    assert_writes(
        Postgres,
        "INSERT INTO archive WITH gone AS (DELETE FROM users WHERE id = 1 RETURNING *) \
         SELECT * FROM gone",
        &["archive", "users"],
    );
    // A data-modifying CTE before a data-modifying statement.
    assert_writes(
        Postgres,
        "WITH n AS (INSERT INTO a (x) VALUES (1) RETURNING x) UPDATE b SET y = n.x FROM n",
        &["a", "b"],
    );
}

#[test]
fn a_write_target_named_like_a_cte_is_still_the_table() {
    for backend in ALL {
        assert_writes(
            backend,
            "WITH users AS (SELECT 1 AS id) DELETE FROM users WHERE id IN (SELECT id FROM users)",
            &["users"],
        );
        assert_writes(
            backend,
            "WITH recent AS (SELECT id FROM orders) \
             UPDATE users SET x = 1 WHERE id IN (SELECT id FROM recent)",
            &["users", "orders"],
        );
    }
}

#[test]
fn upserts_and_replaces_write_the_target() {
    let on_conflict = "INSERT INTO users (id, name) VALUES (1, 'a') \
                       ON CONFLICT (id) DO UPDATE SET name = excluded.name";
    assert_eq!(writes(Postgres, on_conflict), ["users"]);
    assert_eq!(writes(Sqlite, on_conflict), ["users"]);
    assert_eq!(
        writes(
            Postgres,
            "INSERT INTO users (id) VALUES (1) ON CONFLICT DO NOTHING"
        ),
        ["users"]
    );
    assert_eq!(
        writes(
            MySql,
            "INSERT INTO `users` (`id`, `name`) VALUES (1, 'a') \
             ON DUPLICATE KEY UPDATE `name` = VALUES(`name`)"
        ),
        ["users"]
    );
    assert_eq!(
        writes(MySql, "REPLACE INTO `users` (`id`) VALUES (1)"),
        ["users"]
    );
    assert_eq!(
        writes(Sqlite, r#"REPLACE INTO "users" ("id") VALUES (1)"#),
        ["users"]
    );
    assert_eq!(
        writes(
            Sqlite,
            r#"INSERT OR REPLACE INTO "users" ("id") VALUES (1)"#
        ),
        ["users"]
    );
    assert_eq!(
        writes(Sqlite, r#"INSERT OR IGNORE INTO "users" ("id") VALUES (1)"#),
        ["users"]
    );
    assert_writes(
        Postgres,
        "MERGE INTO accounts a USING staged s ON a.id = s.id \
         WHEN MATCHED THEN UPDATE SET balance = s.balance \
         WHEN NOT MATCHED THEN INSERT (id, balance) VALUES (s.id, s.balance)",
        &["accounts"],
    );
}

#[test]
fn multi_table_writes_write_every_table() {
    assert_writes(
        MySql,
        "UPDATE `users` `u` JOIN `groups` `g` ON `u`.`gid` = `g`.`id` SET `g`.`n` = 1",
        &["users", "groups"],
    );
    assert_writes(
        MySql,
        "DELETE `t1` FROM `users` AS `t1` JOIN `bans` ON `t1`.`id` = `bans`.`uid`",
        &["users", "bans"],
    );
    assert_writes(
        Postgres,
        "DELETE FROM users USING bans WHERE users.id = bans.uid",
        &["users"],
    );
    assert_writes(
        Postgres,
        "UPDATE users SET n = g.n FROM groups g WHERE users.gid = g.id",
        &["users"],
    );
}

#[test]
fn multi_statement_strings_union_their_writes() {
    for backend in ALL {
        assert_eq!(
            writes(
                backend,
                "UPDATE a SET x = 1 WHERE id = 2; DELETE FROM b WHERE id = 3"
            ),
            ["a", "b"],
            "{backend:?}"
        );
        assert_eq!(writes(backend, "SELECT 1; UPDATE t SET x = 1"), ["t"]);
        assert_eq!(
            writes(backend, "SELECT * FROM r; INSERT INTO w (x) VALUES (1);"),
            ["r", "w"]
        );
        assert_eq!(writes(backend, "BEGIN; UPDATE t SET x = 1; COMMIT"), ["t"]);
        assert_eq!(
            reads(backend, "SELECT * FROM a; SELECT * FROM b"),
            ["a", "b"]
        );
        assert_is(backend, "BEGIN; COMMIT;", Touches::Nothing);
        assert_is(backend, "SELECT 1; CALL p()", Touches::Unknown);
    }
    // Statements not separated by `;` do not parse.
    assert_is(
        Postgres,
        "SELECT 1 FROM t END DELETE FROM u",
        Touches::Unknown,
    );
}

#[test]
fn bulk_loads_write_the_table() {
    assert_eq!(writes(Postgres, "COPY users FROM STDIN"), ["users"]);
    assert_eq!(
        writes(
            Postgres,
            "COPY users (id, name) FROM '/tmp/users.csv' WITH (FORMAT csv)"
        ),
        ["users"]
    );
    assert_is(Postgres, "COPY users TO STDOUT", Touches::Nothing);
    assert_is(
        Postgres,
        "COPY users FROM PROGRAM 'gunzip -c /tmp/u.gz'",
        Touches::Unknown,
    );
    // An export runs its query, which may write.
    assert_eq!(
        writes(Postgres, "COPY (DELETE FROM users RETURNING id) TO STDOUT"),
        ["users"]
    );
    assert_writes_or_unknown(
        MySql,
        "LOAD DATA INFILE '/tmp/users.csv' INTO TABLE `users`",
        &["users"],
    );
    assert_writes_or_unknown(
        MySql,
        "LOAD DATA LOCAL INFILE '/tmp/users.csv' INTO TABLE `users` FIELDS TERMINATED BY ','",
        &["users"],
    );
}

#[test]
fn schema_changes_write_the_named_tables() {
    assert_eq!(writes(Postgres, "TRUNCATE a, b"), ["a", "b"]);
    assert_is(Postgres, "TRUNCATE a CASCADE", Touches::Unknown);
    assert_eq!(
        writes(Postgres, "ALTER TABLE old_name RENAME TO new_name"),
        ["new_name", "old_name"]
    );
    assert_is(Postgres, "DROP TABLE users CASCADE", Touches::Unknown);
    assert_is(Postgres, "DROP SCHEMA app CASCADE", Touches::Unknown);
    assert_eq!(writes(Postgres, "DROP VIEW IF EXISTS v"), ["v"]);
    assert_eq!(
        writes(
            Postgres,
            "CREATE TABLE snapshot AS SELECT * FROM users WHERE active"
        ),
        ["snapshot", "users"]
    );
    assert_eq!(
        writes(Postgres, "SELECT * INTO snapshot FROM users"),
        ["snapshot", "users"]
    );
    for backend in ALL {
        assert_eq!(
            writes(backend, "CREATE INDEX idx_users_name ON users (name)"),
            ["users"]
        );
        assert_eq!(
            writes(backend, "CREATE VIEW active AS SELECT * FROM users"),
            ["active", "users"]
        );
    }
    assert_eq!(
        writes(MySql, "RENAME TABLE `a` TO `b`, `c` TO `d`"),
        ["a", "b", "c", "d"]
    );
    assert_writes(MySql, "DROP INDEX `idx` ON `users`", &["users"]);
    assert_eq!(
        writes(Postgres, "REFRESH MATERIALIZED VIEW totals"),
        ["totals"]
    );
}

#[test]
fn writes_stay_writes_wherever_they_appear() {
    let writes_by_dialect: [(DbBackend, &[&str]); 3] = [
        (
            Postgres,
            &[
                "UPDATE t SET x = 1",
                "INSERT INTO t (x) VALUES (1) ON CONFLICT (x) DO UPDATE SET x = 2",
                "DELETE FROM t",
                "WITH c AS (DELETE FROM t RETURNING x) SELECT x FROM c",
                "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
                "TRUNCATE t",
                "COPY t FROM STDIN",
            ],
        ),
        (
            MySql,
            &[
                "UPDATE t SET x = 1",
                "INSERT INTO t (x) VALUES (1) ON DUPLICATE KEY UPDATE x = 2",
                "REPLACE INTO t (x) VALUES (1)",
                "DELETE FROM t",
            ],
        ),
        (
            Sqlite,
            &[
                "UPDATE t SET x = 1",
                "INSERT OR REPLACE INTO t (x) VALUES (1)",
                "REPLACE INTO t (x) VALUES (1)",
                "DELETE FROM t",
            ],
        ),
    ];
    for (backend, statements) in writes_by_dialect {
        for statement in statements {
            for sql in [
                statement.to_string(),
                format!("SELECT 1 FROM r; {statement}"),
                format!("{statement}; SELECT 1 FROM r"),
                format!("BEGIN; {statement}; COMMIT"),
            ] {
                assert_writes(backend, &sql, &["t"]);
            }
        }
    }
}
