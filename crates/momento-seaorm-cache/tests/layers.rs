//! The crate's modules depend one way: each imports only modules of its own layer or below,
//! and no module imports, directly or through others, a module that imports it. This reads the
//! `crate::` paths of every source file, so a new import that breaks the layering fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every top-level module and its layer, bottom (0) to top. A new module must be placed here.
const LAYERS: &[(&str, u8)] = &[
    // Leaves.
    ("error", 0),
    ("breaker", 0),
    ("tables", 0),
    ("catalog", 0),
    ("rows", 0),
    ("limit", 0),
    ("load", 0),
    ("connection", 0),
    ("codec", 0),
    ("backend", 0),
    ("key", 0),
    ("metrics", 0),
    ("status", 0),
    ("flight", 0),
    ("seen_keys", 0),
    ("capture", 0),
    ("health", 0),
    // The backend under deadline and breaker; the near cache (process memory, push invalidation).
    ("guarded", 1),
    ("near", 1),
    // Per-query counters and invalidations, for the report (reads the near cache's figures).
    ("report", 1),
    // Generations, the storing policy, the request type, the settings.
    ("generations", 2),
    ("policy", 2),
    ("request", 2),
    ("config", 2),
    // Invalidators' heartbeats in the cache, read back into an InvalidatorHealth.
    ("heartbeat", 2),
    // The read path.
    ("read", 3),
    // The cache that owns the parts.
    ("cache", 4),
    // The builder assembles the cache from its parts.
    ("builder", 5),
    // Front ends.
    // The SeaORM read adapters (wrap, query, selectors, loaders, ...), one folder.
    ("seaorm", 5),
    ("cached_connection", 5),
    ("invalidator", 5),
    // The admin page (feature admin): the report and invalidation over HTTP.
    ("admin", 5),
];

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments (line comments and doc comments; block comments are not used).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules a file names through `crate::name` or `use crate::{a, b::c}`.
fn imports(code: &str, modules: &BTreeSet<&str>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = item.trim().split("::").next().unwrap_or("").trim();
                found.insert(name.to_owned());
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found.retain(|name| modules.contains(name.as_str()));
    found
}

/// The import graph between top-level modules.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules: BTreeSet<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top = top.trim_end_matches(".rs").to_owned();
        if top == "lib" {
            continue;
        }
        assert!(
            modules.contains(top.as_str()),
            "module `{top}` has no layer: add it to LAYERS in tests/layers.rs"
        );
        let text = std::fs::read_to_string(&file).unwrap();
        let mut targets = imports(&code(&text), &modules);
        targets.remove(&top);
        edges.entry(top).or_default().extend(targets);
    }
    edges
}

#[test]
fn every_module_imports_only_its_layer_or_below() {
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut upward = Vec::new();
    for (from, targets) in graph() {
        for to in targets {
            if layer[to.as_str()] > layer[from.as_str()] {
                upward.push(format!(
                    "{from} (layer {}) imports {to} (layer {})",
                    layer[from.as_str()],
                    layer[to.as_str()]
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that point up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let edges = graph();
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        let cycle = visit(node, &edges, &mut Vec::new(), &mut done);
        assert!(
            cycle.is_none(),
            "import cycle: {}",
            cycle.unwrap().join(" -> ")
        );
    }
}

#[test]
fn the_check_sees_imports_and_cycles() {
    let modules: BTreeSet<&str> = ["cache", "read", "key"].into_iter().collect();
    let found = imports(
        &code("use crate::{read::ReadPath, key};\n// crate::cache\nlet x = crate::cache::f();"),
        &modules,
    );
    assert_eq!(found, ["cache", "key", "read"].map(String::from).into());
    assert!(!graph().is_empty());
}
