#!/usr/bin/env bash
# Installs Python's `protobuf` (>= 5.28) into a venv for the interop tests
# of lenframe-interop (interop/tests/python_protobuf.rs) and prints the
# venv's python. Never touches the system Python.
#
#   interop/install-protobuf.sh [VENV]    # default: <workspace root>/target/protobuf-venv
#
# Then: LENFRAME_PROTOBUF_PYTHON=<printed path> cargo test -p lenframe-interop
# (the tests also find <workspace root>/target/protobuf-venv by themselves).
# Exits non-zero, saying why on stderr, if the venv or the install fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-"$root/target/protobuf-venv"}
python=${PYTHON:-python3}
want='protobuf>=5.28'

py="$venv/bin/python"
# A venv that already has a new enough protobuf is kept as it is (fast CI).
if [ -x "$py" ] && "$py" - <<'PY' >/dev/null 2>&1
import google.protobuf, google.protobuf.proto
v = tuple(int(x) for x in google.protobuf.__version__.split(".")[:2])
raise SystemExit(0 if v >= (5, 28) else 1)
PY
then
  echo "$py"
  exit 0
fi
if ! command -v "$python" >/dev/null 2>&1; then
  echo "install-protobuf: $python is not on PATH" >&2
  exit 1
fi
if ! "$python" -m venv "$venv" >&2; then
  echo "install-protobuf: '$python -m venv $venv' failed (on Debian the python3-venv package provides ensurepip)" >&2
  exit 1
fi
if ! "$py" -m pip install --disable-pip-version-check --quiet --retries 2 "$want" >&2; then
  echo "install-protobuf: pip could not install '$want' into $venv (is PyPI reachable?)" >&2
  exit 1
fi
version=$("$py" -c 'import google.protobuf.proto, google.protobuf as p; print(p.__version__)') || {
  echo "install-protobuf: protobuf installed but 'import google.protobuf.proto' fails in $venv" >&2
  exit 1
}
echo "install-protobuf: protobuf $version in $venv" >&2
echo "$py"
