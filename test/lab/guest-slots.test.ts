// The machine-wide guest slots: a slot is exclusive while its owner lives, freed on release,
// reclaimed from a dead owner, and waiting is bounded with a typed error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestBusyError, acquireGuestSlot } from '../../lab/guest/guest-slots.ts';

function withSlots(t: { after: (fn: () => void) => void }, n: string): string {
  const saved = process.env['IKEWAY_GUEST_SLOTS'];
  process.env['IKEWAY_GUEST_SLOTS'] = n;
  const dir = mkdtempSync(join(tmpdir(), 'ikw-slots-'));
  t.after(() => {
    if (saved === undefined) delete process.env['IKEWAY_GUEST_SLOTS'];
    else process.env['IKEWAY_GUEST_SLOTS'] = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

test('one slot: a second claim waits and fails with GUEST_BUSY; release frees it', async (t) => {
  const dir = withSlots(t, '1');
  const release = await acquireGuestSlot(1000, dir);
  assert.equal(readFileSync(join(dir, 'slot-0'), 'utf8'), String(process.pid));
  await assert.rejects(
    acquireGuestSlot(300, dir),
    (e) => e instanceof GuestBusyError && e.code === 'GUEST_BUSY',
  );
  release();
  assert.equal(existsSync(join(dir, 'slot-0')), false);
  const again = await acquireGuestSlot(1000, dir);
  again();
});

test('two slots are both usable at once', async (t) => {
  const dir = withSlots(t, '2');
  const a = await acquireGuestSlot(1000, dir);
  const b = await acquireGuestSlot(1000, dir);
  assert.ok(existsSync(join(dir, 'slot-0')) && existsSync(join(dir, 'slot-1')));
  a();
  b();
});

test('a slot held by a dead process is reclaimed', async (t) => {
  const dir = withSlots(t, '1');
  const dead = spawnSync('true').pid; // exited and reaped: its pid names no process now
  assert.ok(dead !== undefined);
  writeFileSync(join(dir, 'slot-0'), String(dead));
  const release = await acquireGuestSlot(5000, dir);
  assert.equal(readFileSync(join(dir, 'slot-0'), 'utf8'), String(process.pid));
  release();
});
