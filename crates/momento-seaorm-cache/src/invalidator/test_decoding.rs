//! Parsing the text PostgreSQL's `test_decoding` plugin writes for each change:
//!
//! ```text
//! BEGIN
//! table public.users: UPDATE: id[integer]:1 username[text]:'alice' ...
//! table public."Odd Name": DELETE: id[integer]:7
//! table public.a, public.b: TRUNCATE: (no-flags)
//! COMMIT (at 2024-05-01 10:00:00.123456+00)
//! ```
//! The table names give table generations; the rest of a one-table `INSERT`, `UPDATE` or
//! `DELETE` line (the old key or row, the new row) is read by [`pg_rows`](super::pg_rows).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::pg_rows::{parse_row, RowData};

/// One line of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    Begin,
    /// The end of a transaction, with its transaction id and commit time if the line carried
    /// them.
    Commit(Option<u32>, Option<SystemTime>),
    /// A change of these tables, `(schema, table)`, as stored (unquoted), with the row it
    /// changed when the line is a one-table row change that could be read.
    Tables(Vec<(String, String)>, Option<RowData>),
    /// A table change whose names could not be read: invalidate everything.
    Unreadable,
    /// Anything else (logical messages...).
    Other,
}

pub(crate) fn parse(line: &str) -> Line {
    if line == "BEGIN" || line.starts_with("BEGIN ") {
        return Line::Begin;
    }
    if line == "COMMIT" || line.starts_with("COMMIT ") {
        let at = line
            .split_once("(at ")
            .and_then(|(_, rest)| rest.strip_suffix(')'))
            .and_then(parse_timestamp);
        let xid = line["COMMIT".len()..]
            .split_whitespace()
            .next()
            .and_then(|x| x.parse().ok());
        return Line::Commit(xid, at);
    }
    match line.strip_prefix("table ") {
        Some(rest) => match tables(rest) {
            Some((tables, rest)) => {
                let row = (tables.len() == 1).then(|| parse_row(rest)).flatten();
                Line::Tables(tables, row)
            }
            None => Line::Unreadable,
        },
        None => Line::Other,
    }
}

/// `schema.table[, schema.table]*` at the start of `rest`, and what follows (from the `:`).
fn tables(mut rest: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut found = Vec::new();
    loop {
        let (schema, after) = identifier(rest)?;
        let after = after.strip_prefix('.')?;
        let (table, after) = identifier(after)?;
        found.push((schema, table));
        if let Some(next) = after.strip_prefix(", ") {
            rest = next;
        } else if after.starts_with(':') {
            return Some((found, after));
        } else {
            return None;
        }
    }
}

/// One identifier as `quote_identifier` writes it: bare, or in double quotes with `""` for `"`.
fn identifier(s: &str) -> Option<(String, &str)> {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if quoted[i + 1..].starts_with('"') {
                    out.push('"');
                    chars.next();
                } else {
                    return Some((out, &quoted[i + 1..]));
                }
            } else {
                out.push(c);
            }
        }
        None
    } else {
        let end = s.find(['.', ':', ',', ' ']).unwrap_or(s.len());
        (end > 0).then(|| (s[..end].to_owned(), &s[end..]))
    }
}

/// `2024-05-01 10:00:00.123456+00` (the session runs in UTC; other offsets are honoured).
fn parse_timestamp(s: &str) -> Option<SystemTime> {
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let sign_at = time.rfind(['+', '-'])?;
    let (clock, offset) = time.split_at(sign_at);
    let mut c = clock.split(':');
    let hour: i64 = c.next()?.parse().ok()?;
    let minute: i64 = c.next()?.parse().ok()?;
    let seconds = c.next()?;
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, "0"));
    let second: i64 = whole.parse().ok()?;
    let micros: u64 = format!("{fraction:0<6}")[..6].parse().ok()?;
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let mut o = offset[1..].split(':');
    let offset_hours: i64 = o.next()?.parse().ok()?;
    let offset_minutes: i64 = o.next().map_or(Some(0), |m| m.parse().ok())?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second
        - sign * (offset_hours * 3600 + offset_minutes * 60);
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `16/B374D848` → a number.
pub(crate) fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// A number → `16/B374D848`.
pub(crate) fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(schema: &str, table: &str) -> (String, String) {
        (schema.to_owned(), table.to_owned())
    }

    #[test]
    fn table_lines_name_their_tables() {
        let tables = |line| match parse(line) {
            Line::Tables(tables, row) => (tables, row.is_some()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            tables("table public.users: UPDATE: id[integer]:1 name[text]:'a: b'"),
            (vec![t("public", "users")], true)
        );
        assert_eq!(
            tables(r#"table "My Schema"."Odd ""x"".y": INSERT: id[integer]:1"#),
            (vec![t("My Schema", r#"Odd "x".y"#)], true)
        );
        assert_eq!(
            tables("table public.a, s2.b: TRUNCATE: restart_seqs cascade"),
            (vec![t("public", "a"), t("s2", "b")], false)
        );
        assert_eq!(parse("table nonsense"), Line::Unreadable);
        assert_eq!(parse("BEGIN"), Line::Begin);
        assert_eq!(parse("BEGIN 1234"), Line::Begin);
        assert_eq!(
            parse("message: transactional: 1 prefix: x, sz: 1 content:y"),
            Line::Other
        );
    }

    #[test]
    fn commit_lines_carry_their_time() {
        let Line::Commit(None, Some(at)) = parse("COMMIT (at 2024-05-01 10:00:00.123456+00)")
        else {
            panic!("no time")
        };
        let since = at.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(since.as_secs(), 1_714_557_600);
        assert_eq!(since.subsec_micros(), 123_456);
        let Line::Commit(Some(77), Some(shifted)) =
            parse("COMMIT 77 (at 2024-05-01 12:00:00.5+02)")
        else {
            panic!("no time")
        };
        assert_eq!(
            shifted.duration_since(UNIX_EPOCH).unwrap().as_millis(),
            1_714_557_600_500
        );
        assert_eq!(parse("COMMIT"), Line::Commit(None, None));
    }

    #[test]
    fn lsns_round_trip() {
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("nope"), None);
    }
}
