#!/usr/bin/env bash
# Build the deployable SCF zip: dist/dns-failover.zip with
#   bootstrap          (executable, at the zip root; execs `dns-failover serve`)
#   dns-failover       (the binary, built for glibc 2.17 = CentOS 7.6)
#   dns-failover.toml  (the config)
#
# Usage: function/build.sh [CONFIG]
#   CONFIG defaults to examples/dns-failover.toml.
#
# Needs: cargo, python3 with pip (installs ziglang + cargo-zigbuild from PyPI
# when missing), objdump and readelf (binutils). Fails if the binary needs a
# GLIBC symbol newer than 2.17 or links OpenSSL.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

target=x86_64-unknown-linux-gnu
glibc=2.17
config="${1:-examples/dns-failover.toml}"
dist="$root/dist"
zip="$dist/dns-failover.zip"

die() { echo "build.sh: error: $*" >&2; exit 1; }

[ -f "$config" ] || die "config file $config not found (pass a path: function/build.sh path/to/dns-failover.toml)"

# 1. Tools. Both are on PyPI; ziglang ships the zig toolchain that
#    cargo-zigbuild uses as the C compiler/linker against old glibc headers.
if ! command -v cargo-zigbuild >/dev/null 2>&1 || ! python3 -c 'import ziglang' >/dev/null 2>&1; then
    echo "==> installing ziglang and cargo-zigbuild (pip)"
    python3 -m pip install --quiet ziglang cargo-zigbuild
    hash -r
fi
command -v cargo-zigbuild >/dev/null 2>&1 || die "cargo-zigbuild not on PATH after pip install"

# 2. Build. zigbuild strips the ".2.17" suffix from the output folder.
echo "==> cargo zigbuild --release --target $target.$glibc"
start=$(date +%s)
cargo zigbuild --release --locked --target "$target.$glibc" --bin dns-failover
bin="$root/target/$target/release/dns-failover"
[ -x "$bin" ] || die "build produced no $bin"
echo "    built in $(( $(date +%s) - start )) s"

# 3. Checks: highest GLIBC symbol version, no OpenSSL.
highest="$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
echo "==> highest GLIBC symbol version needed: $highest"
[ "$highest" = "GLIBC_$glibc" ] || die "binary needs $highest; SCF (CentOS 7.6) has glibc $glibc"
needed="$(readelf -d "$bin" | awk '/NEEDED/ {print $NF}' | tr -d '[]' | tr '\n' ' ')"
echo "==> shared libraries needed: $needed"
case "$needed" in
    *libssl*|*libcrypto*) die "binary links OpenSSL ($needed); use rustls" ;;
esac

# 4. Assemble the zip with Python's zipfile, setting the mode bits explicitly
#    (bootstrap and the binary must be executable inside the zip).
rm -rf "$dist"
mkdir -p "$dist"
python3 - "$zip" "$here/bootstrap" "$bin" "$config" <<'PY'
import sys, zipfile
out, bootstrap, binary, config = sys.argv[1:]
entries = [("bootstrap", bootstrap, 0o755), ("dns-failover", binary, 0o755),
           ("dns-failover.toml", config, 0o644)]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for name, path, mode in entries:
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16   # regular file + mode
        info.create_system = 3                          # unix, so modes are honoured
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as f:
            z.writestr(info, f.read())
PY
python3 - "$zip" <<'PY'
import sys, zipfile
for i in zipfile.ZipFile(sys.argv[1]).infolist():
    print(f"    {oct(i.external_attr >> 16 & 0o777)}  {i.file_size:>9}  {i.filename}")
PY
echo "==> binary: $(stat -c %s "$bin") bytes"
echo "==> $zip: $(stat -c %s "$zip") bytes ($(du -h "$zip" | cut -f1))"
