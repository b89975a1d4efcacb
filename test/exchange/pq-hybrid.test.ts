// RFC 9370 additional key exchanges through RFC 9242 IKE_INTERMEDIATE, two engines in one process:
// X25519 + ML-KEM-768, ECP-384 + ML-KEM-1024 fragmented, ML-KEM alone in IKE_SA_INIT, the default-style
// hybrid-or-classic proposal against a classic-only peer, and `keN_none` optional slots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, ExchangeType, NotifyType, type IkeMessage } from '../../src/codec/index.ts';
import { DhGroup } from '../../src/codec/iana.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import { established, pair } from './harness.ts';

const ike = (...s: string[]) => ({ ikeProposals: parseProposals(s, 'ike') });
const X25519 = DhGroup.CURVE25519;
const MLKEM768 = DhGroup.ML_KEM_768;
const MLKEM1024 = DhGroup.ML_KEM_1024;
const ECP384 = DhGroup.ECP_384;

const exchanges = (log: readonly { data: Uint8Array }[]) =>
  log.map((d) => decodeMessage(d.data)).map((m) => [m.header.exchangeType, m.header.messageId] as const);
const hasNotify = (m: IkeMessage, n: number) =>
  m.payloads.some((p) => p.kind === 'NOTIFY' && p.notifyType === n);

for (const initiatorIsA of [true, false]) {
  test(`X25519 + ML-KEM-768: one IKE_INTERMEDIATE, IKE_AUTH with ID 2, child keys agree (${initiatorIsA ? 'A' : 'B'} initiates)`, async (t) => {
    const p = ike('aes256gcm16-prfsha256-x25519-ke1_mlkem768');
    const h = pair({ a: p, b: p });
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = ini.engine.initiate('site');
    await h.settle(0);
    assert.equal(sa.state, 'established');
    const r = established(res)[0]!;
    assert.ok(r);
    assert.deepEqual(sa.keMethods, [X25519, MLKEM768]);
    assert.deepEqual(r.keMethods, [X25519, MLKEM768]);
    const msgs = h.net.log.map((d) => decodeMessage(d.data));
    assert.ok(hasNotify(msgs[0]!, NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED));
    assert.ok(hasNotify(msgs[1]!, NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED));
    assert.deepEqual(exchanges(h.net.log).slice(0, 6), [
      [ExchangeType.IKE_SA_INIT, 0],
      [ExchangeType.IKE_SA_INIT, 0],
      [ExchangeType.IKE_INTERMEDIATE, 1],
      [ExchangeType.IKE_INTERMEDIATE, 1],
      [ExchangeType.IKE_AUTH, 2],
      [ExchangeType.IKE_AUTH, 2],
    ]);
    // The Child SA keys come from the updated SK_d: both kernels got the same keys.
    const key = (s: { aead?: { key: Uint8Array } }) => Buffer.from(s.aead!.key).toString('hex');
    const ka = ini.kernel.installed.map(key).sort();
    const kb = res.kernel.installed.map(key).sort();
    assert.equal(ka.length, 2);
    assert.deepEqual(ka, kb);
  });
}

test('ECP-384 + ML-KEM-1024 with fragmentation: IKE_INTERMEDIATE travels in fragments', async (t) => {
  const p = { ...ike('aes256gcm16-prfsha384-ecp384-ke1_mlkem1024') };
  const opts = { fragmentSize: 1280 };
  const h = pair({ a: p, b: p, optionsA: opts, optionsB: opts });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  assert.deepEqual(sa.keMethods, [ECP384, MLKEM1024]);
  const inter = h.net.log.filter(
    (d) => decodeMessage(d.data).header.exchangeType === ExchangeType.IKE_INTERMEDIATE,
  );
  // ML-KEM-1024: ek 1568 octets, ciphertext 1568 octets: both directions need two fragments.
  assert.ok(inter.length >= 4, `${inter.length} IKE_INTERMEDIATE datagrams`);
  assert.ok(inter.every((d) => d.data.length <= 1280));
  assert.ok(inter.every((d) => decodeMessage(d.data).payloads.at(-1)?.kind === 'SKF'));
  assert.ok(h.a.counters.get('ike.fragments_sent') >= 2 && h.b.counters.get('ike.fragments_sent') >= 2);
  assert.equal(established(h.b).length, 1);
});

