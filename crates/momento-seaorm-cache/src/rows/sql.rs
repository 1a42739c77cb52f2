//! The pieces of SQL row-level invalidation reads: top-level conjuncts of a `WHERE`, integer
//! comparisons `column = v` / `column IN (...)`, and where each bound value comes from.

use std::collections::HashMap;

use sea_orm::{DbBackend, Value as Bound};
use sqlparser::ast::{
    BinaryOperator, Expr, InTarget, Query, Statement, TableFactor, TableWithJoins, UnaryOperator,
    Value, Visit, Visitor,
};
use sqlparser::tokenizer::{Location, Token, Tokenizer};
use std::ops::ControlFlow;

use super::value::{canonical, RowValue};
use crate::catalog::Kind;

/// Where one compared or assigned value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// The statement's bound value at this index.
    Param(usize),
    /// An integer literal.
    Literal(i128),
    /// A plain string literal (`'...'`, no backslash, no prefix: read alike whatever the
    /// session's escaping rules).
    Text(String),
    /// `NULL`: equal to nothing.
    Null,
}

/// A column compared with, or set to, known sources.
pub(crate) type Pin = (String, Vec<Source>);

/// Where `?` placeholders sit in the text, in order (`$n` carries its own index).
#[derive(Debug, Default)]
pub(crate) struct Placeholders {
    positions: HashMap<(u64, u64), usize>,
}

impl Placeholders {
    /// Finds the `?` placeholders of `sql`; `None` when the text may not mean to the server
    /// what it means to the parser: placeholders other than `?` on SQLite and MySQL (`?2`,
    /// `:name`, `@name`, `$name` are numbered by rules of their own) or other than `$n` on
    /// PostgreSQL; on MySQL, `||` and `&&` (`OR` and `AND` unless `PIPES_AS_CONCAT`),
    /// executable comments and statement modifiers.
    pub(crate) fn of(backend: DbBackend, sql: &str) -> Option<Placeholders> {
        if crate::tables::has_executable_comment(backend, sql)
            || (backend == DbBackend::MySql && crate::tables::has_modifiers(backend, sql))
        {
            return None;
        }
        let dialect = crate::tables::dialect(backend);
        let tokens = Tokenizer::new(dialect.as_ref(), sql)
            .tokenize_with_location()
            .ok()?;
        let mut positions = HashMap::new();
        for t in &tokens {
            match &t.token {
                Token::Placeholder(p) if backend == DbBackend::Postgres => {
                    p.strip_prefix('$')?.parse::<usize>().ok()?;
                }
                Token::Placeholder(p) if p == "?" => {
                    let next = positions.len();
                    positions.insert(at(t.span.start), next);
                }
                Token::Placeholder(_) => return None,
                Token::StringConcat | Token::Overlap if backend == DbBackend::MySql => return None,
                _ => {}
            }
        }
        Some(Placeholders { positions })
    }

    fn index(&self, text: &str, start: Location) -> Option<usize> {
        match text.strip_prefix('$') {
            Some(n) if self.positions.is_empty() => n.parse::<usize>().ok()?.checked_sub(1),
            Some(_) => None,
            None if text == "?" => self.positions.get(&at(start)).copied(),
            None => None,
        }
    }
}

fn at(location: Location) -> (u64, u64) {
    (location.line, location.column)
}

/// Where `expr`'s value comes from, if it is an integer literal, `NULL` or a placeholder.
pub(crate) fn source(expr: &Expr, placeholders: &Placeholders) -> Option<Source> {
    match expr {
        Expr::Nested(inner) => source(inner, placeholders),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match source(expr, placeholders)? {
            Source::Literal(n) => Some(Source::Literal(-n)),
            _ => None,
        },
        Expr::Value(v) => match &v.value {
            Value::Number(text, false) => text.parse().ok().map(Source::Literal),
            Value::SingleQuotedString(text) if !text.contains('\\') => {
                Some(Source::Text(text.clone()))
            }
            Value::Null => Some(Source::Null),
            Value::Placeholder(text) => placeholders.index(text, v.span.start).map(Source::Param),
            _ => None,
        },
        _ => None,
    }
}

