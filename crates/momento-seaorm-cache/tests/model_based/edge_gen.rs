//! Choosing writes on the edge tables (see `edge_tables.rs`): each statement is a template
//! with `?` slots and the value meant for each, sent in one of the placeholder styles its
//! driver accepts (`?`, `?NNN` and `$NNN` on SQLite, `$n` in any order on PostgreSQL, `?` on
//! MariaDB) or with its values inlined.
//!
//! Edge writes, by weight within [`Gen::edge_write`]: plain inserts/updates/deletes of
//! `mx_items` (8), generated keys (`NULL`, `0` on MariaDB, `DEFAULT`, several rows; 3), a
//! column assigned twice (SQLite, MariaDB; 2), `RETURNING` with non-column items (SQLite,
//! PostgreSQL; 2), the trigger tables (2 each), writes through the view (PostgreSQL, MariaDB;
//! 3), rowid aliases (SQLite; 3), partitions and the inheritance family (PostgreSQL; 4 and 3),
//! `INSERT IGNORE` out of `SMALLINT`'s range, modifiers, `||`/`&&` and executable comments
//! (MariaDB; 2, 4, 2, 3).

use super::edge_tables::{EdgeWrite, How};
use super::{Db, Gen, Shadow, Write};

/// A statement with `?` slots, and the value meant for each slot.
struct Template {
    sql: String,
    values: Vec<Option<i32>>,
}

fn t(sql: impl Into<String>, values: &[Option<i32>]) -> Template {
    Template {
        sql: sql.into(),
        values: values.to_vec(),
    }
}

/// `sql` with its slots replaced by `marks`, in order.
fn fill(sql: &str, marks: &[String]) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = marks.iter();
    for ch in sql.chars() {
        match ch {
            '?' => out.push_str(next.next().expect("a mark per slot")),
            _ => out.push(ch),
        }
    }
    out
}

/// `NULL` or the number, as SQL.
fn literal(v: &Option<i32>) -> String {
    v.map_or_else(|| "NULL".to_owned(), |v| v.to_string())
}

/// Which placeholders a write (or read) uses.
#[derive(Clone, Copy)]
enum Style {
    /// `?` in order (`$1, $2, ...` on PostgreSQL).
    Plain,
    /// Numbered in a shuffled order, each slot `prefix(i)N`.
    Numbered(fn(&mut Gen) -> &'static str),
    /// SQLite: each slot `?`, `?N` or `$N` with `N` drawn at random, values in slot order:
    /// what the driver and SQLite make of it is theirs to decide.
    Anything,
}

impl Gen {
    pub(super) fn k(&mut self) -> i32 {
        self.rng.i32(1..=6)
    }

    pub(super) fn n(&mut self) -> i32 {
        self.rng.i32(0..=60)
    }

    /// Mostly one of `ids`, sometimes any id up to `max`.
    pub(super) fn any_of(&mut self, ids: &[i32], max: i32) -> i32 {
        if !ids.is_empty() && self.chance(85) {
            ids[self.rng.usize(..ids.len())]
        } else {
            self.rng.i32(1..=max)
        }
    }

    /// Mostly an id in `range` not in `ids`.
    fn free_in(&mut self, ids: &[i32], range: std::ops::RangeInclusive<i32>) -> i32 {
        let free: Vec<i32> = range.clone().filter(|id| !ids.contains(id)).collect();
        if free.is_empty() || self.chance(10) {
            self.rng.i32(range)
        } else {
            free[self.rng.usize(..free.len())]
        }
    }

    /// On SQLite, half the statements use plain `?` (whose rows the library may track) and
    /// half the numbered styles (which it must not read as plain).
    fn style(&mut self, kind: Db) -> Style {
        match (kind, self.rng.u32(..10)) {
            (Db::MySql, _) | (_, 0..=1) => Style::Plain,
            (Db::Postgres, _) => Style::Numbered(|_| "$"),
            (Db::Sqlite, 2..=4) => Style::Plain,
            (Db::Sqlite, 5..=6) => Style::Numbered(|_| "?"),
            (Db::Sqlite, 7) => Style::Numbered(|_| "$"),
            (Db::Sqlite, 8) => Style::Numbered(|g| if g.chance(50) { "?" } else { "$" }),
            (Db::Sqlite, _) => Style::Anything,
        }
    }

