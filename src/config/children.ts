// `children:` of a connection (RFC 7296 §1.3, §2.9): each child's values with the connection's filled
// in, and the checks a responder needs to pick one child per request: unique names, subnets inside the
// connection's own (when it names them), no two children claiming the same traffic.
import type { Raw, Reporter } from './walk.ts';
import { formatDuration, prefixRange, prefixesOverlap, type IpAddress, type IpPrefix } from './values.ts';
import { buildSubnets } from './subnets.ts';
import { checkProposal } from './proposals-tokens.ts';
import type { Child, Connection } from './types.ts';

/** What a child inherits from its connection. */
export interface ChildDefaults {
  readonly path: string;
  readonly raw: Raw;
  readonly localAddress: IpAddress;
  readonly remote: IpAddress | 'any' | undefined;
  readonly routeBased: boolean;
  readonly subnets: readonly [IpPrefix[], IpPrefix[]];
  readonly start: Connection['start'];
  readonly ifId: number | undefined;
}

/** The children, or undefined when none are configured (the shorthand) or one is invalid (reported). */
export function buildChildren(r: Reporter, d: ChildDefaults): Child[] | undefined | null {
  const list = d.raw.children as Raw[] | undefined;
  if (list === undefined) return r.positions.has(`${d.path}.children`) ? null : undefined;
  const out: Child[] = [];
  const seen = new Map<string, number>();
  let bad = false;
  list.forEach((k, i) => {
    const p = `${d.path}.children[${i}]`;
    const name = k.name as string | undefined;
    if (name === undefined) return void (bad = true);
    const first = seen.get(name);
    if (first !== undefined) {
      const msg = `child "${name}" is already defined at children[${first}]`;
      r.add('E_CONFLICT', r.at(`${p}.name`), `${p}.name`, msg, 'give each child its own name');
      bad = true;
      return;
    }
    seen.set(name, i);
    const built = buildChild(r, d, k, p, name);
    if (built === undefined) bad = true;
    else out.push(built);
  });
  if (bad) return null;
  checkChildOverlaps(r, d.path, out);
  return out;
}

function buildChild(r: Reporter, d: ChildDefaults, k: Raw, p: string, name: string): Child | undefined {
  const c = d.raw;
  const mode = (k.mode ?? c.mode) as Child['mode'];
  // A side the child leaves out is the connection's; buildSubnets fills the defaults of the rest. A
  // transport child protects the two hosts: it takes no subnets from the connection, nor its bound.
  const transport = mode === 'transport';
  const merged: Raw = {
    localSubnets: k.localSubnets ?? (transport ? undefined : c.localSubnets),
    remoteSubnets: k.remoteSubnets ?? (transport ? undefined : c.remoteSubnets),
  };
  for (const key of ['local-subnets', 'remote-subnets'])
    if (
      r.positions.has(`${p}.${key}`) &&
      k[key === 'local-subnets' ? 'localSubnets' : 'remoteSubnets'] === undefined
    )
      return undefined; // given but invalid: reported by the walker
  const subnets = buildSubnets(r, merged, p, mode, d.localAddress, d.remote, d.routeBased);
  if (subnets === undefined) return undefined;
  if (!transport) {
    const sides = [
      ['localSubnets', 'local'],
      ['remoteSubnets', 'remote'],
    ] as const;
    for (const [key, side] of sides)
      checkInside(
        r,
        k[key] as IpPrefix[] | undefined,
        c[key] as IpPrefix[] | undefined,
        `${p}.${side}-subnets`,
        side,
      );
  }
  const start = (k.start as Child['start'] | undefined) ?? d.start;
  if (d.remote === 'any' && start !== 'wait') {
    r.add(
      'E_CONFLICT',
      r.at(`${p}.start`),
      `${p}.start`,
      `cannot start "${start}" towards remote: any`,
      'use start: wait',
    );
  }
  const espProposals = (k.espProposals ?? c.espProposals) as string[];
  if (c.pfs === false && k.espProposals !== undefined)
    espProposals.forEach((prop, i) => {
      if (!checkProposal(prop, 'esp').tokens.some((t) => t.kind === 'ke')) return;
      const at = `${p}.esp-proposals[${i}]`;
      r.add(
        'E_CONFLICT',
        r.at(at),
        at,
        `"${prop}" names a key exchange but pfs is false`,
        'remove the group or set pfs: true',
      );
    });
  const life = (k.childLifetime ?? c.childLifetime) as number;
  const margin = c.rekeyMargin as number | undefined;
  if (k.childLifetime !== undefined && margin !== undefined && margin >= life) {
    const at = `${p}.child-lifetime`;
    const msg = `${formatDuration(life)} is not longer than rekey-margin ${formatDuration(margin)}, so the SA would rekey at once`;
    r.add('E_CONFLICT', r.at(at), at, msg, `make it longer than ${formatDuration(margin)}`);
  }
  return {
    name,
    localSubnets: subnets[0],
    remoteSubnets: subnets[1],
    espProposals,
    mode,
    start,
    childLifetimeMs: life,
    childLifetimeBytes: (k.childLifetimeBytes ?? c.childLifetimeBytes) as number | undefined,
    mark: (k.mark ?? c.mark) as Child['mark'],
    ifId: (k.ifId as number | undefined) ?? d.ifId,
  };
}

