//! Running catalog queries: every column is read as text, so one decoder serves the three
//! dialects.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement};

use super::table::Facts;
use crate::tables::{classify, Touches};

/// The rows of `sql`, run on `db` as it is.
pub(super) async fn rows<C: ConnectionTrait>(db: &C, sql: &str) -> Result<Vec<QueryResult>, DbErr> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_string(backend, sql.to_owned()))
        .await
}

/// The rows of `sql` as pairs of its first two columns.
pub(super) async fn pairs<C: ConnectionTrait>(
    db: &C,
    sql: &str,
) -> Result<Vec<(String, String)>, DbErr> {
    Ok(rows(db, sql)
        .await?
        .iter()
        .map(|row| (text(row, 0), text(row, 1)))
        .collect())
}

/// Column `at` of `row` as text (`NULL` and anything else not text: empty).
pub(super) fn text(row: &QueryResult, at: usize) -> String {
    row.try_get_by_index::<Option<String>>(at)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Adds the tables `view`'s definition reads; a definition that does not parse as a read
/// makes the view reached by every write.
pub(super) fn view_uses(facts: &mut Facts, backend: DbBackend, view: String, definition: &str) {
    match classify(backend, definition) {
        Touches::Reads(tables) => facts
            .view_uses
            .extend(tables.iter().map(|t| (view.clone(), t.clone()))),
        _ => {
            facts.opaque_views.insert(view);
        }
    }
}
