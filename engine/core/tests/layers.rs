//! The engine's layers read bottom-up: a module's code names only modules of its own layer or
//! the layers below, and the modules of one layer import each other without a cycle. Tests may
//! reach up (a family's tests drive a whole node through `testkit`), so test code is left out.
//!
//! This reads the sources rather than trusting a picture of them: moving one `use` across a
//! boundary fails here, with the file and the import named.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Bottom first. Each top-level module of `src/` belongs to exactly one layer; the node layer's
/// modules re-exported at the crate root (`crate::cx`, `crate::hop`…) count as the node.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "codec and helpers",
        &[
            "error",
            "argv",
            "glob",
            "memcache",
            "numfmt",
            "reply",
            "resp",
            "size_class",
        ],
    ),
    ("keyspace and its types", &["table", "db", "rdb"]),
    ("environment and config", &["env", "config"]),
    (
        "shard",
        &["watch", "blocking", "journal", "shard", "access"],
    ),
    ("VLL", &["tx"]),
    ("command table and families", &["cmd"]),
    (
        "coordinating node",
        &["node", "cx", "hop", "coord", "conn", "multi", "testkit"],
    ),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/db/hash.rs` → `db`, `src/shard.rs` → `shard`).
fn top_module(path: &Path) -> String {
    let rel = path.strip_prefix(src_dir()).expect("under src");
    let first = rel.components().next().expect("non-empty");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// Files that are test modules in their own right (`#[cfg(test)] mod tests;` in a parent).
fn test_only_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for file in files {
        let text = fs::read_to_string(file).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.windows(2) {
            if pair[0].trim() != "#[cfg(test)]" {
                continue;
            }
            let Some(name) = pair[1]
                .trim()
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'))
            else {
                continue;
            };
            let dir = if file
                .file_name()
                .is_some_and(|n| n == "mod.rs" || n == "lib.rs")
            {
                file.parent().expect("parent").to_path_buf()
            } else {
                file.with_extension("")
            };
            out.insert(dir.join(format!("{name}.rs")));
            out.insert(dir.join(name).join("mod.rs"));
        }
    }
    out
}

/// The source without its `#[cfg(test)]` items: from each such attribute, the item it covers
/// (up to its closing brace at the same indentation, or its `;`).
fn without_test_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let close = format!("{}}}", " ".repeat(indent));
        for item_line in lines.by_ref() {
            let trimmed = item_line.trim_end();
            let same_indent = item_line.len() - item_line.trim_start().len() == indent;
            let one_line_item = same_indent && trimmed.ends_with(';') && !trimmed.contains('{');
            if trimmed == close || one_line_item {
                break;
            }
        }
    }
    out
}

/// Every crate-root module a source names: `crate::x`, and each root of `use crate::{x, y::z}`.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // A grouped use: take each top-level item's first segment.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 0 => {
                        out.insert(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(after));
        }
        rest = after;
    }
    out.retain(|m| !m.is_empty());
    out
}

struct Graph {
    /// Module → the modules its non-test code names, with one file that names each.
    edges: BTreeMap<String, BTreeMap<String, PathBuf>>,
}

fn graph() -> Graph {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let tests = test_only_files(&files);
    let mut edges: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for file in files.iter().filter(|f| !tests.contains(*f)) {
        let module = top_module(file);
        if module == "lib" {
            continue;
        }
        let code = without_test_code(&fs::read_to_string(file).expect("read"));
        let entry = edges.entry(module.clone()).or_default();
        for named in named_modules(&code) {
            if named != module {
                entry.entry(named).or_insert_with(|| file.clone());
            }
        }
    }
    Graph { edges }
}

#[test]
fn every_module_has_a_layer() {
    for module in graph().edges.keys() {
        assert!(
            layer_of(module).is_some(),
            "module `{module}` is in no layer: add it to LAYERS in tests/layers.rs"
        );
    }
}

#[test]
fn no_module_imports_a_layer_above_its_own() {
    let mut upward = Vec::new();
    for (module, named) in &graph().edges {
        let Some(own) = layer_of(module) else {
            continue;
        };
        for (target, file) in named {
            let Some(theirs) = layer_of(target) else {
                continue;
            };
            if theirs > own {
                upward.push(format!(
                    "{} names `crate::{target}` ({}) from the {} layer",
                    file.display(),
                    LAYERS[theirs].0,
                    LAYERS[own].0
                ));
            }
        }
    }
    assert!(upward.is_empty(), "imports upward:\n{}", upward.join("\n"));
}

#[test]
fn modules_of_one_layer_import_each_other_without_a_cycle() {
    let g = graph();
    for (name, modules) in LAYERS {
        // Depth-first search for a back edge among the layer's own modules. The node layer is
        // one module with submodules, and its re-exported names are aliases of it.
        let inside = |m: &str| modules.contains(&m) && g.edges.contains_key(m);
        let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 = on the path, 2 = done
        fn visit<'a>(
            m: &'a str,
            g: &'a Graph,
            inside: &dyn Fn(&str) -> bool,
            state: &mut BTreeMap<&'a str, u8>,
            path: &mut Vec<&'a str>,
        ) -> Option<Vec<String>> {
            state.insert(m, 1);
            path.push(m);
            for next in g.edges[m].keys().map(String::as_str).filter(|n| inside(n)) {
                match state.get(next) {
                    Some(1) => {
                        let start = path.iter().position(|p| *p == next).expect("on path");
                        let mut cycle: Vec<String> =
                            path[start..].iter().map(|s| s.to_string()).collect();
                        cycle.push(next.to_string());
                        return Some(cycle);
                    }
                    Some(_) => {}
                    None => {
                        if let Some(cycle) = visit(next, g, inside, state, path) {
                            return Some(cycle);
                        }
                    }
                }
            }
            path.pop();
            state.insert(m, 2);
            None
        }
        for m in modules.iter().copied().filter(|m| inside(m)) {
            if !state.contains_key(m) {
                let mut path = Vec::new();
                if let Some(cycle) = visit(m, &g, &inside, &mut state, &mut path) {
                    panic!("import cycle in the {name} layer: {}", cycle.join(" -> "));
                }
            }
        }
    }
}

/// The checker itself can fail: an upward import in a lower module is seen, and test code is
/// left out.
#[test]
fn the_layer_reader_sees_imports_and_skips_test_code() {
    let code = "use crate::{argv::Argv, db::{Entry, Kind}};\nfn f() { crate::hop::x(); }\n\
                #[cfg(test)]\nmod tests {\n    use crate::node::Node;\n}\n";
    let named = named_modules(&without_test_code(code));
    let want: BTreeSet<String> = ["argv", "db", "hop"].map(String::from).into();
    assert_eq!(named, want);
    assert!(layer_of("hop") > layer_of("db"));
}
