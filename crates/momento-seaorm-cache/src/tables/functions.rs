//! The functions a statement may call: conservative allow-lists of built-ins. A call to anything
//! else makes the statement `Unknown`, because a user function (or `nextval`, `setval`) can
//! write.

use sqlparser::ast::ObjectName;

/// What calling a function can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    /// Reads nothing but its arguments (and the clock): the statement stays a read.
    ReadOnly,
    /// Changes no table, but its result must not be served from a cache (random values,
    /// session state, locks, sleeps): a read calling it is `Nothing`, so it is neither cached
    /// nor invalidates anything.
    Uncacheable,
    /// Might write (a user function, `nextval`, `setval`, `set_config`, ...): `Unknown`.
    Unknown,
}

/// Built-ins that read nothing but their arguments and the clock, lower case and sorted (looked
/// up by binary search): aggregates, window functions, conditionals, string, math, date and
/// time, JSON, array, full-text and set-returning functions, and those SeaORM emits
/// (`COUNT(*) AS num_items`, `CAST`, `LOWER`/`UPPER`, `COALESCE`, `IFNULL`, `GREATEST`/`LEAST`,
/// `CHAR_LENGTH`, `ROUND`, `MD5`, `BIT_AND`/`BIT_OR`, `ANY`/`SOME`/`ALL`, the PostgreSQL
/// full-text and JSON builders, `DATE_TRUNC`, MySQL's `VALUES(col)` in
/// `ON DUPLICATE KEY UPDATE`).
const READ_ONLY: &[&str] = &[
    "abs",
    "adddate",
    "age",
    "all",
    "any",
    "array",
    "array_agg",
    "array_append",
    "array_cat",
    "array_length",
    "array_position",
    "array_to_string",
    "ascii",
    "avg",
    "bit_and",
    "bit_length",
    "bit_or",
    "bit_xor",
    "bool_and",
    "bool_or",
    "btrim",
    "cardinality",
    "cast",
    "ceil",
    "ceiling",
    "char_length",
    "character_length",
    "chr",
    "coalesce",
    "concat",
    "concat_ws",
    "convert",
    "count",
    "cume_dist",
    "curdate",
    "current_date",
    "current_time",
    "current_timestamp",
    "curtime",
    "date",
    "date_add",
    "date_format",
    "date_part",
    "date_sub",
    "date_trunc",
    "datediff",
    "datetime",
    "day",
    "dayofmonth",
    "dayofweek",
    "dense_rank",
    "every",
    "exp",
    "extract",
    "first_value",
    "floor",
    "format",
    "from_unixtime",
    "generate_series",
    "greatest",
    "group_concat",
    "hex",
    "hour",
    "if",
    "ifnull",
    "iif",
    "initcap",
    "instr",
    "json",
    "json_agg",
    "json_array",
    "json_array_elements",
    "json_array_elements_text",
    "json_array_length",
    "json_arrayagg",
    "json_build_array",
    "json_build_object",
    "json_contains",
    "json_each",
    "json_each_text",
    "json_extract",
    "json_extract_path",
    "json_extract_path_text",
    "json_group_array",
    "json_group_object",
    "json_keys",
    "json_length",
    "json_object",
    "json_object_agg",
    "json_objectagg",
    "json_quote",
    "json_type",
    "json_typeof",
    "json_unquote",
    "json_valid",
    "jsonb_agg",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "jsonb_array_length",
    "jsonb_build_array",
    "jsonb_build_object",
    "jsonb_each",
    "jsonb_each_text",
    "jsonb_extract_path",
    "jsonb_extract_path_text",
    "jsonb_object_agg",
    "jsonb_typeof",
    "julianday",
    "lag",
    "last_value",
    "lead",
    "least",
    "left",
    "length",
    "ln",
    "localtime",
    "localtimestamp",
    "locate",
    "log",
    "log10",
    "log2",
    "lower",
    "lpad",
    "ltrim",
    "make_date",
    "make_timestamp",
    "max",
    "md5",
    "min",
    "minute",
    "mod",
    "month",
    "now",
    "nth_value",
    "ntile",
    "nullif",
    "octet_length",
    "percent_rank",
    "phraseto_tsquery",
    "plainto_tsquery",
    "position",
    "pow",
    "power",
    "printf",
    "rank",
    "regexp_replace",
    "repeat",
    "replace",
    "reverse",
    "right",
    "round",
    "row",
    "row_number",
    "row_to_json",
    "rpad",
    "rtrim",
    "second",
    "sign",
    "some",
    "split_part",
    "sqrt",
    "starts_with",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "str_to_date",
    "strftime",
    "string_agg",
    "string_to_array",
    "strpos",
    "substr",
    "substring",
    "sum",
    "timestampadd",
    "timestampdiff",
    "to_char",
    "to_date",
    "to_json",
    "to_jsonb",
    "to_number",
    "to_timestamp",
    "to_tsquery",
    "to_tsvector",
    "total",
    "trim",
    "trunc",
    "truncate",
    "ts_headline",
    "ts_rank",
    "ts_rank_cd",
    "unixepoch",
    "unnest",
    "upper",
    "utc_timestamp",
    "values",
    "var_pop",
    "var_samp",
    "variance",
    "websearch_to_tsquery",
    "week",
    "weekday",
    "year",
];

