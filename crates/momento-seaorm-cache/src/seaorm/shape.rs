//! What the front ends share when they read a statement through the cache: how the rows of a
//! SeaORM query type are keyed and stored (its [`Shape`]), and the one call down to
//! [`ModelCache::read_statement`].

use std::any::type_name;
use std::borrow::Cow;

use sea_orm::{DbErr, EntityTrait, Statement};

use crate::cache::ModelCache;
use crate::codec::SerdeFormat;
use crate::connection::CacheableConnection;
use crate::key::{self, Operation};
use crate::load::Loader;
use crate::policy::StoreOptions;
use crate::request::ReadRequest;
use crate::seaorm::query::CacheableSelect;
use crate::status::ReadResult;

/// How the rows of one SeaORM query type are keyed and stored: the key label made from a
/// statement, and a serde format its rows need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    label: fn(&Statement) -> Cow<'static, str>,
    format: Option<SerdeFormat>,
}

impl Shape {
    /// The shape of `Q`'s rows.
    pub(crate) fn of<Q: CacheableSelect>() -> Shape {
        Shape {
            label: Q::key_label,
            format: Q::row_format(),
        }
    }

    /// Rows of entity `E` (or built from them), labelled `table@fingerprint`; `T` is the stored
    /// value, which decides the serde format.
    pub(crate) fn entity<E: EntityTrait, T: ?Sized>() -> Shape {
        Shape {
            label: |_| Cow::Borrowed(key::entity_label::<E>()),
            format: json_format::<T>(),
        }
    }

    /// Rows labelled by `label` whatever the statement; `T` is the stored value.
    pub(crate) fn labelled<T: ?Sized>(label: fn(&Statement) -> Cow<'static, str>) -> Shape {
        Shape {
            label,
            format: json_format::<T>(),
        }
    }

    /// The request of a read of `statement` under `operation`, with the per-read options.
    pub(crate) fn request(
        &self,
        operation: Operation,
        statement: Statement,
        options: StoreOptions,
    ) -> ReadRequest {
        let label = (self.label)(&statement);
        let options = StoreOptions {
            format: options.format.or(self.format),
            ..options
        };
        ReadRequest::new(operation, statement)
            .key_label(label)
            .options(options)
    }

    /// Reads `statement` through `cache`: from the cache, or `loader(statement)` on `db`.
    pub(crate) async fn read<C, L>(
        &self,
        cache: &ModelCache,
        db: &C,
        operation: Operation,
        statement: Statement,
        options: StoreOptions,
        loader: impl FnOnce(Statement) -> L,
    ) -> Result<ReadResult<L::Output>, DbErr>
    where
        C: CacheableConnection,
        L: Loader,
    {
        let request = self.request(operation, statement, options);
        cache.read_statement(db, request, loader).await
    }
}

/// JSON when `T` holds `serde_json::Value`s, which need a self-describing format (postcard
/// cannot read them back). Decided by the type's name: a type this misses is still read
/// correctly, as a miss, when the cache is set to postcard.
pub(crate) fn json_format<T: ?Sized>() -> Option<SerdeFormat> {
    type_name::<T>()
        .contains("serde_json::value::Value")
        .then_some(SerdeFormat::Json)
}

/// The one statement a captured SeaORM call ran (an error if it ran none or several, which the
/// calls that use this never do).
pub(crate) fn single(mut statements: Vec<Statement>, call: &str) -> Result<Statement, DbErr> {
    match statements.len() {
        1 => Ok(statements.pop().expect("one statement")),
        n => Err(DbErr::Custom(format!(
            "momento-seaorm-cache: SeaORM's {call} ran {n} statements, not one; not cached"
        ))),
    }
}

/// Several statements as one, for a key and for its dependencies (never run): the bound values
/// of all, in order, and the SQL texts joined by `; `. The tables of every statement are read.
pub(crate) fn joined(statements: Vec<Statement>) -> Option<Statement> {
    let mut statements = statements.into_iter();
    let mut joined = statements.next()?;
    for next in statements {
        joined.sql.push_str("; ");
        joined.sql.push_str(&next.sql);
        if let Some(values) = next.values {
            let mut all = joined.values.take().unwrap_or(sea_orm::Values(Vec::new()));
            all.0.extend(values.0);
            joined.values = Some(all);
        }
    }
    Some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbBackend, JsonValue, Values};

    #[test]
    fn json_rows_are_stored_as_json() {
        assert_eq!(json_format::<JsonValue>(), Some(SerdeFormat::Json));
        assert_eq!(
            json_format::<Vec<(i32, Option<JsonValue>)>>(),
            Some(SerdeFormat::Json)
        );
        assert_eq!(json_format::<Vec<(i32, String)>>(), None);
    }

    #[test]
    fn joined_statements_keep_every_value_and_text() {
        let a = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 FROM a WHERE x = $1",
            [1.into()],
        );
        let b = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 2 FROM b WHERE y = $1",
            [2.into()],
        );
        let j = joined(vec![a, b]).unwrap();
        assert_eq!(
            j.sql,
            "SELECT 1 FROM a WHERE x = $1; SELECT 2 FROM b WHERE y = $1"
        );
        assert_eq!(j.values, Some(Values(vec![1.into(), 2.into()])));
        assert!(joined(Vec::new()).is_none());
    }
}
