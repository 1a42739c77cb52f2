//! Choosing reads of the edge tables (see `edge_tables.rs`): by primary key (also the ids a
//! generated key takes next), by an integer column, by lists, whole and counted, through
//! `read_statement` in the placeholder styles of `edge_gen.rs`, or through the `mx_items`
//! entity.

use super::edge_tables::EdgeRead;
use super::{Db, Gen, Read, Shadow};

impl Gen {
    /// A read of the edge tables: by primary key, by an integer column, by a list, whole.
    pub(super) fn edge_read(&mut self, s: &Shadow) -> Read {
        let ids = &s.edge;
        let pg = self.kind == Db::Postgres;
        let table = self.weighted(&[
            (0, 5),
            (1, 2),
            (2, 2),
            (3, 1),
            (4, 1),
            (5, if pg { 2 } else { 0 }),
            (6, if pg { 2 } else { 0 }),
        ]);
        let (table, ids): (&str, &[i32]) = match table {
            0 => match self.rng.u32(..4) {
                0 => return Read::Edge(EdgeRead::ItemPk(self.read_id(&ids.items, 40))),
                1 => return Read::Edge(EdgeRead::ItemsWithK(self.k())),
                _ => ("mx_items", &ids.items),
            },
            1 => ("mx_view", &ids.items),
            2 => ("mx_clamp", &ids.clamp),
            3 => ("mx_audited", &ids.audited),
            4 => return self.audit_read(&ids.audited),
            5 => (
                self.pick(&["mx_parts", "mx_parts_low", "mx_parts_high"]),
                &ids.parts,
            ),
            _ => match self.rng.u32(..3) {
                0 => ("mx_animals", &ids.animals),
                1 => ("ONLY mx_animals", &ids.animals),
                _ => ("mx_dogs", &ids.dogs),
            },
        };
        let id = self.read_id(ids, 99);
        let other = self.read_id(ids, 99);
        let (k, k2) = (self.k(), self.k());
        let n = if self.chance(30) { 50 } else { self.n() };
        let (sql, values) = match self.rng.u32(..8) {
            0 | 1 => ("SELECT * FROM {t} WHERE id = ?", vec![id]),
            2 => ("SELECT * FROM {t} WHERE k = ?", vec![k]),
            3 => ("SELECT * FROM {t} WHERE k IN (?, ?)", vec![k, k2]),
            4 => ("SELECT * FROM {t} WHERE id IN (?, ?)", vec![id, other]),
            5 => ("SELECT * FROM {t} WHERE n = ?", vec![n]),
            6 | 7 if table == "mx_items" && self.kind == Db::MySql => {
                let m = self.pick(&[32767, -32768, 5, 0]);
                ("SELECT * FROM {t} WHERE m = ?", vec![m])
            }
            6 => ("SELECT * FROM {t}", vec![]),
            _ => ("SELECT COUNT(*) AS c FROM {t} WHERE k = ?", vec![k]),
        };
        let order = if sql.contains("COUNT") {
            ""
        } else {
            " ORDER BY id, k, n"
        };
        let sql = format!("{}{order}", sql.replace("{t}", table));
        self.sql_read(&sql, &values)
    }

    /// An id to read: mostly one of `ids`, often one of the next two a generated key takes,
    /// sometimes any up to `max`.
    fn read_id(&mut self, ids: &[i32], max: i32) -> i32 {
        let top = ids.iter().max().copied().unwrap_or(0);
        match self.rng.u32(..10) {
            0..=5 if !ids.is_empty() => ids[self.rng.usize(..ids.len())],
            6..=7 => top + self.rng.i32(1..=2),
            _ => self.rng.i32(1..=max),
        }
    }

    /// A read of the rows the audit trigger wrote.
    fn audit_read(&mut self, ids: &[i32]) -> Read {
        match self.chance(70) {
            true => {
                let id = self.any_of(ids, 30);
                self.sql_read(
                    "SELECT * FROM mx_audit WHERE item_id = ? ORDER BY item_id, k",
                    &[id],
                )
            }
            false => self.sql_read("SELECT COUNT(*) AS c FROM mx_audit", &[]),
        }
    }

    fn sql_read(&mut self, sql: &str, values: &[i32]) -> Read {
        let (sql, values) = self.bind(self.kind, sql, values);
        Read::Edge(EdgeRead::Sql { sql, values })
    }
}