test('ML-KEM-768 alone as the IKE_SA_INIT key exchange', async (t) => {
  const p = ike('aes256gcm16-prfsha256-mlkem768');
  const h = pair({ a: p, b: p });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  assert.deepEqual(sa.keMethods, [MLKEM768]);
  assert.ok(!exchanges(h.net.log).some(([x]) => x === ExchangeType.IKE_INTERMEDIATE));
});

test('hybrid-or-classic initiator vs a classic-only responder: classic chosen, no IKE_INTERMEDIATE', async (t) => {
  const h = pair({
    a: ike('aes256gcm16-prfsha256-x25519-ke1_mlkem768', 'aes256gcm16-prfsha256-x25519'),
    b: ike('aes256gcm16-prfsha256-x25519'),
  });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  assert.deepEqual(sa.keMethods, [X25519]);
  assert.equal(sa.proposal?.number, 2);
  assert.ok(!exchanges(h.net.log).some(([x]) => x === ExchangeType.IKE_INTERMEDIATE));
  assert.deepEqual(exchanges(h.net.log)[2], [ExchangeType.IKE_AUTH, 1]);
});

test('hybrid-or-classic both sides: hybrid chosen', async (t) => {
  const p = ike('aes256gcm16-prfsha256-x25519-ke1_mlkem768', 'aes256gcm16-prfsha256-x25519');
  const h = pair({ a: p, b: p });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  assert.deepEqual(sa.keMethods, [X25519, MLKEM768]);
});

test('ke1_none optional slot: a classic responder may leave it out; two slots run two exchanges', async (t) => {
  const h = pair({
    a: ike('aes256gcm16-prfsha256-x25519-ke1_mlkem768-ke1_none'),
    b: ike('aes256gcm16-prfsha256-x25519'),
  });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  assert.deepEqual(sa.keMethods, [X25519]);

  const p2 = ike('aes256gcm16-prfsha256-x25519-ke1_mlkem768-ke2_ecp384');
  const h2 = pair({ a: p2, b: p2 });
  t.after(() => h2.close());
  const sa2 = h2.a.engine.initiate('site');
  await h2.settle(0);
  assert.equal(sa2.state, 'established');
  assert.deepEqual(sa2.keMethods, [X25519, MLKEM768, ECP384]);
  assert.deepEqual(
    exchanges(h2.net.log)
      .slice(2, 8)
      .map(([x, id]) => `${x}/${id}`),
    ['43/1', '43/1', '43/2', '43/2', '35/3', '35/3'],
  );
});

test('INVALID_KE_PAYLOAD still works for the first KE of a hybrid proposal', async (t) => {
  const h = pair({
    a: ike('aes256gcm16-prfsha256-ecp256-x25519-ke1_mlkem768'),
    b: ike('aes256gcm16-prfsha256-x25519-ke1_mlkem768'),
  });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  assert.deepEqual(sa.keMethods, [X25519, MLKEM768]);
  assert.equal(h.b.counters.get('ike.invalid_ke_sent'), 1);
});

test('lost IKE_INTERMEDIATE request and response are retransmitted', async (t) => {
  let dropped = 0;
  const p = ike('aes256gcm16-prfsha256-x25519-ke1_mlkem768');
  const h = pair({
    a: p,
    b: p,
    faults: {
      // the first request and the first response of IKE_INTERMEDIATE
      drop: (d) => {
        if (decodeMessage(d.data).header.exchangeType !== ExchangeType.IKE_INTERMEDIATE) return false;
        const n = dropped++;
        return n === 0 || n === 2;
      },
    },
  });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(60_000);
  assert.equal(sa.state, 'established');
  assert.ok(dropped >= 4);
  // the retransmitted request was answered from the responder's cache, with no second key update
  assert.equal(established(h.b)[0]?.intermediateDone, 1);
  assert.deepEqual(sa.keMethods, [X25519, MLKEM768]);
});
