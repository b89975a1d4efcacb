// Smoke test of the strongSwan lab harness: two charons (kernel-libipsec, no kernel ESP needed) in
// two namespaces bring up an IKE SA and a Child SA with a PSK (RFC 7296 §1.2), checked on both sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Netns, linkVeth } from '../../lab/netns/netns.ts';
import {
  CHARON_BIN,
  Charon,
  StrongswanError,
  parseListSas,
  renderSwanctlConf,
  type SwanConnection,
} from '../../lab/peers/strongswan.ts';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root' : !existsSync(CHARON_BIN) ? 'strongSwan not installed' : false;

function conn(local: string, remote: string, lnet: string, rnet: string): SwanConnection {
  return {
    name: 'smoke',
    localAddrs: [local],
    remoteAddrs: [remote],
    localId: local,
    remoteId: remote,
    localAuth: 'psk',
    remoteAuth: 'psk',
    proposals: ['aes256gcm16-prfsha256-x25519'],
    mobike: false,
    children: [{ name: 'net', localTs: [lnet], remoteTs: [rnet], espProposals: ['aes256gcm16'] }],
  };
}

test('two charons establish an IKE SA and a Child SA with a PSK', { skip, timeout: 30_000 }, async (t) => {
  const a = Netns.create('swsmoke');
  const b = Netns.create('swsmoke');
  const charons: Charon[] = [];
  t.after(async () => {
    for (const c of charons) await c.stop();
    a.delete();
    b.delete();
  });
  linkVeth(a, '198.51.100.1/24', b, '198.51.100.2/24');
  for (const [ns, net, gw] of [
    [a, '10.1.0.1/32', '198.51.100.2'],
    [b, '10.2.0.1/32', '198.51.100.1'],
  ] as const) {
    ns.ip('addr', 'add', net, 'dev', 'lo');
    ns.ip('route', 'add', 'default', 'via', gw);
  }
  const secrets = { psk: [{ secret: 'ikeway-smoke-test-psk' }] };
  const ci = await Charon.start({
    ns: a,
    tag: 'smoke-i',
    connections: [conn('198.51.100.1', '198.51.100.2', '10.1.0.1/32', '10.2.0.1/32')],
    secrets,
  });
  charons.push(ci);
  const cr = await Charon.start({
    ns: b,
    tag: 'smoke-r',
    connections: [conn('198.51.100.2', '198.51.100.1', '10.2.0.1/32', '10.1.0.1/32')],
    secrets,
  });
  charons.push(cr);
  // Each instance keeps its pid file in its own directory, never in the host's /run.
  assert.ok(existsSync(join(ci.dir, 'run', 'charon.pid')));
  assert.ok(existsSync(join(cr.dir, 'run', 'charon.pid')));

  await ci.loadAll();
  await cr.loadAll();
  await ci.initiate('net', 'smoke');

  const [si] = await ci.listSas();
  const [sr] = await cr.listSas();
  assert.ok(si && sr, 'both sides list an IKE SA');
  assert.equal(si.fields.state, 'ESTABLISHED');
  assert.equal(sr.fields.state, 'ESTABLISHED');
  assert.equal(si.fields.initiator, 'yes');
  assert.equal(si.fields['initiator-spi'], sr.fields['initiator-spi']);
  assert.equal(si.fields['responder-spi'], sr.fields['responder-spi']);
  assert.equal(si.fields['remote-id'], '198.51.100.2');
  const [ci0] = si.children;
  const [cr0] = sr.children;
  assert.ok(ci0 && cr0);
  assert.equal(ci0.fields.state, 'INSTALLED');
  assert.equal(cr0.fields.state, 'INSTALLED');
  // RFC 7296 §3.3.1: each side's inbound SPI is the peer's outbound SPI.
  assert.equal(ci0.fields['spi-in'], cr0.fields['spi-out']);
  assert.equal(ci0.fields['spi-out'], cr0.fields['spi-in']);
  assert.deepEqual(ci0.localTs, ['10.1.0.1/32']);
  assert.deepEqual(cr0.localTs, ['10.2.0.1/32']);

  await ci.stop();
  await cr.stop();
  assert.ok(!existsSync(ci.dir), 'instance directory removed on stop');
  // Nothing of ours listens on the host's IKE ports.
  const ss = spawnSync('ss', ['-Hlun', 'sport = :500 or sport = :4500'], { encoding: 'utf8' });
  assert.equal(ss.stdout.trim(), '');
});

test('renderSwanctlConf rejects values that would break swanctl.conf syntax', () => {
  const c = conn('198.51.100.1', '198.51.100.2', '10.1.0.1/32', '10.2.0.1/32');
  assert.throws(() => renderSwanctlConf([{ ...c, localId: 'a" }' }], {}), StrongswanError);
  assert.throws(() => renderSwanctlConf([c], { psk: [{ secret: 'x\ny' }] }), StrongswanError);
  // A rejected secret is never echoed in the error (message or detail).
  assert.throws(
    () => renderSwanctlConf([c], { psk: [{ secret: 'hunter2"secret' }] }),
    (e: Error) => e instanceof StrongswanError && !JSON.stringify({ m: e.message, ...e }).includes('hunter2'),
  );
  // Route-based children: XFRM interface ids in and out, integers in 1..2^32-1 only.
  const routed = (ifIdIn: number, ifIdOut: number) =>
    renderSwanctlConf([{ ...c, children: c.children.map((ch) => ({ ...ch, ifIdIn, ifIdOut })) }], {});
  assert.match(routed(9, 10), /if_id_in = 9\n {8}if_id_out = 10\n/);
  assert.throws(() => routed(0, 9), StrongswanError);
  assert.throws(() => routed(9, 1.5), StrongswanError);
  const text = renderSwanctlConf([c], { psk: [{ secret: 'abc', ids: ['198.51.100.2'] }] });
  assert.match(text, /proposals = aes256gcm16-prfsha256-x25519\n/);
  assert.match(text, /secret = "abc"\n {4}id-0 = "198.51.100.2"/);
});

test('parseListSas reads IKE and Child SA fields and traffic selectors', () => {
  const text = [
    'list-sa event {',
    '  smoke {',
    '    state = ESTABLISHED',
    '    local-id = C=XX, O=ikeway test, CN=a',
    '    child-sas {',
    '      net-1 {',
    '        spi-in = c1234567',
    '        local-ts = [',
    '          10.1.0.1/32',
    '          10.1.0.2/32',
    '        ]',
    '        remote-ts = [',
    '          10.2.0.1/32',
    '        ]',
    '      }',
    '    }',
    '  }',
    '}',
    'list-sas reply {',
    '}',
  ].join('\n');
  const [sa, ...rest] = parseListSas(text);
  assert.equal(rest.length, 0);
  assert.equal(sa?.name, 'smoke');
  assert.equal(sa?.fields['local-id'], 'C=XX, O=ikeway test, CN=a');
  assert.equal(sa?.children[0]?.key, 'net-1');
  assert.equal(sa?.children[0]?.fields['spi-in'], 'c1234567');
  assert.deepEqual(sa?.children[0]?.localTs, ['10.1.0.1/32', '10.1.0.2/32']);
  assert.deepEqual(sa?.children[0]?.remoteTs, ['10.2.0.1/32']);
});
