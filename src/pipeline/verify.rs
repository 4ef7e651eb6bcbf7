//! `[dns] verify`: after a group's writes, ask the zone's authoritative
//! servers (`verify_servers`, or the provider's name servers with
//! `verify = "ns"`) until every one serves the new answer, and raise
//! `not_visible` for a server that does not within `verify_within`; for
//! `status`, ask each once what it serves now.
//!
//! Each group's check starts as soon as its writes are confirmed, in its
//! own task, so later groups' writes do not delay it and it does not delay
//! them; [`Verifier::finish`] waits for all of them (each ends by
//! `verify_within` after its write, or the pass's DNS deadline). The
//! servers are listed and resolved once per pass, by the first check that
//! needs them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use crate::config::{Config, Group};
use crate::dns::DnsProvider;
use crate::model::event::{Event, EventKind, Severity};
use crate::model::record::Record;
use crate::model::verify::{
    answers_everyone, expected_values, ms, ServerSpec, Verification, VerifySettings, VerifySource,
};
use crate::report::{ChangeResult, ChangeStatus, GroupReport};
use crate::verify::{self, Question, Server};

use super::Deps;

/// Longest wait for the system resolver to give a server's address.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// The servers to ask, or why there are none.
type Servers = Result<Vec<Server>, String>;

/// A group's check: its result and, when the servers could not be listed
/// at all, why (that is worth a warning).
type Outcome = (Verification, Option<String>);

/// The checks of one pass.
pub(super) struct Verifier {
    settings: VerifySettings,
    domain: String,
    dns: Arc<dyn DnsProvider>,
    servers: Arc<OnceCell<Servers>>,
    deadline: Option<Instant>,
    tasks: Vec<(String, JoinHandle<Outcome>)>,
}

impl Verifier {
    /// `None` when writes are not verified.
    pub(super) fn new(deps: &Deps, cfg: &Config, deadline: Option<Instant>) -> Option<Verifier> {
        cfg.dns.verify.is_on().then(|| Verifier {
            settings: cfg.dns.verify.clone(),
            domain: cfg.dns.domain.clone(),
            dns: deps.dns.clone(),
            servers: Arc::new(OnceCell::new()),
            deadline,
            tasks: Vec::new(),
        })
    }

    /// `report`'s writes (of group `g`) started at `started` and the last
    /// was confirmed at `confirmed`: start checking, if anything was
    /// written.
    pub(super) fn written(
        &mut self,
        g: &Group,
        report: &GroupReport,
        started: Instant,
        confirmed: Instant,
    ) {
        if !report
            .changes
            .iter()
            .any(|c| c.status == ChangeStatus::Applied)
        {
            return;
        }
        let within = self.settings.within;
        let full_stop = confirmed + within;
        let stop_at = self.deadline.map_or(full_stop, |d| d.min(full_stop));
        let mut v = Verification {
            question: format!("{} {}", g.key.fqdn(), g.key.rtype),
            expected: vec![],
            within_ms: ms(within),
            cut_short: false,
            servers: vec![],
            note: None,
        };
        // The invocation's deadline comes before `verify_within`.
        let limited = stop_at < full_stop;
        let expected = expected_after(
            report.records.as_deref().unwrap_or_default(),
            &report.changes,
        );
        let ready = |v: Verification| tokio::spawn(async move { (v, None) });
        if !answers_everyone(&g.key.line) {
            v.note = Some(line_note(&g.key.line));
            self.tasks.push((g.name.clone(), ready(v)));
            return;
        }
        let Some(expected) = expected else {
            v.note = Some("not checked: a change of this group failed, so what the servers should serve is not known".into());
            self.tasks.push((g.name.clone(), ready(v)));
            return;
        };
        v.expected = expected.clone();
        let q = Question {
            name: g.key.fqdn(),
            rtype: g.key.rtype,
            expected,
        };
        let write_ms = ms(confirmed.saturating_duration_since(started));
        let cell = self.servers.clone();
        let (settings, dns, domain) =
            (self.settings.clone(), self.dns.clone(), self.domain.clone());
        let task = tokio::spawn(async move {
            let servers = cell
                .get_or_init(|| list_servers(settings, dns, domain, stop_at))
                .await;
            match servers {
                Err(why) => {
                    v.note = Some(format!("not checked: {why}"));
                    let why = why.clone();
                    (v, Some(why))
                }
                Ok(list) => {
                    v.servers = futures_util::future::join_all(
                        list.iter()
                            .map(|s| verify::watch(&q, s, confirmed, write_ms, stop_at)),
                    )
                    .await;
                    v.cut_short = limited && v.not_visible().next().is_some();
                    (v, None)
                }
            }
        });
        self.tasks.push((g.name.clone(), task));
    }

