//! The direction of dependencies (ARCHITECTURE.md), checked over the sources so that a cycle
//! cannot grow back unseen: in every crate of the workspace, the top-level modules form no
//! cycle; nothing imports `commands`, and only `commands` imports `run`; the platform's
//! dependency graph has no UI or GPIO crate, and the kiosk's no PostgreSQL driver.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A `use` or path from one top-level module to another, and where it was written.
#[derive(Debug, Clone)]
struct Edge {
    from: String,
    to: String,
    at: String,
}

/// The source directories of the workspace's crates.
fn crate_sources() -> Vec<PathBuf> {
    let mut dirs = vec![Path::new(ROOT).join("src")];
    let mut members: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("crates"))
        .expect("the crates directory")
        .map(|e| e.expect("a crate directory").path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    members.sort();
    dirs.extend(members);
    dirs
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("a source directory").map(|e| e.expect("an entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a line without its comment (a `//` inside a string cuts a little too much,
/// which can only hide a reference written after a URL on the same line).
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// The identifiers at the top of a `{a, b::c, d as e}` group starting at `text` (after `{`).
fn group_heads(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    let mut at_head = true;
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                at_head = true;
                continue;
            }
            _ => {}
        }
        if depth == 0 && at_head {
            if c.is_alphanumeric() || c == '_' {
                current.push(c);
            } else if !current.is_empty() {
                heads.push(std::mem::take(&mut current));
                at_head = false;
            }
        }
    }
    if !current.is_empty() {
        heads.push(current);
    }
    heads
}

