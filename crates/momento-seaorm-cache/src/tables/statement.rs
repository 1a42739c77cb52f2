//! What one statement does by its kind, before its parts are walked: a query, a write of named
//! tables, nothing, or something not understood.

use sqlparser::ast::{
    AlterTable, AlterTableOperation, CascadeOption, CopySource, CopyTarget, Expr, FromTable,
    ObjectName, ObjectType, RenameTableNameKind, Statement, TableFactor, TableObject,
    TableWithJoins, UtilityOption, Value,
};

/// What a statement does by its kind. Its parts (subqueries, CTEs, nested statements, function
/// calls) are walked as well, and may add reads and writes or make it `Unknown`.
#[derive(Debug)]
pub(super) enum Kind<'a> {
    /// A query: reads the tables it names.
    Query,
    /// Writes these tables (empty: a write of something not named, so `Unknown`).
    Writes(Vec<&'a ObjectName>),
    /// Changes no table.
    Nothing,
    /// Might change anything.
    Unknown,
}

/// What `statement` does by its kind.
pub(super) fn kind(statement: &Statement) -> Kind<'_> {
    match statement {
        Statement::Query(_) => Kind::Query,
        Statement::Insert(_)
        | Statement::Update(_)
        | Statement::Delete(_)
        | Statement::Merge(_) => Kind::Writes(dml_targets(statement)),
        _ if changes_nothing(statement) => Kind::Nothing,
        _ => other(statement),
    }
}

/// Whether `EXPLAIN` with these flags runs the statement it explains (`ANALYZE`, also as the
/// PostgreSQL option `EXPLAIN (ANALYZE [true]) ...`).
pub(super) fn explain_runs(analyze: bool, options: Option<&[UtilityOption]>) -> bool {
    analyze
        || options.unwrap_or_default().iter().any(|option| {
            option.name.value.eq_ignore_ascii_case("analyze") && !is_false(option.arg.as_ref())
        })
}

/// Whether a utility option's argument turns it off (`false`, `off`, `0`).
fn is_false(arg: Option<&Expr>) -> bool {
    match arg {
        Some(Expr::Value(value)) => match &value.value {
            Value::Boolean(on) => !on,
            Value::Number(number, _) => number == "0",
            Value::SingleQuotedString(word) => word.eq_ignore_ascii_case("off"),
            _ => false,
        },
        Some(Expr::Identifier(word)) => {
            word.value.eq_ignore_ascii_case("off") || word.value.eq_ignore_ascii_case("false")
        }
        _ => false,
    }
}

/// The tables an `INSERT`, `UPDATE`, `DELETE` or `MERGE` writes, whatever its conflict clause
/// (`ON CONFLICT DO UPDATE`, `ON DUPLICATE KEY UPDATE`, `OR REPLACE`, `REPLACE INTO`). Every
/// table an `UPDATE` or `DELETE` joins counts (MySQL's multi-table forms write them, and
/// `DELETE t1 FROM users t1` names its target by alias).
fn dml_targets(statement: &Statement) -> Vec<&ObjectName> {
    let mut targets = Vec::new();
    match statement {
        Statement::Insert(insert) => {
            if let TableObject::TableName(name) = &insert.table {
                targets.push(name);
            }
        }
        Statement::Update(update) => joined_tables(&update.table, &mut targets),
        Statement::Delete(delete) => {
            targets.extend(&delete.tables);
            let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &delete.from;
            for table in from {
                joined_tables(table, &mut targets);
            }
        }
        Statement::Merge(merge) => factor_tables(&merge.table, &mut targets),
        _ => {}
    }
    targets
}

fn joined_tables<'a>(table: &'a TableWithJoins, out: &mut Vec<&'a ObjectName>) {
    factor_tables(&table.relation, out);
    for join in &table.joins {
        factor_tables(&join.relation, out);
    }
}

fn factor_tables<'a>(factor: &'a TableFactor, out: &mut Vec<&'a ObjectName>) {
    match factor {
        TableFactor::Table { name, .. } => out.push(name),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => joined_tables(table_with_joins, out),
        _ => {}
    }
}

