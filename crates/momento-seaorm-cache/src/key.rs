//! Cache keys: readable, canonical and injective.
//!
//! ```text
//! <prefix>:<operation>:<table>[@<schema fingerprint>]:<canonical query>
//! model-cache:find_by_pk:users@1a2b3c4d:{"id":1}
//! model-cache:all:users@1a2b3c4d:["alice"]:SELECT "users"."id", "users"."name" FROM "users" WHERE "users"."name" = $1
//! ```
//! * `prefix` contains no `:` (checked at build time); `operation` is one of a fixed set of
//!   names without `:`; `table` has `%`, `:` and `@` percent-escaped. So the first three `:`
//!   split a key unambiguously.
//! * For reads of entities the table carries `@` and the [`schema_fingerprint`] of each entity
//!   (a join: `a@f1+f2`), so a changed Model never decodes an old value.
//! * For a primary-key lookup the canonical query is a JSON object of the primary-key columns,
//!   in the entity's declared order, to their values.
//! * For any other query it is the JSON array of the statement's bound values followed by `:` and
//!   the SQL text SeaORM runs. A JSON array is self-delimiting, so the SQL that follows can hold
//!   anything. Values are typed: numbers, booleans and strings as JSON, everything else as a
//!   one-field object naming its SQL type, so `1`, `"1"` and a date can never meet.
//! * A key longer than the configured limit keeps its readable head and replaces the canonical
//!   query with `#sha256:` and the hex SHA-256 of it. Unhashed canonical forms start with `[` or
//!   `{`, never `#`, so the two forms cannot collide.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use sea_orm::{ColumnTrait, EntityTrait, IdenStatic, Iterable, Statement, Value};
use sha2::{Digest, Sha256};

#[cfg(test)]
use crate::rows::RowValue;
use crate::rows::Scope;

/// Default longest key kept readable; longer keys are hashed.
pub const DEFAULT_MAX_KEY_LEN: usize = 1024;

