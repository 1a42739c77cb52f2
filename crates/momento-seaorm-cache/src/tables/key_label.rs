//! The key label of a statement: the first table named after its top-level `FROM`. Only a
//! label for cache keys and metrics, never used to decide what to invalidate.

/// The first table named after `FROM` at the top level of `sql`, for key labels; `None` if
/// there is none or it is a subquery.
pub(crate) fn main_table(sql: &str) -> Option<String> {
    let bytes = sql.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' | b'`' => i = skip_quoted(bytes, i),
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ if depth == 0 && is_keyword_at(bytes, i, b"FROM") => {
                return read_table(&sql[i + 4..]);
            }
            _ => i += 1,
        }
    }
    None
}

/// Index just past the quoted run starting at `start` (doubled quotes are escapes).
fn skip_quoted(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        if bytes[i] == b'\\' && quote == b'\'' {
            i += 1;
        }
        i += 1;
    }
    bytes.len()
}

fn is_keyword_at(bytes: &[u8], i: usize, keyword: &[u8]) -> bool {
    let end = i + keyword.len();
    end <= bytes.len()
        && bytes[i..end].eq_ignore_ascii_case(keyword)
        && (i == 0 || !is_ident_byte(bytes[i - 1]))
        && (end == bytes.len() || !is_ident_byte(bytes[end]))
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Reads a possibly quoted, possibly schema-qualified table name at the start of `rest`.
fn read_table(rest: &str) -> Option<String> {
    let rest = rest.trim_start();
    let mut name = String::new();
    let mut chars = rest.chars().peekable();
    loop {
        match chars.peek().copied() {
            Some(q @ ('"' | '`')) => {
                chars.next();
                for c in chars.by_ref() {
                    if c == q {
                        break;
                    }
                    name.push(c);
                }
            }
            Some(c) if c.is_alphanumeric() || c == '_' || c == '$' => {
                while let Some(&c) = chars.peek() {
                    if !(c.is_alphanumeric() || c == '_' || c == '$') {
                        break;
                    }
                    name.push(c);
                    chars.next();
                }
            }
            _ => break,
        }
        if chars.peek() == Some(&'.') {
            name.push('.');
            chars.next();
        } else {
            break;
        }
    }
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_main_table_in_each_dialect() {
        assert_eq!(
            main_table(r#"SELECT "users"."id" FROM "users" WHERE "users"."id" = $1"#).as_deref(),
            Some("users")
        );
        assert_eq!(
            main_table("SELECT `user_groups`.`id` FROM `user_groups` INNER JOIN `users`")
                .as_deref(),
            Some("user_groups")
        );
        assert_eq!(
            main_table(r#"SELECT x FROM "app"."users""#).as_deref(),
            Some("app.users")
        );
        assert_eq!(
            main_table("select a from t1 where b = 'FROM x'").as_deref(),
            Some("t1")
        );
        assert_eq!(
            main_table(r#"SELECT (SELECT 1 FROM a) AS "from", fromage FROM "b""#).as_deref(),
            Some("b")
        );
        assert_eq!(main_table("SELECT 1"), None);
    }
}
