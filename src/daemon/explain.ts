// `ikeway explain`: what the kernel would do with one packet right now, and why. The policy comes
// from a dump of the kernel's SPD (never from ikeway's memory) matched by the kernel's own rules
// (kernel/spd-match.ts); the daemon adds only names: which connection owns that policy and, if the
// packet is dropped because its tunnel is down, since when and after which failure. Pure: the
// dumps, the owner index and the connection states come in as data.
import type {
  ExplainConnection,
  ExplainOwner,
  ExplainPolicy,
  ExplainSa,
  Explanation,
} from '../control/explain-types.ts';
import type { PolicyDir, PolicyInfo, PolicyParams, SaInfo, Selector } from '../kernel/types.ts';
import { carrierSa, matchPolicy, policyIdentity, type Flow } from '../kernel/spd-match.ts';

export interface ExplainInput {
  readonly flow: Flow;
  readonly dir: PolicyDir;
  readonly policies: readonly PolicyInfo[];
  readonly sas: readonly SaInfo[];
  /** Who installed the policy of this identity (policyIdentity), if ikeway knows. */
  readonly ownerOf: (identity: string) => ExplainOwner | undefined;
  readonly connection: (name: string) => ExplainConnection | undefined;
}

const NOTES = [
  'matched like the kernel: direction, selector, mark and if_id; lowest priority value wins, then the oldest policy (lowest index)',
  'not seen in a dump: per-socket policies (IP_XFRM_POLICY) would take precedence for their socket',
];

export function selectorText(s: Selector): string {
  const parts = [`${s.src} -> ${s.dst}`];
  if (s.proto) parts.push(`proto ${s.proto}`);
  if (s.sport) parts.push(`sport ${s.sport}`);
  if (s.dport) parts.push(`dport ${s.dport}`);
  if (s.ifindex) parts.push(`dev #${s.ifindex}`);
  return parts.join(' ');
}

export function policyView(p: PolicyInfo): ExplainPolicy {
  return {
    index: p.index,
    dir: p.dir,
    priority: p.priority,
    action: p.action,
    selector: selectorText(p.selector),
    ...(p.mark && (p.mark.mask !== 0 || p.mark.value !== 0) ? { mark: { ...p.mark } } : {}),
    ...(p.ifId ? { ifId: p.ifId } : {}),
    templates: p.templates.map((t) => ({
      ...(t.src !== undefined ? { src: t.src } : {}),
      ...(t.dst !== undefined ? { dst: t.dst } : {}),
      proto: t.proto,
      mode: t.mode,
      reqid: t.reqid,
    })),
  };
}

const saView = (sa: SaInfo): ExplainSa => ({
  spi: `0x${sa.spi.toString(16).padStart(8, '0')}`,
  src: sa.src,
  dst: sa.dst,
  proto: sa.proto,
  mode: sa.mode,
  reqid: sa.reqid,
  bytes: Number(sa.current.bytes),
  packets: Number(sa.current.packets),
});

function ownerText(o: ExplainOwner | undefined): string {
  if (!o) return 'not installed by ikeway';
  switch (o.kind) {
    case 'fail-closed':
      return `fail-closed policy of connection ${o.connection}`;
    case 'child-sa':
      return `policy of Child SA ${o.childSa} of connection ${o.connection}`;
    case 'ike-bypass':
      return "ikeway's IKE bypass policy";
    case 'ikeway':
      return 'installed by ikeway';
    case 'foreign':
      return 'not installed by ikeway';
  }
}

function downText(c: ExplainConnection | undefined): string {
  if (!c) return '';
  const parts = [c.up ? `connection ${c.name} is up` : `the tunnel of ${c.name} is down`];
  if (!c.up && c.downSince) parts.push(`since ${c.downSince}`);
  if (c.lastFailure) parts.push(`last failure ${c.lastFailure.at}: ${c.lastFailure.reason}`);
  else if (!c.up) parts.push('no failure recorded');
  return parts.join(', ');
}

