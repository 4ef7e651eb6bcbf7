//! Events: what happened in a pass, and how bad it is. Alert filters,
//! scripts and the report name them by [`EventKind::as_str`].

use serde::Serialize;

/// How bad an event is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// What happened, as alert filters and scripts name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Traffic moved away from a down target.
    Failover,
    /// Traffic moved back to a recovered target.
    Failback,
    /// A recovered target waits for an operator (`failback = "manual"`).
    RecoveredPending,
    /// A target is healthy again but has not been out for `failback_after` yet.
    Recovering,
    /// Every target of the group is down; nothing was changed.
    AllDown,
    /// A down target's record stays enabled because it is the last one.
    LastRecordKept,
    /// No up target to move to.
    NoHealthyTarget,
    /// The plan was larger than `max_changes` and was refused.
    MaxChangesExceeded,
    /// A missing record was created.
    Created,
    /// A record is in a state the tool did not make; left alone.
    LeftAlone,
    /// A DNS write failed (set by the pipeline).
    ApplyFailed,
    /// A record changed under us between read and write (set by the pipeline).
    Conflict,
    /// The domain's plan refused the TTL, or its lowest TTL is above the
    /// group's `ttl` (raised when records are written at that floor, and at
    /// `plan`).
    TtlRefused,
    /// The DNS plan caps the enabled records per host and line (DNSPod
    /// `RecordRoll`) below what an `active` group may need: warned at `plan`
    /// and by `validate --online`; critical when an enable was refused
    /// (`LimitExceeded.SubdomainRollLimit`).
    RollLimit,
    /// An operator paused the group (`pause`): it is probed and reported,
    /// never written, until `resume` or the pause's end.
    Paused,
    /// A paused group is managed again (`resume`, or the pause expired).
    Resumed,
    /// The name has no enabled record at all (whoever emptied it). Raised by
    /// `decide` on the records it reads and by the pipeline's check after
    /// its writes; critical, always.
    EmptyName,
    /// `[consensus]`: too few fresh votes to decide a target; nothing changed.
    NoQuorum,
    /// `[consensus]`: every witness failed, so this prober's own network is
    /// in doubt; it neither votes nor writes.
    ProberUnhealthy,
    /// Targets were not probed this run (the invocation's time left no room
    /// for an attempt): the run cannot say they are up. Set by the
    /// pipeline; critical, always, and the run is not `ok`.
    Unprobed,
    /// An HTTPS target's certificate expires within `cert_expiry_warning`.
    /// A warning that never moves traffic.
    CertExpiring,
    /// After a write, an authoritative server (`[dns] verify`) did not serve
    /// the new answer within `verify_within`: a warning, once per write.
    /// Information when the invocation's time ran out first.
    NotVisible,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Failover => "failover",
            EventKind::Failback => "failback",
            EventKind::RecoveredPending => "recovered_pending",
            EventKind::Recovering => "recovering",
            EventKind::AllDown => "all_down",
            EventKind::LastRecordKept => "last_record_kept",
            EventKind::NoHealthyTarget => "no_healthy_target",
            EventKind::MaxChangesExceeded => "max_changes_exceeded",
            EventKind::Created => "created",
            EventKind::LeftAlone => "left_alone",
            EventKind::ApplyFailed => "apply_failed",
            EventKind::Conflict => "conflict",
            EventKind::TtlRefused => "ttl_refused",
            EventKind::RollLimit => "roll_limit",
            EventKind::Paused => "paused",
            EventKind::Resumed => "resumed",
            EventKind::EmptyName => "empty_name",
            EventKind::NoQuorum => "no_quorum",
            EventKind::ProberUnhealthy => "prober_unhealthy",
            EventKind::Unprobed => "unprobed",
            EventKind::CertExpiring => "cert_expiring",
            EventKind::NotVisible => "not_visible",
        }
    }
    pub const ALL: [EventKind; 22] = [
        EventKind::Failover,
        EventKind::Failback,
        EventKind::RecoveredPending,
        EventKind::Recovering,
        EventKind::AllDown,
        EventKind::LastRecordKept,
        EventKind::NoHealthyTarget,
        EventKind::MaxChangesExceeded,
        EventKind::Created,
        EventKind::LeftAlone,
        EventKind::ApplyFailed,
        EventKind::Conflict,
        EventKind::TtlRefused,
        EventKind::RollLimit,
        EventKind::Paused,
        EventKind::Resumed,
        EventKind::EmptyName,
        EventKind::NoQuorum,
        EventKind::ProberUnhealthy,
        EventKind::Unprobed,
        EventKind::CertExpiring,
        EventKind::NotVisible,
    ];
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One thing worth telling, with its reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub kind: EventKind,
    pub severity: Severity,
    pub group: String,
    pub regions: Vec<String>,
    pub message: String,
}
