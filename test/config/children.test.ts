// `children:` of a connection: each child inherits what it leaves out, the shorthand stays one child,
// one-sa-per-subnet-pair splits per pair; duplicate names, overlapping children and subnets outside
// the connection's are errors at file:line:col, from `check` and at reload (nothing running changes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ok, problems, PSK_TEXT, where } from './helpers.ts';
import { childConfigs, toIkeConnection } from '../../src/daemon/connections.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { MemoryLogger } from '../../src/base/logger.ts';
import { formatTs } from '../../src/ike/traffic-selectors.ts';

const env = { PSK: PSK_TEXT };
const json = (v: unknown) =>
  JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
const head = `local:
  address: 192.0.2.1
connections:
  hq:
    remote: 192.0.2.2
    auth: { psk: { env: PSK } }
`;
const GOOD = `${head}    esp-proposals: aes256gcm16
    children:
      - name: lan
        local-subnets: [10.1.0.0/24, 10.3.0.0/24]
        remote-subnets: 10.2.0.0/24
      - name: voice
        local-subnets: 10.5.0.0/24
        remote-subnets: 10.6.0.0/24
        esp-proposals: aes128-sha256
        start: on-traffic
        child-lifetime: 30m
        if-id: 7
      - name: host
        mode: transport
`;

test('children inherit what they leave out; the shorthand stays one child named after the connection', () => {
  const c = ok(GOOD, { env }).config.connections[0]!;
  assert.deepEqual(
    c.children?.map((k) => [k.name, k.mode, k.start, k.espProposals.join(), k.childLifetimeMs, k.ifId]),
    [
      ['lan', 'tunnel', 'now', 'aes256gcm16', 3_600_000, undefined],
      ['voice', 'tunnel', 'on-traffic', 'aes128-sha256', 1_800_000, 7],
      ['host', 'transport', 'now', 'aes256gcm16', 3_600_000, undefined],
    ],
  );
  // A transport child without subnets protects the two hosts.
  assert.deepEqual(
    c.children?.[2]?.localSubnets.map((p) => p.text),
    ['192.0.2.1/32'],
  );
  // The connection's traffic is the children's together (fail-closed policies, overlap checks).
  assert.deepEqual(
    c.localSubnets.map((p) => p.text),
    ['10.1.0.0/24', '10.3.0.0/24', '10.5.0.0/24', '192.0.2.1/32'],
  );
  const ike = toIkeConnection(c, { reqid: 0x10000, childReqid: (n) => (n === 'voice' ? 0x10001 : 0x10002) });
  assert.deepEqual(
    ike.children?.map((k) => [k.name, k.reqid, k.localTs.map(formatTs).join()]),
    [
      ['lan', 0x10000, '10.1.0.0/24,10.3.0.0/24'],
      ['voice', 0x10001, '10.5.0.0/24'],
      ['host', 0x10002, '192.0.2.1/32'],
    ],
  );
  const short = ok(`${head}    local-subnets: 10.1.0.0/24\n    remote-subnets: 10.2.0.0/24\n`, {
    env,
  }).config;
  assert.equal(short.connections[0]!.children, undefined);
  assert.equal(toIkeConnection(short.connections[0]!).children, undefined, 'the engine sees the old shape');
});

test('one-sa-per-subnet-pair: one Child SA per pair, named <child>#n, each with its own reqid', () => {
  const c = ok(GOOD.replace('    esp-proposals: aes256gcm16\n', '    one-sa-per-subnet-pair: true\n'), {
    env,
  }).config.connections[0]!;
  assert.equal(c.onePerPair, true);
  let next = 0x20000;
  const kids = childConfigs(c, { reqid: 0x10000, childReqid: () => next++ });
  assert.deepEqual(
    kids.map((k) => [k.name, k.localTs.map(formatTs).join(), k.remoteTs.map(formatTs).join(), k.reqid]),
    [
      ['lan#1', '10.1.0.0/24', '10.2.0.0/24', 0x10000],
      ['lan#2', '10.3.0.0/24', '10.2.0.0/24', 0x20000],
      ['voice', '10.5.0.0/24', '10.6.0.0/24', 0x20001],
      ['host', '192.0.2.1/32', '192.0.2.2/32', 0x20002],
    ],
  );
  // The shorthand with several subnets splits too.
  const short = ok(
    `${head}    one-sa-per-subnet-pair: true\n    local-subnets: [10.1.0.0/24, 10.3.0.0/24]\n    remote-subnets: 10.2.0.0/24\n`,
    { env },
  ).config.connections[0]!;
  assert.deepEqual(
    childConfigs(short).map((k) => k.name),
    ['hq#1', 'hq#2'],
  );
});

