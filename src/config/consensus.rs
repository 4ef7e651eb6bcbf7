//! `[consensus]` and `[probe] witnesses`: several regional probers agreeing
//! before traffic moves (docs/consensus.md).

use std::time::Duration;

use serde::Deserialize;

use super::{HumanDuration, Seg, VResult, Validator};
use crate::model::consensus::{ConsensusSettings, NoQuorum};
use crate::model::secret::EnvString;
use crate::model::target::{Check, HttpCheck, StatusMatcher};

/// Probers a `[consensus]` may list: their number names their vote record
/// (`127.0.1.<n>`).
pub const MAX_PROBERS: usize = 250;
/// A prober's name is a DNS label in reports and alerts; short and plain.
pub const MAX_PROBER_NAME: usize = 38;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsensus {
    probers: Vec<String>,
    quorum: Option<i64>,
    on_no_quorum: Option<String>,
    stale_after: Option<HumanDuration>,
    heartbeat: Option<HumanDuration>,
}

impl Validator<'_> {
    pub(super) fn consensus(
        &mut self,
        raw: RawConsensus,
        prober: &str,
    ) -> VResult<ConsensusSettings> {
        let key = |k| [Seg::Key("consensus"), Seg::Key(k)];
        let n = raw.probers.len();
        if n == 0 || n > MAX_PROBERS {
            return Err(self.err(
                &key("probers"),
                format!(
                    "list 1 to {MAX_PROBERS} prober names, one per region that runs the function"
                ),
            ));
        }
        for (i, p) in raw.probers.iter().enumerate() {
            let plain = !p.is_empty()
                && p.len() <= MAX_PROBER_NAME
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !plain {
                return Err(self.err(
                    &[Seg::Key("consensus"), Seg::Key("probers"), Seg::Index(i)],
                    format!("{p:?} is not a prober name: 1 to {MAX_PROBER_NAME} of a-z, 0-9 and '-' (e.g. \"ap-guangzhou\")"),
                ));
            }
            if raw.probers[..i].contains(p) {
                return Err(self.err(
                    &[Seg::Key("consensus"), Seg::Key("probers"), Seg::Index(i)],
                    format!("{p:?} is listed twice"),
                ));
            }
        }
        if !raw.probers.iter().any(|p| p == prober) {
            return Err(self.err(
                &[Seg::Key("prober")],
                format!(
                    "this prober is {prober:?}, which is not in [consensus] probers ({}); set `prober` (default: $TENCENTCLOUD_REGION)",
                    raw.probers.join(", ")
                ),
            ));
        }
        let quorum = match raw.quorum {
            None => n / 2 + 1,
            Some(q) if q >= 1 && q as usize <= n => q as usize,
            Some(q) => {
                return Err(self.err(
                    &key("quorum"),
                    format!("{q} is not between 1 and the {n} probers listed"),
                ))
            }
        };
        let on_no_quorum = match raw.on_no_quorum.as_deref() {
            None | Some("hold") => NoQuorum::Hold,
            Some("local") => NoQuorum::Local,
            Some(other) => {
                return Err(self.err(
                    &key("on_no_quorum"),
                    format!("{other:?}: expected \"hold\" or \"local\""),
                ))
            }
        };
        let stale_after = raw.stale_after.map_or(Duration::from_secs(180), |d| d.0);
        let heartbeat = raw.heartbeat.map_or(Duration::from_secs(60), |d| d.0);
        self.at_most(&key("stale_after"), stale_after, Duration::from_secs(3600))?;
        if heartbeat.is_zero() || heartbeat >= stale_after {
            return Err(self.err(
                &key("heartbeat"),
                "must be more than 0 and less than stale_after, so that a live prober's vote never looks stale",
            ));
        }
        Ok(ConsensusSettings {
            probers: raw.probers,
            quorum,
            on_no_quorum,
            stale_after,
            heartbeat,
        })
    }

    /// `[probe] witnesses`: `http(s)://...` URLs or `tcp://host:port`.
    pub(super) fn witnesses(&mut self, raw: Vec<EnvString>) -> VResult<Vec<Check>> {
        let mut out = Vec::with_capacity(raw.len());
        for (i, w) in raw.into_iter().enumerate() {
            let path = [Seg::Key("probe"), Seg::Key("witnesses"), Seg::Index(i)];
            let v = w.value().to_string();
            if let Some(addr) = v.strip_prefix("tcp://") {
                let ok = addr
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
                if !ok {
                    return Err(
                        self.err(&path, format!("{}: expected tcp://host:port", w.quoted()))
                    );
                }
                let shown = w
                    .shown()
                    .strip_prefix("tcp://")
                    .unwrap_or(w.shown())
                    .to_string();
                let addr = if w.is_expanded() {
                    EnvString::expand(&shown, &super::env_lookup)
                        .unwrap_or_else(|_| EnvString::literal(addr))
                } else {
                    EnvString::literal(addr)
                };
                out.push(Check::Tcp { addr });
            } else if v.starts_with("http://") || v.starts_with("https://") {
                out.push(Check::Http(HttpCheck {
                    url: w,
                    method: "GET".into(),
                    headers: vec![],
                    // A witness only proves the network: any answer will do.
                    expect_status: StatusMatcher(vec![(100, 599)]),
                    body_contains: None,
                    max_latency: None,
                    resolve: None,
                    follow_redirects: false,
                }));
            } else {
                return Err(self.err(
                    &path,
                    format!(
                        "{}: expected an http(s):// URL or tcp://host:port",
                        w.quoted()
                    ),
                ));
            }
        }
        Ok(out)
    }
}
