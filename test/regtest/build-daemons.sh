#!/usr/bin/env bash
# Builds the peer daemons the tests run (btcd, lnd, and with --peers also Aperture) from their Go
# modules into a cache outside the clone, keyed by version, so fresh clones on one machine reuse it.
# Prints the bin directory of each build. Nothing it builds is ever written into the repository.
set -euo pipefail

BTCD_VERSION=${BTCD_VERSION:-v0.26.2}
LND_VERSION=${LND_VERSION:-v0.21.2-beta}
APERTURE_VERSION=${APERTURE_VERSION:-v0.5.0}
# lnd's REST handlers for these sub-servers exist only when built with their tags.
LND_TAGS="signrpc walletrpc chainrpc invoicesrpc peersrpc routerrpc"

CACHE_ROOT=${LIGHTPROOF_DAEMON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lightproof/daemons}
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

want_peers=0
for arg in "$@"; do
  case "$arg" in
    --peers) want_peers=1 ;;
    -h|--help)
      echo "usage: build-daemons.sh [--peers]   (builds btcd $BTCD_VERSION and lnd $LND_VERSION; --peers adds aperture $APERTURE_VERSION)"
      exit 0 ;;
    *) echo "build-daemons.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

command -v go >/dev/null || { echo "build-daemons.sh: Go is not installed; install Go >= 1.26 and run again" >&2; exit 1; }

# build NAME VERSION MODULE_BODY PACKAGES...: writes a wrapper module and builds its tools, once.
build() {
  local name=$1 version=$2 gomod=$3; shift 3
  local dir="$CACHE_ROOT/$name-$version"
  if [ -f "$dir/.done" ]; then echo "$dir/bin"; return; fi
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/src"
  printf '%s\n' "$gomod" > "$dir.tmp/src/go.mod"
  # A blank-import file pins the main packages so `go mod tidy` keeps their requirements.
  { echo '//go:build tools'; echo 'package tools'; echo 'import ('
    for p in "$@"; do echo "	_ \"$p\""; done; echo ')'; } > "$dir.tmp/src/tools.go"
  local start=$SECONDS
  ( cd "$dir.tmp/src" && go mod tidy >&2 && go build -trimpath -tags="$TAGS" -o ../bin/ "$@" >&2 )
  echo "$name $version built in $((SECONDS - start)) s" >&2
  rm -rf "$dir" && mv "$dir.tmp" "$dir" && touch "$dir/.done"
  echo "$dir/bin"
}

TAGS="" build btcd "$BTCD_VERSION" "module lightproof.invalid/btcdbuild
go 1.25
require github.com/btcsuite/btcd $BTCD_VERSION" \
  github.com/btcsuite/btcd github.com/btcsuite/btcd/cmd/btcctl

# lnd's protobuf replace is required (its REST marshalling uses the fork's UseHexForBytes);
# the xz and gogo pins copy lnd's own release build list.
TAGS="$LND_TAGS" build lnd "$LND_VERSION" "module lightproof.invalid/lndbuild
go 1.25.10
require github.com/lightningnetwork/lnd $LND_VERSION
replace google.golang.org/protobuf => github.com/lightninglabs/protobuf-go-hex-display v1.33.0-hex-display
replace github.com/gogo/protobuf => github.com/gogo/protobuf v1.3.2
replace github.com/ulikunitz/xz => github.com/ulikunitz/xz v0.5.11" \
  github.com/lightningnetwork/lnd/cmd/lnd github.com/lightningnetwork/lnd/cmd/lncli

if [ "$want_peers" = 1 ]; then
  TAGS="" build aperture "$APERTURE_VERSION" "module lightproof.invalid/aperturebuild
go 1.26.0
require github.com/lightninglabs/aperture $APERTURE_VERSION
replace google.golang.org/protobuf => github.com/lightninglabs/protobuf-go-hex-display v1.34.2-hex-display" \
    github.com/lightninglabs/aperture/cmd/aperture
fi
