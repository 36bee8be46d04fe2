#!/usr/bin/env bash
# Installs the OpenTimestamps reference peers the tests compare against, into a cache outside the clone:
#   <cache>/ots-client-<version>/   a Python venv with the reference client (bin/ots, bin/python)
#   <cache>/ots-examples/           the public example proofs shipped in the npm package `opentimestamps`
# Each part writes a .done marker last, holding its version, so a second run does nothing. Prints the
# cache directory. Nothing is ever written into the repository.
set -euo pipefail

CLIENT_VERSION=0.7.2
# The client and every dependency pip resolves for it, pinned exactly so all machines run the same peer.
PIP_PINS=(
  "opentimestamps-client==$CLIENT_VERSION"
  opentimestamps==0.4.5
  python-bitcoinlib==0.12.2
  pycryptodomex==3.24.2
  GitPython==3.2.1
  gitdb==4.0.12
  smmap==5.0.3
  appdirs==1.4.4
  PySocks==1.7.1
)
EXAMPLES_PACKAGE=opentimestamps@0.4.9
# The registry's tarball for that version; the examples are test vectors, so a different tarball is an error.
EXAMPLES_SHA256=ea38c5a5048727801581e93428087c4158e606c5d4ac61153fcfa8ed3a33fcd9

CACHE_ROOT=${LIGHTPROOF_PEER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lightproof/peers}

for arg in "$@"; do
  case "$arg" in
    -h|--help)
      cat <<EOF
usage: install-ots.sh
Installs opentimestamps-client $CLIENT_VERSION (the python reference \`ots\`) in a venv and the example
proofs of npm $EXAMPLES_PACKAGE into \$LIGHTPROOF_PEER_CACHE (now: $CACHE_ROOT).
Safe to run again: finished parts are kept. Needs python3 with venv (installed with apt-get when
running as root on Debian), pip access to PyPI and npm access to the npm registry.
EOF
      exit 0 ;;
    *) echo "install-ots.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

die() { echo "install-ots.sh: $*" >&2; exit 1; }
done_with() { [ -f "$1/.done" ] && [ "$(cat "$1/.done")" = "$2" ]; }

# Debian splits venv (ensurepip) out of python3; a fresh machine may lack it.
ensure_venv_support() {
  local probe
  probe=$(mktemp -d)
  if command -v python3 >/dev/null 2>&1 && python3 -m venv "$probe/v" >/dev/null 2>&1; then
    rm -rf "$probe"; return
  fi
  rm -rf "$probe"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-ots.sh: python3 cannot create a venv; installing python3-venv" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
  else
    die "python3 cannot create a venv. Install python3 and python3-venv (Debian: apt-get install python3-venv) and run again."
  fi
}

install_client() {
  local dir="$CACHE_ROOT/ots-client-$CLIENT_VERSION"
  local want="${PIP_PINS[*]}"
  done_with "$dir" "$want" && return
  ensure_venv_support
  # A venv hard-codes its own path, so it is built in place; a missing marker means start over.
  rm -rf "$dir"
  python3 -m venv "$dir"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$dir/bin/pip" install --quiet --no-deps "${PIP_PINS[@]}"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$dir/bin/pip" check >/dev/null ||
    die "the pinned packages in $dir do not satisfy each other; update PIP_PINS"
  local got
  got=$("$dir/bin/ots" --version 2>&1) || die "$dir/bin/ots --version failed: $got"
  [ "$got" = "v$CLIENT_VERSION" ] || die "$dir/bin/ots --version printed '$got', expected v$CLIENT_VERSION"
  echo "$want" > "$dir/.done"
}

install_examples() {
  local dir="$CACHE_ROOT/ots-examples"
  done_with "$dir" "$EXAMPLES_PACKAGE" && return
  command -v npm >/dev/null 2>&1 || die "npm is not installed; it fetches $EXAMPLES_PACKAGE from the npm registry"
  local tmp
  tmp=$(mktemp -d)
  # Run npm from the temp dir so no project config or lockfile takes part.
  local tgz
  if ! tgz=$(cd "$tmp" && npm pack "$EXAMPLES_PACKAGE" --silent --pack-destination "$tmp" 2>"$tmp/npm.log"); then
    cat "$tmp/npm.log" >&2; rm -rf "$tmp"; die "npm pack $EXAMPLES_PACKAGE failed"
  fi
  tgz=$(tail -n 1 <<<"$tgz")
  [ -f "$tmp/$tgz" ] || { rm -rf "$tmp"; die "npm pack $EXAMPLES_PACKAGE produced no tarball"; }
  local sum
  sum=$(sha256sum "$tmp/$tgz" | cut -d' ' -f1)
  [ "$sum" = "$EXAMPLES_SHA256" ] ||
    { rm -rf "$tmp"; die "$EXAMPLES_PACKAGE has sha256 $sum, expected $EXAMPLES_SHA256"; }
  tar -xzf "$tmp/$tgz" -C "$tmp" package/examples
  rm -rf "$dir" "$dir.tmp"
  mv "$tmp/package/examples" "$dir.tmp"
  rm -rf "$tmp"
  echo "$EXAMPLES_PACKAGE" > "$dir.tmp/.done"
  mv "$dir.tmp" "$dir"
}

mkdir -p "$CACHE_ROOT"
install_client
install_examples

# The peer must read the examples it is compared on: a wrong dependency shows here, not in a test.
info=$("$CACHE_ROOT/ots-client-$CLIENT_VERSION/bin/ots" info "$CACHE_ROOT/ots-examples/hello-world.txt.ots" 2>&1) ||
  die "ots info on hello-world.txt.ots failed: $info"
grep -q 'BitcoinBlockHeaderAttestation(358391)' <<<"$info" ||
  die "ots info on hello-world.txt.ots does not show the attestation at 358391: $info"

echo "$CACHE_ROOT"
