// RFC 8019 puzzle cost: mean time (and PRF calls) for an initiator to solve one IKE_SA_INIT puzzle
// (four keys, §7.1.3) at difficulties 8..20, and the responder's cost to check one solution. Bounded: at most `runs`
// puzzles per difficulty and about `budgetMs` per difficulty.
//   node --import tsx bench/puzzle-cost.ts [prfId=5] [budgetMs=3000]
import { randomBytes } from 'node:crypto';
import { solvePuzzle, verifyPuzzle } from '../src/crypto/index.ts';

const prf = Number(process.argv[2] ?? 5);
const budgetMs = Number(process.argv[3] ?? 3000);
const rnd = (n: number) => new Uint8Array(randomBytes(n));
console.log(`PRF ${prf}; per difficulty: puzzles solved, mean PRF calls, mean ms per puzzle`);
for (let d = 8; d <= 20; d++) {
  let n = 0;
  let tries = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  let last: { data: Uint8Array; cookie: Uint8Array } | undefined;
  while (n < 200 && (elapsed < budgetMs || n < 2)) {
    const cookie = rnd(36);
    const s = solvePuzzle(prf, d, cookie);
    if (!s) throw new Error(`difficulty ${d} not solved`);
    n++;
    tries += s.tries;
    last = { data: s.data, cookie };
    elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  console.log(
    `d=${String(d).padStart(2)}  n=${String(n).padStart(3)}  calls=${Math.round(tries / n)
      .toString()
      .padStart(8)}  ms/puzzle=${(elapsed / n).toFixed(1).padStart(8)}`,
  );
  if (d === 20 && last) {
    const v0 = process.hrtime.bigint();
    for (let i = 0; i < 10_000; i++) verifyPuzzle(prf, d, last.data, last.cookie);
    console.log(`verify: ${(Number(process.hrtime.bigint() - v0) / 1e3 / 10_000).toFixed(2)} µs per check`);
  }
}
