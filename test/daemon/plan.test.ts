// The reload plan (pure): connection lists from planReload, the changed fields, SAs torn down, and
// the kernel policy diff computed with the reload's own policy generator and reqid allocator.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { failClosedPolicies } from '../../src/daemon/connections.ts';
import { planFor, type PlanIkeSa } from '../../src/daemon/plan.ts';
import { planReload } from '../../src/daemon/reload.ts';
import { reqidOf, REQID_BASE } from '../../src/daemon/reqids.ts';
import type { PolicyParams } from '../../src/kernel/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'ikw-plan-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'psk'), 'plan-test-psk-not-secret-0123456789', { mode: 0o600 });

interface C {
  name: string;
  remote: string;
  local: string;
  remoteNet: string;
  start?: string;
  extra?: string;
}
function config(conns: C[], global = ''): Config {
  const body = conns
    .map(
      (c) =>
        `  ${c.name}:\n    remote: ${c.remote}\n    auth: { psk: { file: psk } }\n` +
        `    local-subnets: [${c.local}]\n    remote-subnets: [${c.remoteNet}]\n    start: ${c.start ?? 'now'}\n${c.extra ?? ''}`,
    )
    .join('');
  const text = `control-socket: ./ctl.sock\nstate-dir: ./state\n${global}local: { address: 192.0.2.1 }\nconnections:\n${body}`;
  return parseConfig(text, 'plan.yaml', { baseDir: dir }).config;
}

const site: C = { name: 'site', remote: '192.0.2.2', local: '10.1.0.0/24', remoteNet: '10.2.0.0/24' };
const lab: C = { name: 'lab', remote: '192.0.2.3', local: '10.1.0.0/24', remoteNet: '10.3.0.0/24' };
const road: C = {
  name: 'road',
  remote: 'any',
  local: '10.1.0.0/24',
  remoteNet: '10.9.0.0/24',
  start: 'wait',
};

/** The daemon's state for `current`: reqids allocated in order, fail-closed per connection. */
function state(current: Config, sas: Record<string, PlanIkeSa[]> = {}) {
  const reqids = new Map<string, number>();
  const fc = new Map<string, PolicyParams[]>();
  for (const c of current.connections) {
    const r = c.remote === 'any' ? undefined : reqidOf(reqids, c.name);
    fc.set(c.name, failClosedPolicies(c, r));
  }
  return {
    reqids,
    failClosedOf: (n: string) => fc.get(n) ?? [],
    failClosedFor: failClosedPolicies,
    sasOf: (n: string) => sas[n] ?? [],
  };
}

test('connection lists are planReload itself; changed fields are named', () => {
  const cur = config([site, lab, road]);
  const next = config([{ ...site, remoteNet: '10.2.0.0/16' }, road, { ...lab, name: 'lab2' }]);
  const p = planFor({ file: 'x.yaml', current: cur, next, ...state(cur) });
  const r = planReload(cur, next);
  assert.deepEqual(p.connections.added, r.added);
  assert.deepEqual(p.connections.removed, r.removed);
  assert.deepEqual(
    p.connections.changed.map((c) => c.name),
    r.changed,
  );
  assert.deepEqual(p.connections, {
    added: ['lab2'],
    removed: ['lab'],
    changed: [{ name: 'site', fields: ['remoteSubnets'] }],
    unchanged: ['road'],
  });
  assert.equal(p.rejected, undefined);
  assert.deepEqual(p.ikeSas.negotiate, ['site', 'lab2']);
});

test('policies: traps of a changed subnet replaced, removed connection withdrawn, new one added with the reload reqid', () => {
  const cur = config([site, lab, road]);
  const next = config([
    { ...site, remoteNet: '10.2.0.0/16' },
    road,
    { ...lab, name: 'lab2', remoteNet: '10.4.0.0/24' },
  ]);
  const p = planFor({ file: 'x.yaml', current: cur, next, ...state(cur) });
  const sel = (xs: readonly { dir: string; selector: string; connection?: string }[]) =>
    xs.map((x) => `${x.connection} ${x.dir} ${x.selector}`).sort();
  assert.deepEqual(sel(p.policies.remove), [
    'lab fwd 10.3.0.0/24 -> 10.1.0.0/24',
    'lab in 10.3.0.0/24 -> 10.1.0.0/24',
    'lab out 10.1.0.0/24 -> 10.3.0.0/24',
    'site fwd 10.2.0.0/24 -> 10.1.0.0/24',
    'site in 10.2.0.0/24 -> 10.1.0.0/24',
    'site out 10.1.0.0/24 -> 10.2.0.0/24',
  ]);
  assert.deepEqual(sel(p.policies.add), [
    'lab2 fwd 10.4.0.0/24 -> 10.1.0.0/24',
    'lab2 in 10.4.0.0/24 -> 10.1.0.0/24',
    'lab2 out 10.1.0.0/24 -> 10.4.0.0/24',
    'site fwd 10.2.0.0/16 -> 10.1.0.0/24',
    'site in 10.2.0.0/16 -> 10.1.0.0/24',
    'site out 10.1.0.0/24 -> 10.2.0.0/16',
  ]);
  assert.deepEqual(p.policies.replace, []);
  // lab's reqid (BASE+1) is freed first, so lab2 gets it again; site keeps BASE.
  const lab2Out = p.policies.add.find((x) => x.connection === 'lab2' && x.dir === 'out')!;
  assert.equal(lab2Out.kind, 'trap');
  assert.deepEqual(lab2Out.templates, [`esp tunnel 192.0.2.1->192.0.2.3 reqid ${REQID_BASE + 1}`]);
  const siteOut = p.policies.add.find((x) => x.connection === 'site' && x.dir === 'out')!;
  assert.deepEqual(siteOut.templates, [`esp tunnel 192.0.2.1->192.0.2.2 reqid ${REQID_BASE}`]);
});

