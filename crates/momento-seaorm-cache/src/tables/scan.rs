//! The walk over parsed statements: every statement in them, at any depth (CTEs, `INSERT ...
//! SELECT`, `EXPLAIN ANALYZE`), adds its reads and writes; anything that might do more than
//! that breaks the walk, which means `Unknown`.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, Ident, ObjectName, Query, Select, SetExpr, Statement, TableFactor,
    VisitMut, VisitorMut,
};

use super::functions::{call, Call};
use super::statement::{explain_runs, kind, Kind};
use super::Touches;

/// `Break` means the statements are not understood: `Unknown`.
type Flow = ControlFlow<()>;
const GO: Flow = ControlFlow::Continue(());
const UNKNOWN: Flow = ControlFlow::Break(());

/// What the statements walked so far read and write.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// A top-level query was seen.
    queried: bool,
    /// Tables named anywhere, CTE references left out.
    reads: BTreeSet<String>,
    /// Tables written, named by the writing statement itself (never taken for a CTE).
    writes: BTreeSet<String>,
    /// A function whose result must not be cached was called: a read is `Nothing`.
    uncacheable: bool,
    /// The CTE names visible where the walk is, one list per enclosing query.
    scopes: Vec<Vec<Ident>>,
}

impl Scan {
    /// Adds what one top-level statement does; `Break` means `Unknown`.
    pub(super) fn statement(&mut self, statement: &mut Statement) -> Flow {
        match statement {
            Statement::Explain {
                statement,
                analyze,
                options,
                ..
            } if explain_runs(*analyze, options.as_deref()) => self.explain_analyze(statement),
            // Plans, describes or prepares a statement without running it.
            Statement::Explain { .. }
            | Statement::ExplainTable { .. }
            | Statement::Prepare { .. } => GO,
            _ => statement.visit(self),
        }
    }

    /// `EXPLAIN ANALYZE` runs its statement: its writes count, but its reads return a plan, not
    /// rows to cache.
    fn explain_analyze(&mut self, statement: &mut Statement) -> Flow {
        let mut inner = Scan::default();
        inner.statement(statement)?;
        if !inner.writes.is_empty() {
            self.writes.append(&mut inner.writes);
            self.reads.append(&mut inner.reads);
        }
        GO
    }

    /// The verdict: any write makes it `Writes` of everything named, else a query `Reads`
    /// (unless it calls a function whose result must not be cached).
    pub(super) fn touches(self) -> Touches {
        if !self.writes.is_empty() {
            let mut tables = self.reads;
            tables.extend(self.writes);
            Touches::Writes(tables.into_iter().collect())
        } else if self.queried && !self.uncacheable {
            Touches::Reads(self.reads.into_iter().collect())
        } else {
            Touches::Nothing
        }
    }

    /// Notes a call of `name`; `Break` if it might write.
    fn call(&mut self, name: &ObjectName) -> Flow {
        match call(name) {
            Call::ReadOnly => GO,
            Call::Uncacheable => {
                self.uncacheable = true;
                GO
            }
            Call::Unknown => UNKNOWN,
        }
    }

    fn write(&mut self, names: Vec<&ObjectName>) -> Flow {
        if names.is_empty() {
            return UNKNOWN;
        }
        for name in names {
            let Some(name) = normalize(name) else {
                return UNKNOWN;
            };
            self.writes.insert(name);
        }
        GO
    }

    /// Whether `name` refers to a CTE visible here rather than to a table.
    fn is_cte(&self, name: &ObjectName) -> bool {
        let [part] = name.0.as_slice() else {
            return false;
        };
        part.as_ident().is_some_and(|reference| {
            self.scopes
                .iter()
                .flatten()
                .any(|cte| surely_same(cte, reference))
        })
    }

