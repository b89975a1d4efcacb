// Summary of a V8 .cpuprofile (node --cpu-prof): the top functions by self and by inclusive time, as
// percent of busy (non-idle) samples. Used by bench/profile.ts and bench/profile-guest.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: Node[];
  startTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Sample counts per node id, only of samples taken within [from, to] (CLOCK_MONOTONIC, us). */
function windowCounts(prof: Profile, from: number, to: number): Map<number, number> {
  const counts = new Map<number, number>();
  let t = prof.startTime;
  (prof.samples ?? []).forEach((id, i) => {
    t += prof.timeDeltas?.[i] ?? 0;
    if (t >= from && t <= to) counts.set(id, (counts.get(id) ?? 0) + 1);
  });
  return counts;
}

/**
 * Prints the top functions by self and inclusive time of the .cpuprofile in dir; with `window`
 * (CLOCK_MONOTONIC microseconds, the clock V8 stamps samples with), only the samples inside it.
 */
export function cpuSummary(dir: string, window?: readonly [number, number]): void {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile in ${dir}`);
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const inWindow = window ? windowCounts(prof, window[0], window[1]) : undefined;
  const key = (nd: Node) =>
    `${nd.callFrame.functionName || '(anon)'} ${nd.callFrame.url.split('/').slice(-2).join('/')}:${nd.callFrame.lineNumber}`;
  const byId = new Map(prof.nodes.map((nd) => [nd.id, nd]));
  const parent = new Map<number, number>();
  for (const nd of prof.nodes) for (const c of nd.children ?? []) parent.set(c, nd.id);
  const self = new Map<string, number>();
  // Inclusive: samples under a function anywhere on the stack (counted once per stack).
  const incl = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const nd of prof.nodes) {
    const hits = inWindow ? (inWindow.get(nd.id) ?? 0) : (nd.hitCount ?? 0);
    self.set(key(nd), (self.get(key(nd)) ?? 0) + hits);
    total += hits;
    if (nd.callFrame.functionName === '(idle)') idle += hits;
    const seen = new Set<string>();
    for (let id: number | undefined = nd.id; id !== undefined; id = parent.get(id)) {
      const k = key(byId.get(id)!);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + hits);
    }
  }
  const busy = Math.max(1, total - idle);
  const top = (m: Map<string, number>, count: number) => {
    const shown = [...m].filter(([k]) => !k.startsWith('(root)') && !k.startsWith('(idle)'));
    for (const [k, v] of shown.sort((a, b) => b[1] - a[1]).slice(0, count))
      console.log(`${((v * 100) / busy).toFixed(1).padStart(5)}%  ${k}`);
  };
  console.log(
    `busy ${((busy * 100) / Math.max(1, total)).toFixed(1)}% of ${total} samples${window ? ' in the window' : ''}; percentages are of busy samples`,
  );
  console.log('-- self time');
  top(self, 40);
  console.log('-- inclusive time');
  top(incl, 40);
  console.log(`profile: ${join(dir, file)} (bundle: ${join(dir, 'ikeway.mjs')})`);
}