    /// An id no row has, often the next one a generated key would take (which reads favour).
    fn unused_id(&mut self, ids: &[i32]) -> i32 {
        let top = ids.iter().max().copied().unwrap_or(0);
        match self.chance(50) {
            true => top + self.rng.i32(1..=2),
            false => self.free_in(ids, 1..=40),
        }
    }

    /// The template's text and values in `style`.
    pub(super) fn bind<T: Clone>(&mut self, kind: Db, sql: &str, values: &[T]) -> (String, Vec<T>) {
        let n = values.len();
        match self.style(kind) {
            Style::Plain if kind == Db::Postgres => {
                let marks: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
                (fill(sql, &marks), values.to_vec())
            }
            Style::Plain => (sql.to_owned(), values.to_vec()),
            Style::Numbered(prefix) => {
                let mut order: Vec<usize> = (0..n).collect();
                self.rng.shuffle(&mut order);
                // Slot i is sent as number order[i] + 1.
                let marks: Vec<String> = order
                    .iter()
                    .map(|at| format!("{}{}", prefix(self), at + 1))
                    .collect();
                let mut sent = values.to_vec();
                for (slot, at) in order.iter().enumerate() {
                    sent[*at] = values[slot].clone();
                }
                (fill(sql, &marks), sent)
            }
            Style::Anything => {
                let marks: Vec<String> = (0..n)
                    .map(|_| match self.rng.u32(..3) {
                        0 => "?".to_owned(),
                        1 => format!("?{}", self.rng.usize(1..=n)),
                        _ => format!("${}", self.rng.usize(1..=n)),
                    })
                    .collect();
                (fill(sql, &marks), values.to_vec())
            }
        }
    }

    /// `template` as a write: bound in some style, or inlined.
    fn send(&mut self, kind: Db, template: Template, query: bool) -> Write {
        let (sql, values, how) = if self.chance(25) {
            let marks: Vec<String> = template.values.iter().map(literal).collect();
            let how = if query { How::Query } else { How::Unprepared };
            (fill(&template.sql, &marks), Vec::new(), how)
        } else {
            let (sql, values) = self.bind(kind, &template.sql, &template.values);
            let how = if query { How::Query } else { How::Prepared };
            (sql, values, how)
        };
        Write::Edge(EdgeWrite { sql, values, how })
    }

    /// A write on the edge tables.
    pub(super) fn edge_write(&mut self, s: &Shadow) -> Write {
        let kind = self.kind;
        let (sqlite, pg, my) = (kind == Db::Sqlite, kind == Db::Postgres, kind == Db::MySql);
        let weights: [(u32, u32); 16] = [
            (0, 8),
            (1, 3),
            (2, if pg { 0 } else { 2 }),
            (3, if my { 0 } else { 2 }),
            (4, 2),
            (5, 2),
            (6, if sqlite { 0 } else { 3 }),
            (7, if sqlite { 3 } else { 0 }),
            (8, if pg { 4 } else { 0 }),
            (9, if pg { 3 } else { 0 }),
            (10, if my { 2 } else { 0 }),
            (11, if my { 4 } else { 0 }),
            (12, if my { 2 } else { 0 }),
            (13, if my { 3 } else { 0 }),
            (14, 0),
            (15, 0),
        ];
        let ids = &s.edge;
        let template = match self.weighted(&weights) {
            0 => self.rows_write("mx_items", &ids.items, 1..=40),
            1 => self.generated_key(),
            2 => self.assigned_twice(&ids.items),
            3 => return self.returning(&ids.items),
            4 => self.rows_write("mx_clamp", &ids.clamp, 1..=30),
            5 => self.rows_write("mx_audited", &ids.audited, 1..=30),
            6 => self.rows_write("mx_view", &ids.items, 1..=40),
            7 => self.rowid(&ids.items),
            8 => {
                let (table, range) = match self.rng.u32(..3) {
                    0 => ("mx_parts", 1..=99),
                    1 => ("mx_parts_low", 1..=59),
                    _ => ("mx_parts_high", 60..=99),
                };
                self.rows_write(table, &ids.parts, range)
            }
            9 => match self.chance(50) {
                true => self.rows_write("mx_animals", &ids.animals, 1..=60),
                false => self.rows_write("mx_dogs", &ids.dogs, 61..=99),
            },
            10 => self.insert_ignore(&ids.items),
            11 => self.modifiers(&ids.items),
            12 => self.pipes(&ids.items),
            _ => self.executable_comment(&ids.items),
        };
        self.send(kind, template, false)
    }

