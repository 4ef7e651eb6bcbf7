//! The `rfc2136` provider: a zone on a primary DNS server (BIND, Knot,
//! PowerDNS) changed with dynamic updates (RFC 2136) signed with TSIG
//! (RFC 8945).
//!
//! DNS keeps no ids, statuses, remarks or update times; the tool keeps them
//! in a TXT RRset of its own beside each name (`rrset.rs`, documented in
//! docs/providers.md). Disabling a record takes its value out of the served
//! RRset and remembers it there, in the same update message, so resolvers
//! never get a disabled value and `status` and failback still know it.
//! Nothing else is ever removed: the provider deletes an RR only when it
//! disables that record, or rewrites its value.
//!
//! Every read is two signed queries to the primary (the served RRset and
//! the control RRset). Every write first reads both afresh, checks them
//! with [`crate::dns::check_write`] (the record is as the caller saw it; a
//! disable leaves an enabled record), then sends one update whose
//! prerequisite is the served RRset exactly as read, and which replaces
//! the record's own control entries by their exact RRs: if the served
//! RRset changed in between, the server refuses it (NXRRSET or YXRRSET)
//! and nothing is written: a [`Error::Conflict`]. (The control RRset is no
//! prerequisite: it holds every record's entry, and writes about two
//! records, such as two probers' votes, must not conflict.) When the
//! reply is lost the outcome is unknown, and a blind retry would fail its
//! own prerequisite if the first attempt landed: the provider reads back
//! first ([`Rfc2136Provider`]'s `write`).
//!
//! How messages travel, and what the server's refusals mean: `wire.rs`.
//! Settings: [`Rfc2136Settings`].

mod rrset;
mod settings;
mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use base64::Engine as _;
use hickory_proto::dnssec::rdata::tsig::TsigAlgorithm as HickoryAlgorithm;
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType as WireType};

pub use rrset::{meta_key, Entry, MARKER};
pub use settings::{RawRfc2136, Rfc2136Settings, TsigAlgorithm};

use self::rrset::{rdata_of, Plan, Snapshot};
use self::wire::{Link, Names};
use super::{check_write, DnsProvider, Error, NewRecord, Record, RecordKey, RecordType};
use crate::clock::Clock;
use crate::model::record::CONTROL_LINE;

/// A zone on an RFC 2136 primary. Every call opens its own connections
/// (one per message), so one provider serves a whole pass and more.
pub struct Rfc2136Provider {
    link: Result<Link, String>,
    zone: Option<String>,
    /// The time written into the control records ("updated on").
    clock: Arc<dyn Clock>,
}

/// An update that did not go through as sent.
enum Unsure {
    /// Sent, and no reply: it may or may not have been applied.
    Unknown(String),
    /// Not sent, or refused: nothing was applied.
    Failed(Error),
}

impl From<Error> for Unsure {
    fn from(e: Error) -> Self {
        Unsure::Failed(e)
    }
}

/// The wire names of one key.
struct KeyNames {
    zone: Name,
    owner: Name,
    meta: Name,
    rtype: WireType,
    /// `api.example.com A`, for messages.
    shown: String,
}

impl KeyNames {
    fn wire(&self) -> Names<'_> {
        Names {
            zone: &self.zone,
            owner: &self.owner,
            rtype: self.rtype,
            meta: &self.meta,
        }
    }
}

fn fqdn(s: &str) -> Result<Name, String> {
    Name::from_ascii(format!("{}.", s.trim_end_matches('.')))
        .map_err(|e| format!("{s:?} is not a DNS name: {e}"))
}

fn bad_value(message: String) -> Error {
    Error::Api {
        code: "BADVALUE".into(),
        message,
        request_id: None,
    }
}

impl Rfc2136Provider {
    /// The provider for `settings`; `clock` stamps the control records,
    /// `tsig_clock` the signatures (the system clock but in tests).
    pub fn new(
        settings: &Rfc2136Settings,
        clock: Arc<dyn Clock>,
        tsig_clock: Arc<dyn Clock>,
    ) -> Self {
        let algorithm = match settings.tsig_algorithm {
            TsigAlgorithm::HmacSha256 => HickoryAlgorithm::HmacSha256,
            TsigAlgorithm::HmacSha384 => HickoryAlgorithm::HmacSha384,
            TsigAlgorithm::HmacSha512 => HickoryAlgorithm::HmacSha512,
        };
        // Validation checked both; a failure here names the key, never the secret.
        let link = base64::engine::general_purpose::STANDARD
            .decode(settings.tsig_secret.expose())
            .map_err(|_| "dns.tsig_secret is not base64".to_string())
            .and_then(|secret| {
                let name = fqdn(&settings.tsig_key_name)?;
                TSigner::new(secret, algorithm, name, wire::FUDGE)
                    .map_err(|e| format!("TSIG key {:?} cannot sign: {e}", settings.tsig_key_name))
            })
            .map(|signer| Link {
                server: settings.server.clone(),
                signer,
                key_name: settings.tsig_key_name.clone(),
                algorithm: settings.tsig_algorithm.name(),
                timeout: settings.timeout,
                deadline: None,
                tsig_clock,
            });
        Rfc2136Provider {
            link,
            zone: settings.zone.clone(),
            clock,
        }
    }

