// Machine-wide limit on concurrent TCG guests. One guest with -smp 2 already keeps two host cores
// busy; several at once (parallel test files, several engineers' `npm test`) only slow each other
// until their time bounds fire. Slots are lock files created with O_EXCL that hold the owner's
// pid; a slot whose owner is gone is reclaimed.
// The test runner (scripts/run-tests.mjs) claims one slot itself, waiting as long as it takes and
// before any test's clock runs, then runs the guest test files one after another with
// IKEWAY_GUEST_SLOT_HELD set: their guests use that slot and never wait (no GUEST_BUSY in the suite).
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export class GuestBusyError extends Error {
  readonly code = 'GUEST_BUSY';
  constructor(waitedMs: number, slots: number) {
    super(`no guest slot free after ${waitedMs} ms (${slots} slot(s); IKEWAY_GUEST_SLOTS raises it)`);
    this.name = 'GuestBusyError';
  }
}

export const SLOT_DIR = '/tmp/ikw-guest-slots';

/** Slots on this machine: IKEWAY_GUEST_SLOTS, else one per two host cores (at least one). */
export function slotCount(): number {
  const env = Number(process.env['IKEWAY_GUEST_SLOTS']);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, Math.floor(availableParallelism() / 2));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims slot file `p` for this process, reclaiming it when its owner died. */
function tryClaim(p: string): boolean {
  try {
    writeFileSync(p, String(process.pid), { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  let owner: number;
  try {
    owner = Number(readFileSync(p, 'utf8'));
  } catch {
    return false; // released in between; the next round takes it
  }
  if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
  try {
    unlinkSync(p);
  } catch {
    // someone else reclaimed it first
  }
  return false;
}

/** `PID:PATH` of a slot an ancestor process holds for its children (the test runner's guest pass). */
export const HELD_ENV = 'IKEWAY_GUEST_SLOT_HELD';

/** True when `held` (HELD_ENV's form) names a slot file that its live owner still holds. */
export function heldByAncestor(held: string | undefined): boolean {
  const m = held === undefined ? null : /^(\d+):(\/.+)$/.exec(held);
  if (!m) return false;
  try {
    return readFileSync(m[2]!, 'utf8') === m[1] && alive(Number(m[1]));
  } catch {
    return false;
  }
}

/** The pids that hold slots now (for a waiting message). */
export function slotOwners(dir = SLOT_DIR): number[] {
  const owners: number[] = [];
  for (let i = 0; i < slotCount(); i++)
    try {
      owners.push(Number(readFileSync(join(dir, `slot-${i}`), 'utf8')));
    } catch {
      // free
    }
  return owners;
}

/**
 * Waits (bounded by `maxWaitMs`, polling) for a free slot and returns its release function.
 * Several guests of one process each take their own slot. When an ancestor holds a slot for this
 * process (HELD_ENV, see the header), that slot is used at once and released by its holder.
 */
export async function acquireGuestSlot(
  maxWaitMs = 20 * 60_000,
  dir = SLOT_DIR,
  held = process.env[HELD_ENV],
): Promise<() => void> {
  if (heldByAncestor(held)) return () => {};
  return (await claim(maxWaitMs, dir)).release;
}

/** Polls for a free slot until `maxWaitMs`; its path and release function. */
async function claim(maxWaitMs: number, dir: string): Promise<{ path: string; release: () => void }> {
  mkdirSync(dir, { recursive: true });
  const slots = slotCount();
  const started = Date.now();
  for (;;) {
    for (let i = 0; i < slots; i++) {
      const path = join(dir, `slot-${i}`);
      if (tryClaim(path))
        return {
          path,
          release: () => {
            try {
              unlinkSync(path);
            } catch {
              // already reclaimed
            }
          },
        };
    }
    const waited = Date.now() - started;
    if (waited >= maxWaitMs) throw new GuestBusyError(waited, slots);
    await sleep(Math.min(500, maxWaitMs - waited));
  }
}

/**
 * For the test runner: claims a slot, waiting up to `maxWaitMs` (default 4 h) and calling
 * `waiting` every `everyMs` while others hold them; returns the HELD_ENV value for its children
 * and the release function.
 */
export async function holdGuestSlot(
  waiting: (waitedMs: number, owners: number[]) => void,
  { everyMs = 60_000, maxWaitMs = 4 * 3_600_000, dir = SLOT_DIR } = {},
): Promise<{ readonly env: string; readonly release: () => void }> {
  const started = Date.now();
  const timer = setInterval(() => waiting(Date.now() - started, slotOwners(dir)), everyMs);
  try {
    const { path, release } = await claim(maxWaitMs, dir);
    return { env: `${process.pid}:${path}`, release };
  } finally {
    clearInterval(timer);
  }
}
