//! The shared model: plain data that every stage passes to the next, with
//! no I/O and no import of any other part of the crate (tests/structure.rs
//! checks this). Stages depend on the model, never on each other's types.
//!
//! - [`consensus`]: the probers' votes kept in DNS, and their settings;
//! - [`target`]: groups, targets, checks and probe settings (what is watched);
//! - [`health`]: the evidence of probes and the verdict;
//! - [`record`]: DNS records, their keys, the changes the tool plans and
//!   what became of them;
//! - [`event`]: what happened, how bad it is;
//! - [`secret`]: values never shown ([`secret::Secret`]) or shown as written
//!   ([`secret::EnvString`]);
//! - [`duration`]: durations as written and read by people;
//! - [`limits`]: the documented bounds of config values;
//! - [`pause`]: operators' pauses as kept in DNS.
//! - [`budget`]: how an invocation's time is split, and the probes fitted into it.
//! - [`verify`]: the check at the authoritative servers: settings, what each
//!   server served, and the pure comparisons.

pub mod budget;
pub mod consensus;
pub mod duration;
pub mod event;
pub mod health;
pub mod limits;
pub mod pause;
pub mod record;
pub mod secret;
pub mod target;
pub mod verify;
