//! The direction of dependencies (ARCHITECTURE.md), checked over the sources (parsed with `syn`)
//! so that a cycle cannot grow back unseen: in every crate of the workspace, at every level of
//! the module tree, a module's own file and its children form no cycle; nothing imports
//! `commands`, and only `commands` imports `run`; the platform's
//! dependency graph has no UI or GPIO crate, and the kiosk's no PostgreSQL driver.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A reference from one source file to a module defined in another, and where it was written.
#[derive(Debug, Clone)]
struct Edge {
    from: usize,
    to: usize,
    line: usize,
}

/// One crate's sources: each file with the module path it defines, every module (file or
/// inline) and the file that holds it, and the references between files.
struct Sources {
    root: PathBuf,
    files: Vec<(PathBuf, Vec<String>)>,
    modules: BTreeMap<Vec<String>, usize>,
    edges: Vec<Edge>,
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

/// The module path a file defines in its library (`src/lib.rs` is the root, `src/a/mod.rs`
/// and `src/a.rs` are `a`); `None` for binaries, which are crates of their own.
fn module_of(src: &Path, file: &Path) -> Option<Vec<String>> {
    let relative = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.first().is_some_and(|f| f == "bin") || parts == ["main.rs"] {
        return None;
    }
    let last = parts.pop()?;
    match last.as_str() {
        "lib.rs" if parts.is_empty() => {}
        "mod.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_string()),
    }
    Some(parts)
}

/// Walks a file's syntax tree, knowing which (inline) module it is in, and keeps every path
/// (`use` trees, types, expressions, and `a::b` sequences inside macros) with its line.
struct Paths {
    module: Vec<String>,
    inline: Vec<Vec<String>>,
    found: Vec<(Vec<String>, Vec<String>, usize)>,
}

impl Paths {
    fn keep(&mut self, segments: Vec<String>, line: usize) {
        if segments.len() > 1 {
            self.found.push((self.module.clone(), segments, line));
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.keep_use(prefix, n.ident.to_string(), n.ident.span()),
            syn::UseTree::Rename(r) => self.keep_use(prefix, r.ident.to_string(), r.ident.span()),
            syn::UseTree::Glob(g) => {
                let line = g.star_token.spans[0].start().line;
                let mut whole = prefix.clone();
                whole.push("*".into());
                self.keep(whole, line);
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    fn keep_use(&mut self, prefix: &[String], name: String, span: proc_macro2::Span) {
        let mut whole = prefix.to_vec();
        whole.push(name);
        self.keep(whole, span.start().line);
    }

    fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let mut path: Vec<String> = Vec::new();
        let mut line = 0;
        let mut colons = 0;
        for token in tokens {
            match token {
                proc_macro2::TokenTree::Ident(i) => {
                    if colons != 2 {
                        self.keep(std::mem::take(&mut path), line);
                        line = i.span().start().line;
                    }
                    path.push(i.to_string());
                    colons = 0;
                }
                proc_macro2::TokenTree::Punct(p) if p.as_char() == ':' && !path.is_empty() => colons += 1,
                proc_macro2::TokenTree::Group(g) => {
                    self.keep(std::mem::take(&mut path), line);
                    colons = 0;
                    self.tokens(g.stream());
                }
                _ => {
                    self.keep(std::mem::take(&mut path), line);
                    colons = 0;
                }
            }
        }
        self.keep(path, line);
    }
}

impl<'ast> syn::visit::Visit<'ast> for Paths {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.module.push(m.ident.to_string());
            self.inline.push(self.module.clone());
            syn::visit::visit_item_mod(self, m);
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut prefix = Vec::new();
        if u.leading_colon.is_none() {
            self.use_tree(&mut prefix, &u.tree);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.leading_colon.is_none() {
            let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
            let line = p.segments.first().map(|s| s.ident.span().start().line).unwrap_or(0);
            self.keep(segments, line);
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.visit_path(&m.path);
        self.tokens(m.tokens.clone());
    }
}

/// The module a path names from `module`, as deep as known modules go: `crate::`, `self::`,
/// `super::` chains and child modules resolve; anything else (an outside crate, a local item)
/// is not a module of this crate.
fn resolve(modules: &BTreeMap<Vec<String>, usize>, module: &[String], segments: &[String]) -> Option<Vec<String>> {
    let (mut base, rest) = match segments.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &segments[1..]),
        Some("self") => (module.to_vec(), &segments[1..]),
        Some("super") => {
            let mut base = module.to_vec();
            let ups = segments.iter().take_while(|s| *s == "super").count();
            for _ in 0..ups {
                base.pop()?;
            }
            (base, &segments[ups..])
        }
        Some(first) => {
            let mut child = module.to_vec();
            child.push(first.to_string());
            if !modules.contains_key(&child) {
                return None;
            }
            (module.to_vec(), segments)
        }
        None => return None,
    };
    for segment in rest {
        let mut next = base.clone();
        next.push(segment.clone());
        if !modules.contains_key(&next) {
            break;
        }
        base = next;
    }
    Some(base)
}

fn sources_of(src: &Path) -> Sources {
    let mut paths = Vec::new();
    rust_files(src, &mut paths);
    let files: Vec<(PathBuf, Vec<String>)> =
        paths.into_iter().filter_map(|f| module_of(src, &f).map(|m| (f, m))).collect();
    let mut modules: BTreeMap<Vec<String>, usize> =
        files.iter().enumerate().map(|(i, (_, m))| (m.clone(), i)).collect();
    let mut found = Vec::new();
    for (i, (path, module)) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path).expect("a source file");
        let tree = syn::parse_file(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        let mut walker = Paths { module: module.clone(), inline: Vec::new(), found: Vec::new() };
        syn::visit::Visit::visit_file(&mut walker, &tree);
        for inline in walker.inline {
            modules.insert(inline, i);
        }
        found.extend(walker.found.into_iter().map(|(m, s, line)| (i, m, s, line)));
    }
    let mut edges = Vec::new();
    for (from, module, segments, line) in found {
        if let Some(target) = resolve(&modules, &module, &segments) {
            let to = modules[&target];
            if to != from {
                edges.push(Edge { from, to, line });
            }
        }
    }
    Sources { root: src.to_path_buf(), files, modules, edges }
}

/// The strongly connected components with more than one node (Tarjan).
fn cycles(nodes: &BTreeSet<String>, edges: &[(String, String)]) -> Vec<Vec<String>> {
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
    for (from, to) in edges {
        graph.entry(from.as_str()).or_default().insert(to.as_str());
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
    for n in nodes {
        if !t.index.contains_key(n.as_str()) {
            t.visit(n.as_str());
        }
    }
    t.found
}

/// The cycles at every level of a crate's module tree: under each module, its own file and
/// each of its child modules (with everything beneath) are one node; a reference between
/// files under two different nodes is an edge between them. A cycle between files anywhere
/// shows at the level where their paths part.
fn cycles_at_every_level(sources: &Sources) -> Vec<String> {
    let mut problems = Vec::new();
    let parents: BTreeSet<&Vec<String>> = sources.modules.keys().collect();
    for level in parents {
        let node_of = |file: usize| -> Option<String> {
            let module = &sources.files[file].1;
            if !module.starts_with(level) {
                return None;
            }
            Some(module.get(level.len()).cloned().unwrap_or_else(|| "(self)".to_string()))
        };
        let mut inside = Vec::new();
        for e in &sources.edges {
            if let (Some(from), Some(to)) = (node_of(e.from), node_of(e.to))
                && from != to
            {
                inside.push((from, to, e));
            }
        }
        let nodes: BTreeSet<String> = inside.iter().flat_map(|(f, t, _)| [f.clone(), t.clone()]).collect();
        let pairs: Vec<(String, String)> = inside.iter().map(|(f, t, _)| (f.clone(), t.clone())).collect();
        for component in cycles(&nodes, &pairs) {
            let shown: Vec<String> = inside
                .iter()
                .filter(|(f, t, _)| component.contains(f) && component.contains(t))
                .map(|(f, t, e)| {
                    let at = sources.files[e.from].0.strip_prefix(ROOT).unwrap_or(&sources.files[e.from].0).display();
                    format!("    {f} → {t} ({at}:{})", e.line)
                })
                .collect();
            problems.push(format!(
                "cycle in {} under `{}`: {}\n{}",
                sources.root.strip_prefix(ROOT).unwrap_or(&sources.root).display(),
                if level.is_empty() { "crate".to_string() } else { level.join("::") },
                component.join(", "),
                shown.join("\n")
            ));
        }
    }
    problems
}

#[test]
fn no_crate_has_a_cycle_at_any_level_of_its_modules() {
    let mut problems = Vec::new();
    for src in crate_sources() {
        problems.extend(cycles_at_every_level(&sources_of(&src)));
    }
    assert!(problems.is_empty(), "dependencies must run one way (ARCHITECTURE.md):\n{}", problems.join("\n"));
}

/// ARCHITECTURE.md says so: a file of a program is read whole, so none is over 800 lines.
#[test]
fn no_program_file_is_over_800_lines() {
    let mut long = Vec::new();
    for src in crate_sources() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for file in files {
            let lines = std::fs::read_to_string(&file).expect("a source file").lines().count();
            if lines > 800 {
                long.push(format!("{} ({lines} lines)", file.strip_prefix(ROOT).unwrap_or(&file).display()));
            }
        }
    }
    assert!(long.is_empty(), "split these files: {long:?}");
}

#[test]
fn only_main_reaches_the_commands_and_only_the_commands_the_wiring() {
    let sources = sources_of(&Path::new(ROOT).join("src"));
    let top = |file: usize| sources.files[file].1.first().cloned().unwrap_or_default();
    let wrong: Vec<String> = sources
        .edges
        .iter()
        .filter(|e| {
            top(e.to) == "commands" && top(e.from) != "commands"
                || top(e.to) == "run" && top(e.from) != "commands" && top(e.from) != "run"
        })
        .map(|e| format!("{} → {} ({}:{})", top(e.from), top(e.to), sources.files[e.from].0.display(), e.line))
        .collect();
    assert!(wrong.is_empty(), "commands are reached from main only, run from the commands only:\n{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle_at_every_level() {
    // The checker itself, on a made-up crate. At the top: `a` → `b` through a grouped import,
    // `b` → `a` through `super::` from a submodule, `c` → `a` inside a macro. Under `d`: its
    // own file and its child `e` name each other (the shape of a store whose engines take
    // their types from the module that dispatches to them). Under `f`: `g` → `h` alone, no cycle.
    let dir = crate::common::Scratch::new("layering");
    let src = dir.path().join("src");
    for sub in ["b", "d", "f"] {
        std::fs::create_dir_all(src.join(sub)).unwrap();
    }
    let write = |path: &str, text: &str| std::fs::write(src.join(path), text).unwrap();
    write("lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub mod d;\npub mod f;\n");
    write("a.rs", "use crate::{b::thing, c as _};\n// crate::c in a comment\n");
    write("b/mod.rs", "mod inner;\npub fn thing() {}\n");
    write("b/inner.rs", "fn f() { super::super::a::g(); }\n");
    write("c.rs", "pub fn h() { assert!(crate::a::g()) }\n");
    write("d/mod.rs", "pub mod e;\npub struct Site;\npub fn open() -> e::Engine { e::Engine }\n");
    write(
        "d/e.rs",
        "pub struct Engine;\nimpl Engine { fn s(&self) -> super::Site { super::Site } }\n#[cfg(test)]\nmod tests { use super::*; }\n",
    );
    write("f/mod.rs", "pub mod g;\npub mod h;\n");
    write("f/g.rs", "use super::h::X;\n");
    write("f/h.rs", "pub struct X;\n");
    let problems = cycles_at_every_level(&sources_of(&src));
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].contains("under `crate`: a, b, c"), "{}", problems[0]);
    assert!(problems[1].contains("under `d`: (self), e"), "{}", problems[1]);
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
