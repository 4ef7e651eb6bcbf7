//! One name and type on an RFC 2136 server, as the tool sees it: pure.
//!
//! DNS has no record ids, no "disabled" flag, no remarks and no update
//! times. The tool keeps them in a control record of its own, a TXT RRset
//! at `_dns-failover-meta-<type>.<host>` (see [`meta_key`]), with one TXT
//! RR per record the tool wrote ([`Entry`]). A record is:
//! - **enabled** when its value is in the served RRset (what resolvers
//!   get); its remark and update time come from its `on` entry, if any;
//! - **disabled** when its value is not served and an `off` entry
//!   remembers it (value, TTL, remark, time). A disabled record is never
//!   served: taking it out of the RRset is what disabling means, and it is
//!   allowed only because the same update message writes the `off` entry.
//!
//! Its id is the id its entry carries, so it stays the same when its value
//! is rewritten; a served value the tool never wrote (no entry) gets an id
//! derived from the value ([`derive_id`]).
//!
//! A [`Plan`] is what one write changes in the served RRset and in the
//! control RRset; the wire module sends it with the served RRset as read
//! as its prerequisite, so the server applies it only if that did not
//! change since.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, TXT};
use hickory_proto::rr::{Name, RData};
use sha2::{Digest, Sha256};

use crate::model::record::{control_key, same_value, NewRecord, Record, RecordKey, RecordType};

/// The first string of every TXT RR the tool writes: what it is, and the
/// version of the layout that follows.
pub const MARKER: &str = "dns-failover-rr/1";

/// TTL of the control TXT RRset (seconds). Nothing resolves it in
/// earnest; it only has to be valid.
pub const CONTROL_TTL: u32 = 60;

/// Longest character-string of a TXT RR (RFC 1035 §3.3.14).
const TXT_STRING_MAX: usize = 255;

/// Where the control TXT RRset of `key` lives: the key's control name
/// for kind `meta` (`_dns-failover-meta-<type>.<host>`, same zone).
pub fn meta_key(key: &RecordKey) -> RecordKey {
    control_key(key, Some("meta"), crate::model::record::CONTROL_LINE)
}

/// What the tool remembers about one record: one TXT RR of the control
/// RRset, strings `MARKER`, id, `on`|`off`, value, TTL, time (RFC 3339),
/// then the remark cut into strings of at most 255 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub enabled: bool,
    pub value: String,
    pub ttl: u32,
    pub at: DateTime<Utc>,
    pub remark: String,
}

impl Entry {
    /// The TXT RR that holds it.
    pub fn to_txt(&self) -> TXT {
        let at = self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let ttl = self.ttl.to_string();
        let mut strings: Vec<&[u8]> = vec![
            MARKER.as_bytes(),
            self.id.as_bytes(),
            if self.enabled { b"on" } else { b"off" },
            self.value.as_bytes(),
            ttl.as_bytes(),
            at.as_bytes(),
        ];
        strings.extend(chunks(&self.remark));
        TXT::from_bytes(strings)
    }

    /// The entry a TXT RR holds; `None` for a TXT RR the tool did not write.
    pub fn parse(txt: &TXT) -> Option<Entry> {
        let s: Vec<&str> = txt
            .txt_data()
            .iter()
            .map(|b| std::str::from_utf8(b).ok())
            .collect::<Option<_>>()?;
        let [marker, id, state, value, ttl, at, remark @ ..] = s.as_slice() else {
            return None;
        };
        if *marker != MARKER || id.is_empty() || value.is_empty() {
            return None;
        }
        let enabled = match *state {
            "on" => true,
            "off" => false,
            _ => return None,
        };
        Some(Entry {
            id: id.to_string(),
            enabled,
            value: value.to_string(),
            ttl: ttl.parse().ok()?,
            at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
            remark: remark.concat(),
        })
    }
}

/// `text` in pieces of at most 255 bytes, cut on char boundaries.
fn chunks(text: &str) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(TXT_STRING_MAX);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest.as_bytes()[..cut]);
        rest = &rest[cut..];
    }
    out
}

