//! MariaDB's and MySQL's catalog (`information_schema`, the current database): tables and
//! views, columns with their integer types and generated or auto-increment flags, primary
//! keys, triggers, cascading foreign keys, and the tables each view reads (its definition,
//! parsed; a definition that does not parse makes the view reached by every write).

use sea_orm::{ConnectionTrait, DbBackend, DbErr};

use super::load::{pairs, rows, text, view_uses};
use super::table::{ColumnFact, Facts};

/// Reads the catalog of the connection's current database through `db`.
pub(super) async fn facts<C: ConnectionTrait>(db: &C) -> Result<Facts, DbErr> {
    let mut facts = Facts::default();
    let sql = "SELECT LOWER(TABLE_NAME), TABLE_TYPE FROM information_schema.TABLES \
               WHERE TABLE_SCHEMA = DATABASE()";
    for row in rows(db, sql).await? {
        facts
            .relations
            .insert(text(&row, 0), text(&row, 1) == "VIEW");
    }
    let sql = "SELECT LOWER(TABLE_NAME), LOWER(COLUMN_NAME), LOWER(DATA_TYPE), \
               LOWER(COLUMN_TYPE), UPPER(EXTRA), IS_NULLABLE, LOWER(CHARACTER_SET_NAME), \
               LOWER(COLLATION_NAME), CAST(CHARACTER_MAXIMUM_LENGTH AS CHAR), \
               CAST(CHARACTER_OCTET_LENGTH AS CHAR) FROM information_schema.COLUMNS \
               WHERE TABLE_SCHEMA = DATABASE()";
    for row in rows(db, sql).await? {
        let extra = text(&row, 4);
        let generated =
            extra.contains("VIRTUAL") || extra.contains("STORED") || extra.contains("PERSISTENT");
        facts.columns.push(ColumnFact {
            table: text(&row, 0),
            column: text(&row, 1),
            kind: super::kind::mysql(
                &text(&row, 2),
                &text(&row, 3),
                &text(&row, 6),
                &text(&row, 7),
                text(&row, 8).parse().ok(),
                text(&row, 9).parse().ok(),
            ),
            generated,
            auto: extra.contains("AUTO_INCREMENT"),
            not_null: text(&row, 5) == "NO",
        });
    }
    let sql =
        "SELECT LOWER(TABLE_NAME), LOWER(COLUMN_NAME) FROM information_schema.KEY_COLUMN_USAGE \
               WHERE TABLE_SCHEMA = DATABASE() AND CONSTRAINT_NAME = 'PRIMARY'";
    facts.primary_keys = pairs(db, sql).await?;
    let sql = "SELECT LOWER(EVENT_OBJECT_TABLE) FROM information_schema.TRIGGERS \
               WHERE EVENT_OBJECT_SCHEMA = DATABASE()";
    facts.triggers = rows(db, sql).await?.iter().map(|r| text(r, 0)).collect();
    let sql = "SELECT LOWER(TABLE_NAME), LOWER(REFERENCED_TABLE_NAME) \
               FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() \
               AND (UPDATE_RULE NOT IN ('RESTRICT', 'NO ACTION') \
               OR DELETE_RULE NOT IN ('RESTRICT', 'NO ACTION'))";
    facts.cascades = pairs(db, sql).await?;
    let sql = "SELECT LOWER(TABLE_NAME), VIEW_DEFINITION FROM information_schema.VIEWS \
               WHERE TABLE_SCHEMA = DATABASE()";
    for row in rows(db, sql).await? {
        view_uses(&mut facts, DbBackend::MySql, text(&row, 0), &text(&row, 1));
    }
    Ok(facts)
}