    /// One of `weights`' kinds, by weight.
    pub(super) fn weighted(&mut self, weights: &[(u32, u32)]) -> u32 {
        let total: u32 = weights.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.u32(..total);
        for (kind, w) in weights {
            if roll < *w {
                return *kind;
            }
            roll -= w;
        }
        unreachable!("the roll is below the total")
    }

    /// An insert, update or delete of `(id, k, n)` rows; inserts lean against deletes so that
    /// the table keeps 15 to 30 rows.
    fn rows_write(
        &mut self,
        table: &str,
        ids: &[i32],
        range: std::ops::RangeInclusive<i32>,
    ) -> Template {
        let (k, n) = (Some(self.k()), Some(self.n()));
        let max = *range.end();
        let id = Some(self.any_of(ids, max));
        let deletes = if ids.len() < 15 { 0 } else { 2 };
        let inserts = if ids.len() > 30 { 1 } else { 3 };
        let kind = self.weighted(&[(0, inserts), (1, 3), (2, 2), (3, 1), (4, deletes)]);
        match kind {
            0 => {
                let new = Some(self.free_in(ids, range));
                t(
                    format!("INSERT INTO {table} (id, k, n) VALUES (?, ?, ?)"),
                    &[new, k, n],
                )
            }
            1 => t(format!("UPDATE {table} SET n = ? WHERE id = ?"), &[n, id]),
            2 => match self.rng.u32(..3) {
                0 => t(
                    format!("UPDATE {table} SET k = ?, n = ? WHERE k = ?"),
                    &[k, n, Some(self.k())],
                ),
                1 => {
                    let other = Some(self.any_of(ids, max));
                    t(
                        format!("UPDATE {table} SET k = ? WHERE id IN (?, ?)"),
                        &[k, id, other],
                    )
                }
                _ => t(
                    format!("UPDATE {table} SET n = n + 1 WHERE k = ? AND id = ?"),
                    &[k, id],
                ),
            },
            3 => {
                let new = Some(self.free_in(ids, range));
                t(
                    format!("UPDATE {table} SET id = ? WHERE id = ?"),
                    &[new, id],
                )
            }
            _ => match self.chance(70) {
                true => t(format!("DELETE FROM {table} WHERE id = ?"), &[id]),
                false => t(
                    format!("DELETE FROM {table} WHERE k = ? AND n < ?"),
                    &[k, n],
                ),
            },
        }
    }

    /// An insert whose key the database generates.
    fn generated_key(&mut self) -> Template {
        let (k, n, k2, n2) = (
            Some(self.k()),
            Some(self.n()),
            Some(self.k()),
            Some(self.n()),
        );
        let zero = self.chance(50);
        let key = match self.kind {
            Db::Postgres => "DEFAULT",
            Db::MySql if zero => "0",
            _ => "NULL",
        };
        match self.rng.u32(..4) {
            0 => t("INSERT INTO mx_items (k, n) VALUES (?, ?)", &[k, n]),
            1 => t(
                format!("INSERT INTO mx_items (id, k, n) VALUES ({key}, ?, ?)"),
                &[k, n],
            ),
            2 if self.kind == Db::Postgres => t(
                "INSERT INTO mx_items (k, n) VALUES (?, ?), (?, ?)",
                &[k, n, k2, n2],
            ),
            2 => {
                // A bound NULL, or a bound 0 on MariaDB.
                let key = (key == "0").then_some(0);
                t(
                    "INSERT INTO mx_items (id, k, n) VALUES (?, ?, ?)",
                    &[key, k, n],
                )
            }
            _ => t(
                format!("INSERT INTO mx_items (id, k, n) VALUES ({key}, ?, ?), ({key}, ?, ?)"),
                &[k, n, k2, n2],
            ),
        }
    }

