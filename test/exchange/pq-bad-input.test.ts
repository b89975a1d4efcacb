// Bad input around RFC 9370 / RFC 9242: a KE of the wrong length (IKE_SA_INIT and IKE_INTERMEDIATE), a
// KE of a method the proposal did not negotiate, an IKE_INTERMEDIATE the proposal did not include,
// IKE_AUTH before the additional exchange, and a replayed IKE_INTERMEDIATE. Each is refused with
// INVALID_SYNTAX (or dropped), counted, and leaves no state at the responder.
// The misbehaving initiator is made by wrapping the build() of one task on the initiating engine only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, ExchangeType, NotifyType, type KePayload } from '../../src/codec/index.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import type { OutboundMessage } from '../../src/ike/task.ts';
import { defaultInitiators } from '../../src/ike/tasks/index.ts';
import { IkeInit } from '../../src/ike/tasks/ike-init.ts';
import { IkeIntermediate } from '../../src/ike/tasks/ike-intermediate.ts';
import { ADDR_A, ADDR_B, established, pair } from './harness.ts';

const ike = (...s: string[]) => ({ ikeProposals: parseProposals(s, 'ike') });
const HYBRID = ike('aes256gcm16-prfsha256-x25519-ke1_mlkem768');

type Proto = { build(msg: OutboundMessage): void | Promise<void>; sa?: { initiator: boolean } };

/** Wraps `proto.build` for initiator SAs: `mutate` edits the payloads before they are sent. */
function tamper(t: { after(fn: () => void): void }, proto: Proto, mutate: (msg: OutboundMessage) => void) {
  const orig = proto.build;
  proto.build = async function (this: Proto, msg: OutboundMessage) {
    await orig.call(this, msg);
    if ((this as unknown as { sa: { initiator: boolean } }).sa.initiator) mutate(msg);
  };
  t.after(() => {
    proto.build = orig;
  });
}

function replaceKe(msg: OutboundMessage, f: (ke: KePayload) => KePayload) {
  const i = msg.payloads.findIndex((p) => p.kind === 'KE');
  msg.payloads[i] = f(msg.payloads[i] as KePayload);
}

/** The notifies of the responses the responder sent for `exchange`. */
function answers(h: ReturnType<typeof pair>, exchange: number): number[] {
  return h.net.log
    .filter((d) => d.srcAddr === ADDR_B)
    .map((d) => decodeMessage(d.data))
    .filter((m) => m.header.exchangeType === exchange)
    .map((m) => m.payloads.length);
}

test('IKE_INTERMEDIATE KE of the wrong length: INVALID_SYNTAX, counted, no state', async (t) => {
  tamper(t, IkeIntermediate.prototype as unknown as Proto, (msg) =>
    replaceKe(msg, (ke) => ({ ...ke, data: ke.data.subarray(0, 1000) })),
  );
  const h = pair({ a: HYBRID, b: HYBRID });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(h.b.counters.get('ike.intermediate_bad_ke'), 1);
  assert.equal(h.b.counters.get('ike.error_notify_sent'), 1);
  assert.equal(h.b.engine.sas().length, 0); // the half-open SA is gone
  assert.equal(sa.state, 'destroyed'); // the initiator got the notify and gave up
  assert.equal(answers(h, ExchangeType.IKE_INTERMEDIATE).length, 1);
  assert.equal(answers(h, ExchangeType.IKE_AUTH).length, 0);
});

test('IKE_INTERMEDIATE KE of a method not negotiated: INVALID_SYNTAX, counted, no state', async (t) => {
  tamper(t, IkeIntermediate.prototype as unknown as Proto, (msg) =>
    replaceKe(msg, (ke) => ({ ...ke, group: 35 })),
  );
  const h = pair({ a: HYBRID, b: HYBRID });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(h.b.counters.get('ike.intermediate_bad_ke'), 1);
  assert.equal(h.b.engine.sas().length, 0);
  assert.equal(sa.state, 'destroyed');
});

test('IKE_SA_INIT ML-KEM share of the wrong length: INVALID_SYNTAX, counted, no state', async (t) => {
  tamper(t, IkeInit.prototype as unknown as Proto, (msg) =>
    replaceKe(msg, (ke) => ({ ...ke, data: ke.data.subarray(1) })),
  );
  const p = ike('aes256gcm16-prfsha256-mlkem768');
  const h = pair({ a: p, b: p });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(h.b.counters.get('ike.bad_ke'), 1);
  assert.equal(h.b.engine.sas().length, 0);
  assert.equal(sa.state, 'destroyed');
  const resp = h.net.log.filter((d) => d.srcAddr === ADDR_B).map((d) => decodeMessage(d.data))[0]!;
  assert.ok(resp.payloads.some((p) => p.kind === 'NOTIFY' && p.notifyType === NotifyType.INVALID_SYNTAX));
});

test('an IKE_INTERMEDIATE the chosen proposal did not include: refused, counted, no state', async (t) => {
  // The responder picks classic; the initiator runs an additional exchange anyway.
  const orig = defaultInitiators.queueIntermediate;
  let forced = false;
  const h = pair({
    a: ike('aes256gcm16-prfsha256-x25519-ke1_mlkem768', 'aes256gcm16-prfsha256-x25519'),
    b: ike('aes256gcm16-prfsha256-x25519'),
  });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  // Queue the extra exchange as soon as IKE_SA_INIT is answered (before IKE_AUTH is sent).
  assert.ok(Object.getOwnPropertyDescriptor(sa, 'addKe'));
  let value: readonly number[] = [];
  Object.defineProperty(sa, 'addKe', {
    get: () => value,
    set: (v: readonly number[]) => {
      value = v;
      if (!forced) {
        forced = true;
        orig(sa, [36]);
      }
    },
  });
  await h.settle(0);
  assert.ok(forced);
  assert.equal(h.b.counters.get('ike.intermediate_unexpected'), 1);
  assert.equal(h.b.engine.sas().length, 0);
  assert.equal(sa.state, 'destroyed');
});

test('IKE_AUTH before the negotiated IKE_INTERMEDIATE: refused, counted, no state', async (t) => {
  const orig = defaultInitiators.queueIntermediate;
  (defaultInitiators as { queueIntermediate: typeof orig }).queueIntermediate = () => undefined;
  t.after(() => {
    (defaultInitiators as { queueIntermediate: typeof orig }).queueIntermediate = orig;
  });
  const h = pair({ a: HYBRID, b: HYBRID });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(h.b.counters.get('ike.intermediate_unexpected'), 1);
  assert.equal(h.b.engine.sas().length, 0);
  assert.equal(sa.state, 'destroyed');
  assert.equal(h.b.counters.get('ike.sa_established'), 0);
});

test('a replayed IKE_INTERMEDIATE request after IKE_AUTH is dropped and counted', async (t) => {
  const h = pair({ a: HYBRID, b: HYBRID });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  const req = h.net.log.find(
    (d) =>
      d.srcAddr === ADDR_A && decodeMessage(d.data).header.exchangeType === ExchangeType.IKE_INTERMEDIATE,
  )!;
  const r = established(h.b)[0]!;
  const before = h.net.log.length;
  h.net.inject(req.data, { localAddr: ADDR_B, localPort: 500, remoteAddr: ADDR_A, remotePort: 500 });
  await h.settle(0);
  assert.equal(h.b.counters.get('ike.drop_msgid_old'), 1);
  assert.equal(h.net.log.length, before + 1); // only the injected copy: no answer
  assert.equal(r.intermediateDone, 1);
  assert.equal(r.state, 'established');
});
