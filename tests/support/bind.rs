//! A private BIND 9 (`named`) for tests: its own temporary folder, config,
//! zone and TSIG key (`tsig-keygen`), listening on 127.0.0.1 on a free port
//! only, in the foreground, stopped when dropped. Answers are checked with
//! real DNS queries (`dig`), and "someone else's" changes made with
//! `nsupdate`: tools independent of the code under test.
//!
//! Debian: `apt-get install bind9 bind9-dnsutils` (.ci/run does). Where
//! `named` is missing the tests fail, unless `DNS_FAILOVER_SKIP_BIND=1`
//! (and `CI` unset): then they are skipped, loudly.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The TSIG key name every instance trusts.
pub const KEY_NAME: &str = "update-key";

/// A running `named`.
pub struct Bind {
    pub port: u16,
    pub zone: String,
    /// The key's base64 secret (a fresh one per instance).
    pub secret: String,
    pub dir: tempfile::TempDir,
    key_file: PathBuf,
    child: Child,
}

/// How the zone lets the key in, and more options.
pub struct BindConfig<'a> {
    /// Zone origin without the trailing dot, e.g. `example.test`.
    pub zone: &'a str,
    /// Records after the SOA, NS and `ns1` A, in zone file syntax.
    pub records: &'a str,
    /// The zone's update clause; default `allow-update { key "update-key"; };`.
    pub update_policy: Option<&'a str>,
    /// More lines for `options { }`.
    pub options: &'a str,
}

impl<'a> BindConfig<'a> {
    pub fn new(zone: &'a str, records: &'a str) -> Self {
        BindConfig {
            zone,
            records,
            update_policy: None,
            options: "",
        }
    }
}

fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Whether the BIND tools are here. Missing: a panic (the test fails),
/// or `false` with a loud message when skipping is allowed.
pub fn available() -> bool {
    let missing: Vec<&str> = ["named", "tsig-keygen", "named-checkconf", "dig", "nsupdate"]
        .into_iter()
        .filter(|t| find(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let skip = std::env::var("DNS_FAILOVER_SKIP_BIND").as_deref() == Ok("1")
        && std::env::var_os("CI").is_none();
    let msg = format!(
        "BIND tools missing: {} (Debian: apt-get install bind9 bind9-dnsutils; .ci/run installs them)",
        missing.join(", ")
    );
    if skip {
        eprintln!("\n!!! SKIPPED: {msg}; DNS_FAILOVER_SKIP_BIND=1 is set\n");
        return false;
    }
    panic!("{msg}; set DNS_FAILOVER_SKIP_BIND=1 to skip these tests locally (never in CI)");
}

/// A port free on 127.0.0.1 for both UDP and TCP right now.
fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Bind {
    /// `named` for `zone` with `records`; `None` when skipped.
    pub fn start(zone: &str, records: &str) -> Option<Bind> {
        Bind::start_with(BindConfig::new(zone, records))
    }

    pub fn start_with(cfg: BindConfig) -> Option<Bind> {
        if !available() {
            return None;
        }
        let mut last = String::new();
        // A port taken between our check and named's bind: another try.
        for _ in 0..3 {
            match Bind::try_start(&cfg) {
                Ok(b) => return Some(b),
                Err(e) => last = e,
            }
        }
        panic!("named did not start: {last}");
    }

    fn try_start(cfg: &BindConfig) -> Result<Bind, String> {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        let key_file = d.join("update-key.key");
        let key =
            run(Command::new(find("tsig-keygen").unwrap()).args(["-a", "hmac-sha256", KEY_NAME]));
        std::fs::write(&key_file, &key.stdout).unwrap();
        let key_text = String::from_utf8_lossy(&key.stdout).into_owned();
        let secret = key_text
            .split("secret \"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("tsig-keygen prints a secret")
            .to_string();
        let zone = cfg.zone;
        std::fs::write(
            d.join("zone.db"),
            format!(
                "$ORIGIN {zone}.\n$TTL 300\n@ IN SOA ns1 hostmaster ( 1 3600 600 86400 60 )\n  IN NS ns1\nns1 IN A 127.0.0.1\n{}\n",
                cfg.records
            ),
        )
        .unwrap();
        let id = format!("dns-failover-test-{}-{port}", std::process::id());
        let policy = cfg
            .update_policy
            .map(str::to_string)
            .unwrap_or_else(|| format!("allow-update {{ key \"{KEY_NAME}\"; }};"));
        let dd = d.display();
        std::fs::write(
            d.join("named.conf"),
            format!(
                r#"include "{dd}/update-key.key";
options {{
    directory "{dd}"; pid-file "{dd}/named.pid"; lock-file "{dd}/named.lock";
    managed-keys-directory "{dd}"; dump-file "{dd}/named_dump.db";
    statistics-file "{dd}/named.stats"; session-keyfile none;
    listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }};
    recursion no; dnssec-validation no; trust-anchor-telemetry no; notify no;
    allow-transfer {{ key "{KEY_NAME}"; }};
    server-id "{id}";
    {}
}};
controls {{ }};
logging {{
    channel main {{ file "{dd}/named.log"; print-time yes; print-category yes; severity info; }};
    category default {{ main; }}; category update {{ main; }};
    category update-security {{ main; }}; category security {{ main; }};
}};
zone "{zone}" {{
    type primary; file "{dd}/zone.db";
    {policy}
}};
"#,
                cfg.options
            ),
        )
        .unwrap();
        run(Command::new(find("named-checkconf").unwrap()).arg(d.join("named.conf")));
        let stderr = std::fs::File::create(d.join("named.stderr")).unwrap();
        let child = Command::new(find("named").unwrap())
            .args(["-f", "-4", "-n", "1", "-c"])
            .arg(d.join("named.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run named: {e}"))?;
        let mut bind = Bind {
            port,
            zone: zone.to_string(),
            secret,
            dir,
            key_file,
            child,
        };
        // Ready when it answers, over UDP and TCP, as this instance.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = bind.child.try_wait() {
                return Err(format!("named exited ({status}): {}", bind.logs()));
            }
            let me = bind.dig(&["id.server", "CH", "TXT"]) == vec![format!("\"{id}\"")];
            if me
                && !bind.dig(&[zone, "SOA"]).is_empty()
                && !bind.dig(&["+tcp", zone, "SOA"]).is_empty()
            {
                return Ok(bind);
            }
            if Instant::now() > deadline {
                return Err(format!("named not ready in 20 s: {}", bind.logs()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// named's log and stderr, for failure messages.
    pub fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        format!(
            "named.log:\n{}\nstderr:\n{}",
            read("named.log"),
            read("named.stderr")
        )
    }

    /// `dig +short` with `args`, one answer per line.
    fn dig(&self, args: &[&str]) -> Vec<String> {
        let out = Command::new(find("dig").unwrap())
            .args(["@127.0.0.1", "-p", &self.port.to_string()])
            .args(["+short", "+time=2", "+tries=1", "+norecurse"])
            .args(args)
            .output()
            .expect("dig runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with(';'))
            .map(str::to_string)
            .collect()
    }

    /// What the server answers for `name` (relative to the zone, `@` for
    /// the apex) and `rtype`: a real query, answers sorted.
    pub fn query(&self, name: &str, rtype: &str) -> Vec<String> {
        let fqdn = self.fqdn(name);
        let mut v = self.dig(&[&fqdn, rtype]);
        v.sort();
        v
    }

    pub fn fqdn(&self, name: &str) -> String {
        if name == "@" {
            format!("{}.", self.zone)
        } else {
            format!("{name}.{}.", self.zone)
        }
    }

    /// Someone else's change: `nsupdate` with the key, `commands` such as
    /// `update add www.example.test. 60 A 192.0.2.9` (server, zone and
    /// `send` are added).
    pub fn nsupdate(&self, commands: &str) {
        let script = format!(
            "server 127.0.0.1 {}\nzone {}.\n{commands}\nsend\n",
            self.port, self.zone
        );
        let mut child = Command::new(find("nsupdate").unwrap())
            .args(["-v", "-t", "5", "-k"])
            .arg(&self.key_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nsupdate failed:\n{script}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The folder of this instance.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        // SIGTERM: named exits cleanly (and quickly); kill as a fallback.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
