// Per-exchange payload rules (src/codec/rules.ts), one case per RFC requirement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CodecError,
  NotifyType,
  checkExchangeRules,
  decodeMessage,
  decodePayloads,
  type IkeMessage,
  type Payload,
} from '../../src/codec/index.ts';
import * as g from '../vectors/codec/golden.ts';

const init = decodeMessage(g.SA_INIT_REQUEST);
const auth = decodeMessage(g.SK_MESSAGE);
const authInner = decodePayloads(g.AUTH_INNER, g.AUTH_INNER_FIRST);
const withPayloads = (m: IkeMessage, payloads: Payload[], flags = m.header.flags): IkeMessage => ({
  header: { ...m.header, flags },
  payloads,
});
const notify = (notifyType: number): Payload => ({
  kind: 'NOTIFY',
  protocolId: 0,
  notifyType,
  spi: new Uint8Array(0),
  data: new Uint8Array(0),
});

function violation(fn: () => void): CodecError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CodecError);
    return e;
  }
  assert.fail('expected a rule violation');
}

test('RFC 7296 §1.2: IKE_SA_INIT needs SA, KE and Nonce exactly once, with any Notify and Vendor ID', () => {
  checkExchangeRules(init);
  const noKe = init.payloads.filter((p) => p.kind !== 'KE');
  assert.match(violation(() => checkExchangeRules(withPayloads(init, noKe))).message, /KE payload missing/);
  const twoNonces = [...init.payloads, init.payloads[2]!];
  assert.match(
    violation(() => checkExchangeRules(withPayloads(init, twoNonces))).message,
    /more than 1 NONCE/,
  );
  assert.match(
    violation(() => checkExchangeRules(withPayloads(init, [...init.payloads, ...auth.payloads]))).message,
    /Encrypted payload in IKE_SA_INIT/,
  );
});

test('RFC 7296 §2.6/§2.21: an IKE_SA_INIT response may be a bare COOKIE or error notify', () => {
  checkExchangeRules(withPayloads(init, [notify(NotifyType.COOKIE)], 0x20));
  checkExchangeRules(withPayloads(init, [notify(NotifyType.INVALID_KE_PAYLOAD)], 0x20));
  violation(() => checkExchangeRules(withPayloads(init, [notify(NotifyType.COOKIE)], 0x08))); // not in a request
});

test('RFC 7296 §3.14: IKE_AUTH is all inside SK; the inner chain follows the IKE_AUTH row', () => {
  checkExchangeRules(auth);
  checkExchangeRules(auth, authInner);
  assert.match(
    violation(() => checkExchangeRules(withPayloads(auth, [...init.payloads]))).message,
    /exactly one Encrypted payload/,
  );
  const withKe = [...authInner, init.payloads[1]!];
  assert.match(
    violation(() => checkExchangeRules(auth, withKe)).message,
    /KE payload not allowed in IKE_AUTH request/,
  );
  const noTsr = authInner.filter((p) => p.kind !== 'TSr');
  assert.match(violation(() => checkExchangeRules(auth, noTsr)).message, /TSi and TSr must come together/);
  const idrOnlyResponse = withPayloads(auth, [...auth.payloads], 0x20);
  assert.match(
    violation(() => checkExchangeRules(idrOnlyResponse, authInner)).message,
    /IDi payload not allowed in IKE_AUTH response/,
  );
});

test('RFC 7296 §2.10: nonces of 16..256 bytes; §2.5: unknown critical payloads refused with the type', () => {
  const shortNonce = init.payloads.map((p) => (p.kind === 'NONCE' ? { ...p, data: new Uint8Array(8) } : p));
  assert.match(
    violation(() => checkExchangeRules(withPayloads(init, shortNonce))).message,
    /nonce of 8 bytes/,
  );
  const crit: Payload = { kind: 'UNKNOWN', type: 99, flags: 0x80, data: new Uint8Array(0) };
  const e = violation(() => checkExchangeRules(withPayloads(init, [...init.payloads, crit])));
  assert.deepEqual([e.notify, [...e.notifyData]], [NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, [99]]);
  const quiet: Payload = { ...crit, flags: 0 };
  checkExchangeRules(withPayloads(init, [...init.payloads, quiet]));
});

test('INFORMATIONAL carries Delete and Notify; an unknown exchange type is refused', () => {
  const info = withPayloads({ ...auth, header: { ...auth.header, exchangeType: 37 } }, [...auth.payloads]);
  checkExchangeRules(info, decodePayloads(g.DELETE_INNER, g.DELETE_INNER_FIRST));
  checkExchangeRules(info, []); // liveness check (RFC 7296 §1.4)
  violation(() => checkExchangeRules(info, authInner));
  violation(() => checkExchangeRules({ ...auth, header: { ...auth.header, exchangeType: 99 } }));
});