/// Built-ins that change no table but whose result is not a function of the tables (sorted):
/// random values, session state, advisory and named locks, sleeps. Sequence functions that
/// advance or set a sequence (`nextval`, `setval`) are on neither list: they write.
const UNCACHEABLE: &[&str] = &[
    "changes",
    "connection_id",
    "currval",
    "found_rows",
    "gen_random_uuid",
    "get_lock",
    "is_free_lock",
    "is_used_lock",
    "last_insert_id",
    "last_insert_rowid",
    "lastval",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_unlock",
    "pg_advisory_unlock_all",
    "pg_advisory_unlock_shared",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_backend_pid",
    "pg_sleep",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
    "rand",
    "random",
    "random_uuid",
    "release_all_locks",
    "release_lock",
    "row_count",
    "sleep",
    "total_changes",
    "uuid",
];

/// What calling `name` can do. Only unqualified names and names qualified by `pg_catalog` are
/// looked up: a name in any other schema may be a user function.
pub(super) fn call(name: &ObjectName) -> Call {
    let parts: Option<Vec<String>> = name
        .0
        .iter()
        .map(|part| part.as_ident().map(|ident| ident.value.to_lowercase()))
        .collect();
    let function = match parts.as_deref() {
        Some([function]) => function,
        Some([schema, function]) if schema == "pg_catalog" => function,
        _ => return Call::Unknown,
    };
    if READ_ONLY.binary_search(&function.as_str()).is_ok() {
        Call::ReadOnly
    } else if UNCACHEABLE.binary_search(&function.as_str()).is_ok() {
        Call::Uncacheable
    } else {
        Call::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_are_sorted_lower_case_unique_and_disjoint() {
        for list in [READ_ONLY, UNCACHEABLE] {
            for pair in list.windows(2) {
                assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
            }
            for name in list {
                assert_eq!(*name, name.to_lowercase());
            }
        }
        for name in UNCACHEABLE {
            assert!(READ_ONLY.binary_search(name).is_err(), "{name}");
        }
    }

    #[test]
    fn functions_are_looked_up_by_unqualified_or_pg_catalog_name() {
        let name = |parts: &[&str]| {
            ObjectName::from(
                parts
                    .iter()
                    .map(|p| sqlparser::ast::Ident::new(*p))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(call(&name(&["COUNT"])), Call::ReadOnly);
        assert_eq!(call(&name(&["pg_catalog", "lower"])), Call::ReadOnly);
        assert_eq!(call(&name(&["app", "lower"])), Call::Unknown);
        assert_eq!(call(&name(&["RANDOM"])), Call::Uncacheable);
        assert_eq!(call(&name(&["pg_advisory_lock"])), Call::Uncacheable);
        for writer in ["nextval", "setval", "set_config", "my_func"] {
            assert_eq!(call(&name(&[writer])), Call::Unknown, "{writer}");
        }
    }
}
