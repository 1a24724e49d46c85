#!/usr/bin/env bash
# tls_front.sh CERTDIR TLSPORT:BACKENDPORT [TLSPORT:BACKENDPORT ...]
# Runs stunnel in the foreground (exec: the PID you started is stunnel's), terminating TLS on
# 127.0.0.1:TLSPORT with CERTDIR/server.{crt,key} (see tls_certs.sh) and forwarding plaintext
# to 127.0.0.1:BACKENDPORT. VERIFY=1 requires a client certificate signed by CERTDIR/ca.crt.
# Its config and log go to CERTDIR/stunnel-TLSPORT.{conf,log}.
# The broker must advertise the TLS ports (mock: `advertise ID 127.0.0.1 TLSPORT`; Tansu:
# --advertised-listener-url), else clients are redirected to the plaintext ports.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: tls_front.sh CERTDIR TLSPORT:BACKENDPORT..." >&2; exit 2; }
dir=$(cd "$1" && pwd); shift
stunnel=$(command -v stunnel4 || command -v stunnel) \
  || { echo "tls_front.sh: stunnel4 is missing (apt-get update && apt-get install -y stunnel4)" >&2; exit 1; }
[ -f "$dir/server.crt" ] || { echo "tls_front.sh: no $dir/server.crt (run tls_certs.sh $dir)" >&2; exit 1; }
first=${1%%:*}
conf="$dir/stunnel-$first.conf"
{
  echo "foreground = yes"
  echo "pid ="
  echo "debug = 5"
  echo "output = $dir/stunnel-$first.log"
  echo "cert = $dir/server.crt"
  echo "key = $dir/server.key"
  if [ -n "${VERIFY:-}" ]; then
    echo "CAfile = $dir/ca.crt"
    echo "verifyChain = yes"
    echo "requireCert = yes"
  fi
  for map in "$@"; do
    echo "[tls-${map%%:*}]"
    echo "accept = 127.0.0.1:${map%%:*}"
    echo "connect = 127.0.0.1:${map##*:}"
  done
} > "$conf"
exec "$stunnel" "$conf"
