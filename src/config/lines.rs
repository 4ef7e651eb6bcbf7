//! DNSPod lines (线路) a group's `line` may name.
//!
//! Every plan has the built-in lines below. Paid plans add many more
//! (provinces, ISPs by province, countries, search engines) and anyone can
//! define custom lines and line groups, so a name outside the list is only
//! a warning; `validate --online` checks it against the domain's plan
//! (`crate::online`). What is always an error: an empty name, white space
//! at either end, control characters. Nothing is trimmed: the name is sent
//! as written, and DNSPod refuses `"默认 "` (`RecordLineInvalid`).

/// The lines of every plan, the free one included
/// (DescribeRecordLineList; reference §3.8).
pub const BUILTIN: &[&str] = &[
    "默认",
    "境内",
    "境外",
    "电信",
    "联通",
    "移动",
    "教育网",
    "搜索引擎",
];

/// Names of the old DNSPod API and the lines they are today.
pub const OLD_NAMES: &[(&str, &str)] = &[("国内", "境内"), ("国外", "境外")];

/// A line name DNSPod can never have; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadLine(pub String);

/// Refuse names DNSPod can never have.
pub fn check(line: &str) -> Result<(), BadLine> {
    check_text(line).map_err(BadLine)
}

fn check_text(line: &str) -> Result<(), String> {
    if line.trim().is_empty() {
        return Err("must not be empty (the default line is \"默认\")".into());
    }
    if line.trim() != line {
        return Err(format!(
            "{line:?} has white space at its start or end; DNSPod line names have none (write {:?})",
            line.trim()
        ));
    }
    if line.chars().any(char::is_control) {
        return Err(format!("{line:?} contains a control character"));
    }
    Ok(())
}

/// A warning for a name outside the built-in lines (or an old name).
pub fn warning(line: &str) -> Option<String> {
    if BUILTIN.contains(&line) {
        return None;
    }
    if let Some((_, new)) = OLD_NAMES.iter().find(|(old, _)| *old == line) {
        return Some(format!(
            "{line:?} is the old DNSPod name of {new:?}; write {new:?} (check with `dns-failover validate --online`)"
        ));
    }
    let close = close_names(line, BUILTIN.iter().copied());
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!("close built-in names: {}; ", quoted(&close))
    };
    Some(format!(
        "{line:?} is not one of DNSPod's built-in lines ({}); {hint}a paid plan's line (a province or ISP line) or a custom line may still be right: check it with `dns-failover validate --online`",
        BUILTIN.join(", ")
    ))
}

/// A warning for a name outside `builtin`, the lines of a provider other
/// than DNSPod (`provider`: its `[dns] provider` name).
pub fn warning_among(line: &str, builtin: &[&str], provider: &str) -> Option<String> {
    if builtin.contains(&line) {
        return None;
    }
    let close = close_names(line, builtin.iter().copied());
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!("close names: {}; ", quoted(&close))
    };
    Some(format!(
        "{line:?} is not one of provider {provider:?}'s basic lines ({}); {hint}a regional, ISP or custom line of a paid edition may still be right (validate --online checks)",
        builtin.join(", ")
    ))
}

/// `"a", "b"` for a message.
pub fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Up to five of `known` that look like `name`: one contains the other,
/// or they differ by few characters (edit distance at most a third of
/// the longer, at least 1). Closest first.
pub fn close_names<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let trimmed = name.trim();
    let mut scored: Vec<(usize, &str)> = known
        .filter_map(|k| {
            let d = distance(trimmed, k);
            let longer = trimmed.chars().count().max(k.chars().count());
            let near = d <= (longer / 3).max(1);
            let contains = !trimmed.is_empty() && (k.contains(trimmed) || trimmed.contains(k));
            (near || contains).then_some((d, k))
        })
        .collect();
    scored.sort();
    scored.dedup();
    scored.into_iter().take(5).map(|(_, k)| k).collect()
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
