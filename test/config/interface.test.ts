// Route-based tunnels in YAML: the interface section, its defaults (0.0.0.0/0 and ::/0 selectors,
// no routes), and every problem with its line:col (if-id or name used twice, unknown table, MTU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { doc, ENV, ok, problems, where } from './helpers.ts';
import { readFileSync } from 'node:fs';
import { formatProblem, loadConfig } from '../../src/config/index.ts';
import { lookupRouteTable, parseIfAddress } from '../../src/config/iface-values.ts';
import { tempDir } from './helpers.ts';

const second = (name: string, iface: string) => `  ${name}:
    remote: 192.0.2.3
    auth: { psk: { env: PSK } }
${iface}`;

test('interface: name, if-id, addresses; selectors default to 0.0.0.0/0 and ::/0; routes off by default', () => {
  const { config } = ok(
    doc(
      '    interface:\n      name: ipsec-hq\n      if-id: 42\n      addresses: [169.254.10.1/30, fe80::1/64]\n',
    ),
    { env: ENV },
  );
  const c = config.connections[0]!;
  assert.equal(c.ifId, 42, 'the SAs and policies carry the interface if-id');
  assert.deepEqual(
    c.localSubnets.map((s) => s.text),
    ['0.0.0.0/0', '::/0'],
  );
  assert.deepEqual(
    c.remoteSubnets.map((s) => s.text),
    ['0.0.0.0/0', '::/0'],
  );
  const i = c.interface!;
  assert.equal(i.name, 'ipsec-hq');
  assert.equal(i.ifId, 42);
  assert.equal(i.mtu, undefined);
  assert.deepEqual(
    i.addresses.map((a) => a.text),
    ['169.254.10.1/30', 'fe80::1/64'],
  );
  assert.equal(i.routes, false);
  assert.deepEqual(i.at, { file: config.file, line: 8, col: 13, path: 'connections.hq.interface.name' });
});

test('interface routes: true routes the remote subnets into main; a map sets subnets, table and metric', () => {
  const a = ok(
    doc(
      '    remote-subnets: [10.2.0.0/24]\n    local-subnets: [10.1.0.0/24]\n    interface: { name: x0, if-id: 1, routes: true }\n',
    ),
    { env: ENV },
  );
  assert.deepEqual(a.config.connections[0]!.interface!.routes, {
    subnets: [{ family: 4, address: '10.2.0.0', prefixLength: 24, text: '10.2.0.0/24' }],
    table: 254,
    tableName: 'main',
    metric: 0,
  });
  const b = ok(
    doc(
      '    interface: { name: x0, if-id: 1, mtu: 1400, routes: { subnets: [10.9.0.0/16], table: 100, metric: 200 } }\n',
    ),
    { env: ENV },
  );
  const r = b.config.connections[0]!.interface!.routes;
  assert.ok(r);
  assert.deepEqual([r.subnets.map((s) => s.text), r.table, r.metric], [['10.9.0.0/16'], 100, 200]);
  assert.equal(b.config.connections[0]!.interface!.mtu, 1400);
});

test('two route-based connections with 0.0.0.0/0 selectors and distinct if-ids do not warn of overlap', () => {
  const { warnings } = ok(
    doc('    interface: { name: a0, if-id: 1 }\n' + second('b', '    interface: { name: b0, if-id: 2 }\n')),
    { env: ENV },
  );
  assert.deepEqual(warnings, []);
});

test('an if-id or an interface name used by two connections: E_CONFLICT at the second', () => {
  const ps = problems(
    doc(
      '    interface: { name: a0, if-id: 7 }\n' +
        second('b', '    interface:\n      name: a0\n      if-id: 7\n'),
    ),
    { env: ENV },
  );
  assert.deepEqual(where(ps), [
    '9:5 W_OVERLAP connections.b.remote-subnets',
    '12:13 E_CONFLICT connections.b.interface.name',
    '13:14 E_CONFLICT connections.b.interface.if-id',
  ]);
  assert.match(ps[1]!.message, /interface a0 is already the interface of connection "hq"/);
  assert.match(ps[2]!.message, /if-id 7 is already used by connection "hq"/);
  const plain = problems(doc('    if-id: 9\n' + second('b', '    interface: { name: b0, if-id: 9 }\n')), {
    env: ENV,
  });
  assert.deepEqual(where(plain), [
    '9:5 W_OVERLAP connections.b.remote-subnets',
    '11:35 E_CONFLICT connections.b.interface.if-id',
  ]);
});

test('a table name that no rt_tables file knows: E_VALUE at the table, with the fix', () => {
  const ps = problems(
    doc('    interface:\n      name: x0\n      if-id: 1\n      routes: { table: no-such-table-xyz }\n'),
    { env: ENV },
  );
  assert.deepEqual(where(ps), ['10:24 E_VALUE connections.hq.interface.routes.table']);
  assert.equal(
    formatProblem(ps[0]!),
    'test.yaml:10:24: connections.hq.interface.routes.table: table "no-such-table-xyz" does not exist (not in any rt_tables file); write main, a number, or add the name to /etc/iproute2/rt_tables',
  );
});