/// The values (`NULL`s left out) `sources` stand for in a column of `kind`; `Err` if one cannot
/// be tracked there or a bound value is missing.
pub(crate) fn resolve(
    sources: &[Source],
    values: &[Bound],
    kind: &Kind,
) -> Result<Vec<RowValue>, ()> {
    Ok(resolve_nullable(sources, values, kind)?
        .into_iter()
        .flatten()
        .collect())
}

/// What `sources` stand for in a column of `kind`, `NULL`s kept as `None`; `Err` if one cannot
/// be tracked there or a bound value is missing.
pub(crate) fn resolve_nullable(
    sources: &[Source],
    values: &[Bound],
    kind: &Kind,
) -> Result<Vec<Option<RowValue>>, ()> {
    sources
        .iter()
        .map(|source| match source {
            Source::Literal(n) if kind.range().is_some() => Ok(Some(RowValue::Int(*n))),
            Source::Literal(_) => Err(()),
            Source::Text(text) => canonical(kind, &Bound::String(Some(text.clone()))),
            Source::Null => Ok(None),
            Source::Param(i) => canonical(kind, values.get(*i).ok_or(())?),
        })
        .collect()
}

/// The single plain table a statement's `FROM` (or `UPDATE` target) names, and its alias.
pub(crate) fn single_table(from: &[TableWithJoins]) -> Option<(String, Option<String>)> {
    let [only] = from else { return None };
    if !only.joins.is_empty() {
        return None;
    }
    match &only.relation {
        TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } => Some((
            crate::tables::normalize(name)?,
            alias.as_ref().map(|a| a.name.value.to_lowercase()),
        )),
        _ => None,
    }
}

/// The column `expr` names, if it is a column of the table (named `table` or `alias`).
pub(crate) fn column(expr: &Expr, table: &str, alias: Option<&str>) -> Option<String> {
    match expr {
        Expr::Nested(inner) => column(inner, table, alias),
        Expr::Identifier(ident) => Some(ident.value.to_lowercase()),
        Expr::CompoundIdentifier(parts) => {
            let [.., qualifier, name] = parts.as_slice() else {
                return None;
            };
            let qualifier = qualifier.value.to_lowercase();
            (qualifier == table || Some(qualifier.as_str()) == alias)
                .then(|| name.value.to_lowercase())
        }
        _ => None,
    }
}

/// The top-level conjuncts of `expr` (`a AND (b AND c)` is `[a, b, c]`).
pub(crate) fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Nested(inner) => stack.push(inner),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                stack.push(right);
                stack.push(left);
            }
            other => out.push(other),
        }
    }
    out
}

/// The columns a `WHERE` pins to known values: its conjuncts `column = v`, `v = column` and
/// `column IN (v, ...)` (not negated) whose values are integer literals, `NULL` or placeholders.
pub(crate) fn pins(
    selection: Option<&Expr>,
    table: &str,
    alias: Option<&str>,
    placeholders: &Placeholders,
) -> Vec<Pin> {
    let Some(selection) = selection else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for conjunct in conjuncts(selection) {
        let found = match conjunct {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } => match (column(left, table, alias), column(right, table, alias)) {
                (Some(c), None) => source(right, placeholders).map(|s| (c, vec![s])),
                (None, Some(c)) => source(left, placeholders).map(|s| (c, vec![s])),
                _ => None,
            },
            Expr::In {
                expr,
                target: InTarget::List(list),
                negated: false,
                global: false,
            } => column(expr, table, alias).and_then(|c| {
                let sources: Option<Vec<Source>> =
                    list.iter().map(|e| source(e, placeholders)).collect();
                sources.map(|s| (c, s))
            }),
            _ => None,
        };
        out.extend(found);
    }
    out
}

