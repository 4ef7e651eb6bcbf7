//! Tencent Cloud API 3.0: the request signature ([`sign`]) and a small
//! signed-POST client ([`client`]) shared by the DNSPod provider
//! (`crate::dns::dnspod`) and the SMS alert channel.
//!
//! This module knows the wire protocol (headers, envelope, error codes that
//! are worth retrying, per-action rate limits) and nothing about DNS or
//! alerts; callers map [`client::Error`] onto their own error types.
//! Credentials come from environment variables named by the config and are
//! read when a client is built, i.e. once per run, because the temporary
//! credentials of an SCF execution role rotate.

pub mod client;
pub mod sign;

pub use client::{Client, ClientOptions, Credentials, Error, Service};
