#!/usr/bin/env node
// Runs test/**/*.test.ts through node:test with tsx as the TypeScript loader, in two passes:
//   1. host pass: the files that need no guest kernel, two at a time;
//   2. guest pass: the files marked `// @guest-pass` (they boot the qemu guest kernel, see
//      lab/guest/guest.ts), ONE at a time. Before it starts, this runner claims one machine-wide
//      guest slot (lab/guest/guest-slots.ts), waiting as long as other users' guests need, before
//      any test's clock runs; the files' guests then use that slot and never wait, so no test
//      times out or fails with GUEST_BUSY while another file's guest runs.
// Node 20's runner does not expand globs itself, so the files are listed here.
// Usage: node scripts/run-tests.mjs [--host-only | --guest-only] [substring-filter ...]
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { register } from 'tsx/esm/api';

/** The marker of a test file that boots the guest kernel (test/unit/layout.test.ts checks it). */
const GUEST_MARK = /^\/\/ @guest-pass\b/m;

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const only = args.find((a) => a === '--host-only' || a === '--guest-only');
const filters = args.filter((a) => !a.startsWith('--'));
const files = walk('test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const guest = files.filter((f) => GUEST_MARK.test(readFileSync(f, 'utf8')));
const host = files.filter((f) => !guest.includes(f));

const log = (line) => process.stderr.write(`run-tests: ${line}\n`);
const seconds = (ms) => Math.round(ms / 1000);

/** Totals of both passes, read from a second TAP reporter per pass, for one closing line. */
const totals = { pass: 0, fail: 0, skipped: 0 };
const tapDir = mkdtempSync(join(tmpdir(), 'ikw-tests-'));

function pass(list, concurrency, env = process.env) {
  const started = Date.now();
  const tap = join(tapDir, `pass-${Date.now()}.tap`);
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      '--test-reporter=tap',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...list,
    ],
    { stdio: 'inherit', env },
  );
  let text = '';
  try {
    text = readFileSync(tap, 'utf8');
  } catch {
    // the pass died before its reporter wrote: its exit status says so
  }
  for (const k of Object.keys(totals)) {
    const m = new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text);
    totals[k] += m ? Number(m[1]) : 0;
  }
  return { status: r.status ?? 1, ms: Date.now() - started };
}

/** Claims a guest slot for the guest pass when its files will boot guests; else no slot. */
async function guestSlot() {
  if (process.getuid?.() !== 0) return undefined; // the guest files skip themselves
  register();
  const { espKernelPlace } = await import('../lab/guest/guest.ts');
  if (espKernelPlace() === 'host') return undefined;
  const { HELD_ENV, holdGuestSlot } = await import('../lab/guest/guest-slots.ts');
  const started = Date.now();
  const held = await holdGuestSlot((waited, owners) =>
    log(`guest pass: waiting ${seconds(waited)} s for a guest slot (held by pid ${owners.join(', ')})`),
  );
  return { name: HELD_ENV, value: held.env, release: held.release, waitedMs: Date.now() - started };
}

const summary = [];
let status = 0;
if (only !== '--guest-only' && host.length > 0) {
  const r = pass(host, 2);
  summary.push(`host pass: ${host.length} files in ${seconds(r.ms)} s, exit ${r.status}`);
  status ||= r.status;
}
if (only !== '--host-only' && guest.length > 0) {
  const slot = await guestSlot();
  const env = slot ? { ...process.env, [slot.name]: slot.value } : process.env;
  try {
    const r = pass(guest, 1, env);
    summary.push(
      `guest pass: ${guest.length} files in ${seconds(r.ms)} s, exit ${r.status}` +
        (slot ? `, after waiting ${seconds(slot.waitedMs)} s for a guest slot` : ''),
    );
    status ||= r.status;
  } finally {
    slot?.release();
  }
}
for (const line of summary) log(line);
rmSync(tapDir, { recursive: true, force: true });
if (summary.length === 0) log(`no ${only === '--host-only' ? 'host' : 'guest'} test files matched`);
else console.log(`tests: ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
process.exit(summary.length === 0 ? 1 : status);
