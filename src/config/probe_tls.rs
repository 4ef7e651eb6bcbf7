//! `ca_file` and `cert_expiry_warning`: the TLS keys of `[probe]` (the
//! default of every HTTPS target) and of each `[[group.target]]`.
//!
//! The PEM bundle is read here, once, when the config is loaded: config is
//! the only reader of files. A relative path is taken from the config
//! file's directory.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::*;

/// The longest `cert_expiry_warning`: 366 days.
const MAX_WARNING: Duration = Duration::from_secs(366 * 24 * 3600);

/// The raw TLS keys of one table.
pub(super) struct RawTls {
    pub(super) ca_file: Option<String>,
    pub(super) cert_expiry_warning: Option<HumanDuration>,
}

impl Validator<'_> {
    /// The TLS options of one table: its own keys over `default`. `key`
    /// names a key of that table for errors.
    pub(super) fn tls_options<const N: usize>(
        &mut self,
        raw: RawTls,
        key: &dyn Fn(&'static str) -> [Seg<'static>; N],
        default: &TlsOptions,
    ) -> VResult<TlsOptions> {
        let mut out = default.clone();
        if let Some(w) = raw.cert_expiry_warning {
            if w.0.is_zero() {
                return Err(self.err(&key("cert_expiry_warning"), "must be longer than 0s"));
            }
            self.at_most(&key("cert_expiry_warning"), w.0, MAX_WARNING)?;
            out.cert_expiry_warning = Some(w.0);
        }
        if let Some(f) = raw.ca_file {
            if f.trim().is_empty() {
                return Err(self.err(&key("ca_file"), "must not be empty"));
            }
            let path = self.file.parent().unwrap_or(Path::new(".")).join(&f);
            let pem = std::fs::read(&path).map_err(|e| {
                self.err(
                    &key("ca_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let mut certs = Vec::new();
            for c in CertificateDer::pem_slice_iter(&pem) {
                match c {
                    Ok(c) => certs.push(c.as_ref().to_vec()),
                    Err(e) => {
                        return Err(self.err(
                            &key("ca_file"),
                            format!("{} is not a PEM bundle: {e}", path.display()),
                        ))
                    }
                }
            }
            if certs.is_empty() {
                return Err(self.err(
                    &key("ca_file"),
                    format!("{} holds no PEM certificate", path.display()),
                ));
            }
            out.ca_file = Some(path);
            out.ca_certs = Arc::new(certs);
        }
        Ok(out)
    }
}
