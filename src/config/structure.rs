//! Structural TOML errors said in the file's terms. The parser reports a
//! table header in the wrong place, a table defined twice and a key set
//! twice all as "duplicate key", with the line but not the key; and a
//! `[[group.target]]` with no `[[group]]` at all, or `[group]` written for
//! `[[group]]`, as "invalid type: map, expected a sequence". A document
//! with a duplicate does not parse, so this reads the table headers from
//! the text (lines starting with `[`, outside multi-line strings): enough
//! for a config file, best effort beyond.

use super::{line_of, ConfigError};

/// A `[table]` or `[[array]]` header.
struct Header {
    /// 1-based.
    line: usize,
    path: Vec<String>,
    array: bool,
}

impl Header {
    fn show(&self) -> String {
        let p = self.path.join(".");
        if self.array {
            format!("[[{p}]]")
        } else {
            format!("[{p}]")
        }
    }
}

/// A key or header path segment, unquoted.
fn unquote(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
        .unwrap_or(s)
        .to_string()
}

fn split_path(s: &str) -> Vec<String> {
    s.split('.').map(unquote).collect()
}

/// Every header, with the line of each line of the text that is one.
fn headers(text: &str) -> Vec<Header> {
    let mut out = Vec::new();
    let mut in_multiline = false;
    for (i, l) in text.lines().enumerate() {
        let toggles = l.matches("\"\"\"").count() + l.matches("\'\'\'").count();
        if in_multiline {
            in_multiline = toggles % 2 == 0;
            continue;
        }
        if toggles % 2 == 1 {
            in_multiline = true;
            continue;
        }
        let t = l.trim_start();
        let (array, rest) = match t.strip_prefix("[[") {
            Some(r) => (true, r.split("]]").next()),
            None => match t.strip_prefix('[') {
                Some(r) => (false, r.split(']').next()),
                None => continue,
            },
        };
        if let Some(p) = rest {
            out.push(Header {
                line: i + 1,
                path: split_path(p),
                array,
            });
        }
    }
    out
}

/// The dotted key path (`group[1].target[0]`) of the table a header
/// opens, counting the arrays of tables before it.
fn indexed(hs: &[Header], upto: usize) -> String {
    let h = &hs[upto];
    let mut out = String::new();
    for n in 1..=h.path.len() {
        let prefix = &h.path[..n];
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(&prefix[n - 1]);
        // Index of this element: the [[prefix]] headers since the
        // current element of the parent array began.
        let count = hs[..=upto]
            .iter()
            .rev()
            .take_while(|o| !(o.array && o.path.len() < n && prefix.starts_with(&o.path)))
            .filter(|o| o.array && o.path == prefix)
            .count();
        if count > 0 {
            out.push_str(&format!("[{}]", count - 1));
        }
    }
    out
}

/// Rewrite `err` when it is one of the structural errors above.
pub fn explain(text: &str, span: std::ops::Range<usize>, err: &mut ConfigError) {
    let hs = headers(text);
    if err
        .message
        .starts_with("invalid type: map, expected a sequence")
    {
        // The key without indices: `group[0].target` -> `group.target`.
        let plain: Vec<String> = err
            .key
            .split('.')
            .map(|k| k.split('[').next().unwrap_or(k).to_string())
            .collect();
        let parent = plain[0].clone();
        if let Some(h) = hs.iter().find(|h| !h.array && h.path == plain) {
            // `[group.target]` where `[[group.target]]` is meant.
            let p = plain.join(".");
            err.line = Some(h.line);
            err.message = format!("{} is one table; write [[{p}]], one per item", h.show());
        } else if !hs.iter().any(|h| h.array && h.path == [parent.as_str()]) {
            // `[[group.target]]` with no `[[group]]` anywhere.
            if let Some(child) = hs.iter().find(|h| h.path.len() > 1 && h.path[0] == parent) {
                err.key = child.path.join(".");
                err.line = Some(child.line);
                err.message = format!(
                    "{} must follow a [[{parent}]]: there is no [[{parent}]] before it",
                    child.show()
                );
            }
        }
        return;
    }
    if err.message != "duplicate key" {
        return;
    }
    let line = line_of(text, span.start);
    let name = unquote(text.get(span.clone()).unwrap_or(""));
    match hs.iter().position(|h| h.line == line) {
        Some(at) => header_twice(text, &hs, at, &name, err),
        None => key_twice(text, &hs, line, span.end, &name, err),
    }
}