/// Statements that change no table: transaction control, session settings, `SHOW`,
/// `DESCRIBE`, locks, notifications, statistics and space reclaiming, and a `PRAGMA` that only
/// reads its value.
fn changes_nothing(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
            | Statement::Set(_)
            | Statement::Reset(_)
            | Statement::Use(_)
            | Statement::ShowVariable { .. }
            | Statement::ShowVariables { .. }
            | Statement::ShowStatus { .. }
            | Statement::ShowCreate { .. }
            | Statement::ShowColumns { .. }
            | Statement::ShowTables { .. }
            | Statement::ShowViews { .. }
            | Statement::ShowDatabases { .. }
            | Statement::ShowSchemas { .. }
            | Statement::ShowCollation { .. }
            | Statement::ShowFunctions { .. }
            | Statement::ExplainTable { .. }
            | Statement::Lock(_)
            | Statement::LockTables { .. }
            | Statement::UnlockTables
            | Statement::Deallocate { .. }
            | Statement::Discard { .. }
            | Statement::LISTEN { .. }
            | Statement::UNLISTEN { .. }
            | Statement::NOTIFY { .. }
            | Statement::Analyze(_)
            | Statement::Vacuum(_)
            | Statement::Pragma { value: None, .. }
    )
}

/// Schema changes and bulk loads write the tables they name; `COPY ... TO` exports. Anything
/// else (`CALL`, `EXECUTE`, `DROP SCHEMA`, `... CASCADE`, `COPY ... PROGRAM`, `PRAGMA x = y`,
/// a `CREATE FUNCTION`, ...) might change anything.
fn other(statement: &Statement) -> Kind<'_> {
    let names: Vec<&ObjectName> = match statement {
        Statement::Copy {
            target: CopyTarget::Program { .. },
            ..
        } => return Kind::Unknown,
        Statement::Copy { to: true, .. } => return Kind::Nothing,
        Statement::Copy {
            source: CopySource::Table { table_name, .. },
            ..
        }
        | Statement::LoadData { table_name, .. } => vec![table_name],
        Statement::Truncate(truncate) if truncate.cascade != Some(CascadeOption::Cascade) => {
            truncate.table_names.iter().map(|t| &t.name).collect()
        }
        Statement::Drop {
            object_type,
            names,
            cascade: false,
            table,
            ..
        } if drops_a_table(object_type) => names.iter().chain(table).collect(),
        Statement::AlterTable(alter) => altered(alter),
        Statement::AlterView(alter) => vec![&alter.name],
        Statement::CreateTable(create) => vec![&create.name],
        Statement::CreateView(create) => vec![&create.name],
        Statement::CreateVirtualTable { name, .. } => vec![name],
        Statement::CreateIndex(create) => vec![&create.table_name],
        Statement::RenameTable(renames) => renames
            .iter()
            .flat_map(|r| [&r.old_name, &r.new_name])
            .collect(),
        Statement::RefreshMaterializedView(refresh) => vec![&refresh.name],
        _ => return Kind::Unknown,
    };
    Kind::Writes(names)
}

/// `DROP` of these changes what reads of the dropped names return, and nothing else.
fn drops_a_table(object_type: &ObjectType) -> bool {
    matches!(
        object_type,
        ObjectType::Table
            | ObjectType::View
            | ObjectType::MaterializedView
            | ObjectType::ForeignTable
            | ObjectType::Index
    )
}

/// An altered table and the names it is renamed to.
fn altered(alter: &AlterTable) -> Vec<&ObjectName> {
    let renamed = alter
        .operations
        .iter()
        .filter_map(|operation| match operation {
            AlterTableOperation::RenameTable {
                table_name: RenameTableNameKind::As(name) | RenameTableNameKind::To(name),
            } => Some(name),
            _ => None,
        });
    std::iter::once(&alter.name).chain(renamed).collect()
}