    /// Every message ends by `deadline` (the invocation's time for DNS).
    pub fn until(mut self, deadline: Option<Instant>) -> Self {
        if let Ok(l) = &mut self.link {
            l.deadline = deadline;
        }
        self
    }

    fn link(&self) -> Result<&Link, Error> {
        self.link.as_ref().map_err(|m| Error::Auth(m.clone()))
    }

    fn names(&self, key: &RecordKey) -> Result<KeyNames, Error> {
        if key.line != CONTROL_LINE {
            return Err(bad_value(format!(
                "{key}: provider \"rfc2136\" has no lines; only the default one"
            )));
        }
        let zone = self
            .zone
            .clone()
            .unwrap_or_else(|| key.domain.trim_end_matches('.').to_ascii_lowercase());
        let zone = fqdn(&zone).map_err(bad_value)?;
        let owner = fqdn(&key.fqdn()).map_err(bad_value)?;
        let meta = fqdn(&meta_key(key).fqdn()).map_err(bad_value)?;
        if !zone.zone_of(&owner) {
            return Err(Error::Api {
                code: "NOTZONE".into(),
                message: format!(
                    "{} is outside zone {} (dns.zone)",
                    key.fqdn(),
                    zone.to_ascii().trim_end_matches('.')
                ),
                request_id: None,
            });
        }
        let rtype = match key.rtype {
            RecordType::A => WireType::A,
            RecordType::Aaaa => WireType::AAAA,
            RecordType::Cname => WireType::CNAME,
        };
        Ok(KeyNames {
            zone,
            owner,
            meta,
            rtype,
            shown: format!("{} {}", key.fqdn(), key.rtype),
        })
    }

    /// The RRs of `name`/`rtype` as the primary has them now.
    async fn ask(
        &self,
        zone: &Name,
        name: &Name,
        rtype: WireType,
    ) -> Result<Vec<hickory_proto::rr::Record>, Error> {
        let link = self.link()?;
        let what = format!("query {} {rtype}", name.to_ascii().trim_end_matches('.'));
        let reply = link
            .exchange(wire::query(name, rtype))
            .await
            .map_err(|f| link.failure_error(&what, f))?;
        if let Some(e) = link.rcode_error(&what, &reply, zone) {
            return Err(e);
        }
        if !reply.authoritative() {
            return Err(Error::Api {
                code: "NOTAUTH".into(),
                message: format!(
                    "{what}: the answer is not authoritative: {} is not a primary of zone {} (dns.server)",
                    link.server,
                    zone.to_ascii().trim_end_matches('.')
                ),
                request_id: None,
            });
        }
        Ok(wire::answers(&reply, name, rtype))
    }

    /// Both RRsets of a key.
    async fn read(&self, n: &KeyNames) -> Result<Snapshot, Error> {
        let (served, meta) = tokio::join!(
            self.ask(&n.zone, &n.owner, n.rtype),
            self.ask(&n.zone, &n.meta, WireType::TXT)
        );
        let served = served?;
        Ok(Snapshot {
            served_ttl: served.first().map(|r| r.ttl()),
            served: served.into_iter().map(|r| r.into_data()).collect(),
            meta: meta?
                .into_iter()
                .filter_map(|r| match r.into_data() {
                    RData::TXT(t) => Some(t),
                    _ => None,
                })
                .collect(),
        })
    }

    /// Send `plan`'s update once.
    async fn send(
        &self,
        n: &KeyNames,
        snap: &Snapshot,
        plan: &Plan,
        record_id: &str,
    ) -> Result<(), Unsure> {
        let link = self.link()?;
        let what = format!("update of {}", n.shown);
        let reply = link
            .exchange(wire::update(&n.wire(), snap, plan))
            .await
            .map_err(|f| match f {
                wire::Failure::Transport(m) => Unsure::Unknown(format!("{what}: {m}")),
                f => Unsure::Failed(link.failure_error(&what, f)),
            })?;
        Ok(Self::outcome(link, &what, &reply, n, record_id)?)
    }

    /// What an update's verified reply says.
    fn outcome(
        link: &Link,
        what: &str,
        reply: &hickory_proto::op::Message,
        n: &KeyNames,
        record_id: &str,
    ) -> Result<(), Error> {
        match reply.response_code() {
            ResponseCode::NoError => Ok(()),
            code @ (ResponseCode::NXRRSet
            | ResponseCode::YXRRSet
            | ResponseCode::NXDomain
            | ResponseCode::YXDomain) => Err(Error::Conflict {
                record_id: record_id.to_string(),
                detail: format!(
                    "the server refused the update ({}: a prerequisite failed): {} changed since our read; nothing written",
                    wire::rcode_name(code),
                    n.shown
                ),
            }),
            _ => Err(link.rcode_error(what, reply, &n.zone).unwrap_or_else(|| {
                Error::Api {
                    code: wire::rcode_name(reply.response_code()),
                    message: format!("{what}: unexpected reply"),
                    request_id: None,
                }
            })),
        }
    }

