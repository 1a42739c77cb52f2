//! PostgreSQL's catalog as the invalidator needs it: which relation a change really reaches,
//! and which relations DDL changed.
//!
//! Logical decoding names the table a row is stored in: the leaf partition, the inheritance
//! child. Reads name the parent, or a view over the table. So a changed table is expanded to
//! itself, its ancestors (`pg_inherits`, every level) and the views over any of those
//! (`pg_rewrite` + `pg_depend`, views of views too), plus every view that calls a function
//! outside `pg_catalog` (what such a function reads is not in the catalog: bumped on every
//! change).
//!
//! Logical decoding does not carry DDL. Each relation has a fingerprint (kind, storage file,
//! columns with their types); two snapshots are compared and every relation whose entry or
//! edges differ is bumped under its old and its new name (a rename bumps both).

use std::collections::{BTreeMap, BTreeSet};

use sqlx::postgres::PgConnection;
use sqlx::Row;

/// One query for everything: relations (`r`, with their replica identity as `b`; columns only in the followed schemas `$1`, all
/// when null: reading them is most of the cost), inheritance edges (`i`: child, parent), view
/// edges (`v`: base, view) and views calling a user function (`o`).
const CATALOG: &str = "\
SELECT 'r'::text AS k, c.oid::bigint AS a, ascii(c.relreplident::text)::bigint AS b, n.nspname::text AS s, \
  c.relname::text AS name, md5(c.relkind::text || ' ' || c.relfilenode::text || ' ' || \
  coalesce(string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',' \
  ORDER BY a.attnum), ''))::text AS f \
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
  AND ($1::text[] IS NULL OR lower(n.nspname) = ANY($1)) \
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname <> 'information_schema' \
  AND n.nspname NOT LIKE 'pg\\_%' \
GROUP BY c.oid, n.nspname \
UNION ALL SELECT 'i', inhrelid::bigint, inhparent::bigint, '', '', '' FROM pg_inherits \
UNION ALL SELECT DISTINCT 'v', d.refobjid::bigint, r.ev_class::bigint, '', '', '' \
FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid \
WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class \
UNION ALL SELECT DISTINCT 'o', r.ev_class::bigint, 0, '', '', '' \
FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid \
JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND p.oid = d.refobjid \
WHERE p.pronamespace <> 'pg_catalog'::regnamespace";

/// A relation: where it is, what it is called, and its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Relation {
    schema: String,
    name: String,
    fingerprint: String,
    /// `pg_class.relreplident`: what an update or delete logs of the old row.
    identity: ReplicaIdentity,
}

/// What PostgreSQL logs of a row an `UPDATE` or `DELETE` changed (`REPLICA IDENTITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplicaIdentity {
    /// `DEFAULT`: the old primary key, only when an update changed it (a delete: always).
    Default,
    /// `FULL`: every old value but `NULL`s.
    Full,
    /// `USING INDEX` or `NOTHING` (or unknown): nothing this crate uses.
    Other,
}

/// A snapshot of the catalog.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct PgCatalog {
    relations: BTreeMap<i64, Relation>,
    by_name: BTreeMap<(String, String), i64>,
    /// Child → parents (partitions, inheritance).
    parents: BTreeSet<(i64, i64)>,
    /// Base relation → views over it.
    views: BTreeSet<(i64, i64)>,
    /// Views calling a function outside `pg_catalog`.
    opaque: BTreeSet<i64>,
}

/// A relation name to bump: `(schema, name)` as stored.
pub(crate) type Name = (String, String);

impl PgCatalog {
    /// Reads the catalog; the columns of the relations in `schemas` (lower-cased; all when
    /// `None`).
    pub(crate) async fn load(
        conn: &mut PgConnection,
        schemas: Option<&BTreeSet<String>>,
    ) -> Result<PgCatalog, sqlx::Error> {
        let schemas: Option<Vec<String>> = schemas.map(|s| s.iter().cloned().collect());
        let rows = sqlx::query(CATALOG)
            .bind(schemas)
            .fetch_all(&mut *conn)
            .await?;
        let mut catalog = PgCatalog::default();
        for row in rows {
            let kind: String = row.try_get(0)?;
            let a: i64 = row.try_get(1)?;
            let b: i64 = row.try_get(2)?;
            match kind.as_str() {
                "r" => {
                    let relation = Relation {
                        schema: row.try_get(3)?,
                        name: row.try_get(4)?,
                        fingerprint: row.try_get(5)?,
                        identity: match u8::try_from(b).unwrap_or(0) {
                            b'd' => ReplicaIdentity::Default,
                            b'f' => ReplicaIdentity::Full,
                            _ => ReplicaIdentity::Other,
                        },
                    };
                    let key = (relation.schema.clone(), relation.name.clone());
                    catalog.by_name.insert(key, a);
                    catalog.relations.insert(a, relation);
                }
                "i" => {
                    catalog.parents.insert((a, b));
                }
                "v" => {
                    catalog.views.insert((a, b));
                }
                _ => {
                    catalog.opaque.insert(a);
                }
            }
        }
        Ok(catalog)
    }

    /// Whether the catalog has a relation `schema.name`.
    pub(crate) fn knows(&self, schema: &str, name: &str) -> bool {
        self.by_name
            .contains_key(&(schema.to_owned(), name.to_owned()))
    }