/// The value a served RR holds, as the config writes values: an address,
/// or a host name without its trailing dot.
pub fn value_of(rdata: &RData) -> Option<String> {
    match rdata {
        RData::A(a) => Some(a.0.to_string()),
        RData::AAAA(a) => Some(a.0.to_string()),
        RData::CNAME(c) => Some(c.0.to_ascii().trim_end_matches('.').to_string()),
        _ => None,
    }
}

/// The RR data for `value` in an RRset of type `rtype`.
pub fn rdata_of(rtype: RecordType, value: &str) -> Result<RData, String> {
    let bad = || format!("{value:?} is not a valid {rtype} value");
    Ok(match rtype {
        RecordType::A => RData::A(A(value.parse::<Ipv4Addr>().map_err(|_| bad())?)),
        RecordType::Aaaa => RData::AAAA(AAAA(value.parse::<Ipv6Addr>().map_err(|_| bad())?)),
        RecordType::Cname => {
            let fqdn = format!("{}.", value.trim_end_matches('.'));
            RData::CNAME(CNAME(Name::from_ascii(fqdn).map_err(|_| bad())?))
        }
    })
}

fn norm(value: &str) -> String {
    value.trim_end_matches('.').to_ascii_lowercase()
}

/// The id of a value with no entry: 8 hex digits of its SHA-256, with a
/// counter mixed in while it is `taken`.
pub fn derive_id(value: &str, taken: &HashSet<String>) -> String {
    let base = norm(value);
    (0u32..)
        .map(|n| {
            let input = if n == 0 {
                base.clone()
            } else {
                format!("{base}#{n}")
            };
            hex::encode(&Sha256::digest(input.as_bytes())[..4])
        })
        .find(|id| !taken.contains(id))
        .unwrap_or_default() // unreachable: the counter runs until an id is free
}

/// One record while [`Snapshot::records`] builds them.
struct Row<'a> {
    value: String,
    enabled: bool,
    ttl: u32,
    /// The entry whose remark and time it shows.
    entry: Option<&'a Entry>,
    /// The id an entry gives it, if free.
    hint: Option<&'a str>,
}

/// The served RRset and the control RRset of one key, exactly as read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The RRs of the key's name and type.
    pub served: Vec<RData>,
    /// Their TTL (one per RRset); `None` when there is none.
    pub served_ttl: Option<u32>,
    /// Every TXT RR at the control name, the tool's or not.
    pub meta: Vec<TXT>,
}

impl Snapshot {
    fn served_values(&self) -> Vec<String> {
        self.served.iter().filter_map(value_of).collect()
    }

    /// The tool's entries, in the order read.
    pub fn entries(&self) -> Vec<Entry> {
        self.meta.iter().filter_map(Entry::parse).collect()
    }

    /// The records of the key, enabled first, each part in the order of
    /// its values: servers rotate the order of an RRset from one answer
    /// to the next (BIND's `rrset-order cyclic`), the list does not.
    pub fn records(&self) -> Vec<Record> {
        let mut entries = self.entries();
        // Two entries of one record (two writers at once): the newest counts.
        entries.sort_by(|a, b| {
            (norm(&a.value), &a.id, std::cmp::Reverse(a.at)).cmp(&(
                norm(&b.value),
                &b.id,
                std::cmp::Reverse(b.at),
            ))
        });
        let mut served = self.served_values();
        served.sort_by_key(|v| norm(v));
        let mut rows: Vec<Row> = Vec::new();
        for v in served {
            if rows.iter().any(|r| same_value(&r.value, &v)) {
                continue;
            }
            let on = entries
                .iter()
                .find(|e| e.enabled && same_value(&e.value, &v));
            // A value we disabled that someone served again by hand keeps its id.
            let hint = on
                .or_else(|| entries.iter().find(|e| same_value(&e.value, &v)))
                .map(|e| e.id.as_str());
            let ttl = self.served_ttl.unwrap_or(0);
            rows.push(Row {
                value: v,
                enabled: true,
                ttl,
                entry: on,
                hint,
            });
        }
        for e in entries.iter().filter(|e| !e.enabled) {
            if rows.iter().any(|r| same_value(&r.value, &e.value)) {
                continue;
            }
            rows.push(Row {
                value: e.value.clone(),
                enabled: false,
                ttl: e.ttl,
                entry: Some(e),
                hint: Some(&e.id),
            });
        }
        // Ids the entries carry first; derived ids keep clear of them.
        let mut taken = HashSet::new();
        let mut ids: Vec<Option<String>> = rows
            .iter()
            .map(|r| {
                r.hint
                    .filter(|id| taken.insert(id.to_string()))
                    .map(String::from)
            })
            .collect();
        for (id, row) in ids.iter_mut().zip(&rows) {
            if id.is_none() {
                let new = derive_id(&row.value, &taken);
                taken.insert(new.clone());
                *id = Some(new);
            }
        }
        rows.into_iter()
            .zip(ids)
            .map(|(r, id)| Record {
                id: id.unwrap_or_default(),
                value: r.value,
                ttl: r.ttl,
                enabled: r.enabled,
                updated_on: r.entry.map(|e| e.at),
                remark: r.entry.map(|e| e.remark.clone()).unwrap_or_default(),
                weight: None,
            })
            .collect()
    }

