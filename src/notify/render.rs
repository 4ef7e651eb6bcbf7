//! How an [`Alert`] reads: plain text (console, e-mail, Feishu), markdown
//! (WeCom, DingTalk) and HTML (e-mail), plus byte-exact truncation.
//!
//! Written for a phone at 3 a.m.: short lines, the worst event first, and in
//! each event what happened before the evidence behind it.

use super::{Alert, AlertEvent};
use crate::model::duration::human;
use crate::model::event::Severity;
use crate::model::health::Attempt;

/// Appended when a message had to be cut to fit a channel's limit.
pub const TRUNCATED: &str = "\n…(truncated)";

/// Cut `s` to at most `max` bytes, marker included, on a char boundary
/// (preferably at the end of a line). Never fails: a limit smaller than the
/// marker yields a plain cut.
pub fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let room = max.saturating_sub(TRUNCATED.len());
    let mut cut = room.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    // Prefer a line end if one is near (within the last quarter).
    if let Some(nl) = s[..cut].rfind('\n') {
        if nl >= cut * 3 / 4 {
            cut = nl;
        }
    }
    if room == 0 {
        let mut c = max.min(s.len());
        while !s.is_char_boundary(c) {
            c -= 1;
        }
        return s[..c].to_string();
    }
    format!("{}{TRUNCATED}", &s[..cut])
}

/// Events worst first; stable within a severity.
pub fn by_severity(alert: &Alert) -> Vec<&AlertEvent> {
    let mut v: Vec<&AlertEvent> = alert.events.iter().collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.event.severity));
    v
}

/// Longest subject line, in characters: mail clients show about 80, and
/// some relays refuse very long headers; the body has every event.
pub const SUBJECT_MAX: usize = 150;

/// `[CRITICAL] web: failover ap-shanghai` (the title carries `[DRILL]`/`[TEST]`),
/// at most [`SUBJECT_MAX`] characters: a title of many events keeps the
/// first ones whole and says how many more follow (`; +12 more`).
pub fn subject(alert: &Alert) -> String {
    let head = format!("[{}] ", alert.severity.as_str().to_uppercase());
    let full = format!("{head}{}", alert.title);
    if full.chars().count() <= SUBJECT_MAX {
        return full;
    }
    let parts: Vec<&str> = alert.title.split("; ").collect();
    let mut out = head.clone();
    for (i, p) in parts.iter().enumerate() {
        let sep = if i == 0 { "" } else { "; " };
        let more = format!("; +{} more", parts.len() - i - 1);
        let len = out.chars().count() + sep.len() + p.chars().count();
        let fits_with_more = len + if i + 1 < parts.len() { more.len() } else { 0 };
        if fits_with_more > SUBJECT_MAX {
            if i == 0 {
                // One event alone too long: cut it.
                let room = SUBJECT_MAX - head.chars().count() - 1;
                out.extend(p.chars().take(room));
                out.push('…');
            } else {
                out.push_str(&format!("; +{} more", parts.len() - i));
            }
            return out;
        }
        out.push_str(sep);
        out.push_str(p);
    }
    out
}

fn reminder_line(alert: &Alert, e: &AlertEvent) -> Option<String> {
    let s = e.standing.as_ref().filter(|s| !s.first)?;
    let for_ = (alert.at - s.since).to_std().unwrap_or_default();
    Some(format!(
        "reminder: ongoing since {} ({})",
        s.since.format("%Y-%m-%d %H:%M UTC"),
        human(for_)
    ))
}

fn attempt_lines(attempts: &[Attempt]) -> Vec<String> {
    attempts
        .iter()
        .enumerate()
        .map(|(i, a)| match &a.phases {
            // Where the time went, for the attempts that failed (a slow
            // answer is `too_slow`, a failure too).
            Some(p) if !a.ok && !p.short().is_empty() => {
                format!("#{} {} ({})", i + 1, a.short(), p.short())
            }
            _ => format!("#{} {}", i + 1, a.short()),
        })
        .collect()
}

fn dns_line(c: &super::ChangeNote) -> String {
    let mut s = format!("dns: {} [{}", c.summary, c.status.as_str());
    if let Some(ttl) = c.ttl {
        s.push_str(&format!(", ttl {ttl}"));
    }
    s.push(']');
    if let Some(err) = &c.error {
        s.push_str(&format!(": {err}"));
    }
    s
}