    /// The replica identity of `schema.name` ([`ReplicaIdentity::Other`] when not known).
    pub(crate) fn identity(&self, schema: &str, name: &str) -> ReplicaIdentity {
        self.by_name
            .get(&(schema.to_owned(), name.to_owned()))
            .and_then(|oid| self.relations.get(oid))
            .map_or(ReplicaIdentity::Other, |r| r.identity)
    }

    /// The relation `schema.name`, its ancestors and the views over any of them (views of
    /// views too), added to `out`; just the name when the catalog does not know it.
    pub(crate) fn reach(&self, schema: &str, name: &str, out: &mut BTreeSet<Name>) {
        match self.by_name.get(&(schema.to_owned(), name.to_owned())) {
            Some(&oid) => self.reach_oid(oid, out),
            None => {
                out.insert((schema.to_owned(), name.to_owned()));
            }
        }
    }

    fn reach_oid(&self, oid: i64, out: &mut BTreeSet<Name>) {
        let mut queue = vec![oid];
        let mut seen = BTreeSet::new();
        while let Some(oid) = queue.pop() {
            if !seen.insert(oid) {
                continue;
            }
            if let Some(r) = self.relations.get(&oid) {
                out.insert((r.schema.clone(), r.name.clone()));
            }
            let up = self.parents.range((oid, i64::MIN)..=(oid, i64::MAX));
            let over = self.views.range((oid, i64::MIN)..=(oid, i64::MAX));
            queue.extend(up.chain(over).map(|&(_, next)| next));
        }
    }

    /// The views whose reads the catalog cannot show (and what reaches them), bumped with
    /// every change.
    pub(crate) fn opaque_views(&self, out: &mut BTreeSet<Name>) {
        for &oid in &self.opaque {
            self.reach_oid(oid, out);
        }
    }

    /// What DDL between `self` and `newer` changed: every relation added, dropped, renamed
    /// or with other columns or storage, and both ends of every edge added or removed, each
    /// reached in both snapshots (old and new names, parents and views).
    pub(crate) fn changed(&self, newer: &PgCatalog) -> BTreeSet<Name> {
        let mut oids = BTreeSet::new();
        let ids: BTreeSet<i64> = self
            .relations
            .keys()
            .chain(newer.relations.keys())
            .copied()
            .collect();
        for oid in ids {
            if self.relations.get(&oid) != newer.relations.get(&oid) {
                oids.insert(oid);
            }
        }
        for (old, new) in [(&self.parents, &newer.parents), (&self.views, &newer.views)] {
            for &(a, b) in old.symmetric_difference(new) {
                oids.extend([a, b]);
            }
        }
        oids.extend(self.opaque.symmetric_difference(&newer.opaque));
        let mut out = BTreeSet::new();
        for oid in oids {
            self.reach_oid(oid, &mut out);
            newer.reach_oid(oid, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(
        relations: &[(i64, &str, &str)],
        parents: &[(i64, i64)],
        views: &[(i64, i64)],
    ) -> PgCatalog {
        let mut c = PgCatalog::default();
        for &(oid, name, fingerprint) in relations {
            c.relations.insert(
                oid,
                Relation {
                    schema: "s".into(),
                    name: name.into(),
                    fingerprint: fingerprint.into(),
                    identity: ReplicaIdentity::Default,
                },
            );
            c.by_name.insert(("s".into(), name.into()), oid);
        }
        c.parents.extend(parents.iter().copied());
        c.views.extend(views.iter().copied());
        c
    }

    fn names(set: &BTreeSet<Name>) -> Vec<&str> {
        set.iter().map(|(_, n)| n.as_str()).collect()
    }

    #[test]
    fn a_leaf_reaches_its_ancestors_and_their_views() {
        let c = catalog(
            &[
                (1, "parts", "f"),
                (2, "parts_low", "f"),
                (3, "parts_low_a", "f"),
                (4, "v", "f"),
                (5, "w", "f"),
            ],
            &[(3, 2), (2, 1)],
            &[(1, 4), (4, 5)],
        );
        let mut out = BTreeSet::new();
        c.reach("s", "parts_low_a", &mut out);
        assert_eq!(names(&out), ["parts", "parts_low", "parts_low_a", "v", "w"]);
        let mut out = BTreeSet::new();
        c.reach("s", "unknown", &mut out);
        assert_eq!(names(&out), ["unknown"]);
    }

    #[test]
    fn ddl_bumps_old_and_new_names() {
        let old = catalog(&[(1, "t", "a"), (2, "t_new", "b"), (3, "u", "c")], &[], &[]);
        let swapped = catalog(&[(1, "t_old", "a"), (2, "t", "b"), (3, "u", "c")], &[], &[]);
        assert_eq!(names(&old.changed(&swapped)), ["t", "t_new", "t_old"]);
        let altered = catalog(
            &[(1, "t", "a2"), (2, "t_new", "b"), (3, "u", "c")],
            &[],
            &[],
        );
        assert_eq!(names(&old.changed(&altered)), ["t"]);
        assert!(old.changed(&old.clone()).is_empty());
        let attached = catalog(
            &[(1, "t", "a"), (2, "t_new", "b"), (3, "u", "c")],
            &[(2, 1)],
            &[],
        );
        assert_eq!(names(&old.changed(&attached)), ["t", "t_new"]);
    }
}
