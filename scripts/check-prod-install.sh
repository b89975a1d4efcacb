#!/usr/bin/env bash
# Proves a production install needs Node and npm only (issue 20): a copy of the committed tree
# (git archive HEAD) gets `npm ci --omit=dev` with a PATH that holds node, npm and a few coreutils,
# and no cc/gcc/g++/make/python, so a dependency that falls back to node-gyp fails the install.
# Then, from that install: `ikeway --help`, `ikeway check` of an example, UDP_ENCAP set on a socket
# bound to 127.0.0.1 (the FFI path the daemon uses), and the bytes of every native addon (ELF for
# this machine, no Mach-O anywhere in node_modules).
# Usage: scripts/check-prod-install.sh [DIR]   (DIR: where to install and leave the copy; default a
# temp dir, removed at exit). Needs the npm registry (or a warm npm cache). Exit 0 = proven.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ $# -ge 1 ]]; then
  WORK=$1
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/ikeway-prod-install.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
fi
PKG=$WORK/pkg
BIN=$WORK/bin
rm -rf "$PKG" "$BIN"
mkdir -p "$PKG" "$BIN"
git -C "$ROOT" archive --format=tar HEAD | tar -x -C "$PKG"

# The stripped PATH: node, npm (a node script found through env) and what npm itself spawns.
NODE=$(command -v node)
NPM_CLI=$(node -p 'require("path").join(process.execPath, "../../lib/node_modules/npm/bin/npm-cli.js")')
[[ -f $NPM_CLI ]] || NPM_CLI=$(readlink -f "$(command -v npm)")
ln -s "$NODE" "$BIN/node"
ln -s "$NPM_CLI" "$BIN/npm"
for tool in sh env cat ls mkdir rm cp mv chmod uname; do
  p=$(command -v "$tool") && ln -s "$p" "$BIN/$tool"
done
for tool in cc gcc g++ c++ clang make cmake python python3 node-gyp; do
  if "$BIN/sh" -c "PATH='$BIN'; command -v '$tool'" >/dev/null 2>&1; then
    echo "check-prod-install: $tool is reachable on the stripped PATH" >&2
    exit 1
  fi
done

cd "$PKG"
start=$(date +%s%N)
PATH=$BIN npm ci --omit=dev --no-audit --no-fund --loglevel=warn 2>&1 | tee "$WORK/npm-ci.log"
end=$(date +%s%N)
echo "install: $(((end - start) / 1000000)) ms (npm ci --omit=dev, no compiler on PATH)"
if grep -q 'install-scripts' "$WORK/npm-ci.log"; then
  echo "check-prod-install: npm reported install scripts not covered by allowScripts" >&2
  exit 1
fi
[[ ! -e node_modules/typescript ]] || { echo "check-prod-install: dev dependencies installed" >&2; exit 1; }

PATH=$BIN node bin/ikeway.js --help >"$WORK/help.txt"
grep -q 'daemon' "$WORK/help.txt"
mkdir -p examples/secrets
chmod 700 examples/secrets
[[ -f examples/secrets/branch.psk ]] || (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >examples/secrets/branch.psk)
PATH=$BIN node bin/ikeway.js check examples/site-to-site-psk.yaml

# UDP_ENCAP_ESPINUDP through the installed FFI module, read back (the kernel needs no ESP for this).
PATH=$BIN node --import tsx --input-type=module -e "
  import { createSocket } from 'node:dgram';
  import { enableEspInUdp, espInUdpMode } from './src/kernel/natt.ts';
  const s = createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  enableEspInUdp(s);
  console.log('UDP_ENCAP on udp 127.0.0.1:' + s.address().port + ' reads back ' + espInUdpMode(s));
  s.close();
"

# The bytes: every .node file is ELF for this machine; nothing in node_modules is Mach-O.
PATH=$BIN node --input-type=module -e "
  import { openSync, readSync, closeSync, readdirSync } from 'node:fs';
  import { join } from 'node:path';
  const MACHO = new Set(['feedface', 'feedfacf', 'cefaedfe', 'cffaedfe']);
  const MACHINE = { x64: 62, arm64: 183 }[process.arch];
  const head = (f) => { const b = Buffer.alloc(20); const fd = openSync(f, 'r'); const n = readSync(fd, b, 0, 20, 0); closeSync(fd); return b.subarray(0, n); };
  const bad = []; let files = 0; const addons = [];
  const walk = (d) => { for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) walk(p); else if (e.isFile()) {
      files++;
      const h = head(p); const magic = h.subarray(0, 4).toString('hex');
      // 0xcafebabe is a fat Mach-O (a Java class file has a version >= 45 where fat has a count < 30).
      if (MACHO.has(magic) || (magic === 'cafebabe' && h.length >= 8 && h.readUInt32BE(4) < 30)) bad.push(p + ': Mach-O');
      if (p.endsWith('.node')) {
        const elf = magic === '7f454c46';
        const machine = elf && h.length >= 20 ? h.readUInt16LE(18) : -1;
        addons.push(p + ': ' + (elf ? 'ELF e_machine ' + machine : 'not ELF (' + magic + ')'));
        if (!elf) bad.push(p + ': .node file is not ELF');
      }
    } } };
  walk('node_modules');
  for (const a of addons) console.log('addon ' + a);
  console.log('scanned ' + files + ' files in node_modules');
  if (MACHINE !== undefined && !addons.some((a) => a.endsWith('e_machine ' + MACHINE))) bad.push('no ELF addon for ' + process.arch);
  if (bad.length) { console.error(bad.join('\n')); process.exit(1); }
"
echo "check-prod-install: OK"
