// The one owner of route-based tunnels' XFRM interfaces and their routes. At start (before any SA)
// it checks that no configured name belongs to an interface ikeway did not create, then creates
// or re-claims each interface (if_id, underlying device, MTU, addresses, up). Routes go in when a
// connection has a Child SA and out when its last one goes, so the routing table fails over. A
// clean stop removes what it created; a killed daemon leaves interfaces, routes and policies (so
// traffic is dropped, never sent in clear) and the next start reconciles them (LinkJournal).
import type { Logger } from '../base/logger.ts';
import {
  ConfigErrors,
  type Config,
  type ConfigProblem,
  type Connection,
  type TunnelInterface,
} from '../config/index.ts';
import { KernelError } from '../kernel/errors.ts';
import { LinkJournal, type OwnedLinkObject } from '../kernel/link-ownership.ts';
import { openRtnl, type Rtnl } from '../kernel/rtnl.ts';
import type { InterfaceStatus } from '../control/status-types.ts';
import { tunnelMtu } from './tunnel-mtu.ts';

const ok = async (p: Promise<unknown>, accept: (e: KernelError) => boolean): Promise<void> => {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof KernelError && accept(e))) throw e;
  }
};

export class TunnelInterfaces {
  constructor(
    private readonly rtnl: Rtnl,
    private readonly journal: LinkJournal,
    private readonly log: Logger,
  ) {}

  /** Problems only the running system shows (a name taken by someone else's interface), at the name's line. */
  async check(conns: readonly Connection[]): Promise<ConfigProblem[]> {
    const out: ConfigProblem[] = [];
    for (const c of conns) {
      const i = c.interface;
      if (!i) continue;
      const l = await this.rtnl.getLink(i.name);
      if (l && !this.journal.ownsLink(i.name)) {
        const what = l.kind ? `a ${l.kind} interface` : 'an interface';
        out.push(
          problem(
            i,
            `${i.name} is already ${what} that ikeway did not create`,
            'choose another name, or remove that interface',
          ),
        );
      }
      if (i.underlying !== undefined && !(await this.rtnl.getLink(i.underlying))) {
        const at = { ...i.at, path: i.at.path.replace(/name$/, 'underlying') };
        out.push(
          problem(
            { ...i, at },
            `underlying device ${i.underlying} does not exist`,
            'name an existing device, or remove underlying',
          ),
        );
      }
    }
    return out;
  }

  /** Creates (or re-claims after a crash) the connection's interface, with MTU and addresses, up. */
  async ensure(c: Connection): Promise<void> {
    const i = c.interface;
    if (!i) return;
    const obj: OwnedLinkObject = { kind: 'link', name: i.name, ifId: i.ifId };
    const existing = await this.rtnl.getLink(i.name);
    if (existing && existing.kind === 'xfrm' && existing.xfrmIfId === i.ifId) {
      this.journal.claim(obj);
      this.log.log('info', 'interface re-claimed', {
        component: 'iface',
        conn: c.name,
        dev: i.name,
        if_id: i.ifId,
      });
    } else {
      if (existing) await this.rtnl.deleteLink(i.name); // ours (checked), but of another shape
      this.journal.record(obj);
      try {
        await this.rtnl.createXfrmInterface({
          name: i.name,
          ifId: i.ifId,
          ...(i.underlying !== undefined ? { dev: i.underlying } : {}),
        });
      } catch (e) {
        this.journal.forget(obj);
        throw e;
      }
      this.log.log('info', 'interface created', {
        component: 'iface',
        conn: c.name,
        dev: i.name,
        if_id: i.ifId,
      });
    }
    const mtu = i.mtu ?? (await this.autoMtu(c, i));
    await this.rtnl.setMtu(i.name, mtu);
    for (const a of i.addresses) await ok(this.rtnl.addAddress(i.name, a.text), (e) => e.isExists);
    await this.rtnl.setLinkUp(i.name, true);
  }

  private async autoMtu(c: Connection, i: TunnelInterface): Promise<number> {
    let pathMtu = 1500;
    try {
      if (i.underlying !== undefined) pathMtu = (await this.rtnl.getLink(i.underlying))?.mtu ?? pathMtu;
      else if (c.remote !== 'any') {
        const r = await this.rtnl.routeGet(c.remote.address);
        const dev = (await this.rtnl.listLinks()).find((l) => l.index === r.oif);
        pathMtu = dev?.mtu ?? pathMtu;
      }
    } catch (e) {
      this.log.log('warn', 'path MTU unknown, assuming 1500', {
        component: 'iface',
        dev: i.name,
        error: String(e),
      });
    }
    return tunnelMtu({
      pathMtu,
      outerFamily: c.localAddress.family,
      espProposals: c.espProposals,
      udpEncap: c.encapsulation === 'force',
    });
  }