/// The duplicate is (part of) the header at `hs[at]`.
fn header_twice(text: &str, hs: &[Header], at: usize, name: &str, err: &mut ConfigError) {
    let h = &hs[at];
    let k = h
        .path
        .iter()
        .position(|s| s == name)
        .unwrap_or(h.path.len() - 1);
    let p = &h.path[..=k];
    let shown = p.join(".");
    err.key = shown.clone();
    let before = &hs[..at];
    if let Some(first) = before.iter().find(|o| o.path == p) {
        err.message = match (first.array, h.array && k + 1 == h.path.len()) {
            (false, false) => format!(
                "table [{shown}] is defined twice (first on line {}); merge them",
                first.line
            ),
            (true, _) => format!(
                "`{shown}` is a list of [[{shown}]] (line {}); write [[{shown}]] to add another",
                first.line
            ),
            (false, true) => format!(
                "`{shown}` is already a table [{shown}] (line {}); it cannot also be [[{shown}]]",
                first.line
            ),
        };
    } else if let Some(child) = before
        .iter()
        .find(|o| o.path.len() > p.len() && o.path.starts_with(p))
    {
        // `[[group.target]]` above the first `[[group]]`: it made
        // `group` a table, so the `[[group]]` that follows clashes.
        err.key = child.path.join(".");
        err.line = Some(child.line);
        err.message = format!(
            "{} must follow a [[{shown}]]: it comes before the first [[{shown}]] (line {})",
            child.show(),
            h.line
        );
    } else {
        // A key of that name above (`provider = ...` then `[dns.provider]`).
        let set = text
            .lines()
            .take(h.line - 1)
            .enumerate()
            .filter(|(_, l)| {
                l.split_once('=')
                    .is_some_and(|(k, _)| split_path(k).last().is_some_and(|k| k == name))
            })
            .map(|(i, _)| i + 1)
            .last();
        err.message = match set {
            Some(n) => {
                format!("`{shown}` is already set on line {n}; it cannot also be a table")
            }
            None => format!("`{shown}` is already defined above; it cannot also be a table"),
        };
    }
}

/// The duplicate is a key (`name = ...`) on line `line`.
fn key_twice(
    text: &str,
    hs: &[Header],
    line: usize,
    end: usize,
    name: &str,
    err: &mut ConfigError,
) {
    let section = hs.iter().rposition(|h| h.line < line);
    let start_line = section.map_or(1, |i| hs[i].line + 1);
    // The key as written up to the duplicate segment (`a.b` of `a.b.c = 1`;
    // `headers.A` of `headers = { A = "x", A = "y" }`).
    let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..end];
    let dotted = match before.rfind(['{', ',']) {
        Some(i) => {
            let outer = before.split_once('=').map_or("", |(k, _)| k);
            let mut path = split_path(outer);
            path.extend(split_path(&before[i + 1..]));
            path.join(".")
        }
        None => split_path(before).join("."),
    };
    err.key = match section {
        Some(i) => format!("{}.{dotted}", indexed(hs, i)),
        None => dotted.clone(),
    };
    let first = text
        .lines()
        .enumerate()
        .skip(start_line - 1)
        .take(line.saturating_sub(start_line))
        .find(|(_, l)| {
            l.split_once('=').is_some_and(|(k, _)| {
                let k = split_path(k).join(".");
                k == dotted || k.starts_with(&format!("{dotted}."))
            })
        })
        .map(|(i, _)| i + 1);
    err.message = match first {
        Some(n) => format!("duplicate key `{name}`: already set on line {n}"),
        None => format!("duplicate key `{name}`"),
    };
}
