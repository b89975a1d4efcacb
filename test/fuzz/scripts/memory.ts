// Run with --expose-gc: feeds rounds of hostile inputs to the engine targets and prints heapUsed
// after a full GC at the end of each round, as one JSON line (read by test/fuzz/memory.test.ts).
import { runTarget } from '../lib/runner.ts';
import { targetByName } from '../lib/targets.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const rounds = Number(process.argv[2] ?? 4);
const perRound = Number(process.argv[3] ?? 400);
const out: { target: string; heapMb: number[]; findings: number }[] = [];
for (const name of ['engine-outer', 'engine-informational', 'engine-fragments']) {
  const heapMb: number[] = [];
  let findings = 0;
  for (let r = 0; r < rounds; r++) {
    const res = await runTarget(targetByName(name)!, { maxInputs: perRound, maxMs: 20_000, seed: 100 + r });
    findings += res.findings.length;
    gc();
    gc();
    heapMb.push(process.memoryUsage().heapUsed / 2 ** 20);
  }
  out.push({ target: name, heapMb, findings });
}
console.log(JSON.stringify(out));
