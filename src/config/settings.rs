//! Settings from outside the config file: the one place that reads the
//! process environment. Everything else (the SCF runtime loop, the DNS
//! provider's credentials, `${NAME}` expansion in the file) asks a
//! [`Settings`], which tests fill from a map instead of `std::env::set_var`
//! (which races other test threads).
//!
//! What it knows:
//! - where the config file is ([`Settings::config_path`]), in one order for
//!   the CLI and for `serve`;
//! - the SCF runtime API address (`SCF_RUNTIME_API`, `SCF_RUNTIME_API_PORT`,
//!   read by `runtime::api` through [`Settings::lookup`]);
//! - any variable a config names (`${NAME}`, `secret_key_env`, ...), read
//!   afresh at each call, so credentials that rotate between invocations are
//!   re-read on every run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the config is looked for when `-c/--config` is not given.
pub const CONFIG_ENV: &str = "DNS_FAILOVER_CONFIG";
/// The file name looked for in the code root (SCF) and the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "dns-failover.toml";
/// Where SCF unpacks the deployment zip when `USER_CODE_ROOT` is not set.
pub const DEFAULT_CODE_ROOT: &str = "/var/user/";

/// The source of settings: the process environment, or a fixed map.
#[derive(Clone, Default)]
pub struct Settings {
    /// `None`: the process environment, read at each call.
    map: Option<Arc<HashMap<String, String>>>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values may be secrets.
        match &self.map {
            None => f.write_str("Settings(process environment)"),
            Some(m) => {
                let mut names: Vec<&String> = m.keys().collect();
                names.sort();
                f.debug_tuple("Settings").field(&names).finish()
            }
        }
    }
}

/// Where a command runs, which decides the last places a config is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// An operator's command: `./dns-failover.toml` is the default, even
    /// when missing (the error then says how to give one).
    Cli,
    /// The SCF runtime loop: the file packaged beside `bootstrap`, then
    /// `./dns-failover.toml`; neither found is an error at start-up.
    Scf,
}

impl Settings {
    /// The process environment.
    pub fn process() -> Self {
        Settings { map: None }
    }

    /// A fixed set of variables (tests).
    pub fn from_map<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Settings {
            map: Some(Arc::new(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            )),
        }
    }

    /// One variable, read now.
    pub fn var(&self, name: &str) -> Option<String> {
        match &self.map {
            None => std::env::var(name).ok(),
            Some(m) => m.get(name).cloned(),
        }
    }

    /// A lookup function over [`Settings::var`], for code that takes one.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| self.var(name)
    }

    /// Resolve the config file: the `-c` flag, else `$DNS_FAILOVER_CONFIG`,
    /// else (under SCF) `dns-failover.toml` in `$USER_CODE_ROOT` (default
    /// `/var/user/`, where the zip is unpacked beside `bootstrap`), else
    /// `./dns-failover.toml`. `exists` is asked only under SCF.
    pub fn config_path(
        &self,
        flag: Option<&Path>,
        context: Context,
        exists: &dyn Fn(&Path) -> bool,
    ) -> Result<PathBuf, String> {
        if let Some(p) = flag {
            return Ok(p.to_path_buf());
        }
        if let Some(p) = self.var(CONFIG_ENV).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(p));
        }
        let local = PathBuf::from(DEFAULT_CONFIG_FILE);
        if context == Context::Cli {
            return Ok(local);
        }
        let root = self
            .var("USER_CODE_ROOT")
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| DEFAULT_CODE_ROOT.into());
        let packaged = Path::new(&root).join(DEFAULT_CONFIG_FILE);
        for p in [&packaged, &local] {
            if exists(p) {
                return Ok(p.clone());
            }
        }
        Err(format!(
            "no config file: looked for {} and ./{DEFAULT_CONFIG_FILE}; package {DEFAULT_CONFIG_FILE} beside bootstrap, or set {CONFIG_ENV}",
            packaged.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_and_serve_look_in_the_same_order() {
        let all = |_: &Path| true;
        let none = |_: &Path| false;
        let flag = Path::new("/x.toml");
        for ctx in [Context::Cli, Context::Scf] {
            let s = Settings::from_map([(CONFIG_ENV, "/y.toml")]);
            assert_eq!(s.config_path(Some(flag), ctx, &all).unwrap(), flag);
            assert_eq!(
                s.config_path(None, ctx, &none).unwrap(),
                Path::new("/y.toml")
            );
        }
        let empty = Settings::from_map(Vec::<(String, String)>::new());
        assert_eq!(
            empty.config_path(None, Context::Cli, &none).unwrap(),
            Path::new(DEFAULT_CONFIG_FILE)
        );
        assert_eq!(
            empty.config_path(None, Context::Scf, &all).unwrap(),
            Path::new("/var/user/dns-failover.toml")
        );
        let code = Settings::from_map([("USER_CODE_ROOT", "/code")]);
        assert_eq!(
            code.config_path(None, Context::Scf, &all).unwrap(),
            Path::new("/code/dns-failover.toml")
        );
        let e = empty.config_path(None, Context::Scf, &none).unwrap_err();
        assert!(
            e.contains("/var/user/dns-failover.toml") && e.contains(CONFIG_ENV),
            "{e}"
        );
    }

    #[test]
    fn a_map_hides_the_process_environment_and_debug_shows_names_only() {
        let s = Settings::from_map([("A", "secret-value")]);
        assert_eq!(s.var("A").as_deref(), Some("secret-value"));
        assert_eq!(s.var("PATH"), None);
        let d = format!("{s:?}");
        assert!(d.contains('A') && !d.contains("secret-value"), "{d}");
    }
}
