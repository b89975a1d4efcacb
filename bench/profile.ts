// Profiles the ikeway responder under the benchmark's load: IKEWAY_BENCH_PROF is set, N IKE SAs are
// set up, the daemon stops (writing its .cpuprofile) and the top functions by self time are printed.
// Usage: node --import tsx bench/profile.ts [N]
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_PSK, runLoadIn } from './lib/ike.ts';
import { BenchNet } from './lib/netlab.ts';
import { startIkeway } from './lib/responders.ts';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
const n = Number(process.argv[2] ?? 3000);
const dir = mkdtempSync(join(tmpdir(), 'ikw-prof-'));
process.env.IKEWAY_BENCH_PROF = dir;
const auth = { psk: BENCH_PSK, localId: 'responder.ikeway.test' };
const net = new BenchNet();
try {
  const r = await startIkeway(net.responder, auth);
  const rep = await runLoadIn(net, n, 64, auth);
  console.log(`established ${rep.established}/${n}`);
  await r.stop();
} finally {
  net.close();
}
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no profile in ${dir}`);
const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Node[] };
const self = new Map<string, number>();
let total = 0;
for (const nd of prof.nodes) {
  const k = `${nd.callFrame.functionName || '(anon)'} ${nd.callFrame.url.split('/').slice(-2).join('/')}:${nd.callFrame.lineNumber}`;
  self.set(k, (self.get(k) ?? 0) + (nd.hitCount ?? 0));
  total += nd.hitCount ?? 0;
}
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40))
  console.log(`${((v * 100) / total).toFixed(1).padStart(5)}%  ${k}`);
console.log(`profile: ${join(dir, file)}`);
