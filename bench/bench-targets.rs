//! Benchmark targets: many local HTTP endpoints, a share of them misbehaving,
//! and a dns-failover config that probes them all.
//!
//! ```text
//! bench-targets --targets 10000 --fail-pct 5 --config /tmp/bench/probe.toml
//! ```
//!
//! Listens on 127.0.0.1 only: `--ports` healthy ports answering `200 ok`, and
//! a few ports per failure kind (hang after accept, refuse, reset, 503, slow).
//! Targets are spread over the ports round-robin, each with its own path.
//! The failing targets are spread evenly over the target list and split
//! evenly between the kinds. The config is written once every port listens,
//! then the server runs until it is killed. It uses one
//! thread so the prober under test keeps the rest of the machine.
//! This is a benchmark tool, not part of the product: see bench/probe-10k.sh
//! and docs/performance.md.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Ok,
    Hang,
    Refuse,
    Reset,
    Unavailable,
    Slow,
}

const FAILING: [Kind; 5] = [
    Kind::Hang,
    Kind::Refuse,
    Kind::Reset,
    Kind::Unavailable,
    Kind::Slow,
];
/// Ports per failure kind.
const PORTS_PER_FAILURE: usize = 4;
/// How late a slow target answers; the config's max_latency is lower.
const SLOW_DELAY: Duration = Duration::from_millis(300);
const SLOW_LIMIT: &str = "200ms";

struct Args {
    targets: usize,
    fail_pct: f64,
    ports: usize,
    config: String,
    timeout: String,
    concurrency: usize,
    per_group: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        targets: 10_000,
        fail_pct: 5.0,
        ports: 64,
        config: "bench-probe.toml".into(),
        timeout: "2s".into(),
        concurrency: 10_000,
        per_group: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--targets" => a.targets = val().parse().unwrap_or_else(|_| usage("--targets")),
            "--fail-pct" => a.fail_pct = val().parse().unwrap_or_else(|_| usage("--fail-pct")),
            "--ports" => a.ports = val().parse().unwrap_or_else(|_| usage("--ports")),
            "--config" => a.config = val(),
            "--timeout" => a.timeout = val(),
            "--concurrency" => {
                a.concurrency = val().parse().unwrap_or_else(|_| usage("--concurrency"))
            }
            "--per-group" => a.per_group = val().parse().unwrap_or_else(|_| usage("--per-group")),
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    if a.ports == 0 || a.per_group == 0 || a.targets == 0 {
        usage("--targets, --ports and --per-group must be > 0");
    }
    a
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "bench-targets: {msg}\nusage: bench-targets [--targets N] [--fail-pct P] [--ports N] \
         [--config FILE] [--timeout 2s] [--concurrency N] [--per-group N]"
    );
    std::process::exit(2)
}

async fn listen(backlog: u32) -> std::io::Result<TcpListener> {
    let s = TcpSocket::new_v4()?;
    s.set_reuseaddr(true)?;
    s.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    s.listen(backlog)
}

/// Read until the end of the request head (or EOF / 16 KiB).
async fn read_head(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 2048];
    let mut tail = Vec::with_capacity(64);
    let mut total = 0;
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => {
                total += n;
                tail.extend_from_slice(&buf[..n]);
                if tail.windows(4).any(|w| w == b"\r\n\r\n") {
                    return true;
                }
                if total > 16 * 1024 {
                    return false;
                }
                let keep = tail.len().saturating_sub(3);
                tail.drain(..keep);
            }
        }
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
const UNAVAILABLE: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown";

async fn handle(kind: Kind, mut s: TcpStream) {
    match kind {
        Kind::Reset => {
            // Linger 0: close sends RST at once (and does not block).
            #[allow(deprecated)]
            let _ = s.set_linger(Some(Duration::ZERO));
            drop(s);
        }
        Kind::Hang => {
            // Read the request, never answer; wait for the client to give up.
            let mut buf = [0u8; 1024];
            while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
        }
        Kind::Ok | Kind::Unavailable | Kind::Slow => {
            if !read_head(&mut s).await {
                return;
            }
            if kind == Kind::Slow {
                tokio::time::sleep(SLOW_DELAY).await;
            }
            let body = if kind == Kind::Unavailable {
                UNAVAILABLE
            } else {
                OK
            };
            let _ = s.write_all(body).await;
            let _ = s.shutdown().await;
        }
        Kind::Refuse => unreachable!("nothing listens on a refusing port"),
    }
}

