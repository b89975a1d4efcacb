// The Child SAs a connection may hold under one IKE SA (RFC 7296 §1.3, §2.9): each with its own name,
// selectors, ESP proposals, mode, start mode, lifetimes, mark, if_id and reqid. A connection without
// a `children` list has one child made of its own flat fields (the shorthand every older config and
// test uses). The responder picks the child for a request by narrowing per child (§2.9).
import type { ChildConfig, IkeConnection } from './config.ts';
import { narrowPair, tsContains, type TrafficSelector, type TsPair } from './traffic-selectors.ts';
import { TsUnacceptableError } from './errors.ts';

export type { ChildConfig };

const shorthand = new WeakMap<IkeConnection, readonly ChildConfig[]>();

/** The connection's children in configured order; never empty. */
export function childrenOf(c: IkeConnection): readonly ChildConfig[] {
  if (c.children && c.children.length > 0) return c.children;
  let one = shorthand.get(c);
  if (!one) {
    one = [
      {
        name: c.name,
        espProposals: c.espProposals,
        localTs: c.localTs,
        remoteTs: c.remoteTs,
        mode: c.mode,
        ...(c.childRekeyMs !== undefined ? { childRekeyMs: c.childRekeyMs } : {}),
        ...(c.childLifetimeMs !== undefined ? { childLifetimeMs: c.childLifetimeMs } : {}),
        ...(c.childLifetimeBytes !== undefined ? { childLifetimeBytes: c.childLifetimeBytes } : {}),
        ...(c.mark ? { mark: c.mark } : {}),
        ...(c.ifId !== undefined ? { ifId: c.ifId } : {}),
        ...(c.markIn ? { markIn: c.markIn } : {}),
        ...(c.markOut ? { markOut: c.markOut } : {}),
        ...(c.ifIdIn !== undefined ? { ifIdIn: c.ifIdIn } : {}),
        ...(c.ifIdOut !== undefined ? { ifIdOut: c.ifIdOut } : {}),
        ...(c.reqid !== undefined ? { reqid: c.reqid } : {}),
        ...(c.childProtocol !== undefined ? { childProtocol: c.childProtocol } : {}),
        ...(c.tfcPadding !== undefined ? { tfcPadding: c.tfcPadding } : {}),
        ...(c.acceptTfcPadding !== undefined ? { acceptTfcPadding: c.acceptTfcPadding } : {}),
      },
    ];
    shorthand.set(c, one);
  }
  return one;
}

/** The child named `name`, or undefined. */
export function childNamed(c: IkeConnection, name: string): ChildConfig | undefined {
  return childrenOf(c).find((x) => x.name === name);
}

/** The child the IKE_AUTH exchange sets up: `wanted`, else the first that starts now, else the first. */
export function firstChild(c: IkeConnection, wanted?: string): ChildConfig {
  const all = childrenOf(c);
  return (
    (wanted !== undefined ? all.find((x) => x.name === wanted) : undefined) ??
    all.find((x) => (x.start ?? 'now') === 'now') ??
    all[0]!
  );
}

/** The children brought up with CREATE_CHILD_SA once the IKE SA stands (start: now, not `first`). */
export function followingChildren(c: IkeConnection, first: ChildConfig): ChildConfig[] {
  return childrenOf(c).filter((x) => x !== first && (x.start ?? 'now') === 'now');
}

const same = (a: readonly TrafficSelector[], b: readonly TrafficSelector[]) =>
  a.length === b.length && a.every((t, i) => tsContains(t, b[i]!) && tsContains(b[i]!, t));

/**
 * RFC 7296 §2.9 per child: the child whose policy the proposed selectors narrow to, and the narrowed
 * selectors (TSi = the peer's side). Ranked: a child of the requested mode first; then one that
 * contains the first (packet) selector pair of a multi-selector request, as §2.9 asks the responder
 * to honour; then one that takes the request without narrowing; ties in configured order. None:
 * TS_UNACCEPTABLE.
 */
export function selectChild(
  c: IkeConnection,
  offered: TsPair,
  transport: boolean,
): { readonly child: ChildConfig; readonly narrowed: TsPair } {
  let best: { child: ChildConfig; narrowed: TsPair; rank: number } | undefined;
  const firstI = offered.tsi[0];
  const firstR = offered.tsr[0];
  const packet = offered.tsi.length > 1 || offered.tsr.length > 1;
  for (const child of childrenOf(c)) {
    let narrowed: TsPair;
    try {
      narrowed = narrowPair(offered, { tsi: child.remoteTs, tsr: child.localTs });
    } catch {
      continue;
    }
    const holdsPacket =
      !packet ||
      (firstI !== undefined &&
        firstR !== undefined &&
        child.remoteTs.some((t) => tsContains(t, firstI)) &&
        child.localTs.some((t) => tsContains(t, firstR)));
    const rank =
      (child.mode === (transport ? 'transport' : 'tunnel') ? 0 : 4) +
      (holdsPacket ? 0 : 2) +
      (same(narrowed.tsi, offered.tsi) && same(narrowed.tsr, offered.tsr) ? 0 : 1);
    if (best === undefined || rank < best.rank) best = { child, narrowed, rank };
  }
  if (!best) {
    const names = childrenOf(c)
      .map((x) => x.name)
      .join(', ');
    throw new TsUnacceptableError(`the proposed selectors fit no child of ${c.name} (${names})`);
  }
  return { child: best.child, narrowed: best.narrowed };
}

/**
 * `one-sa-per-subnet-pair`: a child with several subnet pairs becomes one child per pair (what Cisco
 * ASA, FortiGate and Palo Alto peers expect; they answer TS_UNACCEPTABLE to several pairs in one
 * Child SA). The parts are named `<child>#<n>` in pair order and keep everything else; a part's reqid
 * is `reqidOf(name)` when given. Pairs of different address families are not pairs (RFC 7296 §2.9).
 */
export function splitPerPair(
  children: readonly ChildConfig[],
  reqidOf?: (name: string) => number | undefined,
): ChildConfig[] {
  return children.flatMap((k) => {
    const pairs = k.localTs.flatMap((l) =>
      k.remoteTs.filter((r) => r.type === l.type).map((r) => [l, r] as const),
    );
    if (pairs.length <= 1) return [k];
    return pairs.map(([l, r], i) => {
      const name = `${k.name}#${i + 1}`;
      const reqid = reqidOf?.(name);
      const { reqid: _drop, ...rest } = k;
      const part = { ...rest, name, pairOf: k.name, localTs: [l], remoteTs: [r] };
      return reqid !== undefined ? { ...part, reqid } : part;
    });
  });
}
