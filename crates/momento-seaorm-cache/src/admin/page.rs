//! The admin page's HTML: one page, no scripts. Every figure sits in an element marked with
//! `data-field` (in a row marked `data-query` for a query shape), so tests and scrapers read
//! the same numbers a person sees.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::report::{CacheReport, Invalidation, QueryFigures};

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;vertical-align:top}\
th{background:#f3f3f3}td.text{text-align:left;max-width:38em;overflow-wrap:anywhere}\
td.sql{text-align:left;min-width:34em;max-width:60em;overflow-wrap:anywhere}\
code{font-size:12px}form{display:inline;margin:0 .5em .5em 0}\
.bad{color:#b00020}.good{color:#1b5e20}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.2em}";

/// `text` with `&`, `<`, `>`, `"` and `'` escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Microseconds as milliseconds with three decimals.
fn ms(us: u64) -> String {
    format!("{}.{:03}", us / 1000, us % 1000)
}

fn ratio(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

/// `at_ms` as seconds before `now_ms`.
fn ago(at_ms: u64, now_ms: u64) -> String {
    let s = now_ms.saturating_sub(at_ms) as f64 / 1000.0;
    format!("{s:.1} s ago")
}

fn invalidation(last: Option<&Invalidation>, now_ms: u64) -> String {
    match last {
        None => "none".to_owned(),
        Some(i) => format!(
            "{} ({}{}), {}",
            i.cause.as_str(),
            format!("{:?}", i.scope).to_lowercase(),
            i.table
                .as_deref()
                .map(|t| format!(": {t}"))
                .unwrap_or_default(),
            ago(i.at_ms, now_ms)
        ),
    }
}

/// The page of `report`, its forms posting under `base`, carrying `token` if one is required.
pub(super) fn render(report: &CacheReport, base: &str, token: Option<&str>) -> String {
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Query cache</title><style>{STYLE}</style></head><body>\
         <h1>Query cache</h1><p>Counted in this process since it started ({}); \
         <a href=\"{}/report.json\">JSON</a>.</p>",
        ago(report.since_ms, report.generated_at_ms),
        escape(base)
    );
    totals(&mut html, &report.totals);
    forms(&mut html, report, base, token);
    invalidators(&mut html, report);
    near(&mut html, report);
    queries(&mut html, report);
    html.push_str("</body></html>");
    html
}

fn totals(html: &mut String, t: &QueryFigures) {
    html.push_str("<h2>All queries</h2><table id=\"totals\"><tr>");
    let figures = figure_cells(t);
    for (name, _, _) in &figures {
        let _ = write!(html, "<th>{name}</th>");
    }
    html.push_str("</tr><tr>");
    for (_, field, value) in &figures {
        let _ = write!(html, "<td data-field=\"{field}\">{value}</td>");
    }
    html.push_str("</tr></table>");
}

/// (header, data-field, shown value) of each figure, in the order shown.
fn figure_cells(f: &QueryFigures) -> Vec<(&'static str, &'static str, String)> {
    vec![
        ("reads", "reads", f.reads.to_string()),
        ("hits", "hits", f.hits.to_string()),
        ("near hits", "near_hits", f.near_hits.to_string()),
        ("misses", "misses", f.misses.to_string()),
        ("stale", "stale", f.stale.to_string()),
        ("bypasses", "bypasses", f.bypasses.to_string()),
        ("hit ratio", "hit_ratio", ratio(f.hit_ratio)),
        ("DB queries", "database_loads", f.database_loads.to_string()),
        ("DB time (ms)", "database_ms", ms(f.database_us)),
        ("mean query (ms)", "mean_load_ms", ms(f.mean_load_us)),
        ("DB time saved (ms, est.)", "saved_ms", ms(f.saved_us)),
        (
            "values stored",
            "stored_values",
            f.stored_values.to_string(),
        ),
        ("bytes stored", "bytes_stored", f.bytes_stored.to_string()),
    ]
}

fn forms(html: &mut String, report: &CacheReport, base: &str, token: Option<&str>) {
    let token = token
        .map(|t| {
            format!(
                "<input type=\"hidden\" name=\"token\" value=\"{}\">",
                escape(t)
            )
        })
        .unwrap_or_default();
    let base = escape(base);
    html.push_str("<h2>Invalidate</h2><p>");
    let tables: BTreeSet<&str> = report
        .queries
        .iter()
        .flat_map(|q| q.tables.iter().map(String::as_str))
        .collect();
    for table in tables {
        let table = escape(table);
        let _ = write!(
            html,
            "<form method=\"post\" action=\"{base}/invalidate\" data-table=\"{table}\">{token}\
             <input type=\"hidden\" name=\"table\" value=\"{table}\">\
             <button type=\"submit\">Invalidate {table}</button></form>"
        );
    }
    let _ = write!(
        html,
        "</p><form method=\"post\" action=\"{base}/invalidate\" id=\"invalidate-table\">{token}\
         <label>Table <input name=\"table\" required></label> \
         <button type=\"submit\">Invalidate table</button></form>\
         <form method=\"post\" action=\"{base}/invalidate-all\" id=\"invalidate-all\">{token}\
         <button type=\"submit\">Invalidate everything</button></form>\
         <p>Last invalidation of everything: <span data-field=\"last_everything\">{}</span>. \
         An invalidation reaches every process sharing the cache.</p>",
        invalidation(
            report.last_invalidation_of_everything.as_ref(),
            report.generated_at_ms
        )
    );
}

fn invalidators(html: &mut String, report: &CacheReport) {
    html.push_str("<h2>Change-capture invalidators</h2>");
    if report.invalidators.is_empty() {
        html.push_str("<p>None gates this cache.</p>");
        return;
    }
    html.push_str(
        "<table id=\"invalidators\"><tr><th>name</th><th>state</th><th>lag (ms)</th>\
         <th>max lag (ms)</th><th>caught up</th></tr>",
    );
    for i in &report.invalidators {
        let state = match (i.healthy, i.allows_cache) {
            (true, true) => "<span class=\"good\">caught up</span>",
            (true, false) => "<span class=\"bad\">behind: reads bypass</span>",
            (false, _) => "<span class=\"bad\">down: reads bypass</span>",
        };
        let lag = i
            .lag_ms
            .map_or("never caught up".to_owned(), |l| l.to_string());
        let caught = i
            .caught_up_at_ms
            .map_or("never".to_owned(), |at| ago(at, report.generated_at_ms));
        let _ = write!(
            html,
            "<tr data-invalidator=\"{}\"><td class=\"text\">{}</td><td data-field=\"state\">{state}</td>\
             <td data-field=\"lag_ms\">{lag}</td><td data-field=\"max_lag_ms\">{}</td><td>{caught}</td></tr>",
            escape(&i.name),
            escape(&i.name),
            i.max_lag_ms
        );
    }
    html.push_str("</table>");
}

fn near(html: &mut String, report: &CacheReport) {
    html.push_str("<h2>Near cache</h2>");
    let Some(n) = &report.near else {
        html.push_str("<p>None configured.</p>");
        return;
    };
    let cells = [
        ("serving", "healthy", n.healthy.to_string()),
        ("entries", "entries", n.entries.to_string()),
        ("bytes", "bytes", n.bytes.to_string()),
        (
            "near hits",
            "near_hits",
            report.totals.near_hits.to_string(),
        ),
        (
            "revalidations",
            "revalidations",
            n.revalidations.to_string(),
        ),
        ("flushes", "flushes", n.flushes.to_string()),
        ("too large", "too_large", n.too_large.to_string()),
        (
            "messages in",
            "messages_received",
            n.messages_received.to_string(),
        ),
        (
            "messages out",
            "messages_published",
            n.messages_published.to_string(),
        ),
        (
            "publish failures",
            "publish_failures",
            n.publish_failures.to_string(),
        ),
        ("gaps", "gaps", n.gaps.to_string()),
    ];
    html.push_str("<table id=\"near\"><tr>");
    for (name, _, _) in &cells {
        let _ = write!(html, "<th>{name}</th>");
    }
    html.push_str("</tr><tr>");
    for (_, field, value) in &cells {
        let _ = write!(html, "<td data-field=\"{field}\">{value}</td>");
    }
    html.push_str("</tr></table>");
}

fn queries(html: &mut String, report: &CacheReport) {
    let _ = write!(
        html,
        "<h2>Queries, by database time saved</h2><p>{} query shapes kept (at most {}); \
         a shape is a read without its bound values. Saved time is estimated from each \
         shape's measured mean query time.</p><table id=\"queries\"><tr><th>query</th>\
         <th>operation</th><th>table</th>",
        report.queries.len(),
        report.max_queries
    );
    for (name, _, _) in figure_cells(&QueryFigures::default()) {
        let _ = write!(html, "<th>{name}</th>");
    }
    html.push_str("<th>last invalidation</th><th>SQL</th></tr>");
    for q in &report.queries {
        let _ = write!(
            html,
            "<tr data-query=\"{}\"><td><code>{}</code></td><td class=\"text\">{}</td>\
             <td class=\"text\">{}</td>",
            escape(&q.fingerprint),
            escape(&q.fingerprint),
            escape(&q.operation),
            escape(&q.table)
        );
        for (_, field, value) in figure_cells(&q.figures) {
            let _ = write!(html, "<td data-field=\"{field}\">{value}</td>");
        }
        let sql = q.sql.as_deref().unwrap_or("(primary-key lookup)");
        let _ = write!(
            html,
            "<td class=\"text\" data-field=\"last_invalidation\">{}</td>\
             <td class=\"sql\"><code>{}</code></td></tr>",
            escape(&invalidation(
                q.last_invalidation.as_ref(),
                report.generated_at_ms
            )),
            escape(sql)
        );
    }
    html.push_str("</table>");
    if report.untracked.reads > 0 {
        let _ = write!(
            html,
            "<p>Shapes dropped to keep the bound: <span data-field=\"untracked_reads\">{}</span> reads.</p>",
            report.untracked.reads
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(ms(1_234_567), "1234.567");
        assert_eq!(ms(5), "0.005");
    }
}
