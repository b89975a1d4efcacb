// One full key exchange (keygen + encapsulate/respond + decapsulate/finish, both roles in one process)
// per second: ML-KEM-768 through src/crypto/ke-roles.ts on the backend this Node selects (noble on
// Node 20; node:crypto where it has ML-KEM), against X25519 through the same API (node:crypto), and,
// where node:crypto has ML-KEM, both ML-KEM backends. Three alternating rounds; prints each round's
// rate and the spread (max-min)/median. Not part of the tests.
// Run: node --import tsx bench/mlkem.ts [seconds-per-case]
import { DhGroup } from '../src/codec/iana.ts';
import { initiatorKeyShare, responderRespond, type KeRoleOptions } from '../src/crypto/ke-roles.ts';
import { mlKemBackend, nobleBackend } from '../src/crypto/mlkem.ts';

const budgetMs = Number(process.argv[2] ?? 1) * 1000;
const ROUNDS = 3;

/** Complete exchanges per second for about budgetMs (bounded to 1e6 iterations). */
function exchangesPerSec(method: number, opts: KeRoleOptions): number {
  const once = () => {
    const i = initiatorKeyShare(method, opts);
    if (!i.ok) throw new Error(i.message);
    const r = responderRespond(method, i.initiator.share, opts);
    if (!r.ok) throw new Error(r.message);
    const s = i.initiator.finish(r.share);
    if (!s.ok) throw new Error(s.message);
    s.secret.destroy();
    r.secret.destroy();
  };
  for (let w = 0; w < 20; w++) once(); // warm up (JIT)
  const start = performance.now();
  let n = 0;
  while (n < 1e6 && performance.now() - start < budgetMs) {
    once();
    n++;
  }
  return (n * 1000) / (performance.now() - start);
}

const cases: [string, number, KeRoleOptions][] = [
  [`ML-KEM-768 (${mlKemBackend().name})`, DhGroup.ML_KEM_768, {}],
  ['X25519 (node:crypto)', DhGroup.CURVE25519, {}],
];
if (mlKemBackend().name === 'node')
  cases.push(['ML-KEM-768 (noble)', DhGroup.ML_KEM_768, { mlkem: nobleBackend }]);

const results = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, method, opts] of round % 2 === 0 ? cases : [...cases].reverse()) {
    results.get(name)!.push(exchangesPerSec(method, opts));
  }
}

console.log(`Node ${process.versions.node}, ${budgetMs / 1000} s per case, ${ROUNDS} alternating rounds`);
console.log('full key exchanges per second (initiator keygen + responder + initiator finish)');
for (const [name, rates] of results) {
  const sorted = [...rates].sort((a, b) => a - b);
  const median = sorted[1]!;
  const spread = ((sorted[2]! - sorted[0]!) / median) * 100;
  const each = rates.map((r) => r.toFixed(0).padStart(7)).join(' ');
  console.log(
    `${name.padEnd(24)} ${each}   median ${median.toFixed(0).padStart(7)}   spread ${spread.toFixed(1)}%`,
  );
}