/// A built cache key. Its `Display` and [`as_str`](CacheKey::as_str) give the exact bytes stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    /// The key as stored in the backend (the same text as its `Display`).
    ///
    /// ```
    /// # mod user {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    /// #     #[derive(serde::Serialize, serde::Deserialize)]
    /// #     #[sea_orm(table_name = "users")]
    /// #     pub struct Model {
    /// #         #[sea_orm(primary_key)]
    /// #         pub id: i32,
    /// #         pub name: String,
    /// #     }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// # sea_orm::ConnectionTrait::execute_unprepared(
    /// #     &db,
    /// #     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    /// #      INSERT INTO users VALUES (1, 'alice'), (2, 'bob')",
    /// # )
    /// # .await?;
    /// # let backend = momento_seaorm_cache::MemoryBackend::new();
    /// # let cache = momento_seaorm_cache::ModelCache::builder(backend).build()?;
    /// use momento_seaorm_cache::key::schema_fingerprint;
    /// let read = cache.wrap(user::Entity).find_by_pk_with_status(&db, 1).await?;
    /// let key = read.key.unwrap();
    /// let fingerprint = schema_fingerprint::<user::Entity>();
    /// let expected = format!(r#"model-cache:find_by_pk:users@{fingerprint}:{{"id":1}}"#);
    /// assert_eq!(key.as_str(), expected);
    /// assert!(cache.backend().get(key.as_str()).await?.is_some()); // the stored value
    /// # Ok(()) }
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key for a primary-key lookup: `prefix:find_by_pk:label:{"col":value,...}`, where
    /// `label` comes from [`entity_label`] or [`sql_label`].
    pub(crate) fn for_primary_key<'a>(
        prefix: &str,
        label: &str,
        columns: impl IntoIterator<Item = (&'a str, &'a Value)>,
        max_len: usize,
    ) -> CacheKey {
        let mut key = CacheKey::head(prefix, Operation::FindByPk, label, 32);
        let head = key.len();
        key.push('{');
        for (i, (column, value)) in columns.into_iter().enumerate() {
            if i > 0 {
                key.push(',');
            }
            push_json_string(&mut key, column);
            key.push(':');
            push_value(&mut key, value);
        }
        key.push('}');
        CacheKey::finish(key, head, max_len)
    }

    /// The key for a statement: `prefix:operation:label:[values]:sql`.
    pub(crate) fn for_statement(
        prefix: &str,
        operation: Operation,
        label: &str,
        statement: &Statement,
        max_len: usize,
    ) -> CacheKey {
        let mut canonical = String::with_capacity(statement.sql.len() + 32);
        canonical.push('[');
        if let Some(values) = &statement.values {
            for (i, value) in values.0.iter().enumerate() {
                if i > 0 {
                    canonical.push(',');
                }
                push_value(&mut canonical, value);
            }
        }
        canonical.push_str("]:");
        canonical.push_str(&statement.sql);
        CacheKey::assemble(prefix, operation, label, canonical, max_len)
    }

    /// The key of the load lease for `key`: `prefix:lease:<the rest of key>`. `lease` is no read
    /// operation, so a lease key never equals a read's key.
    pub(crate) fn lease_for(key: &CacheKey, prefix: &str) -> CacheKey {
        let rest = key.0.get(prefix.len() + 1..).unwrap_or(&key.0);
        CacheKey(format!("{prefix}:lease:{rest}"))
    }

    fn assemble(
        prefix: &str,
        operation: Operation,
        label: &str,
        canonical: String,
        max_len: usize,
    ) -> CacheKey {
        let mut key = CacheKey::head(prefix, operation, label, canonical.len());
        let head = key.len();
        key.push_str(&canonical);
        CacheKey::finish(key, head, max_len)
    }

    /// `prefix:operation:label:`, with room for `rest` more bytes.
    fn head(prefix: &str, operation: Operation, label: &str, rest: usize) -> String {
        let mut key = String::with_capacity(prefix.len() + label.len() + rest + 16);
        key.push_str(prefix);
        key.push(':');
        key.push_str(operation.as_str());
        key.push(':');
        key.push_str(label);
        key.push(':');
        key
    }

    /// Replaces the canonical query after `head` with its hash when the key is too long.
    fn finish(mut key: String, head: usize, max_len: usize) -> CacheKey {
        if key.len() > max_len {
            let digest = Sha256::digest(&key.as_bytes()[head..]);
            key.truncate(head);
            key.push_str("#sha256:");
            for byte in digest {
                let _ = write!(key, "{byte:02x}");
            }
        }
        CacheKey(key)
    }
}

/// How this cache names its keys: the prefix every key starts with and the length past which a
/// key's canonical query is hashed. Every key the crate stores is made here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyFormat {
    prefix: String,
    max_len: usize,
    global_generation: String,
    /// Whether keys carry their main table as a Redis Cluster hash tag (`{users}`), so a read's
    /// value and its generation keys share a slot.
    hash_tags: bool,
}

impl KeyFormat {
    /// Keys under `prefix` (no `:`, checked at build), hashed past `max_len` bytes.
    pub(crate) fn new(prefix: String, max_len: usize) -> KeyFormat {
        // Room for the readable head plus a 64-digit hash.
        let max_len = max_len.max(prefix.len() + 96);
        let global_generation = format!("{prefix}:gen-all");
        KeyFormat {
            prefix,
            max_len,
            global_generation,
            hash_tags: false,
        }
    }

    /// The same keys with the main table as a hash tag: `prefix:op:{users}@fp:...` and
    /// `prefix:gen:{users}#id=1`, so a one-table read's keys share one Redis Cluster slot.
    pub(crate) fn with_hash_tags(mut self, hash_tags: bool) -> KeyFormat {
        self.hash_tags = hash_tags;
        self
    }

