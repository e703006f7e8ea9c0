//! The module map of ARCHITECTURE.md, checked on the source: each module uses only the modules below it in
//! [`LAYERS`], no two files import each other round a circle, only `cmd` knows clap, and no file grows past 800
//! lines. A change that breaks the map fails here, naming the file and the import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's top-level modules, from the top down: a module may use the ones after it, never one before.
const LAYERS: [&str; 13] =
    ["cmd", "app", "eval", "bench", "train", "render", "features", "data", "synth", "scene", "model", "labels", "fs"];

const MAX_LINES: usize = 800;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A file's module path under `src/` (`src/app/canvas/mod.rs` → `["app", "canvas"]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The code of a file without its comments and its `#[cfg(test)]` modules (tests may reach anywhere).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines().map(|l| if l.trim_start().starts_with("//") { "" } else { l }).collect::<Vec<_>>().join("\n")
}

/// Every path a file names from `crate::` or `super::`, with `use` groups (`crate::{a, b::c}`) spelled out,
/// as module paths relative to the crate root. A module's own children (`mod x;`, `x::y`) are its parts, not
/// imports.
fn paths_named(code: &str, me: &[String]) -> Vec<Vec<String>> {
    fn ident(s: &str) -> usize {
        s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len())
    }
    // Reads `a::b::{c, d::e}` at the start of `s` into full paths.
    fn read(s: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        let mut path = prefix;
        let mut rest = s;
        loop {
            if let Some(inner) = rest.strip_prefix('{') {
                let mut depth = 0;
                let mut start = 0;
                for (i, c) in inner.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            read(inner[start..i].trim(), path.clone(), out);
                            return;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            read(inner[start..i].trim(), path.clone(), out);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                return;
            }
            let n = ident(rest);
            if n == 0 {
                break;
            }
            path.push(rest[..n].to_string());
            rest = &rest[n..];
            match rest.strip_prefix("::") {
                Some(r) => rest = r,
                None => break,
            }
        }
        out.push(path);
    }
    let mut out = Vec::new();
    for (i, _) in code.match_indices("::") {
        let before = &code[..i];
        let word_start = before.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |j| j + 1);
        let word = &before[word_start..];
        let base: Vec<String> = match word {
            "crate" => Vec::new(),
            // In `a/b.rs` (module a::b) super is `a`; in `a/b/mod.rs` (also a::b) too.
            "super" => me[..me.len().saturating_sub(1)].to_vec(),
            _ => continue,
        };
        read(&code[i + 2..], base, &mut out);
    }
    out
}

struct Source {
    files: BTreeMap<Vec<String>, (PathBuf, String)>,
}

impl Source {
    fn read() -> Source {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut paths = Vec::new();
        rust_files(&src, &mut paths);
        let files = paths
            .into_iter()
            .map(|p| (module_of(&src, &p), (p.clone(), std::fs::read_to_string(&p).unwrap())))
            .collect();
        Source { files }
    }

    /// The longest known module a path starts with.
    fn module(&self, path: &[String]) -> Option<&Vec<String>> {
        (1..=path.len()).rev().find_map(|n| self.files.get_key_value(&path[..n]).map(|(k, _)| k))
    }

    /// File-level imports: module -> modules it names (the crate root and main left out).
    fn imports(&self) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
        let mut out = BTreeMap::new();
        for (me, (_, text)) in &self.files {
            if me.is_empty() {
                continue;
            }
            let named: BTreeSet<Vec<String>> = paths_named(&code_of(text), me)
                .iter()
                .filter_map(|p| self.module(p).cloned())
                .filter(|m| m != me && !m.is_empty())
                .collect();
            out.insert(me.clone(), named);
        }
        out
    }
}

fn layer(m: &[String]) -> usize {
    let top = m.first().map_or("", String::as_str);
    LAYERS.iter().position(|l| *l == top).unwrap_or_else(|| panic!("module {top} is not in LAYERS"))
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Source::read();
    let mut up = Vec::new();
    for (me, named) in src.imports() {
        for m in named {
            if m[0] != me[0] && layer(&m) < layer(&me) {
                up.push(format!("{} uses {}", me.join("::"), m.join("::")));
            }
        }
    }
    assert!(up.is_empty(), "imports running up the map of ARCHITECTURE.md:\n{}", up.join("\n"));
}

#[test]
fn no_files_import_each_other_round_a_circle() {
    let imports = Source::read().imports();
    // Depth-first search for a back edge, keeping the path for the message.
    fn visit(
        m: &Vec<String>,
        g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        path: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        state.insert(m.clone(), 1);
        path.push(m.clone());
        for n in g.get(m).into_iter().flatten() {
            match state.get(n) {
                Some(1) => {
                    let start = path.iter().position(|p| p == n).unwrap();
                    return Some(path[start..].iter().chain([n]).map(|p| p.join("::")).collect());
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(n, g, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(m.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in imports.keys() {
        if !state.contains_key(m)
            && let Some(circle) = visit(m, &imports, &mut state, &mut Vec::new())
        {
            panic!("an import circle: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn only_the_command_layer_knows_clap_and_only_it_and_the_editor_use_the_editor() {
    let src = Source::read();
    for (me, (path, text)) in &src.files {
        let top = me.first().map_or("", String::as_str);
        if matches!(top, "" | "main" | "cmd") {
            continue;
        }
        let code = code_of(text);
        assert!(!code.contains("clap"), "{} names clap; command-line code belongs in src/cmd/", path.display());
    }
    for (me, named) in src.imports() {
        if !matches!(me[0].as_str(), "cmd" | "app") {
            assert!(named.iter().all(|m| m[0] != "app"), "{} uses the editor", me.join("::"));
        }
    }
}

#[test]
fn no_source_file_is_over_800_lines() {
    for (path, text) in Source::read().files.values() {
        let n = text.lines().count();
        assert!(n <= MAX_LINES, "{} has {n} lines (at most {MAX_LINES}): split it", path.display());
    }
}

/// The checks above must see imports at all: a parser that found none would pass everything.
#[test]
fn the_import_reader_finds_known_imports() {
    let imports = Source::read().imports();
    let of = |m: &str| imports.get(&m.split("::").map(String::from).collect::<Vec<_>>()).cloned().unwrap_or_default();
    let path = |m: &str| m.split("::").map(String::from).collect::<Vec<_>>();
    assert!(of("cmd::render").contains(&path("render")), "{:?}", of("cmd::render"));
    assert!(of("app::worker").contains(&path("render")));
    assert!(of("app::canvas").contains(&path("app::action")), "{:?}", of("app::canvas"));
    assert!(of("app::canvas::tools").contains(&path("app::action")), "{:?}", of("app::canvas::tools"));
    let code = "use crate::{fs::write_bytes, labels::{self, LABELS}};\nuse super::x;";
    let found = paths_named(code, &path("app::files"));
    assert!(found.contains(&path("fs::write_bytes")) && found.contains(&path("labels::LABELS")), "{found:?}");
    assert!(found.contains(&path("app::x")), "{found:?}");
}
