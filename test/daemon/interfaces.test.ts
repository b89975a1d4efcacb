// TunnelInterfaces against an in-memory rtnetlink: names taken by others refused at the config
// line, create / re-claim after a crash, routes with the tunnel, reconcile, clean stop, MTU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, formatProblem, type Connection } from '../../src/config/index.ts';
import { KernelError } from '../../src/kernel/errors.ts';
import { LinkJournal } from '../../src/kernel/link-ownership.ts';
import type { LinkInfo, RouteParams, Rtnl, XfrmInterfaceParams } from '../../src/kernel/rtnl.ts';
import { TunnelInterfaces } from '../../src/daemon/interfaces.ts';
import { espOverhead, tunnelMtu } from '../../src/daemon/tunnel-mtu.ts';
import type { Logger } from '../../src/base/logger.ts';

class MemRtnl implements Rtnl {
  links = new Map<string, LinkInfo & { addrs: string[] }>();
  routes = new Set<string>();
  calls: string[] = [];
  private next = 10;
  add(name: string, kind: string | undefined, mtu = 1500, xfrmIfId?: number): void {
    this.links.set(name, {
      index: this.next++,
      name,
      up: true,
      mtu,
      kind,
      xfrmIfId,
      xfrmLink: undefined,
      stats: undefined,
      addrs: [],
    });
  }
  private need(name: string) {
    const l = this.links.get(name);
    if (!l) throw KernelError.fromErrno(19, 'RTM_GETLINK', name);
    return l;
  }
  async linkIndex(name: string) {
    return this.need(name).index;
  }
  async getLink(name: string) {
    return this.links.get(name);
  }
  async listLinks() {
    return [...this.links.values()];
  }
  async setLinkUp(name: string, up = true) {
    this.links.set(name, { ...this.need(name), up });
  }
  async setMtu(name: string, mtu: number) {
    this.calls.push(`mtu ${name} ${mtu}`);
    this.links.set(name, { ...this.need(name), mtu });
  }
  async addAddress(dev: string, cidr: string) {
    const l = this.need(dev);
    if (l.addrs.includes(cidr)) throw KernelError.fromErrno(17, 'RTM_NEWADDR', cidr);
    l.addrs.push(cidr);
  }
  async deleteAddress() {}
  private rk = (r: RouteParams) => `${r.dst} dev ${r.dev} table ${r.table} metric ${r.metric}`;
  async addRoute(r: RouteParams) {
    this.need(r.dev!);
    if (this.routes.has(this.rk(r))) throw KernelError.fromErrno(17, 'RTM_NEWROUTE', r.dst);
    this.routes.add(this.rk(r));
  }
  async deleteRoute(r: RouteParams) {
    this.need(r.dev!);
    if (!this.routes.delete(this.rk(r))) throw KernelError.fromErrno(3, 'RTM_DELROUTE', r.dst);
  }
  async routeGet() {
    return {
      dst: '192.0.2.2/32',
      table: 254,
      protocol: 0,
      oif: this.links.get('eth0')?.index,
      gateway: undefined,
      metric: undefined,
    };
  }
  async createXfrmInterface(p: XfrmInterfaceParams) {
    this.calls.push(`create ${p.name} ${p.ifId}`);
    if (this.links.has(p.name)) throw KernelError.fromErrno(17, 'RTM_NEWLINK', p.name);
    this.add(p.name, 'xfrm', 1500, p.ifId);
    this.links.set(p.name, { ...this.need(p.name), up: false });
  }
  async deleteLink(name: string) {
    this.need(name);
    this.links.delete(name);
    for (const r of [...this.routes]) if (r.includes(` dev ${name} `)) this.routes.delete(r);
  }
  async close() {}
}

const quiet: Logger = { log: () => undefined } as unknown as Logger;
const YAML = `local: { address: 192.0.2.1 }
connections:
  b:
    remote: 192.0.2.2
    auth: { psk: { env: PSK } }
    remote-subnets: [10.2.0.0/24, 0.0.0.0/0]
    interface:
      name: ipsec-b
      if-id: 42
      addresses: [169.254.10.1/30]
      routes: { subnets: [10.2.0.0/24], metric: 10 }
`;
const conn = (): Connection =>
  parseConfig(YAML, '/etc/ikeway/ikeway.yaml', { env: { PSK: 'x'.repeat(32) } }).config.connections[0]!;

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'ikw-iface-'));
  const k = new MemRtnl();
  k.add('eth0', undefined, 1500);
  const mk = () => new TunnelInterfaces(k, new LinkJournal(dir), quiet);
  return { dir, k, mk, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a name taken by an interface ikeway did not create: E_CONFLICT at interface.name, nothing created', async () => {
  const { k, mk, done } = setup();
  try {
    k.add('ipsec-b', 'veth');
    const ps = await mk().check([conn()]);
    assert.equal(ps.length, 1);
    assert.equal(
      formatProblem(ps[0]!),
      '/etc/ikeway/ikeway.yaml:8:13: connections.b.interface.name: ipsec-b is already a veth interface that ikeway did not create; choose another name, or remove that interface',
    );
    assert.deepEqual(k.calls, []);
  } finally {
    done();
  }
});