const inside = (outer: IpPrefix, inner: IpPrefix) => {
  if (outer.family !== inner.family) return false;
  const [a, b] = prefixRange(outer);
  const [x, y] = prefixRange(inner);
  return a <= x && y <= b;
};

/** When the connection names subnets, they bound its children's. */
function checkInside(
  r: Reporter,
  child: readonly IpPrefix[] | undefined,
  bound: readonly IpPrefix[] | undefined,
  path: string,
  side: string,
): void {
  if (child === undefined || bound === undefined) return;
  child.forEach((s, i) => {
    if (bound.some((b) => inside(b, s))) return;
    const at = `${path}[${i}]`;
    const msg = `"${s.text}" is outside the connection's ${side}-subnets (${bound.map((b) => b.text).join(', ')})`;
    r.add('E_CONFLICT', r.at(at), at, msg, `widen the connection's ${side}-subnets or narrow this child`);
  });
}

/**
 * Two children whose traffic overlaps on both sides are an error: the responder could not tell which
 * one a request is for (§2.9) and the kernel would hold one policy for both. Children on different
 * if-ids (route-based) are apart.
 */
function checkChildOverlaps(r: Reporter, path: string, children: readonly Child[]): void {
  children.forEach((b, j) => {
    for (const [i, a] of children.slice(0, j).entries()) {
      if (a.ifId !== undefined && b.ifId !== undefined && a.ifId !== b.ifId) continue;
      const loc = firstOverlap(a.localSubnets, b.localSubnets);
      const rem = firstOverlap(a.remoteSubnets, b.remoteSubnets);
      if (
        loc === undefined ||
        (rem === undefined && !(a.remoteSubnets.length === 0 && b.remoteSubnets.length === 0))
      )
        continue;
      const at = `${path}.children[${j}].local-subnets`;
      const msg =
        `child "${b.name}" overlaps child "${a.name}" (children[${i}]): ${loc[1].text} and ${loc[0].text}` +
        (rem ? `, ${rem[1].text} and ${rem[0].text}` : '');
      r.add(
        'E_CONFLICT',
        r.at(at),
        at,
        msg,
        'give each child traffic of its own (split or narrow the subnets)',
      );
    }
  });
}

function firstOverlap(as: readonly IpPrefix[], bs: readonly IpPrefix[]): [IpPrefix, IpPrefix] | undefined {
  for (const a of as) for (const b of bs) if (prefixesOverlap(a, b)) return [a, b];
  return undefined;
}

/** The union of the children's subnets (the connection's traffic when it names none itself). */
export function unionSubnets(children: readonly Child[], side: 'localSubnets' | 'remoteSubnets'): IpPrefix[] {
  const seen = new Map<string, IpPrefix>();
  for (const k of children) for (const s of k[side]) if (!seen.has(s.text)) seen.set(s.text, s);
  return [...seen.values()];
}
