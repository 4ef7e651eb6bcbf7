//! A private BIND 9 (`named`, Debian's `bind9`) serving one static zone on
//! 127.0.0.1, for the checks at the authoritative servers
//! (tests/verify.rs): its own temporary folder, a free port, no rndc, no
//! recursion, nothing sent anywhere. The zone is a file this harness
//! writes; [`Bind::serve`] rewrites it with a higher serial and sends
//! SIGHUP, which makes named reload it, so a test decides when (or
//! whether) a server starts serving a new answer.
//!
//! named missing: the test fails, saying how to install it, unless
//! `DNS_FAILOVER_SKIP_BIND=1` is set, when it is skipped loudly (.ci/run
//! installs `bind9`, so CI never skips).

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use dns_failover::dns::RecordType;
use dns_failover::verify::{ask, Answer};

/// The `named` binary, or `None` when it is missing and the skip is asked
/// for. Panics when it is missing otherwise.
pub fn named() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join("named"))
        .find(|p| p.is_file());
    match found {
        Some(p) => Some(p),
        None if std::env::var("DNS_FAILOVER_SKIP_BIND").as_deref() == Ok("1") => {
            eprintln!(
                "\n*** SKIPPED: named (BIND 9) is not installed and DNS_FAILOVER_SKIP_BIND=1; the checks at the authoritative servers were NOT tested ***\n"
            );
            None
        }
        None => panic!(
            "named (BIND 9) is not installed: `apt-get install -y bind9` (.ci/run does), or set DNS_FAILOVER_SKIP_BIND=1 to skip these tests locally"
        ),
    }
}

/// One record of the zone: relative name (`api`, `@`), type, value.
pub type Rr<'a> = (&'a str, &'a str, &'a str);

/// A running named with one zone.
pub struct Bind {
    pub addr: SocketAddr,
    pub zone: String,
    dir: tempfile::TempDir,
    child: Child,
    serial: u32,
}

/// A port free on 127.0.0.1 for both UDP and TCP right now. named sets
/// SO_REUSEPORT, so a taken port would not make it fail: check first.
fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 for both UDP and TCP");
}

impl Bind {
    /// Start named serving `zone` with `records`; ready when it serves the
    /// zone's serial marker. Panics (with named's log) when it does not
    /// start within 10 s.
    pub async fn start(named: &Path, zone: &str, records: &[Rr<'_>]) -> Bind {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            r#"options {{
    directory "{d}"; pid-file "{d}/named.pid"; lock-file "{d}/named.lock";
    managed-keys-directory "{d}"; dump-file "{d}/named_dump.db";
    statistics-file "{d}/named.stats"; session-keyfile "{d}/session.key";
    listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }};
    recursion no; dnssec-validation no; trust-anchor-telemetry no; notify no;
}};
controls {{ }};
logging {{
    channel main {{ file "{d}/named.log"; print-time yes; severity info; }};
    category default {{ main; }};
}};
zone "{zone}" {{ type primary; file "{d}/zone.db"; }};
"#
        );
        std::fs::write(dir.path().join("named.conf"), conf).unwrap();
        write_zone(dir.path(), zone, 1, records);
        let child = Command::new(named)
            .args(["-f", "-4", "-n", "1", "-c"])
            .arg(dir.path().join("named.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("named.stderr")).unwrap(),
            ))
            .spawn()
            .expect("named starts");
        let mut bind = Bind {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            zone: zone.to_string(),
            child,
            dir,
            serial: 1,
        };
        bind.wait_serial(Duration::from_secs(10)).await;
        bind
    }

    fn marker(&self) -> String {
        marker(self.serial)
    }

    /// Serve `records` from now on: rewrite the zone, make named reload it
    /// (SIGHUP), and wait until it serves the new serial.
    pub async fn serve(&mut self, records: &[Rr<'_>]) {
        self.serial += 1;
        write_zone(self.dir.path(), &self.zone, self.serial, records);
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -HUP {}", self.child.id()))
            .status()
            .unwrap();
        assert!(status.success(), "kill -HUP named");
        self.wait_serial(Duration::from_secs(10)).await;
    }

    async fn wait_serial(&mut self, within: Duration) {
        let until = Instant::now() + within;
        let name = format!("serial.{}", self.zone);
        let want = Answer::Served(vec![self.marker()]);
        loop {
            let got = ask(self.addr, &name, RecordType::A, Duration::from_millis(300)).await;
            if got == want {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("named exited ({st}):\n{}", self.log());
            }
            if Instant::now() > until {
                panic!(
                    "named on {} does not serve serial {} of {} (last answer {got:?}):\n{}",
                    self.addr,
                    self.serial,
                    self.zone,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// named's log and stderr, for failures.
    pub fn log(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        format!("{}{}", read("named.stderr"), read("named.log"))
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The serial marker: `serial.<zone> A 127.0.x.y`, served once named has
/// loaded that serial.
fn marker(serial: u32) -> String {
    format!("127.0.{}.{}", serial / 256, serial % 256)
}

/// Write the zone file: SOA with `serial`, NS, the serial marker and
/// `records`. Its time is set ahead by `serial` seconds, so a reload
/// within the same second still sees a newer file.
fn write_zone(dir: &Path, zone: &str, serial: u32, records: &[Rr<'_>]) {
    let mut z = format!(
        "$ORIGIN {zone}.\n$TTL 60\n@ IN SOA ns1 hostmaster ( {serial} 3600 600 86400 60 )\n  IN NS ns1\nns1 IN A 127.0.0.1\nserial IN A {}\n",
        marker(serial)
    );
    for (name, rtype, value) in records {
        let value = if *rtype == "CNAME" && !value.ends_with('.') {
            format!("{value}.")
        } else {
            value.to_string()
        };
        z.push_str(&format!("{name} IN {rtype} {value}\n"));
    }
    let path = dir.join("zone.db");
    let tmp = dir.join("zone.db.tmp");
    std::fs::write(&tmp, z).unwrap();
    let f = std::fs::File::options().write(true).open(&tmp).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(u64::from(serial)))
        .unwrap();
    drop(f);
    std::fs::rename(tmp, path).unwrap();
}

/// A port on 127.0.0.1 where nothing answers: bound, then closed.
pub fn closed_port() -> SocketAddr {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = udp.local_addr().unwrap();
    drop(udp);
    addr
}
