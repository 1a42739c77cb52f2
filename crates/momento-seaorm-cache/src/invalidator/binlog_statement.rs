//! Statements in the binary log (query events): what each does to the transaction around it,
//! and its text with MySQL's modifiers taken out so the parser finds the real table
//! (`UPDATE IGNORE t` parses as a table named `ignore` aliased `t`).

/// What a statement logged as a query event does to the transaction around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryKind {
    /// `BEGIN`, `XA START`.
    Begin,
    /// `COMMIT`, `ROLLBACK` (non-transactional changes stay), `XA COMMIT`.
    End,
    /// Savepoints: inside a transaction, no change of their own.
    Savepoint,
    /// Accounts, privileges, `CREATE DATABASE`, maintenance: commit implicitly, change no
    /// cached table.
    Admin,
    /// Schema changes and `TRUNCATE`: commit implicitly and change their tables.
    Ddl,
    /// A statement-logged data change: part of the transaction around it.
    Dml,
}

pub(crate) fn classify(sql: &str) -> QueryKind {
    let head: String = sql
        .trim_start()
        .chars()
        .take(24)
        .collect::<String>()
        .to_ascii_uppercase();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| head.starts_with(p));
    if head == "BEGIN" || starts(&["XA START", "XA BEGIN"]) {
        QueryKind::Begin
    } else if starts(&["SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO"]) {
        QueryKind::Savepoint
    } else if head == "COMMIT" || starts(&["ROLLBACK", "XA COMMIT", "XA ROLLBACK", "XA END"]) {
        QueryKind::End
    } else if starts(&[
        "GRANT",
        "REVOKE",
        "CREATE USER",
        "DROP USER",
        "ALTER USER",
        "RENAME USER",
        "CREATE ROLE",
        "DROP ROLE",
        "SET PASSWORD",
        "CREATE DATABASE",
        "CREATE SCHEMA",
        "ALTER DATABASE",
        "FLUSH",
        "ANALYZE",
        "OPTIMIZE",
        "XA PREPARE",
    ]) {
        QueryKind::Admin
    } else if starts(&["CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME"]) {
        QueryKind::Ddl
    } else {
        QueryKind::Dml
    }
}

/// Modifiers MySQL allows between a statement's keyword and its table, none of which changes
/// which table is written.
const MODIFIERS: &[&str] = &[
    "LOW_PRIORITY",
    "HIGH_PRIORITY",
    "DELAYED",
    "QUICK",
    "IGNORE",
    "ONLINE",
];

/// `sql` without the modifiers after its first keyword (`UPDATE`, `DELETE`, `INSERT`,
/// `REPLACE`, `ALTER`): `UPDATE LOW_PRIORITY IGNORE t SET ...` → `UPDATE t SET ...`. Anything
/// else (a comment in between, ...) is left as it is: a name the catalog does not know then
/// invalidates everything.
pub(crate) fn strip_modifiers(sql: &str) -> String {
    let trimmed = sql.trim_start();
    let mut words = trimmed.split_ascii_whitespace();
    let Some(first) = words.next() else {
        return sql.to_owned();
    };
    let keyword = first.to_ascii_uppercase();
    if !["UPDATE", "DELETE", "INSERT", "REPLACE", "ALTER"].contains(&keyword.as_str()) {
        return sql.to_owned();
    }
    let mut rest = &trimmed[first.len()..];
    loop {
        let after = rest.trim_start();
        let word_len = after
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(after.len());
        let word = &after[..word_len];
        if word.is_empty() || !MODIFIERS.iter().any(|m| m.eq_ignore_ascii_case(word)) {
            break;
        }
        rest = &after[word_len..];
    }
    format!("{first}{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_classified_by_what_they_do_to_the_transaction() {
        assert_eq!(classify("BEGIN"), QueryKind::Begin);
        assert_eq!(classify("COMMIT"), QueryKind::End);
        assert_eq!(classify("ROLLBACK"), QueryKind::End);
        assert_eq!(classify("ROLLBACK TO `sp`"), QueryKind::Savepoint);
        assert_eq!(classify("SAVEPOINT `sp`"), QueryKind::Savepoint);
        assert_eq!(classify("GRANT SELECT ON *.* TO x"), QueryKind::Admin);
        assert_eq!(classify("CREATE DATABASE d"), QueryKind::Admin);
        assert_eq!(classify("create table t (id int)"), QueryKind::Ddl);
        assert_eq!(classify("TRUNCATE TABLE t"), QueryKind::Ddl);
        assert_eq!(classify("UPDATE t SET a = 1"), QueryKind::Dml);
    }

    #[test]
    fn modifiers_are_taken_out() {
        assert_eq!(
            strip_modifiers("UPDATE IGNORE t SET a = 1"),
            "UPDATE t SET a = 1"
        );
        assert_eq!(
            strip_modifiers("update low_priority ignore `t` set a = 1"),
            "update `t` set a = 1"
        );
        assert_eq!(
            strip_modifiers("DELETE LOW_PRIORITY QUICK IGNORE FROM t"),
            "DELETE FROM t"
        );
        assert_eq!(
            strip_modifiers("INSERT IGNORE INTO t VALUES (1)"),
            "INSERT INTO t VALUES (1)"
        );
        assert_eq!(
            strip_modifiers("ALTER ONLINE IGNORE TABLE t ADD c INT"),
            "ALTER TABLE t ADD c INT"
        );
        assert_eq!(
            strip_modifiers("UPDATE ignored SET a = 1"),
            "UPDATE ignored SET a = 1"
        );
        assert_eq!(strip_modifiers("SELECT IGNORE"), "SELECT IGNORE");
    }
}