test('same selectors, other peer: replaced in place; a Child SA torn down takes its SAs with it', () => {
  const cur = config([site]);
  const next = config([{ ...site, remote: '192.0.2.7' }]);
  const [out] = failClosedPolicies(cur.connections[0]!, REQID_BASE);
  const childPol: PolicyParams = { ...out!, priority: 1000 };
  const sas: PlanIkeSa[] = [
    {
      name: 'site[1]',
      state: 'established',
      children: [
        {
          name: 'site{1}',
          policies: [childPol],
          sas: [
            { dst: '192.0.2.1', spi: 0xc0000011, proto: 'esp' },
            { dst: '192.0.2.2', spi: 0xc0000022, proto: 'esp' },
          ],
        },
      ],
    },
  ];
  const p = planFor({ file: 'x.yaml', current: cur, next, ...state(cur, { site: sas }) });
  assert.deepEqual(p.connections.changed, [{ name: 'site', fields: ['remote', 'remoteId'] }]);
  assert.deepEqual(p.ikeSas.teardown, [{ connection: 'site', name: 'site[1]', state: 'established' }]);
  assert.deepEqual(p.childSas.teardown, [{ connection: 'site', ikeSa: 'site[1]', name: 'site{1}' }]);
  assert.deepEqual(
    p.sas.remove.map((s) => `${s.spi} ${s.dst}`),
    ['0xc0000011 192.0.2.1', '0xc0000022 192.0.2.2'],
  );
  assert.deepEqual(p.policies.add, []);
  assert.deepEqual(p.policies.remove, []);
  assert.equal(p.policies.replace.length, 3);
  const outRep = p.policies.replace.find((r) => r.to.dir === 'out')!;
  assert.equal(outRep.from.kind, 'child', 'the Child SA policy stood there');
  assert.equal(outRep.to.kind, 'trap');
  assert.match(outRep.to.templates[0]!, /192\.0\.2\.1->192\.0\.2\.7/);
});

test('unchanged file: nothing to do; a port change: rejected like the reload would', () => {
  const cur = config([site, road]);
  const same = planFor({ file: 'x.yaml', current: cur, next: config([site, road]), ...state(cur) });
  assert.deepEqual(same.policies, { add: [], remove: [], replace: [] });
  assert.deepEqual(same.connections.unchanged, ['site', 'road']);
  const ports = planFor({
    file: 'x.yaml',
    current: cur,
    next: config([site], 'ports: { ike: 1500, nat-t: 14500 }\n'),
    ...state(cur),
  });
  assert.match(ports.rejected ?? '', /ports changed; restart the daemon/);
  assert.deepEqual(ports.policies, { add: [], remove: [], replace: [] });
});

test('reqid allocator: lowest free at or above the base, stable per name', () => {
  const m = new Map<string, number>();
  assert.equal(reqidOf(m, 'a'), REQID_BASE);
  assert.equal(reqidOf(m, 'b'), REQID_BASE + 1);
  assert.equal(reqidOf(m, 'c'), REQID_BASE + 2);
  m.delete('a');
  assert.equal(reqidOf(m, 'd'), REQID_BASE, 'reuses the freed one, never a taken one');
  assert.equal(reqidOf(m, 'b'), REQID_BASE + 1);
});

test('a connection with children: each child gets its own trap policies and reqid in the plan', () => {
  const cur = config([site]);
  const children =
    '    children:\n' +
    '      - { name: a, local-subnets: 10.1.1.0/24, remote-subnets: 10.8.1.0/24 }\n' +
    '      - { name: b, local-subnets: 10.1.2.0/24, remote-subnets: 10.8.2.0/24 }\n';
  const multi: C = {
    name: 'multi',
    remote: '192.0.2.4',
    local: '10.1.0.0/16',
    remoteNet: '10.8.0.0/16',
    extra: children,
  };
  const next = config([site, multi]);
  const p = planFor({ file: 'x.yaml', current: cur, next, ...state(cur) });
  const outs = p.policies.add
    .filter((x) => x.dir === 'out')
    .map((x) => `${x.connection} ${x.selector} ${x.templates.join()}`)
    .sort();
  assert.deepEqual(outs, [
    `multi 10.1.1.0/24 -> 10.8.1.0/24 esp tunnel 192.0.2.1->192.0.2.4 reqid ${REQID_BASE + 1}`,
    `multi 10.1.2.0/24 -> 10.8.2.0/24 esp tunnel 192.0.2.1->192.0.2.4 reqid ${REQID_BASE + 2}`,
  ]);
});