    /// A column assigned twice (the last assignment wins), also the one the `WHERE` pins.
    fn assigned_twice(&mut self, ids: &[i32]) -> Template {
        let id = Some(self.any_of(ids, 40));
        let (a, b, n) = (Some(self.k()), Some(self.k()), Some(self.n()));
        match self.rng.u32(..3) {
            0 => t(
                "UPDATE mx_items SET k = ?, n = ?, k = ? WHERE id = ?",
                &[a, n, b, id],
            ),
            1 => t(
                "UPDATE mx_items SET k = ?, k = ? WHERE k = ?",
                &[a, b, Some(self.k())],
            ),
            _ => {
                let (x, y) = (self.free_in(ids, 1..=40), self.unused_id(ids));
                t(
                    "UPDATE mx_items SET id = ?, id = ? WHERE id = ?",
                    &[Some(x), Some(y), id],
                )
            }
        }
    }

    /// A write returning rows, some items not columns (SQLite, PostgreSQL).
    fn returning(&mut self, ids: &[i32]) -> Write {
        let (id, k, n) = (Some(self.any_of(ids, 40)), Some(self.k()), Some(self.n()));
        let template = match self.rng.u32(..5) {
            0 => t(
                "UPDATE mx_items SET k = ? WHERE id = ? RETURNING *, 0 AS k",
                &[k, id],
            ),
            1 => t(
                "UPDATE mx_items SET n = ? WHERE id = ? RETURNING id, k + 1 AS k",
                &[n, id],
            ),
            2 => t(
                "UPDATE mx_items SET k = ? WHERE k = ? RETURNING *",
                &[k, Some(self.k())],
            ),
            3 => t(
                "INSERT INTO mx_items (k, n) VALUES (?, ?) RETURNING id, 7 AS k",
                &[k, n],
            ),
            _ => t(
                "DELETE FROM mx_items WHERE id = ? RETURNING id AS k, k AS id",
                &[id],
            ),
        };
        self.send(self.kind, template, true)
    }

    /// SQLite's rowid aliases of `mx_items.id`.
    fn rowid(&mut self, ids: &[i32]) -> Template {
        let alias = self.pick(&["rowid", "oid", "_rowid_"]);
        let id = Some(self.any_of(ids, 40));
        let new = Some(self.unused_id(ids));
        match self.rng.u32(..4) {
            0 => t(
                format!("UPDATE mx_items SET {alias} = ? WHERE id = ?"),
                &[new, id],
            ),
            1 => t(
                format!("UPDATE mx_items SET n = ? WHERE {alias} = ?"),
                &[Some(self.n()), id],
            ),
            2 => t(
                format!("INSERT INTO mx_items ({alias}, k, n) VALUES (?, ?, ?)"),
                &[new, Some(self.k()), Some(self.n())],
            ),
            _ if ids.len() < 15 => t(
                "UPDATE mx_items SET k = ? WHERE rowid = ?",
                &[Some(self.k()), id],
            ),
            _ => t(format!("DELETE FROM mx_items WHERE {alias} = ?"), &[id]),
        }
    }

    /// MariaDB: `INSERT IGNORE` of values `SMALLINT` cannot hold (stored clamped), or of a
    /// taken id (ignored).
    fn insert_ignore(&mut self, ids: &[i32]) -> Template {
        let m = self.pick(&[40000, -40000, 70000, 32767, 5]);
        let id = if self.chance(70) {
            self.free_in(ids, 1..=40)
        } else {
            self.any_of(ids, 40)
        };
        let (k, n) = (self.k(), self.n());
        match self.rng.u32(..3) {
            0 => t(
                "INSERT IGNORE INTO mx_items (id, k, n, m) VALUES (?, ?, ?, ?)",
                &[Some(id), Some(k), Some(n), Some(m)],
            ),
            1 => t(
                format!("INSERT IGNORE INTO mx_items (id, k, n, m) VALUES (?, ?, ?, {m})"),
                &[Some(id), Some(k), Some(n)],
            ),
            _ => t(
                "UPDATE IGNORE mx_items SET m = ? WHERE id = ?",
                &[Some(m), Some(self.any_of(ids, 40))],
            ),
        }
    }