/// Plain text.
pub fn text(alert: &Alert) -> String {
    let mut s = String::new();
    s.push_str(&subject(alert));
    s.push('\n');
    s.push_str(&alert.times());
    s.push_str(&format!("\nprober: {}\n", alert.prober));
    if alert.test {
        s.push_str("This is a test from `dns-failover notify-test`; no action is needed.\n");
    }
    for e in by_severity(alert) {
        s.push_str(&format!(
            "\n{} {} · {}\n",
            e.event.severity.as_str().to_uppercase(),
            e.event.kind.as_str(),
            e.event.group
        ));
        if let Some(r) = reminder_line(alert, e) {
            s.push_str(&r);
            s.push('\n');
        }
        s.push_str(&format!("record: {}\n", e.record));
        if !e.event.regions.is_empty() {
            s.push_str(&format!("regions: {}\n", e.event.regions.join(", ")));
        }
        s.push_str(&e.event.message);
        s.push('\n');
        for c in &e.changes {
            s.push_str(&dns_line(c));
            s.push('\n');
        }
        for c in &e.servers {
            s.push_str(&c.line());
            s.push('\n');
        }
        for ev in &e.evidence {
            s.push_str(&format!(
                "evidence {} [{}] {}\n",
                ev.region,
                ev.health.as_str(),
                ev.endpoint
            ));
            for l in attempt_lines(&ev.attempts) {
                s.push_str(&format!("  {l}\n"));
            }
        }
    }
    s
}

/// Markdown flavours: WeCom understands `<font color>`, DingTalk does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Wecom,
    Dingtalk,
}

fn wecom_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "warning",
        Severity::Warning => "comment",
        Severity::Info => "info",
    }
}

/// Markdown for chat robots. Lines that come from probes or DNS are not
/// markdown-escaped: they hold region names, URLs and numbers.
pub fn markdown(alert: &Alert, flavour: Flavour) -> String {
    let sev = |sv: Severity| {
        let label = sv.as_str().to_uppercase();
        match flavour {
            Flavour::Wecom => format!("<font color=\"{}\">{label}</font>", wecom_color(sv)),
            Flavour::Dingtalk => label,
        }
    };
    let mut s = format!("### {} {}\n", sev(alert.severity), alert.title);
    s.push_str(&format!(
        "> {}\n> prober: {}\n",
        alert.times(),
        alert.prober
    ));
    if alert.test {
        s.push_str("\nThis is a test from `dns-failover notify-test`; no action is needed.\n");
    }
    for e in by_severity(alert) {
        s.push_str(&format!(
            "\n**{} {}** · {}\n",
            sev(e.event.severity),
            e.event.kind.as_str(),
            e.event.group
        ));
        if let Some(r) = reminder_line(alert, e) {
            s.push_str(&format!("> {r}\n"));
        }
        s.push_str(&format!("record: {}\n", e.record));
        if !e.event.regions.is_empty() {
            s.push_str(&format!("regions: {}\n", e.event.regions.join(", ")));
        }
        s.push_str(&format!("{}\n", e.event.message));
        for c in &e.changes {
            s.push_str(&format!("- {}\n", dns_line(c)));
        }
        for c in &e.servers {
            s.push_str(&format!("- {}\n", c.line()));
        }
        for ev in &e.evidence {
            s.push_str(&format!(
                "- evidence {} [{}] {}\n",
                ev.region,
                ev.health.as_str(),
                ev.endpoint
            ));
            for l in attempt_lines(&ev.attempts) {
                s.push_str(&format!("  - {l}\n"));
            }
        }
    }
    if flavour == Flavour::Dingtalk {
        // DingTalk joins single newlines; two trailing spaces force a break.
        s = s.lines().map(|l| format!("{l}  \n")).collect();
    }
    s
}

/// Minimal HTML escaping for text nodes and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn html_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#c62828",
        Severity::Warning => "#ef6c00",
        Severity::Info => "#2e7d32",
    }
}