test('bad MTU, bad names, addresses without a length, transport mode, if-id mismatch', () => {
  const ps = problems(
    doc(
      '    mode: transport\n    if-id: 3\n    interface:\n      name: this-name-is-too-long\n      if-id: 4\n      mtu: 100\n      addresses: [169.254.10.1]\n',
    ),
    { env: ENV },
  );
  assert.deepEqual(where(ps), [
    '7:11 E_CONFLICT connections.hq.mode',
    '10:13 E_VALUE connections.hq.interface.name',
    '12:12 E_VALUE connections.hq.interface.mtu',
    '13:19 E_VALUE connections.hq.interface.addresses[0]',
  ]);
  const conflicts = problems(
    doc(
      '    mode: transport\n    if-id: 3\n    interface: { name: x0, if-id: 4, mtu: 1200, addresses: [fe80::1/64] }\n',
    ),
    { env: ENV },
  );
  assert.deepEqual(where(conflicts), [
    '7:11 E_CONFLICT connections.hq.mode',
    '8:12 E_CONFLICT connections.hq.if-id',
    '9:43 E_VALUE connections.hq.interface.mtu',
  ]);
  assert.match(conflicts[2]!.message, /below 1280.*fe80::1\/64/);
});

test('parseIfAddress keeps host bits; lookupRouteTable reads rt_tables and rt_tables.d', () => {
  const a = parseIfAddress('169.254.10.1/30');
  assert.ok(a.ok && a.value.text === '169.254.10.1/30');
  assert.equal(parseIfAddress('169.254.10.1').ok, false);
  assert.equal(parseIfAddress('fe80::1/129').ok, false);
  const t = tempDir();
  try {
    t.write('rt_tables', '# comment\n255\tlocal\n100 wan-a\n');
    t.write('rt_tables.d/b.conf', '0x65 wan-b\n');
    assert.equal(lookupRouteTable('wan-a', [t.dir]), 100);
    assert.equal(lookupRouteTable('wan-b', [t.dir]), 101);
    assert.equal(lookupRouteTable('main', [t.dir]), 254);
    assert.equal(lookupRouteTable('wan-c', [t.dir]), undefined);
  } finally {
    t.cleanup();
  }
});

test('route-based: an unset side covers the families the other side names', () => {
  const { config } = ok(doc('    remote-subnets: [10.2.0.0/24]\n    interface: { name: x0, if-id: 1 }\n'), {
    env: ENV,
  });
  assert.deepEqual(
    config.connections[0]!.localSubnets.map((s) => s.text),
    ['0.0.0.0/0'],
  );
});

test('examples/route-based-bgp: router A\u2019s file and router B\u2019s two endpoint files validate', () => {
  const t = tempDir();
  const expect: Record<string, [string, string | undefined, number | undefined, unknown][]> = {
    'router-a': [
      ['wan1', 'wan1', 1, false],
      ['wan2', 'wan2', 2, false],
    ],
    'router-b-wan1': [['wan1', 'wan1', 1, false]],
    'router-b-wan2': [['wan2', 'wan2', 2, false]],
  };
  try {
    t.write('secrets/wan1.psk', 'x'.repeat(40));
    t.write('secrets/wan2.psk', 'y'.repeat(40));
    for (const [r, conns] of Object.entries(expect)) {
      const text = readFileSync(new URL(`../../examples/route-based-bgp/${r}.yaml`, import.meta.url), 'utf8');
      const { config } = loadConfig(t.write(`${r}.yaml`, text));
      assert.deepEqual(
        config.connections.map((c) => [c.name, c.interface?.name, c.interface?.ifId, c.interface?.routes]),
        conns,
      );
    }
  } finally {
    t.cleanup();
  }
});

test('mark-in/mark-out and if-id-in/if-id-out: per-direction ids; not with an interface; an if-id-in taken by another tunnel', () => {
  const { config } = ok(doc('    mark: 0x5\n    mark-in: 0x10/0xff\n    if-id-in: 7\n    if-id-out: 8\n'), {
    env: ENV,
  });
  const c = config.connections[0]!;
  assert.deepEqual(
    [c.mark, c.markIn, c.markOut, c.ifId, c.ifIdIn, c.ifIdOut],
    [{ value: 5, mask: 0xffffffff }, { value: 0x10, mask: 0xff }, undefined, undefined, 7, 8],
  );
  const withIface = problems(doc('    if-id-out: 9\n    interface: { name: x0, if-id: 1 }\n'), { env: ENV });
  assert.deepEqual(where(withIface), ['7:16 E_CONFLICT connections.hq.if-id-out']);
  assert.match(withIface[0]!.message, /one if_id for both directions/);
  const taken = problems(
    doc('    interface: { name: a0, if-id: 7 }\n' + second('b', '    if-id-in: 7\n    if-id-out: 8\n')),
    { env: ENV },
  );
  assert.deepEqual(
    where(taken).filter((w) => w.includes('E_CONFLICT')),
    ['11:15 E_CONFLICT connections.b.if-id-in'],
  );
});
