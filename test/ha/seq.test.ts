// Outbound ESP sequence numbers of a taken-over SA (RFC 4303 §3.3.3: a sequence number is never used
// twice under one key): the jump a standby takes, and the kernel encoding of the initial counter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSa, parseSa } from '../../src/kernel/xfrm/codec.ts';
import type { SaParams } from '../../src/kernel/types.ts';
import { seqStart } from '../../src/ha/restore.ts';
import type { ChildRecord } from '../../src/ha/record.ts';

const sa = (over: Partial<SaParams>): SaParams => ({
  src: '192.0.2.1',
  dst: '192.0.2.2',
  spi: 0x1234,
  proto: 'esp',
  mode: 'tunnel',
  reqid: 1,
  aead: { name: 'rfc4106(gcm(aes))', key: new Uint8Array(36), icvBits: 128 },
  ...over,
});

test('the initial outbound counter survives the XFRM encoding (REPLAY_VAL without ESN, REPLAY_ESN_VAL with)', () => {
  assert.equal(parseSa(buildSa(sa({ oseq: 123_456n })).payload).replay?.oseq, 123_456n);
  const big = (7n << 32n) + 99n;
  assert.equal(parseSa(buildSa(sa({ esn: true, replayWindow: 64, oseq: big })).payload).replay?.oseq, big);
  assert.equal(parseSa(buildSa(sa({})).payload).replay, undefined, 'no attribute without oseq');
  assert.throws(() => buildSa(sa({ oseq: 1n << 32n })), /oseq .* out of range/);
});

const child = (over: Partial<ChildRecord>) => ({ installedAt: 0, ...over }) as ChildRecord;
const P = { maxPacketRate: 100_000, reportMs: 1000 };

test('the jump: reported counter + rate x (report age + report interval)', () => {
  // Reported 5000 at t=10 s; taking over at t=10.5 s: 1.5 s at 100k packets/s at most.
  assert.equal(seqStart(child({ oseq: { value: '5000', at: 10_000 } }), 10_500, P), 5000n + 150_000n + 1n);
  // Never reported: everything the SA could have carried since install (plus one interval).
  assert.equal(seqStart(child({ installedAt: 2000 }), 4000, P), 300_000n + 1n);
});
