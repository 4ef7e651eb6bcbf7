//! Per-attempt phase timing: which phase is running, and how long each took.
//!
//! A probe marks where it is ([`Stopwatch::begin`]) and where a phase ends
//! ([`Stopwatch::end`]). The stopwatch lives outside the attempt's timeout,
//! so when the timeout drops the attempt mid-phase, [`Stopwatch::finish`]
//! still books the time spent in the phase that stalled and can name it.

use std::time::Instant;

use crate::model::health::Phases;

/// One phase of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Resolve,
    Connect,
    Tls,
    Ttfb,
    Body,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Resolve => "resolve",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Ttfb => "waiting for the response head",
            Phase::Body => "body",
        }
    }
}

/// The phases of one attempt so far, and what else the attempt learnt
/// that must survive its timeout.
#[derive(Debug, Default)]
pub struct Stopwatch {
    phases: Phases,
    open: Option<(Phase, Instant)>,
    /// The peer certificate's `notAfter`, once a TLS handshake succeeded.
    pub cert_not_after: Option<chrono::DateTime<chrono::Utc>>,
}

impl Stopwatch {
    /// Start `phase` (ending any phase still open).
    pub fn begin(&mut self, phase: Phase) {
        self.end();
        self.open = Some((phase, Instant::now()));
    }

    /// End the open phase, adding its time to that phase's total.
    pub fn end(&mut self) {
        if let Some((phase, since)) = self.open.take() {
            let d = since.elapsed();
            let p = &mut self.phases;
            let slot = match phase {
                Phase::Resolve => &mut p.resolve_ms,
                Phase::Connect => &mut p.connect_ms,
                Phase::Tls => &mut p.tls_ms,
                Phase::Ttfb => &mut p.ttfb_ms,
                Phase::Body => &mut p.body_ms,
            };
            Phases::add(slot, d);
        }
    }

    /// The phase open right now, if any (the one a timeout interrupted).
    pub fn current(&self) -> Option<Phase> {
        self.open.map(|(p, _)| p)
    }

    /// Close the open phase and hand over the totals.
    pub fn finish(mut self) -> Phases {
        self.end();
        self.phases
    }
}