/// HTML body of the e-mail: the same content as [`text`], styled inline
/// (mail clients drop `<style>` blocks).
pub fn html(alert: &Alert) -> String {
    let h = escape_html;
    let mut s = String::from(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif;font-size:15px;max-width:640px\">\n",
    );
    s.push_str(&format!(
        "<h2 style=\"margin:0 0 4px\"><span style=\"color:{}\">[{}]</span> {}</h2>\n",
        html_color(alert.severity),
        alert.severity.as_str().to_uppercase(),
        h(&alert.title)
    ));
    s.push_str(&format!(
        "<p style=\"color:#555;margin:0\">{}<br>prober: {}</p>\n",
        h(&alert.times()),
        h(&alert.prober)
    ));
    if alert.test {
        s.push_str("<p><b>This is a test from <code>dns-failover notify-test</code>; no action is needed.</b></p>\n");
    }
    for e in by_severity(alert) {
        s.push_str(&format!(
            "<h3 style=\"margin:16px 0 4px\"><span style=\"color:{}\">{}</span> {} · {}</h3>\n<p style=\"margin:0\">",
            html_color(e.event.severity),
            e.event.severity.as_str().to_uppercase(),
            h(e.event.kind.as_str()),
            h(&e.event.group)
        ));
        if let Some(r) = reminder_line(alert, e) {
            s.push_str(&format!("<i>{}</i><br>", h(&r)));
        }
        s.push_str(&format!("record: {}<br>", h(&e.record)));
        if !e.event.regions.is_empty() {
            s.push_str(&format!("regions: {}<br>", h(&e.event.regions.join(", "))));
        }
        s.push_str(&format!("{}</p>\n<ul>\n", h(&e.event.message)));
        for c in &e.changes {
            s.push_str(&format!("<li>{}</li>\n", h(&dns_line(c))));
        }
        for c in &e.servers {
            s.push_str(&format!("<li>{}</li>\n", h(&c.line())));
        }
        for ev in &e.evidence {
            s.push_str(&format!(
                "<li>evidence {} [{}] {}<ul>",
                h(&ev.region),
                h(ev.health.as_str()),
                h(&ev.endpoint)
            ));
            for l in attempt_lines(&ev.attempts) {
                s.push_str(&format!("<li>{}</li>", h(&l)));
            }
            s.push_str("</ul></li>\n");
        }
        s.push_str("</ul>\n");
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_attempts_show_their_phases_and_successes_do_not() {
        use crate::model::health::{FailureClass, Phases};
        use std::time::Duration;
        let phases = Phases {
            resolve_ms: Some(1.0),
            connect_ms: Some(0.2),
            ttfb_ms: Some(498.8),
            ..Phases::default()
        };
        let failed = Attempt::failure(
            Duration::from_millis(500),
            None,
            FailureClass::Timeout,
            "no answer",
        )
        .with_phases(phases.clone());
        let ok = Attempt::success(Duration::from_millis(3), Some(200)).with_phases(phases);
        assert_eq!(
            attempt_lines(&[failed, ok]),
            [
                "#1 timeout after 500ms (resolve 1.0ms, connect 0.2ms, ttfb 498.8ms)",
                "#2 ok 200 in 3ms"
            ]
        );
    }

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(truncate_bytes("abc", 10), "abc");
    }

    #[test]
    fn cut_counts_bytes_not_chars_and_keeps_utf8_valid() {
        let s = "区".repeat(2000); // 6000 bytes
        let t = truncate_bytes(&s, 4096);
        assert!(t.len() <= 4096, "{}", t.len());
        assert!(t.ends_with(TRUNCATED));
        assert!(t.len() > 4096 - 3 - TRUNCATED.len());
    }

    #[test]
    fn cut_prefers_a_line_end() {
        let s = format!("{}\n{}", "a".repeat(70), "b".repeat(50));
        let t = truncate_bytes(&s, 100);
        assert_eq!(t, format!("{}{TRUNCATED}", "a".repeat(70)));
    }

    #[test]
    fn tiny_limit_still_cuts() {
        assert_eq!(truncate_bytes("区区区", 4), "区");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn subjects_stay_short_however_many_events() {
        let mut a = Alert::test("p", "UTC", chrono::Utc::now());
        a.title = (0..40)
            .map(|i| format!("web{i}: failover ap-shanghai"))
            .collect::<Vec<_>>()
            .join("; ");
        let s = subject(&a);
        assert!(s.chars().count() <= SUBJECT_MAX, "{s}");
        assert!(
            s.starts_with("[INFO] web0: failover ap-shanghai; web1"),
            "{s}"
        );
        assert!(s.ends_with(" more"), "{s}");
        a.title = "x".repeat(400);
        assert_eq!(subject(&a).chars().count(), SUBJECT_MAX);
        a.title = "api: failover ap-shanghai".into();
        assert_eq!(subject(&a), "[INFO] api: failover ap-shanghai");
    }
}
