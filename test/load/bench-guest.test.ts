// The benchmark's guest-part plumbing (bench/lib/guest.ts): the BENCH-GUEST lines the guest script
// prints become install results, throughput runs and errors; medians and report rows from them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dataplaneRows, parseGuestOutput, throughputByKind } from '../../bench/lib/guest.ts';
import type { ThroughputRun } from '../../bench/lib/dataplane.ts';

const run = (kind: ThroughputRun['kind'], round: number, mbit: number): ThroughputRun => ({
  kind,
  round,
  bitsPerSec: mbit * 1e6,
  bytes: mbit * 1e5,
  ...(kind === 'plain' ? {} : { esp: { outBytes: mbit * 2e5, inBytes: mbit * 2e5, packets: 10 } }),
});

test('parseGuestOutput keeps BENCH-GUEST lines only, in order, with errors', () => {
  const install = { where: 'guest', objects: 4, sas: 2, policies: 2, batched: 10, oneByOne: 5, ipBatch: 8 };
  const text = [
    'noise',
    `BENCH-GUEST ${JSON.stringify({ install })}`,
    `BENCH-GUEST ${JSON.stringify({ throughput: run('plain', 1, 900) })}`,
    `BENCH-GUEST ${JSON.stringify({ error: { part: 'throughput charon round 1', message: 'boom' } })}`,
    `BENCH-GUEST ${JSON.stringify({ throughput: run('ikeway', 1, 300) })}`,
    'BENCH-JSON {"not":"ours"}',
  ].join('\n');
  const p = parseGuestOutput(text);
  assert.deepEqual(p.install, install);
  assert.deepEqual(
    p.runs.map((r) => r.kind),
    ['plain', 'ikeway'],
  );
  assert.deepEqual(p.errors, [{ part: 'throughput charon round 1', message: 'boom' }]);
  assert.deepEqual(parseGuestOutput('nothing here'), { runs: [], errors: [] });
});

test('throughputByKind: medians per path in Mbit/s; rows put plain in the second column', () => {
  const runs = [run('ikeway', 1, 300), run('ikeway', 2, 500), run('ikeway', 3, 400), run('charon', 1, 350)];
  runs.push(run('plain', 1, 1000), run('plain', 2, 800));
  assert.deepEqual(throughputByKind(runs), { plain: 900, ikeway: 400, charon: 350 });
  const rows = dataplaneRows({ where: 'guest', runs, errors: [], bootMs: 0, wallMs: 0 }, 5);
  assert.equal(rows.length, 2);
  assert.equal(rows[0]!.ikeway, 400);
  assert.equal(rows[0]!.charon, 350);
  assert.equal(rows[1]!.charon, 900);
  assert.match(rows[0]!.section, /TCG: ratios only/);
  assert.equal(throughputByKind([]).ikeway, undefined);
});
