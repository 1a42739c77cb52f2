//! PostgreSQL's catalog: relations of every user schema, their columns, primary keys,
//! triggers and rules, partitions and inheritance (`pg_inherits`), the relations each view
//! reads (`pg_depend` of its rewrite rule) and cascading foreign keys.

use sea_orm::{ConnectionTrait, DbErr};

use super::load::{pairs, rows, text};
use super::table::{ColumnFact, Facts};

/// Relations of the schemas on the connection's `search_path` (where unqualified names
/// resolve): tables, partitioned tables, views, materialized views and foreign tables.
const RELATIONS: &str = "\
    c.relkind IN ('r', 'p', 'v', 'm', 'f') \
    AND n.nspname = ANY (current_schemas(false))";

/// Reads the catalog through `db`.
pub(super) async fn facts<C: ConnectionTrait>(db: &C) -> Result<Facts, DbErr> {
    let mut facts = Facts::default();
    let sql = format!(
        "SELECT lower(c.relname), (c.relkind IN ('v', 'm'))::text \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {RELATIONS}"
    );
    for row in rows(db, &sql).await? {
        let view = text(&row, 1) == "true";
        let name = text(&row, 0);
        // Two schemas with one name share a generation: the view side wins (wider).
        *facts.relations.entry(name).or_default() |= view;
    }
    columns(db, &mut facts).await?;
    let sql = format!(
        "SELECT lower(c.relname), lower(a.attname) FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) \
         WHERE i.indisprimary AND {RELATIONS}"
    );
    facts.primary_keys = pairs(db, &sql).await?;
    let sql = format!(
        "SELECT lower(c.relname) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND {RELATIONS} \
         UNION SELECT lower(c.relname) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE r.rulename <> '_RETURN' AND {RELATIONS}"
    );
    facts.triggers = rows(db, &sql).await?.iter().map(|r| text(r, 0)).collect();
    let sql = "SELECT lower(c.relname), lower(p.relname) FROM pg_inherits i \
               JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE c.relkind IN ('r', 'p', 'f') AND n.nspname = ANY (current_schemas(false))";
    facts.inherits = pairs(db, sql).await?;
    let sql = "SELECT DISTINCT lower(v.relname), lower(t.relname) FROM pg_rewrite r \
               JOIN pg_class v ON v.oid = r.ev_class \
               JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass \
               JOIN pg_class t ON t.oid = d.refobjid \
               JOIN pg_namespace n ON n.oid = v.relnamespace \
               WHERE v.relkind IN ('v', 'm') AND t.oid <> v.oid \
               AND n.nspname = ANY (current_schemas(false)) \
               AND t.relkind IN ('r', 'p', 'v', 'm', 'f')";
    facts.view_uses = pairs(db, sql).await?;
    let sql = "SELECT lower(c.relname), lower(p.relname) FROM pg_constraint k \
               JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid \
               JOIN pg_namespace n ON n.oid = p.relnamespace \
               WHERE k.contype = 'f' AND n.nspname = ANY (current_schemas(false)) \
               AND (k.confupdtype NOT IN ('a', 'r') OR k.confdeltype NOT IN ('a', 'r'))";
    facts.cascades = pairs(db, sql).await?;
    Ok(facts)
}

async fn columns<C: ConnectionTrait>(db: &C, facts: &mut Facts) -> Result<(), DbErr> {
    let sql = format!(
        "SELECT lower(c.relname), lower(a.attname), a.atttypid::regtype::text, \
         (a.attgenerated <> '')::text, \
         (a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%')::text, \
         a.attnotnull::text, a.atttypmod::text, coalesce(co.collisdeterministic, true)::text \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         LEFT JOIN pg_collation co ON co.oid = a.attcollation \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE a.attnum > 0 AND NOT a.attisdropped AND {RELATIONS}"
    );
    for row in rows(db, &sql).await? {
        facts.columns.push(ColumnFact {
            table: text(&row, 0),
            column: text(&row, 1),
            kind: super::kind::postgres(
                &text(&row, 2),
                text(&row, 6).parse().unwrap_or(-1),
                text(&row, 7) == "true",
            ),
            generated: text(&row, 3) == "true",
            auto: text(&row, 4) == "true",
            not_null: text(&row, 5) == "true",
        });
    }
    Ok(())
}
