#!/usr/bin/env bash
# tls_certs.sh [DIR] — test TLS material for stunnel fronts, written into DIR (default: a new
# temp dir); prints the directory. Files:
#   ca.crt ca.key            the CA clients trust
#   server.crt server.key    for CN=localhost, SAN DNS:localhost + IP:127.0.0.1, signed by ca
#   client.crt client.key    client certificate for mutual TLS, signed by ca
#   wrong-ca.crt             an unrelated CA: trusting only it must make the handshake fail
# Keys are ECDSA P-256 (RSA with KEY=rsa): ten times faster to make than RSA 2048, and every
# TLS stack under test (OpenSSL, rustls) accepts them. Valid for 10 days.
set -euo pipefail
command -v openssl >/dev/null || { echo "tls_certs.sh: openssl is missing (apt-get install -y openssl)" >&2; exit 1; }
case ${KEY:-ec} in
  ec) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
  rsa) newkey=(-newkey rsa:2048) ;;
  *) echo "tls_certs.sh: KEY must be ec or rsa" >&2; exit 2 ;;
esac
dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/rkafka-tls.XXXXXX")}
mkdir -p "$dir"
cd "$dir"

new_ca() { # name cn
  openssl req -x509 "${newkey[@]}" -nodes -keyout "$1.key" -out "$1.crt" -days 10 \
    -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
signed() { # name cn extensions
  openssl req "${newkey[@]}" -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf '%b' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 10 \
    -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

new_ca ca "rkafka test CA"
new_ca wrong-ca "rkafka unrelated CA"
rm -f wrong-ca.key
signed server localhost "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
signed client rkafka-client "extendedKeyUsage=clientAuth\n"
echo "$dir"
