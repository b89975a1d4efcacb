#!/bin/sh
# Makes the LAB-ONLY secrets the examples name, so that every example passes `ikeway check`:
#   - every `psk: { file: F }` of *.yaml: F with a random key marked LAB-ONLY (mode 600);
#   - certs/: a throwaway test CA and the certificates of gw1 and gw2 (make-test-ca.sh);
#   - lab-secrets.env: `export NAME=0x...` for every `psk: { env: NAME }` (mode 600).
# Usage: sh examples/lab-secrets.sh [DIR]     (DIR: the examples folder, default: this script's)
# Then:  . examples/lab-secrets.env && for f in examples/*.yaml; do ikeway check "$f"; done
# Files that exist are kept. Everything made here is for labs and tests only: never use these
# keys for a real tunnel (make a real key with `openssl rand -base64 32`, see README.md).
set -eu
DIR=${1:-$(dirname "$0")}
cd "$DIR"
umask 077
made=0

# PSK files: the `file:` of every `psk: { file: ... }` (the examples use this flow style).
for f in $(sed -n 's/.*psk: *{ *file: *\([^ },]*\).*/\1/p' ./*.yaml | sort -u); do
  if [ ! -e "$f" ]; then
    mkdir -p "$(dirname "$f")"
    printf 'LAB-ONLY-%s\n' "$(openssl rand -hex 24)" > "$f"
    chmod 600 "$f"
    made=$((made + 1))
  fi
done

# Certificates for site-to-site-certs.yaml (its header names the same command).
if [ ! -e certs/ca.crt ]; then
  sh ./make-test-ca.sh certs gw1:192.0.2.1 gw2:192.0.2.2 > /dev/null
  made=$((made + 1))
fi

# Environment keys: `psk: { env: NAME }`, hex so that the value is exactly the key.
envs=$(sed -n 's/.*psk: *{ *env: *\([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' ./*.yaml | sort -u)
if [ ! -e lab-secrets.env ]; then
  {
    echo '# LAB ONLY: keys for the examples (examples/lab-secrets.sh); never use them for real tunnels'
    for n in $envs; do echo "export $n=0x$(openssl rand -hex 32)"; done
  } > lab-secrets.env
  chmod 600 lab-secrets.env
  made=$((made + 1))
fi

echo "lab-only secrets in $(pwd): $made made, the others kept"
echo "the examples read these variables: $(echo $envs | tr ' ' ',')"
echo "export them with: . $(pwd)/lab-secrets.env"
