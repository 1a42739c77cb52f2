//! Which columns row scopes can track, and how their values compare, per dialect: integers;
//! UUIDs; text only where the column's collation compares exactly. A collation that folds
//! case, accents or trailing spaces (MariaDB's `_ci` and `PAD SPACE` collations, PostgreSQL's
//! nondeterministic collations and `citext`, SQLite's `NOCASE` and `RTRIM`) equates values
//! this crate would tell apart, so such a column is not tracked: its reads and writes stay at
//! column level (a write to it bumps `#column`, never a value).

use super::table::integer_range;

/// What the catalog says a tracked column holds, and so how its values are compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An integer type with the values it can hold (a value outside is clamped or refused, so
    /// it is not the value stored).
    Integer { low: i128, high: i128 },
    /// A UUID, bound and stored as [`UuidForm`] says.
    Uuid(UuidForm),
    /// Text in a column whose collation compares exactly (PostgreSQL deterministic
    /// collations, SQLite `BINARY`, MariaDB `NO PAD` binary collations), of at most
    /// `max_chars` characters and `max_bytes` bytes where the type limits them: a longer value
    /// is refused or cut (PostgreSQL cuts trailing spaces past a `varchar`'s length), so it is
    /// not the value stored.
    Text {
        max_chars: Option<u64>,
        max_bytes: Option<u64>,
    },
}

/// How a UUID column's values are bound and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UuidForm {
    /// PostgreSQL `uuid`: bound as a UUID, or as text the server parses.
    Native,
    /// 16 bytes (MariaDB/MySQL `BINARY(16)`, as SeaORM maps a UUID there): bound as a UUID
    /// (sent as its bytes) or as 16 bytes; text is compared as bytes, so it is not tracked.
    Bytes,
    /// SQLite (`uuid_text` as SeaORM declares it, or any declared type naming a UUID): a UUID
    /// or 16 bytes (stored as a blob), or 36-character hyphenated text.
    Sqlite,
}

impl Kind {
    /// An integer kind of the type named `type_name`, if it is one.
    pub(crate) fn integer(type_name: &str, unsigned: bool) -> Option<Kind> {
        integer_range(type_name, unsigned).map(|(low, high)| Kind::Integer { low, high })
    }

    /// The values an integer column can hold (`None`: not an integer column).
    pub(crate) fn range(&self) -> Option<(i128, i128)> {
        match self {
            Kind::Integer { low, high } => Some((*low, *high)),
            _ => None,
        }
    }
}

/// A PostgreSQL column's kind from its type (`regtype` text), its `atttypmod` and whether its
/// collation is deterministic (equal only when byte-wise equal).
pub(crate) fn postgres(type_name: &str, typmod: i64, deterministic: bool) -> Option<Kind> {
    match type_name {
        "uuid" => Some(Kind::Uuid(UuidForm::Native)),
        // Not `character(n)` (blank-padded: trailing spaces do not count), `citext`, domains.
        "text" if deterministic => Some(Kind::Text {
            max_chars: None,
            max_bytes: None,
        }),
        "character varying" if deterministic => Some(Kind::Text {
            max_chars: u64::try_from(typmod - 4).ok().filter(|_| typmod >= 4),
            max_bytes: None,
        }),
        other => Kind::integer(other, false),
    }
}

/// A MariaDB/MySQL column's kind from `information_schema.COLUMNS`.
pub(crate) fn mysql(
    data_type: &str,
    column_type: &str,
    charset: &str,
    collation: &str,
    max_chars: Option<u64>,
    max_bytes: Option<u64>,
) -> Option<Kind> {
    match data_type {
        "binary" if column_type == "binary(16)" => Some(Kind::Uuid(UuidForm::Bytes)),
        // Only NO PAD binary collations: `utf8mb4_bin` is PAD SPACE ('a' = 'a  '), `_ci`
        // collations fold case and accents. Not `char` (its trailing spaces are dropped).
        "varchar" | "tinytext" | "text" | "mediumtext" | "longtext"
            if charset == "utf8mb4" && collation.ends_with("_nopad_bin") =>
        {
            Some(Kind::Text {
                max_chars,
                max_bytes,
            })
        }
        other => Kind::integer(other, column_type.contains("unsigned")),
    }
}

/// A SQLite column's kind from its declared type (upper case) and collation (upper case,
/// `BINARY` when none is declared; `None` when the table's definition could not be read).
pub(crate) fn sqlite(declared: &str, collation: Option<&str>) -> Option<Kind> {
    // Integer affinity: a declared type containing INT (SQLite's first rule).
    if declared.contains("INT") {
        return Kind::integer("bigint", false);
    }
    if declared.contains("UUID") {
        return Some(Kind::Uuid(UuidForm::Sqlite));
    }
    // Text affinity (CHAR, CLOB, TEXT) compared by BINARY: byte for byte.
    let text = ["CHAR", "CLOB", "TEXT"]
        .iter()
        .any(|t| declared.contains(t));
    (text && collation == Some("BINARY")).then_some(Kind::Text {
        max_chars: None,
        max_bytes: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_collations_track_text() {
        assert!(matches!(
            postgres("character varying", 36, true),
            Some(Kind::Text {
                max_chars: Some(32),
                ..
            })
        ));
        assert_eq!(postgres("text", -1, false), None, "nondeterministic");
        assert_eq!(postgres("citext", -1, true), None);
        assert_eq!(postgres("character", 9, true), None, "blank-padded");
        assert_eq!(
            postgres("uuid", -1, true),
            Some(Kind::Uuid(UuidForm::Native))
        );
        let text = |collation| {
            mysql(
                "varchar",
                "varchar(9)",
                "utf8mb4",
                collation,
                Some(9),
                Some(36),
            )
        };
        assert!(text("utf8mb4_nopad_bin").is_some());
        for folding in ["utf8mb4_bin", "utf8mb4_general_ci", "utf8mb4_unicode_ci"] {
            assert_eq!(text(folding), None, "{folding}");
        }
        assert_eq!(
            mysql("binary", "binary(16)", "", "", Some(16), Some(16)),
            Some(Kind::Uuid(UuidForm::Bytes))
        );
        assert_eq!(
            sqlite("UUID_TEXT", Some("BINARY")),
            Some(Kind::Uuid(UuidForm::Sqlite))
        );
        assert!(sqlite("VARCHAR(9)", Some("BINARY")).is_some());
        assert_eq!(sqlite("TEXT", Some("NOCASE")), None);
        assert_eq!(sqlite("TEXT", Some("RTRIM")), None);
        assert_eq!(sqlite("TEXT", None), None);
        assert_eq!(sqlite("BLOB", Some("BINARY")), None);
    }
}