    /// Wait for every check, put each in its group's report, and raise
    /// `not_visible` where a server did not serve the new answer in time.
    pub(super) async fn finish(self, groups: &mut [GroupReport]) {
        for (name, task) in self.tasks {
            let (v, unlisted) = match task.await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(group = %name, error = %e, "the check at the authoritative servers failed");
                    continue;
                }
            };
            let Some(report) = groups.iter_mut().find(|g| g.name == name) else {
                continue;
            };
            if let Some(ev) = not_visible_event(report, &v, unlisted.as_deref()) {
                tracing::warn!(group = %ev.group, kind = ev.kind.as_str(), message = %ev.message, "event");
                report.events.push(ev);
            }
            for s in &v.servers {
                tracing::info!(group = %name, server = %s.server, visible = s.visible, write_ms = s.write_ms, visible_ms = s.visible_ms, waited_ms = s.waited_ms, "authoritative server checked");
            }
            report.verify = Some(v);
        }
    }
}

fn line_note(line: &str) -> String {
    format!("not compared: on line {line:?} a server's answer depends on the asker's network; only the default line answers everyone alike")
}

/// The servers to ask: `verify_servers`, or the provider's name servers;
/// each resolved once.
async fn list_servers(
    settings: VerifySettings,
    dns: Arc<dyn DnsProvider>,
    domain: String,
    stop_at: Instant,
) -> Servers {
    let specs = match settings.source {
        VerifySource::Off => return Ok(vec![]),
        VerifySource::Servers(s) => s,
        VerifySource::Ns => match dns.name_servers(&domain).await {
            Ok(Some(names)) if !names.is_empty() => names
                .iter()
                .map(|n| ServerSpec::parse(n))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("a name server of the provider: {e}"))?,
            Ok(Some(_)) => {
                return Err(format!(
                    "provider {:?} lists no name server for {domain}; list them in verify_servers",
                    dns.name()
                ))
            }
            Ok(None) => {
                return Err(format!(
                "provider {:?} does not tell the zone's name servers; list them in verify_servers",
                dns.name()
            ))
            }
            Err(e) => return Err(format!("cannot read the zone's name servers: {e}")),
        },
    };
    let left = stop_at.saturating_duration_since(Instant::now());
    Ok(verify::resolve(&specs, RESOLVE_TIMEOUT.min(left)).await)
}

/// What the name should serve after the writes: the records as read
/// before deciding, each written one replaced by its read-back, created
/// ones added; `None` when a change failed or was not attempted (what the
/// provider holds is then not known without reading again).
fn expected_after(before: &[Record], changes: &[ChangeResult]) -> Option<Vec<String>> {
    let mut records = before.to_vec();
    for c in changes {
        match c.status {
            ChangeStatus::Applied | ChangeStatus::AlreadyApplied => {
                let r = c.record.as_ref()?;
                match records.iter_mut().find(|x| x.id == r.id) {
                    Some(x) => *x = r.clone(),
                    None => records.push(r.clone()),
                }
            }
            _ => return None,
        }
    }
    Some(expected_values(&records))
}

/// `not_visible` for a group whose check found a server without the new
/// answer: a warning when `verify_within` passed, information when the
/// pass's time ran out first. Also a warning when the servers could not be
/// listed (`unlisted`). The regions are those of the group's writes.
fn not_visible_event(
    report: &GroupReport,
    v: &Verification,
    unlisted: Option<&str>,
) -> Option<Event> {
    let mut regions: Vec<String> = Vec::new();
    for c in report
        .changes
        .iter()
        .filter(|c| c.status == ChangeStatus::Applied)
    {
        if !regions.contains(&c.change.region) {
            regions.push(c.change.region.clone());
        }
    }
    let event = |severity, message| Event {
        kind: EventKind::NotVisible,
        severity,
        group: report.name.clone(),
        regions: regions.clone(),
        message,
    };
    if let Some(why) = unlisted {
        return Some(event(
            Severity::Warning,
            format!(
                "the write to {} was not checked at the authoritative servers: {why}",
                v.question
            ),
        ));
    }
    let late: Vec<String> = v.not_visible().map(|s| s.server.clone()).collect();
    if late.is_empty() {
        return None;
    }
    let within = crate::model::duration::human(Duration::from_millis(v.within_ms));
    let expected = if v.expected.is_empty() {
        "no record".to_string()
    } else {
        v.expected.join(" ")
    };
    let head = format!(
        "{} of {} authoritative servers did not serve the new answer for {} ({expected})",
        late.len(),
        v.servers.len(),
        v.question
    );
    Some(if v.cut_short {
        event(
            Severity::Info,
            format!(
                "{head} before the invocation's time for DNS ran out, earlier than verify_within ({within}): {}; the next run sees what they serve",
                late.join(", ")
            ),
        )
    } else {
        event(
            Severity::Warning,
            format!(
                "{head} within verify_within ({within}): {}. Clients they answer may still get the old one; check the provider's status, or the servers' zone transfers",
                late.join(", ")
            ),
        )
    })
}

