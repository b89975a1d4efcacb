// The explanation (pure): verdicts from the matched policy and SA dump, owners named from the owner
// index, a down tunnel's time and last failure from the connection view.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionView, explainFlow, ownerIndex } from '../../src/daemon/explain.ts';
import { parseFlow } from '../../src/kernel/spd-match.ts';
import type { PolicyInfo, PolicyParams, SaInfo } from '../../src/kernel/types.ts';

const cur = { bytes: 0n, packets: 0n, addTime: 0, useTime: 0 };
const info = (p: PolicyParams, index: number): PolicyInfo => ({ ...p, index, current: cur });
const block: PolicyParams = {
  selector: { src: '10.1.0.0/24', dst: '10.9.0.0/24' },
  dir: 'out',
  action: 'block',
  priority: 2000,
  templates: [],
};
const trap: PolicyParams = {
  selector: { src: '10.1.0.0/24', dst: '10.2.0.0/24' },
  dir: 'out',
  action: 'allow',
  priority: 2000,
  templates: [{ src: '192.0.2.1', dst: '192.0.2.2', proto: 'esp', mode: 'tunnel', reqid: 65536 }],
};
const child: PolicyParams = { ...trap, priority: 1000 };
const bypass: PolicyParams = {
  selector: { src: '192.0.2.1/32', dst: '0.0.0.0/0', proto: 17, sport: 500 },
  dir: 'out',
  action: 'allow',
  priority: 1,
  templates: [],
};
const sa: SaInfo = {
  src: '192.0.2.1',
  dst: '192.0.2.2',
  spi: 0xc0001234,
  proto: 'esp',
  mode: 'tunnel',
  reqid: 65536,
  selector: undefined,
  algorithms: {},
  current: { ...cur, bytes: 420n, packets: 5n },
  stats: { replayWindow: 32, replay: 0, integrityFailed: 0 },
};

const T0 = Date.parse('2026-12-06T10:00:00Z');
const conns = {
  road: connectionView({
    name: 'road',
    up: false,
    lastDownMs: T0,
    startedMs: T0 - 5000,
    lastFailure: { atMs: T0 + 1000, reason: 'no response after 3 tries' },
  }),
  site: connectionView({
    name: 'site',
    up: true,
    lastDownMs: undefined,
    startedMs: T0,
    lastFailure: undefined,
  }),
};
const owners = ownerIndex({
  failClosed: [
    { connection: 'road', policies: [block] },
    { connection: 'site', policies: [trap] },
  ],
  children: [],
  bypass: [bypass],
});
const run = (
  policies: PolicyInfo[],
  sas: SaInfo[],
  src: string,
  dst: string,
  proto?: string,
  port?: string,
) =>
  explainFlow({
    flow: parseFlow({ src, dst, ...(proto ? { proto } : {}), ...(port ? { port } : {}) }),
    dir: 'out',
    policies,
    sas,
    ownerOf: owners,
    connection: (n) => conns[n as keyof typeof conns],
  });

test('fail-closed block: dropped, names the connection, down since when and the last failure', () => {
  const e = run([info(block, 8), info(trap, 16)], [], '10.1.0.5', '10.9.0.7', 'udp', '53');
  assert.equal(e.verdict, 'dropped');
  assert.equal(e.owner?.kind, 'fail-closed');
  assert.equal(e.owner?.connection, 'road');
  assert.equal(e.connection?.downSince, '2026-12-06T10:00:00.000Z');
  assert.deepEqual(e.connection?.lastFailure, {
    at: '2026-12-06T10:00:01.000Z',
    reason: 'no response after 3 tries',
  });
  assert.match(e.summary, /dropped by the block policy #8 \(fail-closed policy of connection road\)/);
  assert.match(e.summary, /down, since 2026-12-06T10:00:00\.000Z, last failure .*no response after 3 tries/);
});

test('trap without SA: dropped while the kernel asks for one; with the SA: protected by it', () => {
  const down = run([info(trap, 16)], [], '10.1.0.5', '10.2.0.7');
  assert.equal(down.verdict, 'dropped');
  assert.match(down.summary, /requires an ESP SA \(tunnel, reqid 65536 to 192\.0\.2\.2\).*ACQUIRE/);
  assert.deepEqual(down.sas, [null]);
  // The Child SA's policy (priority 1000) and its SA: protected.
  const up = run([info(trap, 16), info(child, 24)], [sa], '10.1.0.5', '10.2.0.7');
  assert.equal(up.verdict, 'protected');
  assert.equal(up.policy?.index, 24);
  assert.equal(up.shadowed.length, 1);
  assert.equal(up.sas?.[0]?.spi, '0xc0001234');
  assert.equal(up.sas?.[0]?.bytes, 420);
  assert.match(up.summary, /carried by ESP SA 0xc0001234 192\.0\.2\.1 -> 192\.0\.2\.2/);
});

test('no policy: clear; an allow policy without templates: bypass; a policy nobody of ours made: foreign', () => {
  const clear = run([info(block, 8), info(trap, 16)], [], '10.1.0.5', '198.51.100.1');
  assert.equal(clear.verdict, 'clear');
  assert.equal(clear.policy, undefined);
  assert.match(clear.summary, /no out policy matches: the kernel sends it in clear/);
  const ike = run([info(bypass, 32)], [], '192.0.2.1', '192.0.2.2', 'udp');
  assert.equal(ike.verdict, 'clear', 'sport 0 (unknown) does not match the sport 500 selector');
  const ike500 = explainFlow({
    flow: parseFlow({ src: '192.0.2.1', dst: '192.0.2.2', proto: 'udp', sport: 500, port: 500 }),
    dir: 'out',
    policies: [info(bypass, 32)],
    sas: [],
    ownerOf: owners,
    connection: () => undefined,
  });
  assert.equal(ike500.verdict, 'bypass');
  assert.equal(ike500.owner?.kind, 'ike-bypass');
  const foreign = run(
    [info({ ...block, selector: { src: '0.0.0.0/0', dst: '203.0.113.0/24' } }, 40)],
    [],
    '10.0.0.1',
    '203.0.113.9',
  );
  assert.equal(foreign.verdict, 'dropped');
  assert.equal(foreign.owner?.kind, 'foreign');
  assert.match(foreign.summary, /not installed by ikeway/);
});
