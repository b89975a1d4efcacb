// @guest-pass: boots the guest kernel (scripts/run-tests.mjs runs it in its guest pass).
// The guest-kernel runner itself: the newc writer checked by an independent reader (busybox cpio),
// option validation, and real boots: exit status, output, env, cwd, and the kill on timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GuestError,
  espKernelPlace,
  lockupSeconds,
  qemuArgs,
  runInGuest,
  runOnHost,
  stage2Script,
} from '../../lab/guest/guest.ts';
import { S_IFDIR, S_IFLNK, S_IFREG, buildInitramfs, writeCpio } from '../../lab/guest/initramfs.ts';

const isRoot = process.getuid?.() === 0;

test('writeCpio output is read back by busybox cpio, names, modes and bytes intact', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikw-cpio-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const odd = Uint8Array.from({ length: 1001 }, (_, i) => (i * 13) & 0xff); // forces padding
  const archive = writeCpio([
    { name: 'd', mode: S_IFDIR | 0o750 },
    { name: 'd/odd.bin', mode: S_IFREG | 0o640, data: odd },
    { name: 'init', mode: S_IFREG | 0o755, data: Buffer.from('#!/bin/sh\n') },
    { name: 'link', mode: S_IFLNK | 0o777, data: Buffer.from('init') },
  ]);
  assert.equal(archive.length % 4, 0);
  writeFileSync(join(dir, 'a.cpio'), archive);
  const list = spawnSync('busybox', ['cpio', '-t', '-F', 'a.cpio'], { cwd: dir, encoding: 'utf8' });
  assert.equal(list.status, 0, list.stderr);
  assert.deepEqual(list.stdout.trim().split('\n'), ['d', 'd/odd.bin', 'init', 'link']);
  const x = spawnSync('busybox', ['cpio', '-i', '-d', '-F', 'a.cpio'], { cwd: dir, encoding: 'utf8' });
  assert.equal(x.status, 0, x.stderr);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'd/odd.bin'))), odd);
  assert.equal(readFileSync(join(dir, 'link'), 'utf8'), '#!/bin/sh\n', 'symlink resolves to init');
  assert.throws(() => writeCpio([{ name: '/abs', mode: S_IFREG }]), { code: 'INITRAMFS_ERROR' });
});

test('bad runner options are refused with GUEST_BAD_OPTION', () => {
  const bad = { code: 'GUEST_BAD_OPTION' };
  assert.throws(() => stage2Script({ command: ['true'], script: 'true' }, '/tmp/x'), bad);
  assert.throws(() => stage2Script({}, '/tmp/x'), bad);
  assert.throws(() => stage2Script({ command: [] }, '/tmp/x'), bad);
  assert.throws(() => stage2Script({ script: 'true', env: { 'A B': '1' } }, '/tmp/x'), bad);
  assert.throws(() => qemuArgs('/k', '/i', '/tmp/x', { script: 'true', kernelArgs: ['a b'] }), bad);
  assert.throws(() => qemuArgs('/k', '/i', '/tmp/x', { script: 'true', smp: 0 }), bad);
  assert.throws(() => qemuArgs('/k', '/i', '/tmp/x', { script: 'true', memoryMb: 1.5 }), bad);
  assert.throws(() => stage2Script({ script: 'true', modules: ['esp4; reboot'] }, '/tmp/x'), bad);
  const args = qemuArgs('/k', '/i', '/tmp/x', {
    script: 'true',
    kernelArgs: ['nohz=off'],
    smp: 1,
    memoryMb: 512,
  });
  assert.match(args[args.indexOf('-append') + 1]!, /^console=ttyS0 .*nohz=off ikw\.out=\/tmp\/x$/);
  assert.deepEqual([args[args.indexOf('-smp') + 1], args[args.indexOf('-m') + 1]], ['1', '512']);
  assert.ok(
    args.includes('none') && args[args.indexOf('-nic') + 1] === 'none',
    'no network card in the guest',
  );
});

test('IKEWAY_ESP_KERNEL=guest|host overrides where ESP work runs', (t) => {
  const saved = process.env['IKEWAY_ESP_KERNEL'];
  t.after(() => {
    if (saved === undefined) delete process.env['IKEWAY_ESP_KERNEL'];
    else process.env['IKEWAY_ESP_KERNEL'] = saved;
  });
  for (const place of ['guest', 'host'] as const) {
    process.env['IKEWAY_ESP_KERNEL'] = place;
    assert.equal(espKernelPlace(), place);
  }
});

test('runOnHost has the same result shape: status, stdout, stderr, env with quotes', async () => {
  const r = await runOnHost({ script: 'echo "$V"; echo e >&2; exit 3', env: { V: "it's" } });
  assert.deepEqual([r.status, r.stdout, r.stderr, r.where], [3, "it's\n", 'e\n', 'host']);
});

