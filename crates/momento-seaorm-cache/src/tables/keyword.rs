//! What a statement is by its leading keyword, for decisions that come before parsing (or
//! where parsing would mislead): DDL, statements that end a transaction, and MySQL's statement
//! modifiers and executable comments, which sqlparser reads differently from the server.

use std::borrow::Cow;

use sea_orm::DbBackend;
use sqlparser::tokenizer::{Token, Tokenizer};

/// The statement's first word, upper case (`None` for an empty text). A scan of the text, not
/// a tokenization: it runs on every write. Leading whitespace, comments and `(` are skipped.
pub(crate) fn leading_keyword(_backend: DbBackend, sql: &str) -> Option<String> {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (!rest.is_empty()).then(|| rest[..end].to_uppercase())
}

/// Whether `sql` changes the schema (`CREATE`, `ALTER`, `DROP`, `RENAME`, `TRUNCATE`, ...): the
/// catalog is read again after it.
pub(crate) fn is_ddl(backend: DbBackend, sql: &str) -> bool {
    matches!(
        leading_keyword(backend, sql).as_deref(),
        Some("CREATE" | "ALTER" | "DROP" | "RENAME" | "TRUNCATE" | "COMMENT" | "REINDEX")
    )
}

/// Whether running `sql` inside a transaction commits (or ends) it on the server: on
/// MariaDB/MySQL every statement but plain DML, queries and savepoints commits implicitly
/// (DDL, `LOCK TABLES`, `BEGIN`, `SET autocommit`, ...); everywhere, a `COMMIT`, `END` or
/// `ROLLBACK` sent as SQL ends it. Unsure is yes: what was written is invalidated at once.
pub(crate) fn ends_transaction(backend: DbBackend, sql: &str) -> bool {
    let Some(first) = leading_keyword(backend, sql) else {
        return false;
    };
    let words: Vec<String> = sql
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .take(2)
        .map(str::to_uppercase)
        .collect();
    let rollback_to = first == "ROLLBACK" && words.get(1).is_some_and(|w| w == "TO");
    match first.as_str() {
        "COMMIT" | "END" | "ABORT" => true,
        "ROLLBACK" => !rollback_to,
        _ if backend == DbBackend::MySql => !matches!(
            first.as_str(),
            "SELECT"
                | "INSERT"
                | "UPDATE"
                | "DELETE"
                | "REPLACE"
                | "WITH"
                | "VALUES"
                | "TABLE"
                | "SAVEPOINT"
                | "RELEASE"
                | "SHOW"
                | "EXPLAIN"
                | "DESCRIBE"
                | "DESC"
                | "DO"
                | "HANDLER"
        ),
        _ => false,
    }
}

/// Whether `sql` has a MariaDB/MySQL executable comment (`/*! ... */`, `/*M! ... */`), which
/// the server runs and a parser may not.
pub(crate) fn has_executable_comment(backend: DbBackend, sql: &str) -> bool {
    backend == DbBackend::MySql && (sql.contains("/*!") || sql.contains("/*M!"))
}

/// MySQL's modifiers between a statement's keyword and its table (`UPDATE LOW_PRIORITY
/// IGNORE t`), which sqlparser would read as the table's name.
const MODIFIERS: [&str; 6] = [
    "LOW_PRIORITY",
    "IGNORE",
    "QUICK",
    "DELAYED",
    "HIGH_PRIORITY",
    "ONLINE",
];

/// Whether `sql` has one of MySQL's statement modifiers (see [`without_modifiers`]).
pub(crate) fn has_modifiers(backend: DbBackend, sql: &str) -> bool {
    matches!(without_modifiers(backend, sql), Cow::Owned(_))
}

/// `sql` without MySQL's statement modifiers after `UPDATE`, `DELETE`, `INSERT`, `REPLACE` or
/// `ALTER`, so that the table they modify is the one parsed (statements and binary-log events
/// alike).
pub(crate) fn without_modifiers(backend: DbBackend, sql: &str) -> Cow<'_, str> {
    let upper = sql.to_uppercase();
    if backend != DbBackend::MySql || !MODIFIERS.iter().any(|m| upper.contains(m)) {
        return Cow::Borrowed(sql);
    }
    let dialect = super::dialect(backend);
    let Ok(tokens) = Tokenizer::new(dialect.as_ref(), sql).tokenize() else {
        return Cow::Borrowed(sql);
    };
    let mut out = String::with_capacity(sql.len());
    let mut after_keyword = false;
    let mut removed = false;
    for token in &tokens {
        match token {
            Token::Word(word) => {
                let upper = word.value.to_uppercase();
                if after_keyword
                    && word.quote_style.is_none()
                    && MODIFIERS.contains(&upper.as_str())
                {
                    removed = true;
                    continue;
                }
                after_keyword = matches!(
                    upper.as_str(),
                    "UPDATE" | "DELETE" | "INSERT" | "REPLACE" | "ALTER"
                );
            }
            Token::Whitespace(_) => {}
            _ => after_keyword = false,
        }
        out.push_str(&token.to_string());
    }
    if removed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifiers_are_taken_out_and_named() {
        let sql = "UPDATE LOW_PRIORITY IGNORE posts SET votes = 1 WHERE id = 2";
        assert_eq!(
            without_modifiers(DbBackend::MySql, sql),
            "UPDATE   posts SET votes = 1 WHERE id = 2"
        );
        assert!(has_modifiers(DbBackend::MySql, "delete quick from posts"));
        assert!(has_modifiers(
            DbBackend::MySql,
            "ALTER ONLINE IGNORE TABLE t ADD c INT"
        ));
        assert!(!has_modifiers(
            DbBackend::MySql,
            "UPDATE posts SET ignore_me = 1"
        ));
        assert!(!has_modifiers(DbBackend::Sqlite, "UPDATE IGNORE SET x = 1"));
    }

    #[test]
    fn what_ends_a_transaction() {
        for sql in [
            "ALTER TABLE t ADD c INT",
            "LOCK TABLES t WRITE",
            "COMMIT",
            "begin",
        ] {
            assert!(ends_transaction(DbBackend::MySql, sql), "{sql}");
        }
        for sql in [
            "UPDATE t SET a = 1",
            "SAVEPOINT s",
            "ROLLBACK TO SAVEPOINT s",
        ] {
            assert!(!ends_transaction(DbBackend::MySql, sql), "{sql}");
        }
        assert!(!ends_transaction(
            DbBackend::Postgres,
            "ALTER TABLE t ADD c INT"
        ));
        assert!(ends_transaction(DbBackend::Postgres, "COMMIT"));
        assert!(is_ddl(DbBackend::Postgres, "  alter table t add c int"));
        assert!(is_ddl(DbBackend::MySql, "/* m */ -- x\n DROP TABLE t"));
        assert!(!is_ddl(DbBackend::Postgres, "UPDATE t SET a = 1"));
    }
}