    /// Opens the scope of `query`'s CTEs. Each CTE body is walked here, seeing only the CTEs
    /// before it (and itself under `RECURSIVE`): a name a CTE shadows only later still means
    /// the table. The `WITH` is then taken off, so the walk goes on with the query's body.
    fn enter_query(&mut self, query: &mut Query) -> Flow {
        self.table_commands(&query.body)?;
        let Some(mut with) = query.with.take() else {
            self.scopes.push(Vec::new());
            return GO;
        };
        let names: Vec<Ident> = with
            .cte_tables
            .iter()
            .map(|cte| cte.alias.name.clone())
            .collect();
        for (i, cte) in with.cte_tables.iter_mut().enumerate() {
            let visible = if with.recursive { i + 1 } else { i };
            self.scopes.push(names[..visible].to_vec());
            let flow = cte.query.visit(self);
            self.scopes.pop();
            flow?;
        }
        self.scopes.push(names);
        GO
    }

    /// `TABLE t` (PostgreSQL) reads `t`, which the AST holds as a plain identifier.
    fn table_commands(&mut self, body: &SetExpr) -> Flow {
        match body {
            SetExpr::Table(table) => match &table.table_name {
                Some(name) => {
                    self.reads.insert(name.value.to_lowercase());
                    GO
                }
                None => UNKNOWN,
            },
            SetExpr::SetOperation { left, right, .. } => {
                self.table_commands(left)?;
                self.table_commands(right)
            }
            _ => GO,
        }
    }
}

impl VisitorMut for Scan {
    type Break = ();

    fn pre_visit_statement(&mut self, statement: &mut Statement) -> Flow {
        match kind(statement) {
            Kind::Query => self.queried = true,
            Kind::Writes(names) => self.write(names)?,
            Kind::Nothing => {}
            Kind::Unknown => return UNKNOWN,
        }
        GO
    }

    fn pre_visit_query(&mut self, query: &mut Query) -> Flow {
        self.enter_query(query)
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> Flow {
        self.scopes.pop();
        GO
    }

    /// `SELECT ... INTO t` creates `t`.
    fn pre_visit_select(&mut self, select: &mut Select) -> Flow {
        let Some(into) = &select.into else {
            return GO;
        };
        for target in &into.targets {
            let name = match target {
                Expr::Identifier(ident) => ident,
                Expr::CompoundIdentifier(parts) => match parts.last() {
                    Some(ident) => ident,
                    None => return UNKNOWN,
                },
                _ => return UNKNOWN,
            };
            self.writes.insert(name.value.to_lowercase());
        }
        if into.targets.is_empty() {
            return UNKNOWN;
        }
        GO
    }

    fn pre_visit_relation(&mut self, relation: &mut ObjectName) -> Flow {
        if self.is_cte(relation) {
            return GO;
        }
        match normalize(relation) {
            Some(name) => {
                self.reads.insert(name);
                GO
            }
            None => UNKNOWN,
        }
    }

    /// A function in `FROM` is a call like any other.
    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> Flow {
        match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => self.call(name),
            _ => GO,
        }
    }

    /// A call to anything but a known built-in, or a user-defined operator, might write.
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> Flow {
        match expr {
            Expr::Function(function) => self.call(&function.name),
            Expr::BinaryOp {
                op: BinaryOperator::Custom(_) | BinaryOperator::PGCustomBinaryOperator(_),
                ..
            } => UNKNOWN,
            _ => GO,
        }
    }
}

/// A table's name for generations: the unquoted, lower-cased last part (`"App"."Users"` →
/// `users`); `None` if that part is not a plain identifier.
pub(crate) fn normalize(name: &ObjectName) -> Option<String> {
    let ident = name.0.last()?.as_ident()?;
    Some(ident.value.to_lowercase())
}

/// Whether `reference` names the CTE `cte` however the dialect folds case: the same spelling,
/// and either quoted alike or in lower case (PostgreSQL folds only unquoted names; SQLite and
/// MySQL compare as spelled or ignore case). Otherwise the reference is taken for a table,
/// which at worst adds a needless read.
fn surely_same(cte: &Ident, reference: &Ident) -> bool {
    cte.value == reference.value
        && (cte.quote_style.is_some() == reference.quote_style.is_some()
            || cte.value == cte.value.to_lowercase())
}