    /// MariaDB statement modifiers.
    fn modifiers(&mut self, ids: &[i32]) -> Template {
        let id = Some(self.any_of(ids, 40));
        let (k, n) = (Some(self.k()), Some(self.n()));
        match self.rng.u32(..6) {
            0 => t(
                "UPDATE LOW_PRIORITY mx_items SET k = ? WHERE id = ?",
                &[k, id],
            ),
            1 => t("UPDATE IGNORE mx_items SET n = ? WHERE k = ?", &[n, k]),
            2 => {
                let new = Some(self.any_of(ids, 40));
                t(
                    "UPDATE LOW_PRIORITY IGNORE mx_items SET id = ? WHERE id = ?",
                    &[new, id],
                )
            }
            3 => t("DELETE QUICK FROM mx_items WHERE id = ?", &[id]),
            4 => t("DELETE LOW_PRIORITY FROM mx_items WHERE id = ?", &[id]),
            _ => t(
                "DELETE LOW_PRIORITY QUICK IGNORE FROM mx_items WHERE k = ? AND n < ?",
                &[k, n],
            ),
        }
    }

    /// MariaDB: `||` is `OR`, `&&` is `AND`.
    fn pipes(&mut self, ids: &[i32]) -> Template {
        let (id, other) = (Some(self.any_of(ids, 40)), Some(self.any_of(ids, 40)));
        let (k, n) = (Some(self.k()), Some(self.n()));
        match self.rng.u32(..3) {
            0 => t(
                "UPDATE mx_items SET n = ? WHERE id = ? || k = ?",
                &[n, id, k],
            ),
            1 => t(
                "UPDATE mx_items SET k = ? WHERE k = ? && id = ?",
                &[k, Some(self.k()), id],
            ),
            _ if ids.len() < 15 => t(
                "UPDATE mx_items SET k = ? WHERE id = ? || id = ?",
                &[k, id, other],
            ),
            _ => t("DELETE FROM mx_items WHERE id = ? || id = ?", &[id, other]),
        }
    }

    /// MariaDB executable comments: the server runs what the parser skips.
    fn executable_comment(&mut self, ids: &[i32]) -> Template {
        let (id, other) = (Some(self.any_of(ids, 40)), self.any_of(ids, 40));
        let (k, n) = (Some(self.k()), Some(self.n()));
        let (k2, n2) = (self.k(), self.n());
        match self.rng.u32(..5) {
            0 => t(
                format!("UPDATE mx_items SET n = ? WHERE id = ? /*M! OR id = {other} */"),
                &[n, id],
            ),
            1 => t(
                format!("UPDATE mx_items SET n = ? WHERE id = ? /*! OR k = {k2} */"),
                &[n, id],
            ),
            2 => t(
                format!("UPDATE mx_items SET n = ? /*M!100000 , k = {k2} */ WHERE id = ?"),
                &[n, id],
            ),
            3 => t(
                format!("UPDATE mx_items SET k = ? WHERE id = ? /*!50700 OR n = {n2} */"),
                &[k, id],
            ),
            _ => t(
                "INSERT INTO mx_items (id, k, n) VALUES (?, ? /*M! + 1 */, ?)",
                &[Some(self.free_in(ids, 1..=40)), k, n],
            ),
        }
    }

    /// `CREATE TABLE IF NOT EXISTS` or `DROP TABLE IF EXISTS` (DDL: on MariaDB an implicit
    /// commit of the transaction it runs in).
    pub(super) fn ddl(&mut self) -> Write {
        let sql = match self.chance(60) {
            true => "CREATE TABLE IF NOT EXISTS mx_ddl (id INT)",
            false => "DROP TABLE IF EXISTS mx_ddl",
        };
        Write::Edge(EdgeWrite {
            sql: sql.to_owned(),
            values: Vec::new(),
            how: How::Unprepared,
        })
    }
}
