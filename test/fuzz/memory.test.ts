// Memory does not grow without bound under hostile input: rounds of fuzz inputs to the engine, heap
// measured after a full GC (a child process with --expose-gc). The SA tables are bounded by each
// target's check(); here the heap must level off: the last round may not sit far above the first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./scripts/memory.ts', import.meta.url));

test('heap after GC stays level across rounds of hostile inputs (engine targets)', () => {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', SCRIPT, '4', '300'], {
    encoding: 'utf8',
    timeout: 240_000,
  });
  const res = JSON.parse(out.trim().split('\n').at(-1)!) as {
    target: string;
    heapMb: number[];
    findings: number;
  }[];
  console.log(res.map((r) => `${r.target}: ${r.heapMb.map((m) => m.toFixed(1)).join(' -> ')} MB`).join('; '));
  for (const r of res) {
    assert.equal(r.findings, 0, r.target);
    assert.equal(r.heapMb.length, 4);
    // Growth from round 2 to round 4 (round 1 warms up caches and code) bounded by 8 MB.
    assert.ok(r.heapMb[3]! - r.heapMb[1]! < 8, `${r.target}: ${r.heapMb.join(', ')} MB`);
  }
});