test(
  'runInGuest runs the command in the guest kernel with cwd and env, returns status and output',
  {
    skip: !isRoot && 'needs root',
  },
  async () => {
    const { kernelVersion } = buildInitramfs();
    const script = 'echo "$V"; pwd; uname -r; test -d /proc/sys/net/ipv4 && echo proc; echo oops >&2; exit 7';
    const r = await runInGuest({
      command: ['/bin/sh', '-c', script],
      cwd: '/usr/share',
      env: { V: "a 'quoted' value" },
      timeoutMs: 180_000,
    });
    assert.equal(r.where, 'guest');
    assert.equal(r.status, 7, r.console);
    assert.deepEqual(r.stdout.split('\n'), ["a 'quoted' value", '/usr/share', kernelVersion, 'proc', '']);
    assert.equal(r.stderr, 'oops\n');
    assert.ok(r.bootMs > 0 && r.bootMs < r.wallMs, `boot ${r.bootMs} ms within wall ${r.wallMs} ms`);
    assert.equal(existsSync(r.outputDir), false, 'temporary results dir removed');
  },
);

// Without the group kill, 'close' would wait for the children's `sleep 1000`: the test's own
// timeout turns that hang into a failure.
test('runOnHost kills the whole command (children too) on timeout', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikw-roh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pids = join(dir, 'pids');
  const script = `sleep 1000 & echo $! > ${pids}; sleep 1000 & echo $! >> ${pids}; wait`;
  await assert.rejects(runOnHost({ script, timeoutMs: 500 }), { code: 'GUEST_TIMEOUT' });
  for (const pid of readFileSync(pids, 'utf8').trim().split('\n')) {
    const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
    assert.ok(stat === '' || /^\d+ \(sleep\) Z/.test(stat), `child ${pid} is gone: ${stat}`);
  }
});

test('runInGuest kills qemu on timeout and says so', { skip: !isRoot && 'needs root' }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'ikw-gto-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  await assert.rejects(runInGuest({ command: ['sleep', '600'], timeoutMs: 1500, outputDir: out }), (e) => {
    assert.ok(e instanceof GuestError);
    assert.equal(e.code, 'GUEST_TIMEOUT');
    return true;
  });
  const left = spawnSync('pgrep', ['-f', `ikw.out=${out}`], { encoding: 'utf8' });
  assert.equal(left.stdout.trim(), '', 'no qemu left running');
});

test('lockupSeconds reads the longest soft lockup the guest kernel reported', () => {
  assert.equal(lockupSeconds('stage2 start 4.02\nmodules loaded 5.67\n'), 0);
  const log =
    '[   56.686040] watchdog: BUG: soft lockup - CPU#0 stuck for 48s! [node:155]\n' +
    '[   84.789576] watchdog: BUG: soft lockup - CPU#1 stuck for 74s! [node:152]\n';
  assert.equal(lockupSeconds(log), 74);
});

// The guest writes a soft lockup report to its console on the first boot only (the kernel's
// watchdog line, as CI saw it): the runner must kill that boot, remove what it wrote, boot once
// more and return the second boot's result; with no retries it must fail with GUEST_LOCKUP.
test(
  'runInGuest boots once more after a guest kernel lockup',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'ikw-glk-'));
    t.after(() => rmSync(out, { recursive: true, force: true }));
    writeFileSync(join(out, 'boots'), '');
    const script = `n=$(wc -l < ${out}/boots); echo boot >> ${out}/boots
[ -e ${out}/scratch ] && echo stale >> ${out}/boots
touch ${out}/scratch
if [ "$n" = 0 ]; then
  echo '[   84.7] watchdog: BUG: soft lockup - CPU#1 stuck for 74s! [node:152]' > /dev/console
  sleep 120
fi
echo done`;
    const r = await runInGuest({ script, timeoutMs: 90_000, outputDir: out });
    assert.equal(r.status, 0, r.console);
    assert.equal(r.stdout, 'done\n');
    assert.deepEqual(r.lockups, ['guest kernel soft lockup (a CPU stuck for 74 s)']);
    assert.equal(readFileSync(join(out, 'boots'), 'utf8'), 'boot\nboot\n', 'two boots, the second clean');

    writeFileSync(join(out, 'boots'), '');
    rmSync(join(out, 'scratch'), { force: true });
    await assert.rejects(runInGuest({ script, timeoutMs: 90_000, outputDir: out, lockupRetries: 0 }), {
      code: 'GUEST_LOCKUP',
    });
    assert.equal(readFileSync(join(out, 'boots'), 'utf8'), 'boot\n');
  },
);
