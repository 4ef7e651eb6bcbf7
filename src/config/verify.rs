//! `[dns]` `verify`, `verify_servers`, `verify_within`: whether and where a
//! write is checked at the zone's authoritative servers (the asking is
//! `crate::verify`'s; the settings are plain data in `model::verify`).

use std::time::Duration;

use super::{show_duration, HumanDuration, Seg, VResult, Validator};
use crate::model::verify::{ServerSpec, VerifySettings, VerifySource, MAX_SERVERS, MAX_WITHIN};

/// The three keys as read.
#[derive(Debug, Default)]
pub(super) struct RawVerify {
    pub(super) verify: Option<String>,
    pub(super) servers: Option<Vec<String>>,
    pub(super) within: Option<HumanDuration>,
}

/// `verify_within` is at least this: a write reaches no server faster
/// than one question and its answer.
const MIN_WITHIN: Duration = Duration::from_millis(100);

impl Validator<'_> {
    pub(super) fn verify(&mut self, raw: RawVerify) -> VResult<VerifySettings> {
        let key = |k| [Seg::Key("dns"), Seg::Key(k)];
        let mut servers = Vec::new();
        for (i, s) in raw.servers.iter().flatten().enumerate() {
            let path = [Seg::Key("dns"), Seg::Key("verify_servers"), Seg::Index(i)];
            self.len(&path, s, crate::model::limits::string_limits::HOST_PORT)?;
            match ServerSpec::parse(s) {
                Ok(spec) => servers.push(spec),
                Err(m) => return Err(self.err(&path, m)),
            }
        }
        if servers.len() > MAX_SERVERS {
            return Err(self.err(
                &key("verify_servers"),
                format!(
                    "{} servers; at most {MAX_SERVERS} (each is asked for every group after every write)",
                    servers.len()
                ),
            ));
        }
        let listed = raw.servers.is_some();
        let source = match raw.verify.as_deref() {
            None if listed && servers.is_empty() => {
                return Err(self.err(
                    &key("verify_servers"),
                    "is empty; list the servers to ask, e.g. [\"ns1.example.net\"], or remove the key",
                ))
            }
            None | Some("servers") if listed => VerifySource::Servers(servers),
            None | Some("off") if !listed => VerifySource::Off,
            Some("ns") if !listed => VerifySource::Ns,
            Some("servers") => {
                return Err(self.err(
                    &key("verify"),
                    "\"servers\" needs verify_servers, the servers to ask, e.g. [\"ns1.example.net\", \"127.0.0.1:5353\"]",
                ))
            }
            Some(v @ ("off" | "ns")) => {
                return Err(self.err(
                    &key("verify_servers"),
                    format!("is only used with verify = \"servers\" (or without `verify`); remove it for verify = {v:?}"),
                ))
            }
            Some(other) => {
                return Err(self.err(
                    &key("verify"),
                    format!("unknown value {other:?}; expected \"off\", \"ns\" (the provider's name servers) or \"servers\" (verify_servers)"),
                ))
            }
            None => VerifySource::Off,
        };
        let within = match raw.within {
            None => crate::model::verify::DEFAULT_WITHIN,
            Some(_) if source == VerifySource::Off => {
                return Err(self.err(
                    &key("verify_within"),
                    "is only used when writes are verified; set verify = \"ns\" or verify_servers, or remove it",
                ))
            }
            Some(HumanDuration(d)) if d < MIN_WITHIN => {
                return Err(self.err(
                    &key("verify_within"),
                    format!("{} is too short; at least 100ms", show_duration(d)),
                ))
            }
            Some(HumanDuration(d)) => {
                self.at_most(&key("verify_within"), d, MAX_WITHIN)?;
                d
            }
        };
        Ok(VerifySettings { source, within })
    }
}
