//! Tencent Cloud API 3.0: the request signature ([`sign`]) and a small
//! signed-POST client ([`client`]) shared by the DNSPod provider
//! (`dns::dnspod`) and the SMS alert channel.
//!
//! This module knows the wire protocol (headers, envelope, error codes that
//! are worth retrying, per-action rate limits) and nothing about DNS or
//! alerts; callers map [`Error`] onto their own error types. It imports only
//! the model and the clock. Credentials are looked up by name through a
//! function the caller passes ([`Credentials::from_lookup`]): reading the
//! environment is `config`'s job. Build them once per run, because the
//! temporary credentials of an SCF execution role rotate.
//!
//! Files: `client` (the client, its options, one signed POST with
//! retries), `credentials` (the key pair and token, and redaction), `error`
//! (what a call or a build fails with, what is retried), `envelope` (the
//! `{"Response": ...}` answer), `retry` (backoff and per-action pacing),
//! `sign` (TC3-HMAC-SHA256).

pub mod client;
pub mod credentials;
pub mod envelope;
pub mod error;
pub mod retry;
pub mod sign;

pub use client::{Client, ClientOptions, Service, JSON};
pub use credentials::{mask_id, Credentials, CredentialsError};
pub use envelope::parse_envelope;
pub use error::{is_retryable_code, BuildError, Error};
