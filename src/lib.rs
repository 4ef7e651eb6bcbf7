//! dns-failover: probe every region's endpoint, decide, fail DNS over and
//! back, tell the people on call, report.
//!
//! The data flows one way: [`config`] -> [`probe`] -> [`decide`] ->
//! [`dns`] (apply) -> [`notify`] -> [`report`]. [`pipeline::run_once`] is the
//! only caller of every stage; the CLI commands, the SCF runtime loop and the
//! demo all go through it. Side effects sit behind small traits at the edges:
//! [`clock::Clock`], [`dns::DnsProvider`], [`notify::Notifier`]. `decide` is
//! pure. The function keeps no state of its own between runs: what must
//! survive lives in the DNS records (status, value, update time, remark).
//!
//! Modules:
//! - [`config`]: TOML + `${ENV}` -> validated [`config::Config`];
//! - [`probe`]: HTTP(S) and TCP checks, concurrent, with evidence per attempt;
//! - [`decide`]: the pure plan of record changes and events;
//! - [`dns`]: the record model, the provider trait, checked apply, the file zone;
//! - [`notify`]: alerts and their channels;
//! - [`report`]: the run report (JSON and text);
//! - [`pipeline`]: one pass;
//! - [`runtime`]: the SCF custom-runtime loop (`dns-failover serve`);
//! - [`demo`]: the self-contained demonstration;
//! - [`online`]: `validate --online`, the config checks that need the DNS API;
//! - [`tencent`]: Tencent Cloud API 3.0 signing and client (DNSPod, SMS);
//! - [`telemetry`]: tracing set-up;
//! - [`verify`]: asking the zone's authoritative servers what they serve.

pub mod clock;
pub mod config;
pub mod consensus;
pub mod decide;
pub mod demo;
pub mod dns;
pub mod memory;
pub mod model;
pub mod notify;
pub mod online;
pub mod pipeline;
pub mod probe;
pub mod report;
pub mod runtime;
pub mod telemetry;
pub mod tencent;
pub mod verify;

pub use config::Config;
pub use pipeline::{run_once, Action, Deps, RunOptions};
pub use report::RunReport;