    /// The control TXT RRs about record `id` or any of `values`: the ones
    /// a write about them replaces.
    fn entries_about(&self, id: &str, values: &[&str]) -> Vec<TXT> {
        self.meta
            .iter()
            .filter(|t| {
                Entry::parse(t)
                    .is_some_and(|e| e.id == id || values.iter().any(|v| same_value(&e.value, v)))
            })
            .cloned()
            .collect()
    }
}

/// One write: what leaves and joins the served RRset and the control
/// RRset. Sent as one update message, so all of it lands or none.
///
/// Only the served RRset is a prerequisite: the control RRset holds the
/// entries of every record of the key (several probers' votes, say), and
/// a write replaces only the entries of its own record, each deleted by
/// its exact RR, so writes about two records never conflict there.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub served_del: Vec<RData>,
    pub served_add: Vec<RData>,
    /// TTL of the added RRs: the whole RRset takes it (one TTL per RRset).
    pub served_ttl: u32,
    /// The entries of this record (by id or value) as read: replaced.
    pub meta_del: Vec<TXT>,
    pub meta_add: Entry,
    /// The values whose entries `meta_del` holds, besides the id's.
    pub about: Vec<String>,
}

impl Plan {
    /// Enable or disable `cur` (a record of `snap`), with `remark` (empty:
    /// keep its remark). Disabling takes its value out of the served RRset
    /// and writes an `off` entry; enabling serves it again with the
    /// RRset's TTL (its own when the RRset is empty).
    pub fn status(
        snap: &Snapshot,
        rtype: RecordType,
        cur: &Record,
        enabled: bool,
        remark: &str,
        now: DateTime<Utc>,
    ) -> Result<Plan, String> {
        let rdata = rdata_of(rtype, &cur.value)?;
        let ttl = if enabled && !cur.enabled {
            snap.served_ttl.unwrap_or(cur.ttl)
        } else {
            cur.ttl
        };
        let (served_del, served_add) = match (cur.enabled, enabled) {
            (true, false) => (vec![rdata], vec![]),
            (false, true) => (vec![], vec![rdata]),
            _ => (vec![], vec![]),
        };
        Ok(Plan {
            served_del,
            served_add,
            served_ttl: ttl,
            meta_del: snap.entries_about(&cur.id, &[&cur.value]),
            about: vec![cur.value.clone()],
            meta_add: Entry {
                id: cur.id.clone(),
                enabled,
                value: cur.value.clone(),
                ttl,
                at: now,
                remark: keep(remark, &cur.remark),
            },
        })
    }