/// `status`: what each server serves now for every group's name, against
/// its enabled records.
pub(super) async fn status(
    deps: &Deps,
    cfg: &Config,
    groups: &mut [GroupReport],
    deadline: Option<Instant>,
) {
    let settings = &cfg.dns.verify;
    if !settings.is_on() {
        return;
    }
    let full_stop = Instant::now() + settings.within.min(verify::QUESTION_TIMEOUT * 2);
    let stop_at = deadline.map_or(full_stop, |d| d.min(full_stop));
    let servers = list_servers(
        settings.clone(),
        deps.dns.clone(),
        cfg.dns.domain.clone(),
        stop_at,
    )
    .await;
    let timeout = settings
        .within
        .min(verify::QUESTION_TIMEOUT)
        .min(stop_at.saturating_duration_since(Instant::now()));
    let mut asks = Vec::new();
    for (i, report) in groups.iter_mut().enumerate() {
        let Some(g) = cfg.groups.iter().find(|g| g.name == report.name) else {
            continue;
        };
        let Some(records) = &report.records else {
            continue;
        };
        let mut v = Verification {
            question: format!("{} {}", g.key.fqdn(), g.key.rtype),
            expected: expected_values(records),
            within_ms: ms(settings.within),
            cut_short: false,
            servers: vec![],
            note: None,
        };
        match &servers {
            _ if !answers_everyone(&g.key.line) => v.note = Some(line_note(&g.key.line)),
            Err(why) => v.note = Some(format!("not checked: {why}")),
            Ok(list) => {
                let q = Question {
                    name: g.key.fqdn(),
                    rtype: g.key.rtype,
                    expected: v.expected.clone(),
                };
                for s in list {
                    let q = q.clone();
                    asks.push(async move { (i, verify::ask_once(&q, s, timeout).await) });
                }
            }
        }
        report.verify = Some(v);
    }
    for (i, check) in futures_util::future::join_all(asks).await {
        if let Some(v) = groups[i].verify.as_mut() {
            v.servers.push(check);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::{Change, ChangeOp, RecordKey, RecordType};

    fn rec(id: &str, value: &str, enabled: bool) -> Record {
        Record {
            id: id.into(),
            value: value.into(),
            ttl: 60,
            enabled,
            updated_on: None,
            remark: String::new(),
            weight: None,
        }
    }

    fn change(status: ChangeStatus, after: Option<Record>) -> ChangeResult {
        ChangeResult {
            change: Change {
                group: "api".into(),
                region: "gz".into(),
                key: RecordKey {
                    domain: "example.com".into(),
                    subdomain: "api".into(),
                    rtype: RecordType::A,
                    line: "默认".into(),
                },
                op: ChangeOp::SetStatus {
                    record_id: "1".into(),
                    expect_value: "192.0.2.1".into(),
                    expect_enabled: true,
                    expect_updated_on: None,
                    enabled: false,
                    remark: String::new(),
                },
                reason: String::new(),
            },
            status,
            error: None,
            record: after,
            elapsed_ms: 3,
        }
    }

    #[test]
    fn expected_values_follow_the_read_backs() {
        let before = [rec("1", "192.0.2.1", true), rec("2", "192.0.2.2", true)];
        let disabled = change(ChangeStatus::Applied, Some(rec("1", "192.0.2.1", false)));
        assert_eq!(
            expected_after(&before, std::slice::from_ref(&disabled)),
            Some(vec!["192.0.2.2".to_string()])
        );
        let created = change(ChangeStatus::Applied, Some(rec("9", "192.0.2.9", true)));
        assert_eq!(
            expected_after(&before, &[disabled.clone(), created]),
            Some(vec!["192.0.2.2".to_string(), "192.0.2.9".to_string()])
        );
        // A failed change: what the provider holds is not known.
        let failed = change(ChangeStatus::Conflict, None);
        assert_eq!(expected_after(&before, &[disabled, failed]), None);
    }
}