    /// `label` with its main table (up to the first `@` or `+`) as a hash tag, when tagging.
    fn tagged<'a>(&self, label: &'a str) -> Cow<'a, str> {
        if !self.hash_tags {
            return Cow::Borrowed(label);
        }
        let end = label.find(['@', '+']).unwrap_or(label.len());
        let mut tagged = String::with_capacity(label.len() + 8);
        push_tag(&mut tagged, &label[..end]);
        tagged.push_str(&label[end..]);
        Cow::Owned(tagged)
    }

    /// The prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// See [`CacheKey::for_primary_key`].
    pub(crate) fn primary_key<'a>(
        &self,
        label: &str,
        columns: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> CacheKey {
        CacheKey::for_primary_key(&self.prefix, &self.tagged(label), columns, self.max_len)
    }

    /// See [`CacheKey::for_statement`].
    pub(crate) fn statement(
        &self,
        operation: Operation,
        label: &str,
        statement: &Statement,
    ) -> CacheKey {
        let label = self.tagged(label);
        CacheKey::for_statement(&self.prefix, operation, &label, statement, self.max_len)
    }

    /// See [`CacheKey::lease_for`].
    pub(crate) fn lease(&self, key: &CacheKey) -> CacheKey {
        CacheKey::lease_for(key, &self.prefix)
    }

    /// The generation key of `table`: `prefix:gen:<table>` (`%`, `:`, `#` and `=`
    /// percent-escaped).
    pub(crate) fn generation(&self, table: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + table.len() + 7);
        key.push_str(&self.prefix);
        key.push_str(":gen:");
        match self.hash_tags {
            // The same tag as the table's value keys: its label part, braces escaped.
            true => push_tag(&mut key, &sql_label(table)),
            false => push_escaped(&mut key, table),
        }
        key
    }

    /// The generation key of a scope of `table`'s rows: `prefix:gen:<table>#*` (any row),
    /// `...#<column>` (rows whose column value is not known), `...#<column>=<value>` (the value
    /// as [`RowValue::push_key`](crate::rows::RowValue) writes it: integers in decimal, UUIDs
    /// hyphenated, `'text` or `~<sha256>`), `...#*<a>*<b>=<va>*<vb>` (a composite key).
    pub(crate) fn row_generation(&self, table: &str, scope: &Scope) -> String {
        let mut key = self.generation(table);
        key.push('#');
        match scope {
            Scope::AnyRow => key.push('*'),
            Scope::Column(column) => push_escaped(&mut key, column),
            Scope::Value(column, value) => {
                push_escaped(&mut key, column);
                key.push('=');
                value.push_key(&mut key);
            }
            Scope::Tuple(columns, values) => {
                // `*` is escaped in names, so `#*` followed by more is a tuple, never `#*`.
                for column in columns {
                    key.push('*');
                    push_escaped(&mut key, column);
                }
                key.push('=');
                for (at, value) in values.iter().enumerate() {
                    if at > 0 {
                        key.push('*');
                    }
                    value.push_tuple_key(&mut key);
                }
            }
        }
        key
    }

    /// The generation every read depends on: `prefix:gen-all`.
    pub(crate) fn global_generation(&self) -> &str {
        &self.global_generation
    }
}

/// Appends `{name}`, a Redis hash tag, with `{` and `}` in `name` percent-escaped (`%` already
/// is, by [`sql_label`]), so the tag ends where the name does.
fn push_tag(key: &mut String, name: &str) {
    key.push('{');
    for c in name.chars() {
        match c {
            '{' => key.push_str("%7B"),
            '}' => key.push_str("%7D"),
            c => key.push(c),
        }
    }
    key.push('}');
}

