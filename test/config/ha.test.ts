// The ha: section (docs/ha.md): built with defaults; each bad value reported at its key with a
// precise message; the sync key never printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { doc, ENV, ok, problems, where } from './helpers.ts';

const KEY = 'a-sync-key-of-thirty-two-bytes-00';
const ha = (body: string) =>
  doc(
    '',
    `ha:
${body}
`,
  );
const base = `  node-id: 1
  local: 10.0.0.1
  peer: 10.0.0.2
  sync-key: { env: HA_KEY }`;
const env = { ...ENV, HA_KEY: KEY };

test('an ha: section is built with its defaults', () => {
  const { config } = ok(ha(base), { env });
  const h = config.ha!;
  assert.equal(h.nodeId, 1);
  assert.equal(h.priority, 100);
  assert.equal(h.role, 'standby');
  assert.equal(h.port, 4510);
  assert.equal(h.heartbeatMs, 1000);
  assert.equal(h.seqReportMs, 1000);
  assert.equal(h.maxPacketRate, 1_000_000);
  assert.equal(h.peer.address, '10.0.0.2');
  assert.equal(Buffer.from(h.syncKey.bytes()).toString(), KEY);
  assert.equal(ok(doc(), { env: ENV }).config.ha, undefined, 'absent: a single node');
});

test('bad ha: values are reported at their keys', () => {
  assert.deepEqual(where(problems(ha(base.replace('10.0.0.2', '10.0.0.1')), { env })), [
    '4:9 E_CONFLICT ha.peer',
  ]);
  assert.deepEqual(where(problems(ha(`${base}\n  port: 500`), { env })), ['6:9 E_CONFLICT ha.port']);
  assert.deepEqual(where(problems(ha(base.replace('node-id: 1', 'node-id: 0')), { env })), [
    '2:12 E_VALUE ha.node-id',
  ]);
  assert.deepEqual(where(problems(ha(`${base}\n  role: master`), { env })), ['6:9 E_VALUE ha.role']);
  const missing = problems(ha(base.replace('  node-id: 1\n', '')), { env });
  assert.deepEqual(where(missing), ['2:3 E_MISSING_KEY ha']);
  assert.match(missing[0]!.message, /node-id/);
  const family = problems(ha(base.replace('10.0.0.2', '2001:db8::2')), { env });
  assert.deepEqual(where(family), ['4:9 E_CONFLICT ha.peer']);
});

test('a short or missing sync key is refused without printing it', () => {
  const short = problems(ha(base), { env: { ...ENV, HA_KEY: 'short-key' } });
  assert.deepEqual(where(short), ['5:13 E_SECRET ha.sync-key', '5:20 W_WEAK ha.sync-key.env']);
  assert.match(short[0]!.message, /9 bytes; at least 16/);
  assert.ok(!JSON.stringify(short).includes('short-key'));
  const unset = problems(ha(base), { env: ENV });
  assert.deepEqual(where(unset), ['5:20 E_SECRET ha.sync-key.env']);
  const inline = problems(ha(base.replace('{ env: HA_KEY }', KEY)), { env });
  assert.equal(inline[0]?.code, 'E_SECRET');
  assert.ok(!JSON.stringify(inline).includes(KEY));
});
