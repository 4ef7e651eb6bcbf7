//! Shared test helpers: a fake Tencent Cloud API server (DNSPod + SMS) on
//! 127.0.0.1, log capture, unique credential variables; and (in `servers`)
//! the HTTP and SMTP servers of the alert tests; (in `fake_lines`) DNSPod's
//! line list for `validate --online`; (in `bind`) a private BIND 9 on
//! 127.0.0.1 with its own zone and TSIG key.
#![allow(dead_code)]

pub mod bind;
pub mod fake_lines;
pub mod fake_tencent;
pub mod servers;
pub mod smtp_faults;

#[allow(unused_imports)]
pub use servers::*;

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Test credentials (never real ones).
pub const SECRET_ID: &str = "AKIDfakeSecretIdForTests000000000001";
pub const SECRET_KEY: &str = "fakeSecretKEY-must-never-be-logged-1";
pub const TMP_SECRET_ID: &str = "AKIDTMPfakeTemporarySecretId00000001";
pub const TMP_SECRET_KEY: &str = "TMPfakeSecretKEY-must-never-be-logged";
pub const TOKEN: &str = "fakeSessionTOKEN-must-never-be-logged-xyz";

/// Environment variable names unique to one test, so parallel tests do not
/// race on the same variables: `(id_env, key_env, token_env)`.
pub fn cred_env(test: &str, id: &str, key: &str, token: Option<&str>) -> (String, String, String) {
    let p = format!("DNSF_TEST_{}", test.to_ascii_uppercase());
    let names = (format!("{p}_ID"), format!("{p}_KEY"), format!("{p}_TOKEN"));
    std::env::set_var(&names.0, id);
    std::env::set_var(&names.1, key);
    match token {
        Some(t) => std::env::set_var(&names.2, t),
        None => std::env::remove_var(&names.2),
    }
    names
}

/// Everything logged through `tracing` while the guard lives (this thread;
/// use a current-thread runtime).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(self.clone())
            .finish();
        tracing::subscriber::set_default(sub)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Panics if any secret appears in `text`.
pub fn assert_no_secrets(what: &str, text: &str) {
    for s in [SECRET_KEY, TMP_SECRET_KEY, TOKEN] {
        assert!(!text.contains(s), "{what} contains a secret ({s})");
    }
}
