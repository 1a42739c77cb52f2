//! Statements in the binary log (query events): what each does to the transaction around it.
//! (The statement parser takes MySQL's modifiers out itself, so `UPDATE IGNORE t` names `t`.)

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
}
