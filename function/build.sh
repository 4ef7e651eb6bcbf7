#!/usr/bin/env bash
# Build the deployable SCF package:
#   bootstrap          (executable, at the zip root; execs `dns-failover serve`)
#   dns-failover       (the binary, built for glibc 2.17 = CentOS 7.6)
#   dns-failover.toml  (the config)
# as dist/package/ (what serverless.yml deploys) and dist/dns-failover.zip
# (for the console or tccli).
#
# Usage: function/build.sh [--allow-placeholders] [CONFIG]
#   CONFIG defaults to examples/dns-failover.toml, whose domain and targets
#   are placeholders: the config must pass `dns-failover validate --deploy`
#   (no placeholder, a DNS provider that works under SCF, an alert channel
#   that pages someone, probes that fit serverless.yml's timeout) unless
#   --allow-placeholders is given (a trial package, CI).
#
# Needs: cargo, python3 with the venv module (Debian/Ubuntu: python3-venv;
# ziglang + cargo-zigbuild are installed from PyPI into a private virtual
# environment, target/build-tools/venv, when they are not on PATH already:
# Debian 12 and Ubuntu 24.04 refuse `pip install` into the system Python),
# objdump and readelf (binutils). Fails if the binary needs a GLIBC symbol
# newer than 2.17 or links OpenSSL.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

target=x86_64-unknown-linux-gnu
glibc=2.17
allow_placeholders=0
if [ "${1:-}" = "--allow-placeholders" ]; then
    allow_placeholders=1
    shift
fi
config="${1:-examples/dns-failover.toml}"
dist="$root/dist"
zip="$dist/dns-failover.zip"

die() { echo "build.sh: error: $*" >&2; exit 1; }

[ -f "$config" ] || die "config file $config not found (pass a path: function/build.sh path/to/dns-failover.toml)"

# 1. Tools. Both are on PyPI; ziglang ships the zig toolchain that
#    cargo-zigbuild uses as the C compiler/linker against old glibc headers.
#    They go into a private virtual environment (never the system Python,
#    which Debian 12 / Ubuntu 24.04 mark "externally managed"); its bin/
#    comes first on PATH so cargo-zigbuild finds the venv's python3 -m ziglang.
venv="${CARGO_TARGET_DIR:-$root/target}/build-tools/venv"
have_tools() {
    command -v cargo-zigbuild >/dev/null 2>&1 \
        && { command -v zig >/dev/null 2>&1 || python3 -c 'import ziglang' >/dev/null 2>&1; }
}
if [ -x "$venv/bin/cargo-zigbuild" ]; then
    PATH="$venv/bin:$PATH"
fi
if ! have_tools; then
    echo "==> installing ziglang and cargo-zigbuild into $venv (pip, private venv)"
    if [ ! -x "$venv/bin/python3" ]; then
        python3 -m venv "$venv" \
            || die "cannot create a virtual environment; install python3-venv (apt-get install python3-venv)"
    fi
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check ziglang cargo-zigbuild \
        || die "pip could not install ziglang and cargo-zigbuild into $venv"
    PATH="$venv/bin:$PATH"
    hash -r
fi
have_tools || die "cargo-zigbuild or zig not found after installing them into $venv"

# 2. Build. zigbuild strips the ".2.17" suffix from the output folder.
echo "==> cargo zigbuild --release --target $target.$glibc"
start=$(date +%s)
cargo zigbuild --release --locked --target "$target.$glibc" --bin dns-failover
bin="${CARGO_TARGET_DIR:-$root/target}/$target/release/dns-failover"
[ -x "$bin" ] || die "build produced no $bin"
echo "    built in $(( $(date +%s) - start )) s"

# 3. The config: fit to deploy (the binary runs here too: x86_64 Linux).
#    `validate --deploy` reads ./serverless.yml's timeout (we are in the
#    repository root). Every ${VAR} of the config must be set for this.
if [ "$allow_placeholders" = 1 ]; then
    echo "==> validate $config (--allow-placeholders: deploy checks skipped)"
    "$bin" -c "$config" validate || die "$config is not a valid config"
else
    echo "==> validate --deploy $config"
    "$bin" -c "$config" validate --deploy \
        || die "$config is not fit to deploy (see above); fix it, or pass --allow-placeholders for a trial package"
fi

# 4. Checks: highest GLIBC symbol version, no OpenSSL.
highest="$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
echo "==> highest GLIBC symbol version needed: $highest"
[ "$highest" = "GLIBC_$glibc" ] || die "binary needs $highest; SCF (CentOS 7.6) has glibc $glibc"
needed="$(readelf -d "$bin" | awk '/NEEDED/ {print $NF}' | tr -d '[]' | tr '\n' ' ')"
echo "==> shared libraries needed: $needed"
case "$needed" in
    *libssl*|*libcrypto*) die "binary links OpenSSL ($needed); use rustls" ;;
esac

# 5. Assemble dist/package/ and the zip. The zip is written with Python's
#    zipfile, setting the mode bits explicitly (bootstrap and the binary must
#    be executable inside the zip); no `zip` package needed.
rm -rf "$dist"
mkdir -p "$dist/package"
install -m 755 "$here/bootstrap" "$dist/package/bootstrap"
install -m 755 "$bin" "$dist/package/dns-failover"
install -m 644 "$config" "$dist/package/dns-failover.toml"
python3 - "$zip" "$dist/package" <<'PY'
import os, sys, zipfile
out, pkg = sys.argv[1:]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for name in ("bootstrap", "dns-failover", "dns-failover.toml"):
        path = os.path.join(pkg, name)
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        mode = os.stat(path).st_mode & 0o777
        info.external_attr = (0o100000 | mode) << 16   # regular file + mode
        info.create_system = 3                          # unix, so modes are honoured
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as f:
            z.writestr(info, f.read())
for i in zipfile.ZipFile(out).infolist():
    print(f"    {oct(i.external_attr >> 16 & 0o777)}  {i.file_size:>9}  {i.filename}")
PY

# 6. Smoke test: the packaged bootstrap starts the binary in serve mode,
#    which outside SCF must stop with exit code 2 and say why.
set +e
smoke="$(cd "$dist/package" && env -u SCF_RUNTIME_API -u SCF_RUNTIME_API_PORT ./bootstrap 2>&1)"
code=$?
set -e
case "$smoke" in
    *"SCF_RUNTIME_API is not set"*) [ "$code" = 2 ] || die "bootstrap exited $code, expected 2: $smoke" ;;
    *) die "bootstrap did not start dns-failover serve (exit $code): $smoke" ;;
esac
echo "==> bootstrap starts 'dns-failover serve' (outside SCF: exit 2, SCF_RUNTIME_API is not set)"

echo "==> binary: $(stat -c %s "$bin") bytes"
echo "==> $zip: $(stat -c %s "$zip") bytes ($(du -h "$zip" | cut -f1))"
