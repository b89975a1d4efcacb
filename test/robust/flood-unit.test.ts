// The flood generator's pieces (lab/robust/flood.ts), without a network: the crafted request is a
// valid IKE_SA_INIT (RFC 7296 §1.2: HDR, SAi1, KEi, Ni), no two requests share SPI, KE or nonce,
// replies are told apart, and bad options are refused with LabError before any socket opens.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExchangeType, HeaderFlag, NotifyType, decodeMessage, encodeMessage } from '../../src/codec/index.ts';
import {
  classifyReply,
  floodSources,
  floodTemplate,
  freshRequest,
  runFlood,
} from '../../lab/robust/flood.ts';
import { LabError } from '../../lab/errors.ts';

test('a crafted request decodes as an IKE_SA_INIT request with SA, KE and Nonce', () => {
  const m = decodeMessage(freshRequest(floodTemplate()));
  assert.equal(m.header.exchangeType, ExchangeType.IKE_SA_INIT);
  assert.equal(m.header.flags & HeaderFlag.INITIATOR, HeaderFlag.INITIATOR);
  assert.equal(m.header.messageId, 0);
  assert.deepEqual(
    m.payloads.map((p) => p.kind),
    ['SA', 'KE', 'NONCE'],
  );
});

test('each request has its own SPIi, KE data and nonce', () => {
  const t = floodTemplate();
  const [a, b] = [decodeMessage(freshRequest(t)), decodeMessage(freshRequest(t))];
  assert.notDeepEqual(a.header.spiI, b.header.spiI);
  const field = (m: typeof a, k: 'KE' | 'NONCE') => {
    const p = m.payloads.find((x) => x.kind === k);
    return p && 'data' in p ? p.data : undefined;
  };
  assert.notDeepEqual(field(a, 'KE'), field(b, 'KE'));
  assert.notDeepEqual(field(a, 'NONCE'), field(b, 'NONCE'));
  assert.equal(field(a, 'NONCE')?.length, 32);
});

test('replies: COOKIE, full response, anything else', () => {
  const header = {
    spiI: new Uint8Array(8).fill(7),
    spiR: new Uint8Array(8),
    exchangeType: ExchangeType.IKE_SA_INIT,
    flags: HeaderFlag.RESPONSE,
    messageId: 0,
  };
  const cookie = encodeMessage({
    header,
    payloads: [
      {
        kind: 'NOTIFY',
        flags: 0,
        protocolId: 0,
        notifyType: NotifyType.COOKIE,
        spi: new Uint8Array(0),
        data: new Uint8Array(16),
      },
    ],
  });
  assert.equal(classifyReply(cookie), 'cookie');
  const full = decodeMessage(floodTemplate().bytes);
  assert.equal(classifyReply(encodeMessage({ header, payloads: full.payloads })), 'sa-init');
  assert.equal(classifyReply(new Uint8Array([1, 2, 3])), 'other');
});

test('sources cycle over the given /24s; bad input is a LabError before any socket', async () => {
  assert.deepEqual(floodSources(['198.51.100.0/24', '203.0.113.0/24'], 3), [
    '198.51.100.1',
    '203.0.113.1',
    '198.51.100.2',
  ]);
  assert.equal(floodSources(['198.51.100.0/24'], 1000).length, 254);
  assert.throws(() => floodSources(['198.51.100.0/25'], 1), LabError);
  const base = { target: '192.0.2.1', sources: ['198.51.100.1'], rate: 10, durationMs: 100 };
  for (const bad of [
    { target: 'nowhere' },
    { sources: [] },
    { sources: ['2001:db8::1'] },
    { rate: 0 },
    { rate: 1e9 },
    { durationMs: 3_600_000 },
  ])
    await assert.rejects(
      runFlood({ ...base, ...bad }),
      (e: unknown) => e instanceof LabError && e.code === 'LAB_TOPOLOGY',
    );
});
