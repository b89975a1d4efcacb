// `remote` as a DNS name: resolved while loading (start, check, reload) through the resolver the
// loader is given; a name that does not resolve is an error at file:line:col.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ok, problems, PSK_TEXT, where } from './helpers.ts';
import { isHostName, systemResolver, type Resolver } from '../../src/config/resolve.ts';
import { parseAddress, type IpAddress } from '../../src/config/values.ts';

const doc = (remote: string) => `local:
  address: 192.0.2.1
connections:
  hq:
    remote: ${remote}
    auth: { psk: { env: PSK } }
`;
const env = { PSK: PSK_TEXT };
const addr = (s: string): IpAddress => {
  const p = parseAddress(s);
  if (!p.ok) throw new Error(s);
  return p.value;
};
const hosts: Record<string, string[]> = {
  'vpn.example.net': ['2001:db8::2', '198.51.100.7'],
  'v6only.example.net': ['2001:db8::3'],
};
const resolve: Resolver = (name) => {
  const a = hosts[name];
  return a ? { addresses: a.map(addr) } : { error: 'the name does not resolve' };
};

test('a DNS name resolves to the address of our family; the name is kept', () => {
  const { config } = ok(doc('vpn.example.net'), { env, resolve });
  const c = config.connections[0]!;
  assert.deepEqual(c.remote, addr('198.51.100.7'));
  assert.equal(c.remoteName, 'vpn.example.net');
  // The defaults that follow the peer's address follow the resolved one.
  assert.equal(c.remoteId.value, '198.51.100.7');
  assert.equal(c.remoteSubnets[0]?.address, '198.51.100.7');
});

test('an address stays an address (no lookup), any stays any', () => {
  const never: Resolver = () => assert.fail('no lookup for an address');
  assert.equal(ok(doc('198.51.100.9'), { env, resolve: never }).config.connections[0]!.remoteName, undefined);
  assert.equal(ok(doc('any'), { env, resolve: never }).config.connections[0]!.remote, 'any');
});

test('an unresolvable name, or one of the other family only, is E_RESOLVE at the value', () => {
  const ps = problems(doc('nowhere.example.net'), { env, resolve });
  assert.deepEqual(where(ps), ['5:13 E_RESOLVE connections.hq.remote']);
  assert.match(ps[0]!.message, /"nowhere\.example\.net" does not resolve: the name does not resolve/);
  const v6 = problems(doc('v6only.example.net'), { env, resolve });
  assert.deepEqual(where(v6), ['5:13 E_RESOLVE connections.hq.remote']);
  assert.match(v6[0]!.message, /resolves to 2001:db8::3, none IPv4 like our 192\.0\.2\.1/);
});

test('what is neither an address nor a host name stays a value error', () => {
  assert.deepEqual(where(problems(doc('10.0.0.300'), { env, resolve })), [
    '5:13 E_VALUE connections.hq.remote',
  ]);
  assert.deepEqual(where(problems(doc('bad_name!'), { env, resolve })), [
    '5:13 E_VALUE connections.hq.remote',
  ]);
  assert.equal(isHostName('gw-1.example.net'), true);
  assert.equal(isHostName('-gw.example.net'), false);
  assert.equal(isHostName('a'.repeat(64) + '.net'), false);
});

test('the system resolver answers localhost from the hosts file and refuses a reserved .invalid name', () => {
  const r = systemResolver('localhost');
  assert.ok('addresses' in r && r.addresses.some((a) => a.address === '127.0.0.1' || a.address === '::1'));
  const bad = systemResolver('no-such-host.invalid');
  assert.ok('error' in bad);
});