fn serve(kind: Kind, l: TcpListener) {
    tokio::spawn(async move {
        loop {
            match l.accept().await {
                Ok((s, _)) => {
                    tokio::spawn(handle(kind, s));
                }
                // Out of fds and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    });
}

fn main() -> std::io::Result<()> {
    let args = parse_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> std::io::Result<()> {
    let mut ok_ports = Vec::new();
    for _ in 0..args.ports {
        let l = listen(4096).await?;
        ok_ports.push(l.local_addr()?.port());
        serve(Kind::Ok, l);
    }
    let mut bad_ports: Vec<(Kind, Vec<u16>)> = Vec::new();
    // Refusing ports are bound but never listen: connects get RST, and the
    // port cannot be handed to another listener (a closed port could be).
    let mut refusing = Vec::new();
    for kind in FAILING {
        let mut ports = Vec::new();
        for _ in 0..PORTS_PER_FAILURE {
            if kind == Kind::Refuse {
                let s = TcpSocket::new_v4()?;
                s.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
                ports.push(s.local_addr()?.port());
                refusing.push(s);
            } else {
                let l = listen(4096).await?;
                ports.push(l.local_addr()?.port());
                serve(kind, l);
            }
        }
        bad_ports.push((kind, ports));
    }

    let failing = ((args.targets as f64) * args.fail_pct / 100.0).round() as usize;
    let failing = failing.min(args.targets);
    // Every `stride`-th target fails, cycling through the kinds.
    let stride = args.targets.checked_div(failing).unwrap_or(usize::MAX);
    let mut counts = [0usize; 6];
    let mut cfg = String::with_capacity(args.targets * 160);
    let _ = write!(
        cfg,
        "# Generated by bench-targets: {} targets, {failing} failing.\n\
         prober = \"bench\"\n\n[probe]\ntimeout = \"{}\"\nattempts = 1\ninterval = \"0s\"\n\
         fail_threshold = 1\nconcurrency = {}\n\n[dns]\nprovider = \"file\"\n\
         domain = \"bench.example\"\nttl = 600\npath = \"bench-zone.json\"\n",
        args.targets, args.timeout, args.concurrency
    );
    let mut failed_so_far = 0;
    for i in 0..args.targets {
        if i % args.per_group == 0 {
            let g = i / args.per_group;
            let _ = write!(
                cfg,
                "\n[[group]]\nname = \"g{g}\"\nsubdomain = \"s{g}\"\ntype = \"CNAME\"\nmode = \"active\"\n"
            );
        }
        let fails = failed_so_far < failing && i % stride == stride / 2;
        let (kind, port) = if fails {
            let (kind, ports) = &bad_ports[failed_so_far % FAILING.len()];
            let port = ports[(failed_so_far / FAILING.len()) % ports.len()];
            failed_so_far += 1;
            (*kind, port)
        } else {
            (Kind::Ok, ok_ports[i % ok_ports.len()])
        };
        counts[kind as usize] += 1;
        let _ = write!(
            cfg,
            "[[group.target]]\nregion = \"r{}\"\nvalue = \"t{i}.gw.bench.example\"\n\
             url = \"http://127.0.0.1:{port}/t/{i}\"\nbody_contains = \"ok\"\n",
            i % args.per_group
        );
        if kind == Kind::Slow {
            let _ = writeln!(cfg, "max_latency = \"{SLOW_LIMIT}\"");
        }
    }
    let tmp = format!("{}.tmp", args.config);
    std::fs::write(&tmp, cfg)?;
    std::fs::rename(&tmp, &args.config)?;
    eprintln!(
        "bench-targets: {} targets in {} ({} ok, {} hang, {} refuse, {} reset, {} 503, {} slow); \
         {} ok ports; pid {}",
        args.targets,
        args.config,
        counts[Kind::Ok as usize],
        counts[Kind::Hang as usize],
        counts[Kind::Refuse as usize],
        counts[Kind::Reset as usize],
        counts[Kind::Unavailable as usize],
        counts[Kind::Slow as usize],
        ok_ports.len(),
        std::process::id()
    );

    // Serve until killed (bench/probe-10k.sh kills it by pid).
    std::future::pending::<()>().await;
    drop(refusing);
    Ok(())
}
