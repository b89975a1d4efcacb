#!/bin/sh
# Make a throwaway test CA and end-entity certificates with openssl (for labs and tests only).
# Usage: make-test-ca.sh [--rsa] OUTDIR NAME[:IP] ...
#   e.g. make-test-ca.sh examples/certs gw1:192.0.2.1 gw2:192.0.2.2
# Writes OUTDIR/ca.crt, OUTDIR/ca.key and per NAME: NAME.crt, NAME.key (keys mode 600).
# Subjects are "O=ikeway test, CN=NAME.example.net"; the SAN holds that DNS name and the IP.
# ECDSA P-256 by default, --rsa for RSA 3072. CA: keyUsage critical keyCertSign,cRLSign,
# digitalSignature; end certificates: digitalSignature (RFC 7296 §3.8 signatures).
set -eu
ALG="ec"
if [ "${1:-}" = "--rsa" ]; then ALG="rsa"; shift; fi
if [ $# -lt 2 ]; then
  echo "usage: $0 [--rsa] OUTDIR NAME[:IP] ..." >&2
  exit 2
fi
OUT=$1
shift
mkdir -p "$OUT"
umask 077

newkey() {
  if [ "$ALG" = "rsa" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
  fi
}

newkey "$OUT/ca.key"
openssl req -x509 -new -key "$OUT/ca.key" -sha256 -days 3650 -subj "/O=ikeway test/CN=ikeway test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,digitalSignature,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" -out "$OUT/ca.crt"

for spec in "$@"; do
  name=${spec%%:*}
  ip=""
  [ "$name" != "$spec" ] && ip=${spec#*:}
  san="DNS:$name.example.net"
  [ -n "$ip" ] && san="$san,IP:$ip"
  newkey "$OUT/$name.key"
  openssl req -new -key "$OUT/$name.key" -subj "/O=ikeway test/CN=$name.example.net" -out "$OUT/$name.csr"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=%s\n' "$san" \
    > "$OUT/$name.ext"
  openssl x509 -req -in "$OUT/$name.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" -CAcreateserial -sha256 \
    -days 825 -extfile "$OUT/$name.ext" -out "$OUT/$name.crt" 2>/dev/null
  rm -f "$OUT/$name.csr" "$OUT/$name.ext"
done
rm -f "$OUT/ca.srl"
chmod 644 "$OUT"/*.crt
echo "made CA and $# certificate(s) in $OUT"
