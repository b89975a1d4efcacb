// RFC 7296 §1.2 / §3.10.1: INVALID_KE_PAYLOAD and the initiator's retry with the wanted group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, DhGroup, encodeMessage, HeaderFlag, NotifyType } from '../../src/codec/index.ts';
import { notify } from '../../src/ike/wire.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import { ADDR_A, ADDR_B, established, pair } from './harness.ts';

for (const initiatorIsA of [true, false]) {
  test(`INVALID_KE_PAYLOAD retry (${initiatorIsA ? 'A' : 'B'} initiates)`, async (t) => {
    const offers = parseProposals('aes256gcm16-prfsha256-x25519-ecp256', 'ike');
    const wants = parseProposals('aes256gcm16-prfsha256-ecp256', 'ike');
    const h = initiatorIsA
      ? pair({ a: { ikeProposals: offers }, b: { ikeProposals: wants } })
      : pair({ b: { ikeProposals: offers }, a: { ikeProposals: wants } });
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = ini.engine.initiate('site');
    await h.settle(0);

    const msgs = h.net.log.map((d) => decodeMessage(d.data));
    // "If the responder selects a proposal using a different Diffie-Hellman group ... the responder
    // will indicate the correct group in the response and the initiator SHOULD pick an element of
    // that group for its KE value when retrying the first message."
    const first = msgs[0]!.payloads.find((p) => p.kind === 'KE');
    assert.equal(first?.kind === 'KE' && first.group, DhGroup.CURVE25519);
    const answer = msgs[1]!.payloads[0];
    assert.equal(answer?.kind === 'NOTIFY' && answer.notifyType, NotifyType.INVALID_KE_PAYLOAD);
    assert.deepEqual(answer?.kind === 'NOTIFY' && [...answer.data], [0, DhGroup.ECP_256]);
    const retry = msgs[2]!;
    assert.equal(retry.header.messageId, 0); // the retry is again message 0
    assert.deepEqual(retry.header.spiI, msgs[0]!.header.spiI);
    const ke = retry.payloads.find((p) => p.kind === 'KE');
    assert.equal(ke?.kind === 'KE' && ke.group, DhGroup.ECP_256);
    assert.equal(res.counters.get('ike.invalid_ke_sent'), 1);
    assert.equal(sa.state, 'established');
    assert.equal(established(res).length, 1);
    assert.equal(sa.keGroup, DhGroup.ECP_256);
    assert.equal(sa.children.length, 1);
    // The responder kept no state for the refused request (only the final SA lives).
    assert.equal(res.engine.sas().length, 1);
  });
}

test('INVALID_KE_PAYLOAD naming a group we never offered fails the IKE SA', async (t) => {
  const h = pair({
    a: { ikeProposals: parseProposals('aes256gcm16-prfsha256-x25519', 'ike') },
    b: { ikeProposals: parseProposals('aes256gcm16-prfsha256-x25519', 'ike') },
  });
  t.after(() => h.close());
  const failures: string[] = [];
  h.a.engine.onEvent((e) => e.type === 'ike-failed' && failures.push(e.reason));
  // Answer A's first request as a responder wanting MODP-2048 (14), which A did not offer.
  h.net.faults = { drop: (d) => d.srcAddr === h.b.conn.localAddr };
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const req = decodeMessage(h.net.log[0]!.data);
  const reply = encodeMessage({
    header: { ...req.header, flags: HeaderFlag.RESPONSE },
    payloads: [notify(NotifyType.INVALID_KE_PAYLOAD, Uint8Array.of(0, 14))],
  });
  h.net.faults = {};
  h.net.inject(reply, { localAddr: ADDR_A, localPort: 500, remoteAddr: ADDR_B, remotePort: 500 });
  await h.settle(0);
  assert.equal(sa.state, 'destroyed');
  assert.equal(failures.length, 1);
  assert.match(failures[0]!, /group 14/);
});

test('INVALID_KE_PAYLOAD is a normal step: info with the group on both sides, no warning', async (t) => {
  const offers = parseProposals('aes256gcm16-prfsha256-x25519-ecp256', 'ike');
  const wants = parseProposals('aes256gcm16-prfsha256-ecp256', 'ike');
  const h = pair({ a: { ikeProposals: offers }, b: { ikeProposals: wants } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(established(h.a).length, 1);
  for (const p of [h.a, h.b]) {
    const warns = p.logger.entries.filter((e) => e.level === 'warn' || e.level === 'error');
    assert.deepEqual(
      warns.map((e) => e.message),
      [],
      `${p.name}: nothing at warn`,
    );
  }
  const asked = h.b.logger.entries.find((e) => e.message.includes('another key exchange group'));
  assert.equal(asked?.level, 'info');
  assert.equal(asked?.fields['group'], DhGroup.ECP_256);
  const retried = h.a.logger.entries.find((e) => e.message === 'INVALID_KE_PAYLOAD, retrying');
  assert.equal(retried?.level, 'info');
  assert.equal(retried?.fields['group'], DhGroup.ECP_256);
  assert.equal(h.b.counters.get('ike.sa_failed') ?? 0, 0, 'the responder counts no failure');
});