    /// Rewrite `cur`'s value and TTL, keeping its id; `enabled` is the
    /// status it ends with. Refused when another record has `value`.
    #[allow(clippy::too_many_arguments)]
    pub fn value(
        snap: &Snapshot,
        rtype: RecordType,
        cur: &Record,
        value: &str,
        ttl: u32,
        enabled: bool,
        remark: &str,
        now: DateTime<Utc>,
    ) -> Result<Plan, String> {
        if let Some(other) = snap
            .records()
            .into_iter()
            .find(|r| r.id != cur.id && same_value(&r.value, value))
        {
            return Err(format!(
                "record {} already has the value {value}; not merged into it",
                other.id
            ));
        }
        let old = rdata_of(rtype, &cur.value)?;
        let new = rdata_of(rtype, value)?;
        Ok(Plan {
            served_del: if cur.enabled { vec![old] } else { vec![] },
            served_add: if enabled { vec![new] } else { vec![] },
            served_ttl: ttl,
            meta_del: snap.entries_about(&cur.id, &[&cur.value, value]),
            about: vec![cur.value.clone(), value.to_string()],
            meta_add: Entry {
                id: cur.id.clone(),
                enabled,
                value: value.to_string(),
                ttl,
                at: now,
                remark: keep(remark, &cur.remark),
            },
        })
    }

    /// A new record: served when enabled (with the RRset's TTL when it has
    /// one), remembered either way. Returns the plan and the new id.
    pub fn create(
        snap: &Snapshot,
        rtype: RecordType,
        new: &NewRecord,
        now: DateTime<Utc>,
    ) -> Result<(Plan, String), String> {
        let records = snap.records();
        if let Some(r) = records.iter().find(|r| same_value(&r.value, &new.value)) {
            return Err(format!("record {} already has the value {}", r.id, r.value));
        }
        let rdata = rdata_of(rtype, &new.value)?;
        let mut taken: HashSet<String> = records.into_iter().map(|r| r.id).collect();
        taken.extend(snap.entries().into_iter().map(|e| e.id));
        let id = derive_id(&new.value, &taken);
        let ttl = if new.enabled {
            snap.served_ttl.unwrap_or(new.ttl)
        } else {
            new.ttl
        };
        let plan = Plan {
            served_del: vec![],
            served_add: if new.enabled { vec![rdata] } else { vec![] },
            served_ttl: ttl,
            // Stale entries of this value (it was taken out by hand).
            meta_del: snap.entries_about(&id, &[&new.value]),
            about: vec![new.value.clone()],
            meta_add: Entry {
                id: id.clone(),
                enabled: new.enabled,
                value: new.value.clone(),
                ttl,
                at: now,
                remark: new.remark.clone(),
            },
        };
        Ok((plan, id))
    }

    /// `after` (a fresh read) shows this plan applied: the served values
    /// as planned and our entry, byte for byte.
    pub fn landed(&self, before: &Snapshot, after: &Snapshot) -> bool {
        let mut want: Vec<String> = before
            .served_values()
            .into_iter()
            .filter(|v| {
                !self
                    .served_del
                    .iter()
                    .filter_map(value_of)
                    .any(|d| same_value(&d, v))
            })
            .collect();
        want.extend(self.served_add.iter().filter_map(value_of));
        let have = after.served_values();
        let same_served = want.iter().all(|w| have.iter().any(|h| same_value(h, w)))
            && have.iter().all(|h| want.iter().any(|w| same_value(h, w)));
        same_served && after.meta.contains(&self.meta_add.to_txt())
    }

    /// `after` shows nothing of this plan's record changed since `before`:
    /// the same served RRs and the same entries of this record.
    pub fn untouched(&self, before: &Snapshot, after: &Snapshot) -> bool {
        let served = |s: &Snapshot| {
            let mut v: Vec<String> = s.served_values().iter().map(|v| norm(v)).collect();
            v.sort();
            v
        };
        let about: Vec<&str> = self.about.iter().map(String::as_str).collect();
        let mine = after.entries_about(&self.meta_add.id, &about);
        served(before) == served(after)
            && mine.len() == self.meta_del.len()
            && mine.iter().all(|t| self.meta_del.contains(t))
    }
}

/// `remark`, or `current` when `remark` is empty (the trait's rule).
fn keep(remark: &str, current: &str) -> String {
    if remark.is_empty() {
        current.to_string()
    } else {
        remark.to_string()
    }
}
