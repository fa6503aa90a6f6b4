#!/usr/bin/env bash
# Makes a throw-away test CA and one server certificate signed by it, for TLS tests and the
# local demo. Nothing it writes is committed: pass a temporary directory.
#
#   tests/lib/ca.sh DIR [HOST...]
#
# writes DIR/ca.crt, DIR/ca.key, DIR/server.crt and DIR/server.key. The server certificate names
# localhost, 127.0.0.1 and ::1 plus any HOST given, and is valid for 2 days.
set -euo pipefail

dir="${1:?usage: ca.sh DIR [HOST...]}"
shift
mkdir -p "$dir"

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for host in "$@"; do
    san="$san,DNS:$host"
done

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=workload test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -out "$dir/server.crt" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san") \
    2>/dev/null
rm -f "$dir/server.csr" "$dir/ca.srl"
chmod 600 "$dir/ca.key" "$dir/server.key"