test('create, routes with the tunnel, crash, re-claim and reconcile, clean stop', async () => {
  const { dir, k, mk, done } = setup();
  try {
    const c = conn();
    const t1 = mk();
    assert.deepEqual(await t1.check([c]), []);
    await t1.ensure(c);
    const l = k.links.get('ipsec-b')!;
    assert.deepEqual([l.kind, l.xfrmIfId, l.up, l.addrs], ['xfrm', 42, true, ['169.254.10.1/30']]);
    assert.equal(
      l.mtu,
      1500 - 20 - espOverhead('aes256gcm16'),
      'path MTU of eth0 minus IPv4 and ESP-GCM overhead',
    );
    assert.match(readFileSync(join(dir, 'kernel-links.json'), 'utf8'), /"name": "ipsec-b"/);
    await t1.routesUp(c);
    assert.deepEqual([...k.routes], ['10.2.0.0/24 dev ipsec-b table 254 metric 10']);
    const st = await t1.status(c);
    assert.deepEqual(st?.routes, ['10.2.0.0/24 dev ipsec-b table 254 metric 10']);
    await t1.routesDown(c);
    assert.deepEqual([...k.routes], []);
    await t1.routesUp(c);
    // killed here: nothing removed. The next run owns the name, re-claims, keeps the route until reconcile.
    const t2 = mk();
    assert.deepEqual(await t2.check([c]), [], 'our own interface is not a conflict');
    k.calls.length = 0;
    await t2.ensure(c);
    assert.ok(!k.calls.some((x) => x.startsWith('create')), 're-claimed, not re-created');
    assert.equal(await t2.reconcile(), 1, 'the old run\u2019s route is removed (the tunnel re-adds it)');
    assert.deepEqual([...k.routes], []);
    await t2.routesUp(c);
    assert.equal(await t2.removeAll(), 2);
    assert.equal(k.links.has('ipsec-b'), false);
    assert.deepEqual([...k.routes], []);
    assert.doesNotMatch(readFileSync(join(dir, 'kernel-links.json'), 'utf8'), /ipsec-b/);
  } finally {
    done();
  }
});

test('a failed creation leaves no record; a leftover interface no longer configured is removed', async () => {
  const { dir, k, mk, done } = setup();
  try {
    const c = conn();
    const orig = k.createXfrmInterface.bind(k);
    k.createXfrmInterface = async () => {
      throw KernelError.unsupported(
        'RTM_NEWLINK',
        'xfrm ipsec-b if_id 42',
        'kernel has no xfrm interfaces (EOPNOTSUPP)',
      );
    };
    await assert.rejects(mk().ensure(c), (e: unknown) => e instanceof KernelError && e.isUnsupported);
    assert.doesNotMatch(readFileSync(join(dir, 'kernel-links.json'), 'utf8'), /ipsec-b/);
    k.createXfrmInterface = orig;
    await mk().ensure(c);
    const t = mk(); // restarted with a config that no longer has the connection
    assert.equal(await t.reconcile(), 1);
    assert.equal(k.links.has('ipsec-b'), false);
  } finally {
    done();
  }
});

test('ESP overhead per algorithm and the tunnel MTU', () => {
  assert.equal(espOverhead('aes256gcm16'), 8 + 8 + 3 + 2 + 16);
  assert.equal(espOverhead('aes128gcm8'), 8 + 8 + 3 + 2 + 8);
  assert.equal(espOverhead('chacha20poly1305'), 37);
  assert.equal(espOverhead('aes256-sha256'), 8 + 16 + 15 + 2 + 16);
  assert.equal(espOverhead('aes128-sha1'), 8 + 16 + 15 + 2 + 12);
  assert.equal(
    tunnelMtu({
      pathMtu: 1500,
      outerFamily: 6,
      espProposals: ['aes256gcm16', 'aes256-sha512'],
      udpEncap: true,
    }),
    1500 - 40 - 8 - (8 + 16 + 15 + 2 + 32),
  );
});
