#!/usr/bin/env bash
# Installs the model_signing peer (sigstore/model-transparency, PyPI model-signing) the manifest tests
# and benchmark compare against, into a cache outside the clone:
#   <cache>/model-signing-<version>/   a Python venv with bin/model_signing and bin/python
# A .done marker holding the pins is written last, so a second run does nothing. Prints the cache
# directory. Nothing is ever written into the repository.
set -euo pipefail

VERSION=1.1.1
# model-signing and every dependency pip resolves for it, pinned exactly so all machines run the same
# peer. pyOpenSSL is imported by model_signing 1.1.1 (sign_certificate.py) but not declared by it, and
# it holds cryptography below 51, hence cryptography 50.0.2.
PIP_PINS=(
  "model-signing==$VERSION"
  annotated-types==0.8.0
  asn1crypto==1.5.1
  blake3==1.0.11
  certifi==2026.10.19.post1
  cffi==2.1.1
  charset-normalizer==3.5.3
  click==8.5.1
  cryptography==50.0.2
  dnspython==2.9.2
  email-validator==2.4.0
  id==1.6.1
  idna==3.21
  in-toto-attestation==0.9.3
  markdown-it-py==4.3.0
  mdurl==0.1.2
  platformdirs==4.14.9
  protobuf==7.36.2
  pycparser==3.12
  pydantic==2.14.4
  pydantic_core==2.50.5
  Pygments==2.21.0
  PyJWT==2.15.1
  pyOpenSSL==26.4.0
  requests==2.34.2
  rfc3161-client==1.0.9
  rfc8785==0.1.4
  rich==15.0.0
  securesystemslib==1.6.0
  sigstore==4.5.1
  sigstore-models==0.0.6
  sigstore-rekor-types==0.0.18
  tuf==7.0.1
  typing-inspection==0.4.5
  typing_extensions==4.16.0
  urllib3==2.8.0
)

CACHE_ROOT=${LIGHTPROOF_PEER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lightproof/peers}

for arg in "$@"; do
  case "$arg" in
    -h|--help)
      cat <<EOF
usage: install-model-signing.sh
Installs model-signing $VERSION (sigstore/model-transparency's model_signing CLI and Python API) in a
venv under \$LIGHTPROOF_PEER_CACHE (now: $CACHE_ROOT).
Safe to run again: a finished install is kept. Needs python3 (3.10 or later) with venv and pip
access to PyPI.
EOF
      exit 0 ;;
    *) echo "install-model-signing.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

die() { echo "install-model-signing.sh: $*" >&2; exit 1; }

dir="$CACHE_ROOT/model-signing-$VERSION"
want="${PIP_PINS[*]}"
if ! { [ -f "$dir/.done" ] && [ "$(cat "$dir/.done")" = "$want" ]; }; then
  command -v python3 >/dev/null 2>&1 || die "python3 is not installed"
  mkdir -p "$CACHE_ROOT"
  # A venv hard-codes its own path, so it is built in place; a missing marker means start over.
  rm -rf "$dir"
  python3 -m venv "$dir" ||
    die "python3 cannot create a venv; install python3-venv (Debian: apt-get install python3-venv) and run again"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$dir/bin/pip" install --quiet --no-deps "${PIP_PINS[@]}"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$dir/bin/pip" check >/dev/null ||
    die "the pinned packages in $dir do not satisfy each other; update PIP_PINS"
  got=$("$dir/bin/python" -c 'import model_signing; print(model_signing.__version__)' 2>&1) ||
    die "importing model_signing failed: $got"
  [ "$got" = "$VERSION" ] || die "model_signing reports version '$got', expected $VERSION"
  "$dir/bin/model_signing" sign key --help >/dev/null || die "$dir/bin/model_signing sign key --help failed"
  echo "$want" > "$dir/.done"
fi

echo "$CACHE_ROOT"
