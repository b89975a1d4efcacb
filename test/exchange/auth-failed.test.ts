// RFC 7296 §2.21.2: AUTHENTICATION_FAILED. The responder answers it and keeps no state; the initiator
// receiving it in the IKE_AUTH response deletes the IKE SA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, ExchangeType, IdType, NotifyType } from '../../src/codec/index.ts';
import type { Task } from '../../src/ike/task.ts';
import { notify } from '../../src/ike/wire.ts';
import { established, pair } from './harness.ts';

const wrongPsk = {
  auth: { kind: 'psk' as const, psk: new TextEncoder().encode('not the shared secret at all') },
};

for (const initiatorIsA of [true, false]) {
  const who = initiatorIsA ? 'A' : 'B';
  test(`wrong PSK: AUTHENTICATION_FAILED kills the IKE SA on both sides (${who} initiates)`, async (t) => {
    const h = pair(initiatorIsA ? { a: wrongPsk } : { b: wrongPsk });
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = ini.engine.initiate('site');
    await h.settle(0);
    // "If the responder ... fails to authenticate the initiator, it MUST send AUTHENTICATION_FAILED"
    assert.equal(res.counters.get('ike.auth_failed'), 1);
    assert.equal(sa.state, 'destroyed');
    assert.equal(established(res).length, 0);
    assert.equal(res.engine.sas().length, 0);
    assert.equal(ini.engine.sas().length, 0);
    assert.equal(ini.kernel.saCount + res.kernel.saCount, 0);
    assert.equal(ini.kernel.policyCount + res.kernel.policyCount, 0);
    // The answer is one encrypted message; no detail, no retransmission loop.
    const auth = h.net.log.filter((d) => decodeMessage(d.data).header.exchangeType === ExchangeType.IKE_AUTH);
    assert.equal(auth.length, 2);
    assert.ok(!res.logger.text().includes('not the shared secret'));
  });
}

test('responder rejects an unexpected initiator identity', async (t) => {
  const h = pair({
    a: { localId: { type: IdType.FQDN, data: new TextEncoder().encode('mallory.example') } },
  });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'destroyed');
  assert.equal(h.b.counters.get('ike.auth_failed'), 1);
});

test('initiator rejects a responder proving another identity (AUTH is valid, ID is not wanted)', async (t) => {
  const h = pair({ a: { remoteId: { type: IdType.FQDN, data: new TextEncoder().encode('c.example') } } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'destroyed');
  assert.equal(h.a.kernel.saCount, 0);
});

test('optional IDr: the initiator names the responder identity it wants', async (t) => {
  const h = pair({ a: { sendIdr: true } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
});

// RFC 7296 §2.21.2: "If the error occurs on the initiator, the notification MAY be returned in a
// separate INFORMATIONAL exchange, usually with no other payloads." strongSwan does so when our AUTH
// fails its check after we (the responder) established: the IKE SA and its Child SAs must go.
test('AUTHENTICATION_FAILED in an INFORMATIONAL after IKE_AUTH: the responder deletes the IKE SA', async (t) => {
  const h = pair();
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const [ini, res] = [established(h.a)[0]!, established(h.b)[0]!];
  assert.equal(h.b.kernel.saCount, 2);
  const refuse: Task = {
    name: 'auth-failed-notify',
    exchange: ExchangeType.INFORMATIONAL,
    build: (msg) => msg.add(notify(NotifyType.AUTHENTICATION_FAILED)),
    process: () => undefined,
  };
  ini.tasks.queue(refuse);
  ini.services.run(ini, () => ini.tasks.initiate());
  await h.settle(0);
  assert.equal(res.state, 'destroyed');
  assert.equal(established(h.b).length, 0);
  assert.equal(h.b.kernel.saCount, 0);
  assert.equal(h.b.kernel.policyCount, 0);
  assert.equal(h.b.counters.get('ike.auth_failed'), 1);
  assert.match(h.b.logger.text(), /peer failed to authenticate us \(AUTHENTICATION_FAILED\): IKE SA deleted/);
});

test('another error notify in an INFORMATIONAL is logged and changes nothing', async (t) => {
  const h = pair();
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const [ini, res] = [established(h.a)[0]!, established(h.b)[0]!];
  const other: Task = {
    name: 'other-error-notify',
    exchange: ExchangeType.INFORMATIONAL,
    build: (msg) => msg.add(notify(NotifyType.INVALID_SYNTAX)),
    process: () => undefined,
  };
  ini.tasks.queue(other);
  ini.services.run(ini, () => ini.tasks.initiate());
  await h.settle(0);
  assert.equal(res.state, 'established');
  assert.equal(h.b.kernel.saCount, 2);
  assert.match(h.b.logger.text(), /peer reported an error in INFORMATIONAL/);
});