/// The top-level modules that the code `text` names through `prefix` (`crate::`, or the
/// `super::` chain that reaches the crate root from this file).
fn referenced(text: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            found.extend(group_heads(group));
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

/// The top-level module a file belongs to, and how many `super::` reach the crate root from it.
fn module_of(src: &Path, file: &Path) -> Option<(String, usize)> {
    let relative = file.strip_prefix(src).ok()?;
    let parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let first = parts.first()?.trim_end_matches(".rs").to_string();
    if parts.len() == 1 && (first == "lib" || first == "main") || first == "bin" {
        return None;
    }
    // src/x.rs and src/x/mod.rs are at depth 1; src/x/y.rs at 2; src/x/y/mod.rs at 2.
    let depth = if parts.last().is_some_and(|l| l == "mod.rs") { parts.len() - 1 } else { parts.len() };
    Some((first, depth))
}

fn edges_of(src: &Path) -> (BTreeSet<String>, Vec<Edge>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(src, f)).map(|(m, _)| m).collect();
    let mut edges = Vec::new();
    for file in &files {
        let Some((module, depth)) = module_of(src, file) else { continue };
        let text = std::fs::read_to_string(file).expect("a source file");
        let root_by_super = "super::".repeat(depth);
        for (n, line) in text.lines().enumerate() {
            let code = code_of(line);
            for prefix in ["crate::", root_by_super.as_str()] {
                for target in referenced(code, prefix) {
                    if target != module && modules.contains(&target) {
                        edges.push(Edge {
                            from: module.clone(),
                            to: target,
                            at: format!("{}:{}", file.strip_prefix(ROOT).unwrap_or(file).display(), n + 1),
                        });
                    }
                }
            }
        }
    }
    (modules, edges)
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(modules: &BTreeSet<String>, edges: &[Edge]) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        graph: BTreeMap<&'a str, BTreeSet<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            let targets: Vec<&'a str> = self.graph.get(v).into_iter().flatten().copied().collect();
            for w in targets {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in edges {
        graph.entry(e.from.as_str()).or_default().insert(e.to.as_str());
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for m in modules {
        if !t.index.contains_key(m.as_str()) {
            t.visit(m.as_str());
        }
    }
    t.found
}

#[test]
fn no_crate_has_a_cycle_among_its_top_level_modules() {
    let mut problems = Vec::new();
    for src in crate_sources() {
        let (modules, edges) = edges_of(&src);
        for component in cycles(&modules, &edges) {
            let inside: Vec<String> = edges
                .iter()
                .filter(|e| component.contains(&e.from) && component.contains(&e.to))
                .map(|e| format!("    {} → {} ({})", e.from, e.to, e.at))
                .collect();
            problems.push(format!("cycle in {}: {}\n{}", src.display(), component.join(", "), inside.join("\n")));
        }
    }
    assert!(problems.is_empty(), "dependencies must run one way (ARCHITECTURE.md):\n{}", problems.join("\n"));
}

#[test]
fn only_main_reaches_the_commands_and_only_the_commands_the_wiring() {
    let (_, edges) = edges_of(&Path::new(ROOT).join("src"));
    let wrong: Vec<String> = edges
        .iter()
        .filter(|e| e.to == "commands" || (e.to == "run" && e.from != "commands"))
        .map(|e| format!("{} → {} ({})", e.from, e.to, e.at))
        .collect();
    assert!(wrong.is_empty(), "commands are reached from main only, run from the commands only:\n{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle_when_there_is_one() {
    // The checker itself, on a made-up crate: `a` → `b` through a grouped import, `b` → `a`
    // through `super::` from a submodule, `c` → `a` alone.
    let dir = crate::common::Scratch::new("layering");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::{b::thing, c as _};\n// crate::c in a comment\n").unwrap();
    std::fs::write(src.join("b/mod.rs"), "mod inner;\npub fn thing() {}\n").unwrap();
    std::fs::write(src.join("b/inner.rs"), "fn f() { super::super::a::g(); }\n").unwrap();
    std::fs::write(src.join("c.rs"), "pub fn h() { crate::a::g() }\n").unwrap();
    let (modules, edges) = edges_of(&src);
    assert_eq!(modules.iter().map(String::as_str).collect::<Vec<_>>(), ["a", "b", "c"]);
    let found = cycles(&modules, &edges);
    assert_eq!(found, vec![vec!["a".to_string(), "b".to_string(), "c".to_string()]], "{edges:?}");
}

/// Every package the lock file says `package` may use, itself included.
fn closure(lock: &toml::Table, package: &str) -> BTreeSet<String> {
    let packages = lock["package"].as_array().expect("packages in Cargo.lock");
    let deps_of = |name: &str| -> Vec<String> {
        packages
            .iter()
            .filter(|p| p["name"].as_str() == Some(name))
            .flat_map(|p| p.get("dependencies").and_then(|d| d.as_array()).cloned().unwrap_or_default())
            .filter_map(|d| d.as_str().map(|s| s.split(' ').next().unwrap_or(s).to_string()))
            .collect()
    };
    let mut seen = BTreeSet::new();
    let mut todo = vec![package.to_string()];
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            todo.extend(deps_of(&name));
        }
    }
    seen
}

#[test]
fn the_platform_compiles_no_ui_and_the_kiosk_no_postgresql_driver() {
    let lock: toml::Table = std::fs::read_to_string(Path::new(ROOT).join("Cargo.lock")).unwrap().parse().unwrap();
    let platform = closure(&lock, "borne-platform");
    assert!(platform.contains("borne-model"), "the platform shares the model");
    let ui: Vec<&String> =
        platform.iter().filter(|p| p.starts_with("slint") || p.starts_with("i-slint") || *p == "rppal").collect();
    assert!(ui.is_empty(), "the platform must not compile the kiosk's UI or GPIO: {ui:?}");
    let kiosk = closure(&lock, "borne");
    assert!(kiosk.contains("slint") && kiosk.contains("borne-model"));
    let drivers: Vec<&String> =
        kiosk.iter().filter(|p| p.contains("postgres") || p.starts_with("sqlx") || *p == "borne-platform").collect();
    assert!(drivers.is_empty(), "the kiosk must not compile a PostgreSQL driver nor the platform: {drivers:?}");
    let testkit = closure(&lock, "borne-testkit");
    assert_eq!(testkit.len(), 1, "the test kit is the standard library only (the kiosk's tests use it): {testkit:?}");
    for shared in ["borne-model", "borne-web"] {
        let leaked: Vec<String> = closure(&lock, shared)
            .into_iter()
            .filter(|p| p.starts_with("slint") || p.contains("postgres") || p == "rusqlite" || p == "rppal")
            .collect();
        assert!(leaked.is_empty(), "{shared} stays free of UI, GPIO and database crates: {leaked:?}");
    }
}
