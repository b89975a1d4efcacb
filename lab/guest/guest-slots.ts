// Machine-wide limit on concurrent TCG guests. One guest with -smp 2 already keeps two host cores
// busy; several at once (parallel test files, several engineers' `npm test`) only slow each other
// until their time bounds fire. Slots are lock files created with O_EXCL that hold the owner's
// pid; a slot whose owner is gone is reclaimed.
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

/**
 * Waits (bounded by `maxWaitMs`, polling) for a free slot and returns its release function.
 * Several guests of one process each take their own slot.
 */
export async function acquireGuestSlot(maxWaitMs = 20 * 60_000, dir = SLOT_DIR): Promise<() => void> {
  mkdirSync(dir, { recursive: true });
  const slots = slotCount();
  const started = Date.now();
  for (;;) {
    for (let i = 0; i < slots; i++) {
      const p = join(dir, `slot-${i}`);
      if (tryClaim(p))
        return () => {
          try {
            unlinkSync(p);
          } catch {
            // already reclaimed
          }
        };
    }
    const waited = Date.now() - started;
    if (waited >= maxWaitMs) throw new GuestBusyError(waited, slots);
    await sleep(Math.min(500, maxWaitMs - waited));
  }
}