/// Appends `name` with the characters generation keys use as separators percent-escaped.
fn push_escaped(key: &mut String, name: &str) {
    if !name
        .bytes()
        .any(|b| matches!(b, b'%' | b':' | b'#' | b'=' | b'*'))
    {
        key.push_str(name);
        return;
    }
    for c in name.chars() {
        match c {
            '%' => key.push_str("%25"),
            ':' => key.push_str("%3A"),
            '#' => key.push_str("%23"),
            '=' => key.push_str("%3D"),
            '*' => key.push_str("%2A"),
            c => key.push(c),
        }
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The read operation a key belongs to; part of the key. It names what the stored value is (the
/// rows of the statement, its first row, a count, ...), so one statement read through different
/// calls that return the same value shares one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `wrap(E).find_by_pk`.
    FindByPk,
    /// No longer made by this crate (`wrap(E).find_one` keys under [`One`](Operation::One));
    /// kept for requests that name it.
    FindOne,
    /// No longer made by this crate (`wrap(E).find_all` keys under [`All`](Operation::All));
    /// kept for requests that name it.
    FindAll,
    /// `wrap(E).count` and `.cached(..).count`.
    Count,
    /// The first row: `.cached(..).one`, `.require_one`, `wrap(E).find_one`.
    One,
    /// Every row of the statement: `.cached(..).all`, `.stream`, a paginator's pages,
    /// `wrap(E).find_all`.
    All,
    /// `.cached(..).exists`.
    Exists,
    /// A paginator's `num_items` (also `num_pages`, `num_items_and_pages`).
    NumItems,
    /// A cursor's `all` (rows in the cursor's order, reversed for `last`).
    Cursor,
    /// Rows with their related rows gathered: `find_with_related`, `find_with_linked`,
    /// `consolidate()`.
    WithRelated,
    /// The loader's `load_one`.
    LoadOne,
    /// The loader's `load_many`.
    LoadMany,
    /// The loader's `load_many_to_many`.
    LoadManyToMany,
}

impl Operation {
    /// The name used in keys and logs (the same text as its `Display`).
    ///
    /// ```
    /// use momento_seaorm_cache::Operation;
    /// assert_eq!(Operation::FindByPk.as_str(), "find_by_pk");
    /// assert_eq!(Operation::All.to_string(), "all");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::FindByPk => "find_by_pk",
            Operation::FindOne => "find_one",
            Operation::FindAll => "find_all",
            Operation::Count => "count",
            Operation::One => "one",
            Operation::All => "all",
            Operation::Exists => "exists",
            Operation::NumItems => "num_items",
            Operation::Cursor => "cursor",
            Operation::WithRelated => "with_related",
            Operation::LoadOne => "load_one",
            Operation::LoadMany => "load_many",
            Operation::LoadManyToMany => "load_many_to_many",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The table segment of a key for a table known only by name: the name with `%`, `:` and `@`
/// percent-escaped.
pub(crate) fn sql_label(table: &str) -> String {
    let mut out = String::with_capacity(table.len());
    for c in table.chars() {
        match c {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            '@' => out.push_str("%40"),
            c => out.push(c),
        }
    }
    out
}

/// The table segment of a key for a statement known only by its SQL: the first table after
/// its top-level `FROM` (`query` when there is none), escaped.
pub(crate) fn statement_label(statement: &Statement) -> std::borrow::Cow<'static, str> {
    let table = crate::tables::main_table(&statement.sql);
    std::borrow::Cow::Owned(sql_label(table.as_deref().unwrap_or("query")))
}

/// A fingerprint of an entity's columns (names, types, nullability), 8 hex digits: a key
/// includes it, so after a deploy that changes a Model no old value is decoded into the new
/// shape.
///
/// ```
/// # mod user {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
/// #     #[derive(serde::Serialize, serde::Deserialize)]
/// #     #[sea_orm(table_name = "users")]
/// #     pub struct Model {
/// #         #[sea_orm(primary_key)]
/// #         pub id: i32,
/// #         pub name: String,
/// #     }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// #     pub enum Relation {}
/// #     impl ActiveModelBehavior for ActiveModel {}
/// # }
/// use momento_seaorm_cache::key::schema_fingerprint;
/// let fingerprint = schema_fingerprint::<user::Entity>();
/// assert_eq!(fingerprint.len(), 8);
/// assert!(fingerprint.chars().all(|c| c.is_ascii_hexdigit()));
/// assert_eq!(fingerprint, schema_fingerprint::<user::Entity>()); // stable
/// ```
pub fn schema_fingerprint<E: EntityTrait>() -> &'static str {
    memoized::<E>(|| {
        let mut hasher = Sha256::new();
        for column in E::Column::iter() {
            let def = column.def();
            hasher.update(column.as_str().as_bytes());
            hasher.update(format!(":{:?}:{};", def.get_column_type(), def.is_null()));
        }
        hasher.finalize()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// The table segment of a key for an entity: `table@fingerprint`.
pub(crate) fn entity_label<E: EntityTrait>() -> &'static str {
    memoized::<(E, Label)>(|| {
        format!(
            "{}@{}",
            sql_label(E::default().table_name()),
            schema_fingerprint::<E>()
        )
    })
}

/// The table segment of a key for a join of two entities: `table@fingerprint+fingerprint`.
pub(crate) fn pair_label<E: EntityTrait, F: EntityTrait>() -> &'static str {
    memoized::<(E, F, Label)>(|| format!("{}+{}", entity_label::<E>(), schema_fingerprint::<F>()))
}

/// Marks label entries in the memo apart from fingerprints.
struct Label;

/// Computes a string once per type and keeps it for the life of the process (one small string
/// per entity type).
pub(crate) fn memoized<T: 'static>(make: impl FnOnce() -> String) -> &'static str {
    static MEMO: OnceLock<RwLock<HashMap<TypeId, &'static str>>> = OnceLock::new();
    let memo = MEMO.get_or_init(Default::default);
    let id = TypeId::of::<T>();
    if let Some(found) = memo.read().unwrap_or_else(|e| e.into_inner()).get(&id) {
        return found;
    }
    // Made outside the lock: making a label needs the fingerprint, memoized here too.
    let made = make();
    let mut memo = memo.write().unwrap_or_else(|e| e.into_inner());
    memo.entry(id)
        .or_insert_with(|| Box::leak(made.into_boxed_str()))
}

fn push_json_string(out: &mut String, s: &str) {
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        // Nothing to escape: what serde_json writes, without its allocation.
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    // serde_json's string escaping is injective; writing into a String cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// Appends the canonical JSON of one bound value.
fn push_value(out: &mut String, value: &Value) {
    macro_rules! number {
        ($v:expr) => {
            match $v {
                Some(n) => out.push_str(itoa::Buffer::new().format(*n)),
                None => out.push_str("null"),
            }
        };
    }
    match value {
        Value::Bool(Some(b)) => out.push_str(if *b { "true" } else { "false" }),
        Value::TinyInt(v) => number!(v),
        Value::SmallInt(v) => number!(v),
        Value::Int(v) => number!(v),
        Value::BigInt(v) => number!(v),
        Value::TinyUnsigned(v) => number!(v),
        Value::SmallUnsigned(v) => number!(v),
        Value::Unsigned(v) => number!(v),
        Value::BigUnsigned(v) => number!(v),
        Value::Float(Some(f)) => push_float(out, f64::from(*f), "f32"),
        Value::Double(Some(f)) => push_float(out, *f, "f64"),
        Value::String(Some(s)) => push_json_string(out, s),
        Value::Char(Some(c)) => push_json_string(out, c.encode_utf8(&mut [0; 4])),
        Value::Json(Some(json)) => {
            out.push_str("{\"json\":");
            out.push_str(&json.to_string());
            out.push('}');
        }
        other => {
            // Any other SQL type: its Debug form names the variant and the value, e.g.
            // ChronoDate(Some(2024-01-31)), which is deterministic and readable. A typed NULL
            // binds as NULL whatever its type.
            let debug = format!("{other:?}");
            if debug.ends_with("(None)") {
                out.push_str("null");
            } else {
                out.push_str("{\"sql\":");
                push_json_string(out, &debug);
                out.push('}');
            }
        }
    }
}

/// Floats print with a decimal point (so 1.0 never reads as the integer 1); non-finite ones
/// are tagged strings, since JSON has no NaN.
fn push_float(out: &mut String, f: f64, ty: &str) {
    if f.is_finite() {
        let _ = write!(out, "{f:?}");
    } else {
        let _ = write!(out, "{{\"{ty}\":\"{f}\"}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbBackend, Values};

    fn statement(sql: &str, values: Vec<Value>) -> Statement {
        Statement {
            sql: sql.to_owned(),
            values: Some(Values(values)),
            db_backend: DbBackend::Postgres,
        }
    }

    fn key(sql: &str, values: Vec<Value>) -> String {
        CacheKey::for_statement("p", Operation::All, "t", &statement(sql, values), 4096)
            .as_str()
            .to_owned()
    }

    #[test]
    fn hash_tagged_keys_put_a_table_in_one_slot_and_stay_distinct() {
        let keys = KeyFormat::new("p".into(), 0).with_hash_tags(true);
        let pk = keys.primary_key("users@0a1b2c3d", [("id", &Value::Int(Some(1)))]);
        assert_eq!(pk.as_str(), r#"p:find_by_pk:{users}@0a1b2c3d:{"id":1}"#);
        assert_eq!(keys.generation("users"), "p:gen:{users}");
        assert_eq!(
            keys.row_generation("users", &Scope::Value("id".into(), RowValue::Int(1))),
            "p:gen:{users}#id=1"
        );
        // A brace in a table's name cannot end the tag early or make two tables' keys meet.
        assert_eq!(keys.generation("a}b"), "p:gen:{a%7Db}");
        assert_ne!(keys.generation("a}b"), keys.generation("a%7Db"));
        assert_eq!(keys.generation("a%7Db"), "p:gen:{a%257Db}");
        let joined = keys.statement(
            Operation::All,
            "users+9f9f9f9f",
            &statement("SELECT 1", vec![]),
        );
        assert!(
            joined.as_str().starts_with("p:all:{users}+9f9f9f9f:"),
            "{joined}"
        );
        let plain = KeyFormat::new("p".into(), 0);
        assert_eq!(plain.generation("users"), "p:gen:users");
    }

    #[test]
    fn generation_keys_escape_their_table() {
        let keys = KeyFormat::new("p".into(), 0);
        assert_eq!(keys.generation("a:b%"), "p:gen:a%3Ab%25");
        assert_eq!(keys.global_generation(), "p:gen-all");
        assert_eq!(keys.generation("a#*="), "p:gen:a%23%2A%3D");
        assert_eq!(
            keys.row_generation("posts", &Scope::AnyRow),
            "p:gen:posts#*"
        );
        assert_eq!(
            keys.row_generation("posts", &Scope::Column("*".into())),
            "p:gen:posts#%2A"
        );
        assert_eq!(
            keys.row_generation("posts", &Scope::Value("user_id".into(), RowValue::Int(-7))),
            "p:gen:posts#user_id=-7"
        );
        assert_eq!(
            keys.row_generation("posts", &Scope::Value("id".into(), RowValue::Uuid(1))),
            "p:gen:posts#id=00000000-0000-0000-0000-000000000001"
        );
        assert_eq!(
            keys.row_generation(
                "posts",
                &Scope::Value("e".into(), RowValue::Text("a=*".into()))
            ),
            "p:gen:posts#e='a=*"
        );
        assert_eq!(
            keys.row_generation(
                "m",
                &Scope::Tuple(
                    vec!["a*".into(), "b".into()],
                    vec![RowValue::Text("x*".into()), RowValue::Int(2)]
                )
            ),
            "p:gen:m#*a%2A*b='x%2A*2"
        );
    }

    #[test]
    fn primary_key_format_is_readable() {
        let one = Value::Int(Some(1));
        let k = CacheKey::for_primary_key("model-cache", "users", [("id", &one)], 4096);
        assert_eq!(k.as_str(), r#"model-cache:find_by_pk:users:{"id":1}"#);
        let name = Value::String(Some("a\"b".into()));
        let k = CacheKey::for_primary_key("m", "t", [("a", &one), ("b", &name)], 4096);
        assert_eq!(k.as_str(), r#"m:find_by_pk:t:{"a":1,"b":"a\"b"}"#);
    }

    #[test]
    fn statement_format_is_values_then_sql() {
        assert_eq!(
            key(
                "SELECT 1 WHERE a = $1",
                vec![Value::String(Some("x".into()))]
            ),
            r#"p:all:t:["x"]:SELECT 1 WHERE a = $1"#
        );
    }

    #[test]
    fn hostile_strings_do_not_collide() {
        let sql = "SELECT * FROM t WHERE a = $1 AND b = $2";
        let s = |v: &str| Value::String(Some(v.to_owned()));
        let pairs = [
            vec![s("x\",\"y"), s("z")],
            vec![s("x"), s("y\",\"z")],
            vec![s("x:y"), s("z")],
            vec![s("x"), s(":y:z")],
            vec![s("]:SELECT"), s("")],
            vec![s(""), s("]:SELECT")],
            vec![Value::Int(Some(1)), s("1")],
            vec![s("1"), Value::Int(Some(1))],
            vec![Value::Double(Some(1.0)), Value::Int(Some(1))],
            vec![Value::Int(Some(1)), Value::Int(None)],
            vec![Value::Int(Some(1)), s("null")],
        ];
        let keys: Vec<String> = pairs.iter().map(|v| key(sql, v.clone())).collect();
        for i in 0..keys.len() {
            for j in 0..keys.len() {
                if i != j {
                    assert_ne!(keys[i], keys[j], "{:?} vs {:?}", pairs[i], pairs[j]);
                }
            }
        }
        // A value that mimics the end of the values list cannot be confused with SQL.
        assert_ne!(
            key("]:SELECT 2", vec![s("a")]),
            key("SELECT 2", vec![s("a\"]:")])
        );
    }

    #[test]
    fn tables_with_colons_are_escaped() {
        let st = statement("S", vec![]);
        let a = CacheKey::for_statement("p", Operation::All, &sql_label("a:b"), &st, 4096);
        let b = CacheKey::for_statement("p", Operation::All, &sql_label("a%3Ab"), &st, 4096);
        assert_eq!(a.as_str(), "p:all:a%3Ab:[]:S");
        assert_ne!(a, b);
    }

    #[test]
    fn long_keys_are_hashed_but_stay_distinct() {
        let long = "x".repeat(2000);
        let a = CacheKey::for_statement("p", Operation::All, "t", &statement(&long, vec![]), 256);
        let b = CacheKey::for_statement(
            "p",
            Operation::All,
            "t",
            &statement(&format!("{long}y"), vec![]),
            256,
        );
        assert!(a.as_str().starts_with("p:all:t:#sha256:"), "{a}");
        assert_eq!(a.as_str().len(), "p:all:t:#sha256:".len() + 64);
        assert_ne!(a, b);
    }

    #[test]
    fn json_strings_match_serde_json() {
        for s in [
            "",
            "id",
            "a\"b",
            "back\\slash",
            "tab\there",
            "\u{1}\u{7f}é",
            "ü:{}",
        ] {
            let mut out = String::new();
            push_json_string(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn long_primary_keys_are_hashed() {
        let long = Value::String(Some("x".repeat(300)));
        let k = CacheKey::for_primary_key("p", "t", [("id", &long)], 200);
        let canonical = format!("{{\"id\":\"{}\"}}", "x".repeat(300));
        let digest: String = Sha256::digest(canonical.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(k.as_str(), format!("p:find_by_pk:t:#sha256:{digest}"));
    }

    #[test]
    fn same_query_same_key() {
        let v = || vec![Value::BigInt(Some(7)), Value::Bool(Some(true))];
        assert_eq!(key("S", v()), key("S", v()));
        assert_eq!(key("S", v()), r#"p:all:t:[7,true]:S"#);
    }
}