const BAD_DUP = `${head}    children:
      - name: lan
        local-subnets: 10.1.0.0/24
        remote-subnets: 10.2.0.0/24
      - name: lan
        local-subnets: 10.3.0.0/24
        remote-subnets: 10.2.0.0/24
`;
const BAD_OVERLAP = `${head}    children:
      - name: lan
        local-subnets: 10.1.0.0/16
        remote-subnets: 10.2.0.0/24
      - name: dmz
        local-subnets: 10.1.5.0/24
        remote-subnets: [10.9.0.0/24, 10.2.0.128/25]
`;
const BAD_OUTSIDE = `${head}    local-subnets: 10.1.0.0/16
    remote-subnets: 10.2.0.0/16
    children:
      - name: lan
        local-subnets: 10.1.1.0/24
        remote-subnets: [10.2.1.0/24, 10.7.0.0/24]
`;

test('duplicate child names, overlapping children and subnets outside the connection: file:line:col', () => {
  let ps = problems(BAD_DUP, { env });
  assert.deepEqual(where(ps), ['11:15 E_CONFLICT connections.hq.children[1].name']);
  assert.match(ps[0]!.message, /child "lan" is already defined at children\[0\]/);
  ps = problems(BAD_OVERLAP, { env });
  assert.deepEqual(where(ps), ['12:24 E_CONFLICT connections.hq.children[1].local-subnets']);
  assert.match(
    ps[0]!.message,
    /child "dmz" overlaps child "lan" \(children\[0\]\): 10\.1\.5\.0\/24 and 10\.1\.0\.0\/16, 10\.2\.0\.128\/25 and 10\.2\.0\.0\/24/,
  );
  ps = problems(BAD_OUTSIDE, { env });
  assert.deepEqual(where(ps), ['12:39 E_CONFLICT connections.hq.children[0].remote-subnets[1]']);
  assert.match(
    ps[0]!.message,
    /"10\.7\.0\.0\/24" is outside the connection's remote-subnets \(10\.2\.0\.0\/16\)/,
  );
  // Children on different if-ids are different kernel objects: no overlap.
  ok(
    BAD_OVERLAP.replace(
      '        remote-subnets: 10.2.0.0/24\n',
      '        remote-subnets: 10.2.0.0/24\n        if-id: 1\n',
    ).replace(/(10\.2\.0\.128\/25\])\n$/, '$1\n        if-id: 2\n'),
    { env },
  );
});

test('reload with bad children is refused and changes nothing running', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), `ikeway-children-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ikeway.yaml');
  const port = 20000 + ((process.pid * 13) % 20000);
  const tail = `ports: { ike: ${port}, nat-t: ${port + 1} }\ncontrol-socket: ${join(dir, 'ctl.sock')}\nstate-dir: ${join(dir, 'state')}\n`;
  const local = (s: string) =>
    s
      .replace('192.0.2.1', '127.0.0.1')
      .replace('192.0.2.2', '127.0.0.2')
      .replace('    auth:', '    start: on-traffic\n    auth:');
  writeFileSync(file, local(GOOD).replace('        start: on-traffic\n', '') + tail, { mode: 0o600 });
  const d = await Daemon.start({ configFile: file, kernel: 'memory', logger: new MemoryLogger(), env });
  t.after(() => d.stop());
  const k = d.runtime.kernel;
  const before = json(await k.dumpPolicies());
  // Three children: fail-closed policies for each, with its own reqid.
  const reqids = new Set((await k.dumpPolicies()).flatMap((p) => p.templates.map((x) => x.reqid)));
  assert.equal(reqids.size, 3, [...reqids].join());
  // One child by <connection>/<child>: nothing installed yet (start: on-traffic), said precisely.
  await assert.rejects(d.down('hq/voice'), /hq\/voice: no installed Child SA/);
  for (const bad of [BAD_DUP, BAD_OVERLAP, BAD_OUTSIDE]) {
    writeFileSync(file, local(bad) + tail, { mode: 0o600 });
    await assert.rejects(
      d.reload(),
      /nothing changed:\n.*ikeway\.yaml:\d+:\d+: connections\.hq\.children\[\d\]/,
    );
    assert.equal(json(await k.dumpPolicies()), before, 'no policy changed');
    assert.deepEqual(
      d.config.connections[0]!.children?.map((c) => c.name),
      ['lan', 'voice', 'host'],
    );
  }
});
