#!/usr/bin/env bash
# Benchmark: what a run adds around the probes themselves.
#
# 1. Overhead: `dns-failover probe --json` over 3 healthy local targets,
#    RUNS times; overhead = process wall time (fork to exit, measured by the
#    parent) minus the slowest probe's own latency (from the report).
#    Issue 2's target: < 10 ms.
# 2. Start to first probe: strace timestamps from the execve of the binary to
#    its first connect() to a target. Issue 2's target: < 5 ms. strace adds
#    its own cost to the two traced calls only (--seccomp-bpf), so this is a
#    slight over-estimate.
#
#   bench/probe-overhead.sh            # RUNS=50
#
# Everything is on 127.0.0.1. See docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-50}
cargo build --quiet --release --bin dns-failover --example bench-targets
bin=$PWD/target/release/dns-failover

dir=$(mktemp -d "${TMPDIR:-/tmp}/dns-failover-overhead.XXXXXX")
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

target/release/examples/bench-targets --targets 3 --fail-pct 0 --per-group 3 --ports 3 \
    --concurrency 64 --config "$dir/probe.toml" 2>"$dir/targets.log" &
server=$!
for _ in $(seq 100); do
    [ -s "$dir/probe.toml" ] && break
    sleep 0.1
done
[ -s "$dir/probe.toml" ] || { cat "$dir/targets.log" >&2; exit 1; }

echo "== overhead of a run over 3 healthy targets ($RUNS runs)"
python3 - "$bin" "$dir/probe.toml" "$RUNS" <<'EOF'
import json, statistics, subprocess, sys, time
bin, cfg, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
cmd = [bin, "-c", cfg, "probe", "--json"]
subprocess.run(cmd, capture_output=True, check=True)  # warm the page cache
walls, probes, overheads = [], [], []
for _ in range(runs):
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    wall = (time.perf_counter() - t0) * 1000
    rep = json.loads(out)
    lat = [a["latency_ms"] for g in rep["groups"] for t in g["targets"] for a in t["attempts"]]
    assert len(lat) == 3 and all(a["ok"] for g in rep["groups"] for t in g["targets"] for a in t["attempts"])
    walls.append(wall); probes.append(max(lat)); overheads.append(wall - max(lat))
def q(v, p): return sorted(v)[min(len(v) - 1, int(p * len(v)))]
for name, v in [("process wall ms", walls), ("slowest probe ms", probes), ("overhead ms", overheads)]:
    print(f"{name:18} min {min(v):6.2f}  median {statistics.median(v):6.2f}  p90 {q(v, 0.9):6.2f}  max {max(v):6.2f}")
EOF

echo "== start to first probe (strace, 20 runs)"
for i in $(seq 20); do
    strace --seccomp-bpf -f -ttt -e trace=execve,connect -o "$dir/strace.$i" \
        "$bin" -c "$dir/probe.toml" probe --json >/dev/null
done
python3 - "$dir" <<'EOF'
import glob, re, statistics, sys
vals = []
for f in glob.glob(sys.argv[1] + "/strace.*"):
    t_exec = t_conn = None
    for line in open(f):
        m = re.match(r"\s*\d+\s+(\d+\.\d+) (\w+)\((.*)", line)
        if not m:
            continue
        t, call, rest = float(m.group(1)), m.group(2), m.group(3)
        if call == "execve" and t_exec is None:
            t_exec = t
        if call == "connect" and "127.0.0.1" in rest and t_conn is None:
            t_conn = t
    vals.append((t_conn - t_exec) * 1000)
vals.sort()
print(f"execve -> first connect ms: median {statistics.median(vals):.2f}  min {vals[0]:.2f}  max {vals[-1]:.2f}")
EOF
