// A production install needs Node and npm only (issue 20): scripts/check-prod-install.sh installs a
// copy of the committed tree with `npm ci --omit=dev` and no compiler, make or python on PATH, and runs
// the CLI from it. Here, on top of what the script checks, the installed bytes are read again: no
// Mach-O file anywhere in node_modules, every `.node` addon an ELF file, one of them for this machine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const SCRIPT = join(ROOT, 'scripts', 'check-prod-install.sh');
const MACHO = new Set(['feedface', 'feedfacf', 'cefaedfe', 'cffaedfe']);
const ELF_MACHINE: Record<string, number> = { x64: 62, arm64: 183, arm: 40, ia32: 3 };

function registryReachable(): boolean {
  const r = spawnSync('npm', ['ping', '--fetch-timeout=15000', '--fetch-retries=0'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return r.status === 0;
}

function head(file: string): Buffer {
  const b = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    return b.subarray(0, readSync(fd, b, 0, 20, 0));
  } finally {
    closeSync(fd);
  }
}

/** Every regular file under dir (no symlinks followed). */
function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.isFile()) yield p;
  }
}

const online = registryReachable();

test(
  'npm ci --omit=dev with no compiler on PATH installs a working ikeway with ELF addons only',
  {
    skip: !online && 'the npm registry is not reachable (npm ping failed); the install needs it',
    timeout: 300_000,
  },
  (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ikeway-prod-install-test-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const r = spawnSync('bash', [SCRIPT, dir], { encoding: 'utf8', timeout: 240_000 });
    assert.equal(r.status, 0, `check-prod-install.sh failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /install: \d+ ms/);
    assert.match(r.stdout, /OK: 1 connection \(branch\)/);
    assert.match(r.stdout, /UDP_ENCAP on udp 127\.0\.0\.1:\d+ reads back 2/);
    assert.match(r.stdout, /check-prod-install: OK/);

    const modules = join(dir, 'pkg', 'node_modules');
    const machO: string[] = [];
    const addons: { file: string; machine: number | undefined }[] = [];
    let count = 0;
    for (const f of files(modules)) {
      count++;
      const h = head(f);
      const magic = h.subarray(0, 4).toString('hex');
      // 0xcafebabe: a fat Mach-O has an arch count < 30 next, a Java class file a version >= 45.
      if (MACHO.has(magic) || (magic === 'cafebabe' && h.length >= 8 && h.readUInt32BE(4) < 30))
        machO.push(f);
      if (f.endsWith('.node'))
        addons.push({
          file: f,
          machine: magic === '7f454c46' && h.length >= 20 ? h.readUInt16LE(18) : undefined,
        });
    }
    assert.ok(count > 100, `node_modules holds ${count} files`);
    assert.deepEqual(machO, [], 'no Mach-O file in the production install');
    assert.ok(addons.length > 0, 'the install has native addons (koffi, netlink)');
    assert.deepEqual(
      addons.filter((a) => a.machine === undefined).map((a) => a.file),
      [],
      'every .node file is ELF',
    );
    const mine = ELF_MACHINE[process.arch];
    if (mine !== undefined) {
      const names = addons.filter((a) => a.machine === mine).map((a) => a.file.slice(modules.length + 1));
      assert.ok(
        names.some((n) => n.startsWith('@koromix/koffi-linux-')),
        `koffi addon for ${process.arch}`,
      );
      assert.ok(
        names.some((n) => n.startsWith('netlink/')),
        `netlink addon for ${process.arch}`,
      );
    }
    assert.ok(!readdirSync(modules).includes('sockopt'), 'sockopt is gone');
  },
);
