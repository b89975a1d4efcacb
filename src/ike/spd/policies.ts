// The shapes of a connection's kernel policies (RFC 4301 §4.4.1, the SPD), computed from one set of
// traffic selectors: the Child SA policies, the fail-closed trap/block policies that stand in their
// place while no Child SA does, and the outbound trap policies of dpdAction 'trap'. Pure apart from
// the two batch writers at the end; the policy owner (spd.ts) and ChildSa are the only writers.
import type {
  IpProto,
  Kernel,
  PolicyDir,
  PolicyId,
  PolicyParams,
  Selector,
  Template,
} from '../../kernel/types.ts';
import { tsToCidrs, type TrafficSelector } from '../traffic-selectors.ts';
import { idsFor, pickIds, type XfrmIds } from '../xfrm-ids.ts';

/** Lower precedence than Child SA policies (1000 by default) and IKE bypass (1). */
export const FAIL_CLOSED_PRIORITY = 2000;
/** Child SA (and dpdAction trap) policy priority unless the connection sets one. */
export const CHILD_PRIORITY = 1000;

/** XFRM selectors are prefixes: each TS range becomes its covering CIDRs; pairs of the same family. */
export function selectorPairs(
  local: readonly TrafficSelector[],
  remote: readonly TrafficSelector[],
): Selector[] {
  const out: Selector[] = [];
  for (const l of local)
    for (const r of remote) {
      if (l.type !== r.type) continue; // RFC 7296 §2.9: IPv4 and IPv6 selectors pair within a family
      const proto = l.protocol || r.protocol;
      const port = (t: TrafficSelector) => (t.startPort === t.endPort ? t.startPort : 0);
      for (const src of tsToCidrs(l))
        for (const dst of tsToCidrs(r))
          out.push({ src, dst, ...(proto ? { proto } : {}), sport: port(l), dport: port(r) });
    }
  return out;
}

/** The inbound (and forward) view of an outbound selector. */
export const reverseSelector = (s: Selector): Selector => ({
  ...s,
  src: s.dst,
  dst: s.src,
  sport: s.dport ?? 0,
  dport: s.sport ?? 0,
});

/** Tunnel mode protects forwarded traffic too; transport mode only our own. */
export const policyDirs = (mode: 'tunnel' | 'transport'): PolicyDir[] =>
  mode === 'tunnel' ? ['out', 'in', 'fwd'] : ['out', 'in'];

/** What a Child SA's policies are made of: its narrowed selectors, mode and reqid. */
export interface ChildPolicyView {
  readonly localTs: readonly TrafficSelector[];
  readonly remoteTs: readonly TrafficSelector[];
  readonly mode: 'tunnel' | 'transport';
  readonly reqid: number;
  /** RFC 4301 §4.4.1: the security protocol the templates ask for (ESP, or AH per RFC 4302). */
  readonly protocol: IpProto;
}

/** Where a Child SA's policies point: its addresses, priority, mark and if_id. */
export interface ChildPolicyPlace extends XfrmIds {
  readonly localAddr: string;
  readonly remoteAddr: string;
  readonly priority: number;
}

/** A Child SA's policies: out, in and (tunnel) fwd per selector pair, templates with its reqid. */
export function childPolicies(child: ChildPolicyView, at: ChildPolicyPlace): PolicyParams[] {
  const tmpl = (src: string, dst: string): Template => ({
    src,
    dst,
    proto: child.protocol,
    mode: child.mode,
    reqid: child.reqid,
  });
  const common = { action: 'allow' as const, priority: at.priority };
  const out: PolicyParams[] = [];
  for (const sel of selectorPairs(child.localTs, child.remoteTs))
    for (const dir of policyDirs(child.mode)) {
      const outbound = dir === 'out';
      out.push({
        ...common,
        ...idsFor(at, dir),
        selector: outbound ? sel : reverseSelector(sel),
        dir,
        templates: [outbound ? tmpl(at.localAddr, at.remoteAddr) : tmpl(at.remoteAddr, at.localAddr)],
      });
    }
  return out;
}

/** The parts of a connection its fail-closed and trap policies are made of. */
export interface ConnectionPolicyView extends XfrmIds {
  readonly localAddr: string;
  /** Undefined for remote: any (no template can name the peer: block instead of trap). */
  readonly remoteAddr?: string;
  readonly localTs: readonly TrafficSelector[];
  readonly remoteTs: readonly TrafficSelector[];
  readonly mode: 'tunnel' | 'transport';
  readonly reqid?: number;
  readonly policyPriority?: number;
  /** The Child SAs' security protocol (default ESP): trap templates ask the kernel for it. */
  readonly childProtocol?: IpProto;
  /**
   * Several Child SAs (src/ike/child-config.ts): each child's selectors, mode, reqid, mark and if_id
   * (the connection's where the child names none). Absent: the connection's own fields are one child.
   */
  readonly children?: readonly ChildPolicySource[];
}

/** What one child of a connection contributes to the connection's fail-closed and trap policies. */
export interface ChildPolicySource extends XfrmIds {
  readonly localTs: readonly TrafficSelector[];
  readonly remoteTs: readonly TrafficSelector[];
  readonly mode: 'tunnel' | 'transport';
  readonly reqid?: number;
  readonly childProtocol?: IpProto;
}

