// Every fuzz target, bounded (count and time: it stops early, never fails for the budget): no input
// may throw anything but its module's typed errors, escape a task manager, or grow the responder's
// tables; after the hostile inputs a new IKE SA still establishes (each engine target's check()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTarget } from './lib/runner.ts';
import { TARGETS } from './lib/targets.ts';

/** Per target: a few seconds on a loaded 2-core machine. */
const BUDGET_MS = 2_500;
const MAX_INPUTS = 5_000;

for (const target of TARGETS) {
  test(`fuzz ${target.name}: ${target.description}`, async () => {
    const r = await runTarget(target, { maxInputs: MAX_INPUTS, maxMs: BUDGET_MS, seed: 0x1ce2 });
    console.log(
      `${r.target}: ${r.inputs} inputs, ${Math.round(r.perSecond)}/s, stopped by ${r.stoppedBy}, ${JSON.stringify(r.stats)}`,
    );
    assert.deepEqual(
      r.findings.map((f) => `${f.error}\ninput: ${f.input ?? '-'}`),
      [],
    );
    // The seeds ran unmutated and at least some mutations after them: the target was exercised.
    assert.ok(r.inputs > 10, `only ${r.inputs} inputs`);
  });
}
