//! Errors that name their key and line: the validator, and how a key path
//! is found in the document.

use std::path::Path;

use super::*;

pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// One path segment for locating a key in the document.
pub(super) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    pub(super) file: &'a Path,
    /// The document with spans, parsed on the first error only.
    pub(super) doc: Option<toml::de::DeTable<'a>>,
    pub(super) warnings: Vec<ConfigError>,
}

/// An error about a group's key found after loading (`validate --online`),
/// with the line of the key when the file can still be read.
pub fn group_key_error(cfg: &Config, gi: usize, key: &'static str, message: String) -> ConfigError {
    let text = std::fs::read_to_string(&cfg.path).unwrap_or_default();
    let mut v = Validator {
        text: &text,
        file: &cfg.path,
        doc: None,
        warnings: Vec::new(),
    };
    v.err(&[Seg::Key("group"), Seg::Index(gi), Seg::Key(key)], message)
}

impl Validator<'_> {
    pub(super) fn err(&mut self, path: &[Seg], message: impl Into<String>) -> ConfigError {
        let key = path
            .iter()
            .map(|s| match s {
                Seg::Key(k) => format!(".{k}"),
                Seg::Index(i) => format!("[{i}]"),
            })
            .collect::<String>()
            .trim_start_matches('.')
            .to_string();
        ConfigError {
            file: self.file.to_path_buf(),
            line: self.locate(path),
            key,
            message: message.into(),
        }
    }

    /// Find the line of a key path (or of its nearest existing parent).
    pub(super) fn locate(&mut self, path: &[Seg]) -> Option<usize> {
        if self.doc.is_none() {
            self.doc = toml::de::DeTable::parse(self.text)
                .ok()
                .map(|d| d.into_inner());
        }
        let doc = self.doc.as_ref()?;
        let mut best = None;
        walk(doc, path, &mut best);
        best.map(|o| line_of(self.text, o))
    }
}

/// Descend `path` from `table`, remembering the start offset of the deepest
/// key found, so an error points at the key itself or its closest parent.
pub(super) fn walk(table: &toml::de::DeTable<'_>, path: &[Seg], best: &mut Option<usize>) {
    use toml::de::DeValue;
    let Some((Seg::Key(k), rest)) = path.split_first() else {
        return;
    };
    let Some((key, item)) = table.iter().find(|(key, _)| key.get_ref().as_ref() == *k) else {
        return;
    };
    *best = Some(key.span().start);
    match (rest.split_first(), item.get_ref()) {
        (Some((Seg::Index(n), rest2)), DeValue::Array(a)) => {
            if let Some(v) = a.get(*n) {
                *best = Some(v.span().start);
                if let DeValue::Table(t) = v.get_ref() {
                    walk(t, rest2, best);
                }
            }
        }
        (Some(_), DeValue::Table(t)) => walk(t, rest, best),
        _ => {}
    }
}

/// The dotted key path (`group[0].target[1].url`) of the deepest key whose
/// key or value spans `offset`. A table's own span is only its header, so
/// every table is searched, not only the ones spanning `offset`.
pub(super) fn key_at(table: &toml::de::DeTable<'_>, offset: usize) -> Option<String> {
    use toml::de::DeValue;
    let within = |r: std::ops::Range<usize>| r.start <= offset && offset < r.end.max(r.start + 1);
    for (key, value) in table.iter() {
        let k = key.get_ref();
        match value.get_ref() {
            DeValue::Table(t) => {
                if let Some(sub) = key_at(t, offset) {
                    return Some(format!("{k}.{sub}"));
                }
            }
            DeValue::Array(a) => {
                for (i, e) in a.iter().enumerate() {
                    if let DeValue::Table(t) = e.get_ref() {
                        if let Some(sub) = key_at(t, offset) {
                            return Some(format!("{k}[{i}].{sub}"));
                        }
                    }
                    if within(e.span()) {
                        return Some(format!("{k}[{i}]"));
                    }
                }
            }
            _ => {}
        }
        if within(key.span()) || within(value.span()) {
            return Some(k.to_string());
        }
    }
    None
}