/// Whether `statement` holds a query inside it (a subquery, `EXISTS`, `IN (SELECT ...)`, a CTE
/// body), besides `top` queries at its top level.
pub(crate) fn nested_queries(statement: &Statement, top: usize) -> bool {
    struct Count(usize);
    impl Visitor for Count {
        type Break = ();
        fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
            self.0 += 1;
            ControlFlow::Continue(())
        }
    }
    let mut count = Count(0);
    let _ = statement.visit(&mut count);
    count.0 > top
}

#[cfg(test)]
mod tests {
    use super::*;

    fn where_of(backend: DbBackend, sql: &str) -> Vec<Pin> {
        let statements = crate::tables::parse_statements(backend, sql).unwrap();
        let Statement::Query(query) = &statements[0] else {
            panic!()
        };
        let sqlparser::ast::SetExpr::Select(select) = query.body.as_ref() else {
            panic!()
        };
        let placeholders = Placeholders::of(backend, sql).unwrap();
        pins(select.selection.as_ref(), "posts", Some("p"), &placeholders)
    }

    #[test]
    fn pins_are_found_in_conjunctions_only() {
        let pins = where_of(
            DbBackend::Postgres,
            r#"SELECT * FROM posts WHERE "posts"."user_id" = $2 AND (p.id IN (1, -2) AND votes > 3)"#,
        );
        assert_eq!(
            pins,
            vec![
                ("user_id".into(), vec![Source::Param(1)]),
                ("id".into(), vec![Source::Literal(1), Source::Literal(-2)]),
            ]
        );
        assert!(where_of(
            DbBackend::Postgres,
            "SELECT * FROM posts WHERE id = 1 OR id = 2"
        )
        .is_empty());
        assert!(where_of(
            DbBackend::Postgres,
            "SELECT * FROM posts WHERE id NOT IN (1)"
        )
        .is_empty());
        assert!(where_of(
            DbBackend::Postgres,
            "SELECT * FROM posts WHERE other.id = 1"
        )
        .is_empty());
        assert_eq!(
            where_of(DbBackend::Postgres, "SELECT * FROM posts WHERE id = '1'"),
            vec![("id".into(), vec![Source::Text("1".into())])]
        );
        assert!(where_of(
            DbBackend::Postgres,
            r"SELECT * FROM posts WHERE id = E'\\x'"
        )
        .is_empty());
        assert!(where_of(DbBackend::MySql, r"SELECT * FROM posts WHERE id = 'a\\'").is_empty());
    }

    #[test]
    fn question_marks_are_numbered_in_text_order() {
        let pins = where_of(
            DbBackend::Sqlite,
            "SELECT * FROM posts WHERE title = ? AND user_id IN (?, ?) AND id = ?",
        );
        assert_eq!(
            pins,
            vec![
                ("title".into(), vec![Source::Param(0)]),
                ("user_id".into(), vec![Source::Param(1), Source::Param(2)]),
                ("id".into(), vec![Source::Param(3)]),
            ]
        );
    }

    #[test]
    fn sources_resolve_to_the_columns_values_or_fail() {
        let values = [
            Bound::Int(Some(7)),
            Bound::String(Some("7".into())),
            Bound::Int(None),
        ];
        let int = Kind::integer("int", false).unwrap();
        let text = Kind::Text {
            max_chars: None,
            max_bytes: None,
        };
        assert_eq!(
            resolve(&[Source::Param(0), Source::Literal(3)], &values, &int),
            Ok(vec![RowValue::Int(7), RowValue::Int(3)])
        );
        assert_eq!(
            resolve(&[Source::Param(2), Source::Null], &values, &int),
            Ok(vec![])
        );
        assert!(resolve(&[Source::Param(1)], &values, &int).is_err());
        assert!(resolve(&[Source::Param(9)], &values, &int).is_err());
        assert_eq!(
            resolve(
                &[Source::Param(1), Source::Text("a".into())],
                &values,
                &text
            ),
            Ok(vec![RowValue::Text("7".into()), RowValue::Text("a".into())])
        );
        assert!(resolve(&[Source::Literal(7)], &values, &text).is_err());
        assert!(resolve(&[Source::Param(0)], &values, &text).is_err());
    }
}
