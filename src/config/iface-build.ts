// A route-based tunnel's interface from the walked tree, and the checks across connections: one
// if-id and one interface name per connection, a table name that exists, an MTU that IPv6 can use.
// The checks that need the running system (a name taken by an interface ikeway did not create)
// are the daemon's, reported at `TunnelInterface.at`.
import type { Raw, Reporter } from './walk.ts';
import { lookupRouteTable, type RouteTableRef } from './iface-values.ts';
import type { Connection, IpPrefix, TunnelInterface, TunnelRoutes } from './types.ts';

/** IPv6 needs links of at least this MTU (RFC 8200 §5). */
const IPV6_MIN_MTU = 1280;

/** undefined when the connection has no interface (or the walker reported its problems). */
export function buildInterface(
  r: Reporter,
  file: string,
  raw: Raw | undefined,
  path: string,
  remoteSubnets: readonly IpPrefix[],
  connIfId: number | undefined,
  tableDirs?: readonly string[],
): TunnelInterface | undefined {
  if (raw === undefined) return undefined;
  const p = `${path}.interface`;
  const name = raw.name as string | undefined;
  const ifId = raw.ifId as number | undefined;
  if (name === undefined || ifId === undefined) return undefined;
  if (connIfId !== undefined && connIfId !== ifId) {
    const msg = `if-id ${connIfId} differs from interface.if-id ${ifId}`;
    r.add('E_CONFLICT', r.at(`${path}.if-id`), `${path}.if-id`, msg, 'remove if-id; the interface sets it');
  }
  const addresses = (raw.addresses as IpPrefix[] | undefined) ?? [];
  const routes = buildRoutes(
    r,
    raw.routes as Raw | false | undefined,
    `${p}.routes`,
    remoteSubnets,
    tableDirs,
  );
  const mtu = raw.mtu as number | undefined;
  if (mtu !== undefined && mtu < IPV6_MIN_MTU) {
    const v6 = [...addresses, ...remoteSubnets, ...(routes ? routes.subnets : [])].find(
      (a) => a.family === 6,
    );
    if (v6 !== undefined) {
      const msg = `${mtu} is below ${IPV6_MIN_MTU}, the least IPv6 works with, and the tunnel carries ${v6.text}`;
      r.add('E_VALUE', r.at(`${p}.mtu`), `${p}.mtu`, msg, `write at least ${IPV6_MIN_MTU}, or leave mtu out`);
    }
  }
  if (routes === undefined) return undefined;
  const at = r.at(`${p}.name`);
  return {
    name,
    ifId,
    mtu,
    underlying: raw.underlying as string | undefined,
    addresses,
    routes,
    at: { file, line: at.line, col: at.col, path: `${p}.name` },
  };
}

function buildRoutes(
  r: Reporter,
  raw: Raw | false | undefined,
  p: string,
  remoteSubnets: readonly IpPrefix[],
  tableDirs?: readonly string[],
): TunnelRoutes | false | undefined {
  if (raw === false) return false;
  if (raw === undefined) return undefined;
  const ref = raw.table as RouteTableRef | undefined;
  const metric = raw.metric as number | undefined;
  if (ref === undefined || metric === undefined) return undefined;
  const table = ref.id ?? lookupRouteTable(ref.name, tableDirs);
  if (table === undefined) {
    const msg = `table "${ref.name}" does not exist (not in any rt_tables file)`;
    r.add(
      'E_VALUE',
      r.at(`${p}.table`),
      `${p}.table`,
      msg,
      'write main, a number, or add the name to /etc/iproute2/rt_tables',
    );
    return undefined;
  }
  const subnets = (raw.subnets as IpPrefix[] | undefined) ?? remoteSubnets;
  if (subnets.length === 0) {
    const msg = 'there is nothing to route: no subnets and no remote-subnets';
    r.add('E_VALUE', r.at(p), p, msg, 'give routes.subnets, or remote-subnets');
  }
  return { subnets, table, tableName: ref.name, metric };
}

/** One interface name and one if-id per connection: shared ones would mix two tunnels' traffic. */
export function checkInterfaces(r: Reporter, conns: readonly Connection[]): void {
  const names = new Map<string, string>();
  const ids = new Map<number, string>();
  for (const c of conns) {
    const i = c.interface;
    const both = i?.ifId ?? c.ifId;
    const mine = new Map<number, string>();
    if (both !== undefined) mine.set(both, i ? 'interface.if-id' : 'if-id');
    // Per-direction ids (a connection may use the same id both ways, never another tunnel's).
    if (c.ifIdIn !== undefined && !mine.has(c.ifIdIn)) mine.set(c.ifIdIn, 'if-id-in');
    if (c.ifIdOut !== undefined && !mine.has(c.ifIdOut)) mine.set(c.ifIdOut, 'if-id-out');
    for (const [id, key] of mine) {
      const other = ids.get(id);
      const p = `connections.${c.name}.${key}`;
      if (other !== undefined)
        r.add(
          'E_CONFLICT',
          r.at(p),
          p,
          `if-id ${id} is already used by connection "${other}"`,
          'give each tunnel its own if-id',
        );
    }
    for (const id of mine.keys()) if (!ids.has(id)) ids.set(id, c.name);
    if (i !== undefined) {
      const other = names.get(i.name);
      const p = `connections.${c.name}.interface.name`;
      if (other !== undefined)
        r.add(
          'E_CONFLICT',
          r.at(p),
          p,
          `interface ${i.name} is already the interface of connection "${other}"`,
          'give each tunnel its own interface name',
        );
      else names.set(i.name, c.name);
    }
  }
}
