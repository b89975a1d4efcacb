// How a Child SA reaches the kernel: only through the Kernel interface (src/kernel/types.ts), with
// parameter objects. Order: inbound SA (completing the larval SA from allocSpi), outbound SA, then
// the policies out, in and (tunnel mode) fwd, all with templates carrying the same reqid.
import { espKernelAlgs } from '../crypto/index.ts';
import type {
  Kernel,
  Lifetime,
  PolicyDir,
  PolicyParams,
  SaParams,
  Selector,
  Template,
} from '../kernel/types.ts';
import type { ChildSa } from './child-sa.ts';
import { IkeError } from './errors.ts';
import { tsToCidrs, type TrafficSelector } from './ts.ts';

export interface InstallContext {
  readonly localAddr: string;
  readonly remoteAddr: string;
  /** RFC 3948: UDP encapsulation when a NAT was detected (ports of the IKE SA on 4500). */
  readonly encap?: { readonly localPort: number; readonly remotePort: number };
  readonly lifetime?: Lifetime;
  readonly replayWindow?: number;
  readonly mark?: { readonly value: number; readonly mask: number };
  readonly ifId?: number;
  readonly priority: number;
}

function keysFor(child: ChildSa, inbound: boolean): Pick<SaParams, 'aead' | 'crypt' | 'auth'> {
  const k = child.keys;
  if (!k || !child.encr) throw new IkeError('ERR_KERNEL', 'Child SA has no keys to install');
  const algs = espKernelAlgs(child.encr, child.integ);
  if (!algs) throw new IkeError('ERR_KERNEL', 'negotiated ESP transforms have no kernel mapping');
  // RFC 7296 §2.17: the first keys are for initiator -> responder traffic.
  const fromInitiator = child.initiator !== inbound;
  const encKey = fromInitiator ? k.encrI : k.encrR;
  const intKey = fromInitiator ? k.integI : k.integR;
  return {
    ...(algs.aead ? { aead: { name: algs.aead.name, key: encKey.slice(), icvBits: algs.aead.icvBits } } : {}),
    ...(algs.crypt ? { crypt: { name: algs.crypt.name, key: encKey.slice() } } : {}),
    ...(algs.auth
      ? { auth: { name: algs.auth.name, key: intKey.slice(), truncBits: algs.auth.truncBits } }
      : {}),
  };
}

export function saParams(child: ChildSa, ctx: InstallContext, inbound: boolean): SaParams {
  const [src, dst] = inbound ? [ctx.remoteAddr, ctx.localAddr] : [ctx.localAddr, ctx.remoteAddr];
  const e = ctx.encap;
  return {
    src,
    dst,
    spi: inbound ? child.spiIn : child.spiOut,
    proto: 'esp',
    mode: child.mode,
    reqid: child.reqid,
    ...keysFor(child, inbound),
    replayWindow: inbound ? (ctx.replayWindow ?? 32) : 0,
    esn: child.esn,
    ...(ctx.lifetime ? { lifetime: ctx.lifetime } : {}),
    ...(e
      ? {
          encap: inbound
            ? { sport: e.remotePort, dport: e.localPort }
            : { sport: e.localPort, dport: e.remotePort },
        }
      : {}),
    ...(ctx.mark ? { mark: { ...ctx.mark } } : {}),
    ...(ctx.ifId !== undefined ? { ifId: ctx.ifId } : {}),
  };
}

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

const reverse = (s: Selector): Selector => ({
  ...s,
  src: s.dst,
  dst: s.src,
  sport: s.dport ?? 0,
  dport: s.sport ?? 0,
});

export function policyParams(child: ChildSa, ctx: InstallContext): PolicyParams[] {
  const out: PolicyParams[] = [];
  const tmpl = (src: string, dst: string): Template => ({
    src,
    dst,
    proto: 'esp',
    mode: child.mode,
    reqid: child.reqid,
  });
  const common = {
    action: 'allow' as const,
    priority: ctx.priority,
    ...(ctx.mark ? { mark: { ...ctx.mark } } : {}),
    ...(ctx.ifId !== undefined ? { ifId: ctx.ifId } : {}),
  };
  const dirs: PolicyDir[] = child.mode === 'tunnel' ? ['out', 'in', 'fwd'] : ['out', 'in'];
  for (const sel of selectorPairs(child.localTs, child.remoteTs)) {
    for (const dir of dirs) {
      const out_ = dir === 'out';
      out.push({
        ...common,
        selector: out_ ? sel : reverse(sel),
        dir,
        templates: [out_ ? tmpl(ctx.localAddr, ctx.remoteAddr) : tmpl(ctx.remoteAddr, ctx.localAddr)],
      });
    }
  }
  return out;
}

export async function installChildSa(kernel: Kernel, child: ChildSa, ctx: InstallContext): Promise<void> {
  await kernel.updateSa(saParams(child, ctx, true)); // completes the larval SA of allocSpi
  await kernel.addSa(saParams(child, ctx, false));
  // updatePolicy: a policy for the same selectors left by an earlier Child SA is replaced, not refused.
  for (const p of policyParams(child, ctx)) await kernel.updatePolicy(p);
}

/** Identity of a policy in the kernel: selector, direction, mark, interface id. */
const policyKey = (p: PolicyParams): string =>
  JSON.stringify([p.selector, p.dir, p.mark ?? null, p.ifId ?? null]);

/**
 * Removes a Child SA's policies and SAs. Policies listed in `keep` (those of a Child SA replacing this
 * one, RFC 7296 §2.8: same reqid and selectors) stay in place.
 */
export async function uninstallChildSa(
  kernel: Kernel,
  child: ChildSa,
  ctx: InstallContext,
  keep: readonly PolicyParams[] = [],
): Promise<void> {
  const quiet = (p: Promise<void>) => p.catch(() => undefined); // already gone: an outcome, not an error
  const kept = new Set(keep.map(policyKey));
  for (const p of policyParams(child, ctx)) {
    if (kept.has(policyKey(p))) continue;
    await quiet(
      kernel.deletePolicy({
        selector: p.selector,
        dir: p.dir,
        ...(p.mark ? { mark: p.mark } : {}),
        ...(p.ifId !== undefined ? { ifId: p.ifId } : {}),
      }),
    );
  }
  const mark = ctx.mark ? { mark: { ...ctx.mark } } : {};
  await quiet(kernel.deleteSa({ dst: ctx.localAddr, spi: child.spiIn, proto: 'esp', ...mark }));
  if (child.spiOut)
    await quiet(kernel.deleteSa({ dst: ctx.remoteAddr, spi: child.spiOut, proto: 'esp', ...mark }));
}