    /// Send `plan` with `snap`'s served RRset as its prerequisite. A lost reply leaves
    /// the outcome unknown: read back; if the plan landed, done; if
    /// nothing changed, send it once more (its prerequisite still holds,
    /// and the server applies at most one of the two); anything else is
    /// someone else's write: a conflict.
    async fn write(
        &self,
        n: &KeyNames,
        snap: &Snapshot,
        plan: &Plan,
        record_id: &str,
    ) -> Result<(), Error> {
        let first = match self.send(n, snap, plan, record_id).await {
            Ok(()) => return Ok(()),
            Err(Unsure::Failed(e)) => return Err(e),
            Err(Unsure::Unknown(m)) => m,
        };
        tracing::warn!(name = %n.shown, error = %first, "update outcome unknown; reading back before any retry");
        let unknown =
            |m: &str| Error::Transport(format!("{m} (outcome unknown; the next read shows it)"));
        let after = self.read(n).await.map_err(|_| unknown(&first))?;
        if plan.landed(snap, &after) {
            return Ok(());
        }
        if !plan.untouched(snap, &after) {
            return Err(Error::Conflict {
                record_id: record_id.to_string(),
                detail: format!(
                    "{} changed by someone else while the outcome of our update was unknown ({first}); left as is",
                    n.shown
                ),
            });
        }
        match self.send(n, snap, plan, record_id).await {
            Ok(()) => Ok(()),
            Err(Unsure::Failed(Error::Conflict { .. })) => {
                // The first one may have landed late, in between.
                let after = self.read(n).await?;
                if plan.landed(snap, &after) {
                    Ok(())
                } else {
                    Err(Error::Conflict {
                        record_id: record_id.to_string(),
                        detail: format!(
                            "{} changed by someone else while we retried; left as is",
                            n.shown
                        ),
                    })
                }
            }
            Err(Unsure::Failed(e)) => Err(e),
            Err(Unsure::Unknown(m)) => Err(unknown(&m)),
        }
    }

    /// A fresh read, and `current` checked against it as `check_write` does.
    async fn checked(
        &self,
        n: &KeyNames,
        current: &Record,
        enabled: bool,
    ) -> Result<(Snapshot, Record), Error> {
        let snap = self.read(n).await?;
        let all = snap.records();
        check_write(
            &all,
            &current.id,
            &current.value,
            current.enabled,
            current.updated_on,
            enabled,
        )?;
        let cur = all
            .into_iter()
            .find(|r| r.id == current.id)
            .ok_or_else(|| Error::NotFound(current.id.clone()))?;
        Ok((snap, cur))
    }
}

#[async_trait]
impl DnsProvider for Rfc2136Provider {
    fn name(&self) -> &str {
        "rfc2136"
    }

    async fn list(&self, key: &RecordKey) -> Result<Vec<Record>, Error> {
        let n = self.names(key)?;
        Ok(self.read(&n).await?.records())
    }

    async fn create(&self, key: &RecordKey, record: &NewRecord) -> Result<String, Error> {
        let n = self.names(key)?;
        rdata_of(key.rtype, &record.value).map_err(bad_value)?;
        let snap = self.read(&n).await?;
        let (plan, id) = Plan::create(&snap, key.rtype, record, self.clock.now()).map_err(|m| {
            Error::Conflict {
                record_id: record.value.clone(),
                detail: m,
            }
        })?;
        self.write(&n, &snap, &plan, &id).await?;
        Ok(id)
    }

    async fn set_status(
        &self,
        key: &RecordKey,
        current: &Record,
        enabled: bool,
        remark: &str,
    ) -> Result<(), Error> {
        let n = self.names(key)?;
        let (snap, cur) = self.checked(&n, current, enabled).await?;
        let plan = Plan::status(&snap, key.rtype, &cur, enabled, remark, self.clock.now())
            .map_err(bad_value)?;
        self.write(&n, &snap, &plan, &cur.id).await
    }

    async fn set_value(
        &self,
        key: &RecordKey,
        current: &Record,
        value: &str,
        ttl: u32,
        enabled: bool,
        remark: &str,
    ) -> Result<(), Error> {
        let n = self.names(key)?;
        rdata_of(key.rtype, value).map_err(bad_value)?;
        let (snap, cur) = self.checked(&n, current, enabled).await?;
        let plan = Plan::value(
            &snap,
            key.rtype,
            &cur,
            value,
            ttl,
            enabled,
            remark,
            self.clock.now(),
        )
        .map_err(|detail| Error::Conflict {
            record_id: cur.id.clone(),
            detail,
        })?;
        self.write(&n, &snap, &plan, &cur.id).await
    }
}
