// The machine-wide guest slots: a slot is exclusive while its owner lives, freed on release,
// reclaimed from a dead owner, and waiting is bounded with a typed error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GuestBusyError,
  acquireGuestSlot,
  heldByAncestor,
  holdGuestSlot,
} from '../../lab/guest/guest-slots.ts';

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

test('a slot held by a live ancestor (the runner) is used at once, and only then', async (t) => {
  const dir = withSlots(t, '1');
  const { env, release } = await holdGuestSlot(() => {}, { dir, maxWaitMs: 1000 });
  assert.equal(env, `${process.pid}:${join(dir, 'slot-0')}`);
  assert.ok(heldByAncestor(env));
  // Every slot is taken, yet a child of the holder gets its guest without waiting.
  const mine = await acquireGuestSlot(300, dir, env);
  mine();
  assert.ok(existsSync(join(dir, 'slot-0')), "the user's release leaves the holder's slot");
  // A stale or forged value does not bypass the slots: it waits and fails like anyone else.
  for (const bad of [`1:${join(dir, 'slot-0')}`, `${process.pid}:${join(dir, 'slot-9')}`, 'garbage'])
    await assert.rejects(acquireGuestSlot(300, dir, bad), (e) => e instanceof GuestBusyError, bad);
  release();
  assert.equal(heldByAncestor(env), false, 'released');
});

test('holdGuestSlot reports its wait while others hold every slot, then takes the freed one', async (t) => {
  const dir = withSlots(t, '1');
  const other = await acquireGuestSlot(1000, dir);
  const waits: number[][] = [];
  const held = holdGuestSlot((_ms, owners) => waits.push(owners), { dir, everyMs: 100, maxWaitMs: 20_000 });
  await new Promise((r) => setTimeout(r, 450));
  other();
  const { release } = await held;
  assert.ok(waits.length > 0 && waits[0]!.includes(process.pid), JSON.stringify(waits));
  release();
});
