// Traffic selector checks (RFC 4301 §4.4.1, RFC 7296 §2.9): subnets against mode and address
// families, and overlaps between connections (the kernel would pick one policy for both).
import type { Reporter, Raw } from './walk.ts';
import { prefixesOverlap, type IpAddress, type IpPrefix } from './values.ts';
import type { Connection, Mode } from './types.ts';

const hostPrefix = (a: IpAddress): IpPrefix => {
  const len = a.family === 4 ? 32 : 128;
  return { ...a, prefixLength: len, text: `${a.address}/${len}` };
};
const ANY: readonly IpPrefix[] = [
  { family: 4, address: '0.0.0.0', prefixLength: 0, text: '0.0.0.0/0' },
  { family: 6, address: '::', prefixLength: 0, text: '::/0' },
];
const isHost = (p: IpPrefix) => p.prefixLength === (p.family === 4 ? 32 : 128);

/** [local, remote] subnets with defaults filled, or undefined if a given list was invalid. */
export function buildSubnets(
  r: Reporter,
  c: Raw,
  path: string,
  mode: Mode,
  local: IpAddress,
  remote: IpAddress | 'any' | undefined,
  routeBased = false,
): [IpPrefix[], IpPrefix[]] | undefined {
  const lp = `${path}.local-subnets`;
  const rp = `${path}.remote-subnets`;
  const given = (key: 'localSubnets' | 'remoteSubnets', p: string) => {
    const v = c[key] as IpPrefix[] | undefined;
    return v === undefined && r.positions.has(p) ? null : v;
  };
  const ls = given('localSubnets', lp);
  const rs = given('remoteSubnets', rp);
  if (ls === null || rs === null || remote === undefined) return undefined;
  // A route-based tunnel carries whatever the routing table sends into its interface.
  // An unset side covers every family the other side names (both when neither is set).
  const anyFor = (other: IpPrefix[] | undefined) =>
    ANY.filter((a) => other === undefined || other.some((p) => p.family === a.family));
  const localSubnets = ls ?? (routeBased ? anyFor(rs) : [hostPrefix(local)]);
  const remoteSubnets = rs ?? (routeBased ? anyFor(ls) : remote === 'any' ? [] : [hostPrefix(remote)]);
  if (routeBased && mode === 'transport') {
    const p = `${path}.mode`;
    r.add('E_CONFLICT', r.at(p), p, 'a route-based tunnel (interface) needs tunnel mode', 'use mode: tunnel');
  }
  if (mode === 'transport') {
    checkHostsOnly(r, ls ?? [], lp);
    checkHostsOnly(r, rs ?? [], rp);
  } else if (remoteSubnets.length > 0) {
    checkFamilies(r, localSubnets, remoteSubnets, lp, 'remote-subnets');
    checkFamilies(r, remoteSubnets, localSubnets, rp, 'local-subnets');
  }
  return [localSubnets, remoteSubnets];
}

function checkHostsOnly(r: Reporter, subnets: IpPrefix[], path: string): void {
  subnets.forEach((s, i) => {
    if (isHost(s)) return;
    const p = `${path}[${i}]`;
    const msg = `"${s.text}" is a subnet, but transport mode protects only traffic between the two hosts`;
    r.add('E_CONFLICT', r.at(p), p, msg, 'remove the subnets, or use mode: tunnel');
  });
}

function checkFamilies(
  r: Reporter,
  ours: IpPrefix[],
  theirs: IpPrefix[],
  path: string,
  otherKey: string,
): void {
  for (const fam of [4, 6] as const) {
    const i = ours.findIndex((s) => s.family === fam);
    if (i < 0 || theirs.some((s) => s.family === fam)) continue;
    const p = `${path}[${i}]`;
    const msg = `"${ours[i]?.text}" is IPv${fam} but ${otherKey} has no IPv${fam} prefix to pair it with`;
    r.add('E_CONFLICT', r.at(p), p, msg, `add an IPv${fam} prefix to ${otherKey}, or remove this one`);
  }
}

/** Warn when two connections would claim the same traffic. */
export function checkOverlaps(r: Reporter, conns: readonly Connection[]): void {
  conns.forEach((b, j) => {
    for (const a of conns.slice(0, j)) {
      // Policies with different if_ids are different kernel objects: the route picks the tunnel.
      if (a.ifId !== undefined && b.ifId !== undefined && a.ifId !== b.ifId) continue;
      const rem = firstOverlap(a.remoteSubnets, b.remoteSubnets);
      if (rem === undefined || firstOverlap(a.localSubnets, b.localSubnets) === undefined) continue;
      const p = `connections.${b.name}.remote-subnets`;
      const msg = `${rem[1].text} overlaps ${rem[0].text} of connection "${a.name}" (same local side too)`;
      r.add(
        'W_OVERLAP',
        r.at(p),
        p,
        msg,
        'the kernel would send that traffic to one of them only; narrow the subnets',
      );
    }
  });
}

function firstOverlap(as: readonly IpPrefix[], bs: readonly IpPrefix[]): [IpPrefix, IpPrefix] | undefined {
  for (const a of as) for (const b of bs) if (prefixesOverlap(a, b)) return [a, b];
  return undefined;
}
