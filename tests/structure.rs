//! The module graph, checked by reading the tree (as rust-analyzer's tidy
//! tests do): which top-level module may import which (docs/architecture.md),
//! and no cycle between top-level modules. A `crate::x` path in code (not in
//! comments) under `src/<m>/` or `src/<m>.rs` is an edge `m -> x`; files
//! `src/<m>_*.rs` are parts of `<m>` (included with `#[path]`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module -> the modules it may import. A module not listed here
/// fails the test: a new one must be placed in the graph on purpose.
const ALLOWED: &[(&str, &[&str])] = &[
    // Plain data and leaf utilities: they import nothing of the crate.
    ("model", &[]),
    ("clock", &[]),
    ("telemetry", &[]),
    // The stages. Each knows the model, and only the edges it talks to.
    ("probe", &["model"]),
    ("decide", &["model"]),
    ("tencent", &["model", "clock"]),
    ("dns", &["model", "tencent", "clock"]),
    // telemetry: the console channel asks whether logs are JSON lines (serve).
    ("notify", &["model", "tencent", "clock", "telemetry"]),
    // The votes of regional probers, kept in DNS (read and written).
    ("consensus", &["model", "dns", "config", "decide"]),
    // Config knows the providers' and channels' sections; they never know it.
    ("config", &["model", "dns", "notify"]),
    ("report", &["model", "notify"]),
    // Asking the zone's authoritative servers (hickory-proto queries).
    ("verify", &["model"]),
    ("memory", &["model", "dns", "notify", "config", "report"]),
    // The one caller of every stage.
    (
        "pipeline",
        &[
            "model",
            "config",
            "probe",
            "decide",
            "dns",
            "notify",
            "report",
            "memory",
            "clock",
            "consensus",
            "verify",
        ],
    ),
    // `validate --online`: asks the DNS provider about the config's values.
    ("online", &["model", "config", "dns", "tencent", "clock"]),
    // Entry points go through the pipeline.
    ("runtime", &["model", "config", "pipeline", "report"]),
    ("demo", &["model", "config", "pipeline", "report", "clock"]),
];

/// `crate::<name>` occurrences in the code of `text` (comments skipped).
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().last();
            let tail = &rest[i + "crate::".len()..];
            // `dns_failover::crate::` cannot happen; skip identifiers such as
            // `my_crate::` by requiring a non-identifier character before.
            if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                let name: String = tail
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
            rest = tail;
        }
    }
    out
}

/// The top-level module a file under `src/` belongs to.
fn module_of(rel: &Path) -> Option<String> {
    let mut parts = rel.components();
    let first = parts.next()?.as_os_str().to_str()?.to_string();
    if parts.next().is_some() {
        return Some(first); // src/<m>/...
    }
    let stem = first.strip_suffix(".rs")?;
    if stem == "lib" || stem == "main" {
        return None;
    }
    Some(stem.split('_').next().unwrap_or(stem).to_string())
}

fn graph(src: &Path) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut g: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let Some(m) = module_of(rel) else { continue };
            let text = std::fs::read_to_string(&path).unwrap();
            let deps = g.entry(m.clone()).or_default();
            for r in crate_refs(&text) {
                if r != m {
                    deps.entry(r).or_default().push(rel.display().to_string());
                }
            }
        }
    }
    g
}

/// Every rule broken by `g`, as one line each.
fn violations(g: &BTreeMap<String, BTreeMap<String, Vec<String>>>) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut out = Vec::new();
    for (m, deps) in g {
        let Some(ok) = allowed.get(m.as_str()) else {
            out.push(format!(
                "module `{m}` is not placed in the graph (tests/structure.rs ALLOWED)"
            ));
            continue;
        };
        for (d, files) in deps {
            if !ok.contains(&d.as_str()) && g.contains_key(d) {
                out.push(format!(
                    "`{m}` must not import `{d}` (in {})",
                    files.join(", ")
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(g) {
        out.push(format!("import cycle: {}", cycle.join(" -> ")));
    }
    out
}

/// A cycle among the modules of `g`, if there is one.
fn find_cycle(g: &BTreeMap<String, BTreeMap<String, Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| p == n).unwrap_or(0);
                let mut c = path[start..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for d in g.get(n).into_iter().flat_map(|d| d.keys()) {
            if g.contains_key(d) {
                if let Some(c) = visit(d, g, state, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_module_graph_is_one_way_and_follows_the_documented_rules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    assert!(
        g.contains_key("model") && g.contains_key("pipeline"),
        "{g:?}"
    );
    let v = violations(&g);
    assert!(v.is_empty(), "module graph rules broken:\n{}", v.join("\n"));
}

/// The checker itself: a deliberate bad import and a cycle are caught.
#[test]
fn a_forbidden_import_and_a_cycle_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |p: &str, t: &str| {
        let p = src.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    };
    write("model/mod.rs", "pub mod record;\n");
    write("decide/mod.rs", "use crate::model::record::Record;\n");
    write(
        "dns/mod.rs",
        "use crate::model::record::Record;\n// crate::config in a comment is fine\n",
    );
    let v = violations(&graph(src));
    assert!(v.is_empty(), "{v:?}");

    // decide reaching into dns: forbidden.
    write("decide/active.rs", "use crate::dns::apply_change;\n");
    let v = violations(&graph(src));
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("`decide` must not import `dns`"), "{v:?}");
    assert!(v[0].contains("decide/active.rs"), "{v:?}");

    // A cycle model -> decide -> model, besides the forbidden edge.
    write("decide/active.rs", "");
    write("model/record.rs", "fn f() { crate::decide::x(); }\n");
    let v = violations(&graph(src));
    assert!(
        v.iter()
            .any(|l| l.contains("`model` must not import `decide`")),
        "{v:?}"
    );
    assert!(v.iter().any(|l| l.starts_with("import cycle: ")), "{v:?}");

    // A module nobody placed.
    write("model/record.rs", "");
    write("extra.rs", "");
    let v = violations(&graph(src));
    assert!(
        v.iter().any(|l| l.contains("module `extra` is not placed")),
        "{v:?}"
    );
}

#[test]
fn files_of_a_top_level_module_are_found_by_path() {
    assert_eq!(module_of(Path::new("dns/file.rs")).as_deref(), Some("dns"));
    assert_eq!(
        module_of(Path::new("config_settings.rs")).as_deref(),
        Some("config")
    );
    assert_eq!(
        module_of(Path::new("pipeline.rs")).as_deref(),
        Some("pipeline")
    );
    assert_eq!(module_of(Path::new("lib.rs")), None);
    assert_eq!(
        crate_refs("use crate::a::b; // crate::c\nlet x = my_crate::d; crate::e(1);"),
        ["a", "e"].iter().map(|s| s.to_string()).collect()
    );
}