  /** Removes what a previous run left that this run did not re-claim (routes first). */
  async reconcile(): Promise<number> {
    let n = 0;
    for (const o of this.journal.leftovers()) {
      await this.removeObject(o);
      n++;
    }
    return n;
  }

  /** The tunnel is up: its routes go in (a route already there from a killed run is taken over). */
  async routesUp(c: Connection): Promise<void> {
    const i = c.interface;
    if (!i || !i.routes) return;
    for (const o of routeObjects(i)) {
      this.journal.record(o);
      await ok(this.rtnl.addRoute(routeParams(o)), (e) => e.isExists);
    }
    this.log.log('info', 'routes installed', {
      component: 'iface',
      conn: c.name,
      dev: i.name,
      routes: i.routes.subnets.length,
    });
  }

  /** The tunnel is down: its routes go, so traffic takes another route. */
  async routesDown(c: Connection): Promise<void> {
    const i = c.interface;
    if (!i || !i.routes) return;
    for (const o of routeObjects(i)) await this.removeObject(o);
    this.log.log('info', 'routes removed', { component: 'iface', conn: c.name, dev: i.name });
  }

  /** A connection removed (reload): its routes and interface go. */
  async remove(c: Connection): Promise<void> {
    const i = c.interface;
    if (!i) return;
    await this.routesDown(c);
    await this.removeObject({ kind: 'link', name: i.name, ifId: i.ifId });
  }

  /** Clean stop: every route and interface this run (or an unreconciled earlier one) created. */
  async removeAll(): Promise<number> {
    let n = 0;
    for (const o of [...this.journal.leftovers(), ...this.journal.list()]) {
      await this.removeObject(o);
      n++;
    }
    return n;
  }

  private async removeObject(o: OwnedLinkObject): Promise<void> {
    const gone = (e: KernelError) => e.isNotFound || e.code === 'ENODEV';
    if (o.kind === 'route') await ok(this.rtnl.deleteRoute(routeParams(o)), gone);
    else await ok(this.rtnl.deleteLink(o.name), gone);
    this.journal.forget(o);
  }

  async status(c: Connection): Promise<InterfaceStatus | undefined> {
    const i = c.interface;
    if (!i) return undefined;
    const l = await this.rtnl.getLink(i.name).catch(() => undefined);
    const held = new Set(this.journal.list().map((o) => (o.kind === 'route' ? `${o.dst}|${o.dev}` : '')));
    const routes = routeObjects(i)
      .filter((o) => held.has(`${o.dst}|${o.dev}`))
      .map((o) => `${o.dst} dev ${o.dev} table ${o.table} metric ${o.metric}`);
    return {
      name: i.name,
      ifId: i.ifId,
      present: l !== undefined,
      up: l?.up ?? false,
      mtu: l?.mtu,
      addresses: i.addresses.map((a) => a.text),
      routes,
      counters: l?.stats,
    };
  }

  close(): Promise<void> {
    return this.rtnl.close();
  }
}

function routeObjects(i: TunnelInterface): Extract<OwnedLinkObject, { kind: 'route' }>[] {
  if (!i.routes) return [];
  const { table, metric } = i.routes;
  return i.routes.subnets.map((s) => ({ kind: 'route', dst: s.text, dev: i.name, table, metric }));
}

const routeParams = (o: Extract<OwnedLinkObject, { kind: 'route' }>) => ({
  dst: o.dst,
  dev: o.dev,
  table: o.table,
  metric: o.metric,
});

function problem(i: TunnelInterface, message: string, hint: string): ConfigProblem {
  return { code: 'E_CONFLICT', severity: 'error', ...i.at, message, hint };
}

/**
 * Opens the owner on the real kernel and checks the configured names against the system; with
 * the in-memory kernel there are no interfaces (logged). Throws ConfigErrors (nothing created)
 * when a name is taken by an interface ikeway did not create.
 */
export async function openInterfaces(
  kernel: 'xfrm' | 'memory',
  config: Config,
  log: Logger,
): Promise<TunnelInterfaces | undefined> {
  if (kernel === 'memory') {
    if (config.connections.some((c) => c.interface))
      log.log('warn', 'in-memory kernel: route-based interfaces are not created', { component: 'iface' });
    return undefined;
  }
  const t = new TunnelInterfaces(await openRtnl(), new LinkJournal(config.stateDir), log);
  const problems = await t.check(config.connections);
  if (problems.length > 0) {
    await t.close();
    throw new ConfigErrors(config.file, problems);
  }
  return t;
}
