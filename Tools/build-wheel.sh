#!/usr/bin/env bash
# Builds the self-contained wheel of the Python package: dist/lifelong-VERSION-py3-none-PLATFORM.whl holding
# liblifelong_c.so and the `lifelong` CLI, both linked with the Swift runtime and Foundation statically
# (-static-stdlib) and with LMDB statically, so that installing it needs pip and nothing else.
#
#  1. LMDB as a position-independent static library. Debian's liblmdb.a is built without -fPIC and cannot go
#     into a shared object, so LMDB 0.9.31 is compiled from the C sources in py-lmdb's sdist (lmdb==1.6.2,
#     fetched with `pip download`, SHA-256 checked; its lib/ holds LMDB unpatched). Stores are the same
#     files for every LMDB 0.9.x.
#  2. `swift build -c release` of the two products in a build folder of its own (.build/wheel).
#  3. `ldd` of both must name no libswift* or libFoundation*; then the package is staged with both files,
#     built with pip, and tagged manylinux_2_X, X the newest glibc symbol version the two import (the tests
#     check the tag with `auditwheel show`).
#
# Usage: Tools/build-wheel.sh [--out DIR]      (default DIR: dist/ of the repository)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$here/dist
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || { echo "build-wheel: --out needs a folder" >&2; exit 2; }; out=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-wheel: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
log() { printf 'build-wheel: %s\n' "$*" >&2; }
die() { printf 'build-wheel: error: %s\n' "$*" >&2; exit 1; }

python=$here/.venv/bin/python
[ -x "$python" ] || die "$python is missing: run Tools/setup.sh first"
scratch=$here/.build/wheel
static=$scratch/static-libs
mkdir -p "$static" "$out"

# ---- 1. LMDB, position-independent ----------------------------------------------------------------------
lmdb_sdist=lmdb-1.6.2.tar.gz
lmdb_sha256=d28e3fa59935ff688858760ec52f202ecb8c1089a3f68d1f162ea3078d151e73
if [ ! -f "$static/liblmdb.a" ] || [ "$(cat "$static/liblmdb.sha256" 2>/dev/null)" != "$lmdb_sha256" ]; then
  log "compiling LMDB from $lmdb_sdist"
  src=$scratch/lmdb-src
  rm -rf "$src" && mkdir -p "$src"
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: lmdb==1.6.2 -d "$src" \
    || die "pip download lmdb==1.6.2 failed (is PyPI reachable?)"
  echo "$lmdb_sha256  $src/$lmdb_sdist" | sha256sum --check --quiet || die "$lmdb_sdist: SHA-256 mismatch"
  tar -xzf "$src/$lmdb_sdist" -C "$src"
  lib=$src/lmdb-1.6.2/lib
  for f in mdb midl; do cc -O2 -fPIC -DNDEBUG -pthread -w -c "$lib/$f.c" -o "$static/$f.o"; done
  rm -f "$static/liblmdb.a" && ar rcs "$static/liblmdb.a" "$static/mdb.o" "$static/midl.o"
  mkdir -p "$static/include" && cp "$lib/lmdb.h" "$static/include/"
  # The CLMDB target asks pkg-config for lmdb: this one points it at the static library and its header.
  printf 'Name: lmdb\nDescription: LMDB 0.9.31, static, position-independent\nVersion: 0.9.31\n' > "$static/lmdb.pc"
  printf 'Libs: -L%s -llmdb\nCflags: -I%s/include\n' "$static" "$static" >> "$static/lmdb.pc"
  echo "$lmdb_sha256" > "$static/liblmdb.sha256"
fi

# ---- 2. The library and the CLI, static Swift runtime --------------------------------------------------
for product in lifelong_c lifelong; do
  log "swift build -c release --product $product (static Swift runtime, static LMDB)"
  PKG_CONFIG_PATH=$static swift build --package-path "$here" -c release --scratch-path "$scratch" \
    --static-swift-stdlib -Xswiftc -static-stdlib --product "$product" >&2 \
    || die "swift build --product $product failed"
done
bin=$scratch/release

# ---- 3. Check, stage, build, tag ----------------------------------------------------------------------------
stage=$scratch/stage
rm -rf "$stage" && mkdir -p "$stage"
cp -r "$here/python/." "$stage/"
rm -rf "$stage/build" "$stage"/*.egg-info "$stage/lifelong"/*.so "$stage/lifelong/bin"
mkdir -p "$stage/lifelong/bin"
cp "$here/Sources/CLifelong/include/lifelong.h" "$stage/"   # the version's one place, for setup.py
strip -o "$stage/lifelong/liblifelong_c.so" "$bin/liblifelong_c.so"
strip -o "$stage/lifelong/bin/lifelong" "$bin/lifelong"
for f in "$stage/lifelong/liblifelong_c.so" "$stage/lifelong/bin/lifelong"; do
  if ldd "$f" | grep -Ei 'libswift|libFoundation|libdispatch|libBlocksRuntime|liblmdb'; then
    die "$f still links the libraries above"
  fi
done
wheels=$scratch/wheels
rm -rf "$wheels" && mkdir -p "$wheels"
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation "$stage" -w "$wheels" \
  || die "pip wheel failed"
rm -f "$out"/lifelong-*.whl
"$python" "$here/Tools/tag-wheel.py" "$wheels"/lifelong-*.whl --out "$out"