export function explainFlow(i: ExplainInput): Explanation {
  const f = i.flow;
  const flow = {
    src: f.src,
    dst: f.dst,
    proto: f.proto,
    sport: f.sport,
    dport: f.dport,
    mark: f.mark,
    ifId: f.ifId,
    dir: i.dir,
  };
  const { policy, candidates } = matchPolicy(i.policies, f, i.dir);
  const shadowed = candidates.slice(1).map(policyView);
  if (!policy)
    return {
      flow,
      verdict: 'clear',
      summary: `no ${i.dir} policy matches: the kernel sends it in clear`,
      shadowed,
      notes: NOTES,
    };
  const owner = i.ownerOf(policyIdentity(policy));
  const conn = owner?.connection !== undefined ? i.connection(owner.connection) : undefined;
  const base = {
    flow,
    policy: policyView(policy),
    ...(owner ? { owner } : {}),
    ...(conn ? { connection: conn } : {}),
    shadowed,
    notes: NOTES,
  };
  const pol = `policy #${policy.index} (${ownerText(owner)})`;
  if (policy.action === 'block') {
    const why = downText(conn);
    return { ...base, verdict: 'dropped', summary: `dropped by the block ${pol}${why ? `: ${why}` : ''}` };
  }
  if (policy.templates.length === 0)
    return { ...base, verdict: 'bypass', summary: `sent in clear: allowed without IPsec by ${pol}` };
  const found = policy.templates.map((t) => carrierSa(t, i.sas, f, policy) ?? null);
  const sas = found.map((s) => (s ? saView(s) : null));
  const missing = policy.templates.filter((t, k) => found[k] === null && !t.optional);
  if (missing.length === 0) {
    const first = found.find((s) => s !== null)!;
    return {
      ...base,
      sas,
      verdict: 'protected',
      summary: `protected by ${pol}: carried by ${first.proto.toUpperCase()} SA ${saView(first).spi} ${first.src} -> ${first.dst} (${first.mode}, reqid ${first.reqid})`,
    };
  }
  const t = missing[0]!;
  const why = downText(conn);
  return {
    ...base,
    sas,
    verdict: 'dropped',
    summary:
      `dropped: ${pol} requires an ${t.proto.toUpperCase()} SA (${t.mode}, reqid ${t.reqid}${t.dst ? ` to ${t.dst}` : ''}) and none is installed; ` +
      `the kernel asks the IKE daemon for one (ACQUIRE)${why ? `; ${why}` : ''}`,
  };
}

/** Owner index: identity -> owner. Child SA policies win over the fail-closed ones they replace. */
export function ownerIndex(src: {
  readonly failClosed: readonly { readonly connection: string; readonly policies: readonly PolicyParams[] }[];
  readonly children: readonly {
    readonly connection: string;
    readonly childSa: string;
    readonly policies: readonly PolicyParams[];
  }[];
  readonly bypass: readonly PolicyParams[];
  /** Whether the ownership journal lists the identity (objects of this daemon). */
  readonly ours?: (identity: string) => boolean;
}): (identity: string) => ExplainOwner | undefined {
  const m = new Map<string, ExplainOwner>();
  for (const p of src.bypass) m.set(policyIdentity(p), { kind: 'ike-bypass' });
  for (const f of src.failClosed)
    for (const p of f.policies) m.set(policyIdentity(p), { kind: 'fail-closed', connection: f.connection });
  for (const c of src.children)
    for (const p of c.policies)
      m.set(policyIdentity(p), { kind: 'child-sa', connection: c.connection, childSa: c.childSa });
  return (id) => m.get(id) ?? (src.ours?.(id) ? { kind: 'ikeway' } : { kind: 'foreign' });
}

/** A connection's state for explain: up when an IKE SA is established with an installed Child SA. */
export function connectionView(c: {
  readonly name: string;
  readonly up: boolean;
  readonly lastDownMs: number | undefined;
  readonly startedMs: number;
  readonly lastFailure: { readonly atMs: number; readonly reason: string } | undefined;
}): ExplainConnection {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    name: c.name,
    up: c.up,
    ...(!c.up ? { downSince: iso(c.lastDownMs ?? c.startedMs) } : {}),
    ...(c.lastFailure ? { lastFailure: { at: iso(c.lastFailure.atMs), reason: c.lastFailure.reason } } : {}),
  };
}