/** The connection as one view per child (its own fields when it lists no children). */
export function perChild(c: ConnectionPolicyView): ConnectionPolicyView[] {
  if (!c.children || c.children.length === 0) return [c];
  return c.children.map((k) => ({
    localAddr: c.localAddr,
    ...(c.remoteAddr !== undefined ? { remoteAddr: c.remoteAddr } : {}),
    localTs: k.localTs,
    remoteTs: k.remoteTs,
    mode: k.mode,
    ...((k.reqid ?? c.reqid) !== undefined ? { reqid: k.reqid ?? c.reqid } : {}),
    ...((k.mark ?? c.mark) ? { mark: k.mark ?? c.mark } : {}),
    ...((k.ifId ?? c.ifId) !== undefined ? { ifId: k.ifId ?? c.ifId } : {}),
    // The connection's per-direction ids, unless the child names its own mark / if_id.
    ...pickIds({
      ...((k.markIn ?? (k.mark ? undefined : c.markIn)) ? { markIn: (k.markIn ?? c.markIn)! } : {}),
      ...((k.markOut ?? (k.mark ? undefined : c.markOut)) ? { markOut: (k.markOut ?? c.markOut)! } : {}),
      ...((k.ifIdIn ?? (k.ifId !== undefined ? undefined : c.ifIdIn)) !== undefined
        ? { ifIdIn: (k.ifIdIn ?? c.ifIdIn)! }
        : {}),
      ...((k.ifIdOut ?? (k.ifId !== undefined ? undefined : c.ifIdOut)) !== undefined
        ? { ifIdOut: (k.ifIdOut ?? c.ifIdOut)! }
        : {}),
    }),
    ...(c.policyPriority !== undefined ? { policyPriority: c.policyPriority } : {}),
    ...((k.childProtocol ?? c.childProtocol) ? { childProtocol: k.childProtocol ?? c.childProtocol } : {}),
  }));
}

/**
 * Fail-closed policies: for a fixed peer "trap" policies (action allow, an ESP template to the peer
 * with the connection's reqid, no SA: traffic is dropped and the kernel sends an ACQUIRE; inbound
 * clear traffic fails the template check); for remote: any "block" policies (discard). Same identity
 * (selector, dir, mark, if_id) as the Child SA policies for the full selectors, at lower precedence.
 */
export function failClosedPolicies(view: ConnectionPolicyView): PolicyParams[] {
  return perChild(view).flatMap(childFailClosed);
}

function childFailClosed(c: ConnectionPolicyView): PolicyParams[] {
  const peer = c.remoteAddr;
  const reqid = c.reqid;
  const me = c.localAddr;
  const out: PolicyParams[] = [];
  for (const sel of selectorPairs(c.localTs, c.remoteTs))
    for (const dir of policyDirs(c.mode)) {
      const outbound = dir === 'out';
      const trap = peer !== undefined && reqid !== undefined;
      const [src, dst] = outbound ? [me, peer] : [peer, me];
      out.push({
        selector: outbound ? sel : reverseSelector(sel),
        dir,
        action: trap ? 'allow' : 'block',
        priority: FAIL_CLOSED_PRIORITY,
        templates: trap
          ? [{ src: src!, dst: dst!, proto: c.childProtocol ?? 'esp', mode: c.mode, reqid }]
          : [],
        ...idsFor(c, dir),
      });
    }
  return out;
}

/** dpdAction 'trap': outbound policies whose first packet makes the kernel send an ACQUIRE. */
export function trapPolicies(c: ConnectionPolicyView & { readonly remoteAddr: string }, reqid: number) {
  return selectorPairs(c.localTs, c.remoteTs).map((selector): PolicyParams => ({
    selector,
    dir: 'out',
    action: 'allow',
    priority: c.policyPriority ?? CHILD_PRIORITY,
    templates: [
      { src: c.localAddr, dst: c.remoteAddr, proto: c.childProtocol ?? 'esp', mode: c.mode, reqid },
    ],
    ...idsFor(c, 'out'),
  }));
}

/** A policy's kernel identity: selector, direction, mark, interface id. */
export const policyId = (p: PolicyParams): PolicyId => ({
  selector: p.selector,
  dir: p.dir,
  ...(p.mark ? { mark: p.mark } : {}),
  ...(p.ifId !== undefined ? { ifId: p.ifId } : {}),
});

/** A policy's kernel identity as text (object keys sorted): equal keys = the same kernel object. */
export const policyKey = (p: PolicyParams): string =>
  JSON.stringify(policyId(p), (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );

/**
 * A Child SA's policies, one by one after its SAs (RFC 4301 §4.4: never a policy without its SA).
 * updatePolicy: a policy for the same selectors (a trap, an earlier Child SA's) is replaced, not refused.
 */
export function installChildPolicies(k: Kernel, pols: readonly PolicyParams[]): Promise<void> {
  return writePolicies(k, pols);
}

/**
 * Removes a Child SA's policies, except those listed in `keep` (a Child SA replacing this one, RFC 7296
 * §2.8: same reqid and selectors). Already missing ones are an outcome, not an error.
 */
export async function removeChildPolicies(
  k: Kernel,
  pols: readonly PolicyParams[],
  keep: readonly PolicyParams[] = [],
): Promise<void> {
  const kept = new Set(keep.map(policyKey));
  for (const p of pols) if (!kept.has(policyKey(p))) await k.deletePolicy(policyId(p)).catch(() => undefined);
}

/** Installs (or replaces: updatePolicy never leaves a gap) the policies; throws the first error. */
export async function writePolicies(k: Kernel, pols: readonly PolicyParams[]): Promise<void> {
  if (pols.length === 0) return;
  const res = await k.batch(pols.map((policy) => ({ op: 'updatePolicy' as const, policy })));
  const err = res.find((e) => e !== null);
  if (err) throw err;
}

/** Removes the policies; already missing ones are fine. */
export async function removePolicies(k: Kernel, pols: readonly PolicyParams[]): Promise<void> {
  if (pols.length === 0) return;
  const res = await k.batch(pols.map((p) => ({ op: 'deletePolicy' as const, id: policyId(p) })));
  const err = res.find((e) => e !== null && !e.isNotFound);
  if (err) throw err;
}
