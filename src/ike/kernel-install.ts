// How a Child SA's ESP SAs reach the kernel: only through the Kernel interface (src/kernel/types.ts),
// with parameter objects. Order: inbound SA (completing the larval SA from allocSpi), then outbound;
// the policies that lead to them come after (their shapes: spd/policies.ts). Knows the Child SA only
// through the narrow view below, so child-sa.ts imports this file and not the other way round.
import type { ChildSaKeys, EncrSpec, IntegAlgorithm } from '../crypto/index.ts';
import { espKernelAlgs } from '../crypto/index.ts';
import type { Kernel, Lifetime, SaParams } from '../kernel/types.ts';
import { IkeError } from './errors.ts';
import { idsFor, markOnly } from './xfrm-ids.ts';

/** What SA installation reads of a Child SA. */
export interface ChildSaView {
  readonly spiIn: number;
  readonly spiOut: number;
  readonly mode: 'tunnel' | 'transport';
  readonly reqid: number;
  readonly esn: boolean;
  readonly initiator: boolean;
  readonly keys: ChildSaKeys | undefined;
  readonly encr: EncrSpec | undefined;
  readonly integ: IntegAlgorithm | undefined;
}

export interface InstallContext {
  readonly localAddr: string;
  readonly remoteAddr: string;
  /** RFC 3948: UDP encapsulation when a NAT was detected (ports of the IKE SA on 4500). */
  readonly encap?: { readonly localPort: number; readonly remotePort: number };
  readonly lifetime?: Lifetime;
  readonly replayWindow?: number;
  readonly mark?: { readonly value: number; readonly mask: number };
  readonly ifId?: number;
  /** Per-direction overrides (xfrm-ids.ts). */
  readonly markIn?: { readonly value: number; readonly mask: number };
  readonly markOut?: { readonly value: number; readonly mask: number };
  readonly ifIdIn?: number;
  readonly ifIdOut?: number;
  readonly priority: number;
}

function keysFor(child: ChildSaView, inbound: boolean): Pick<SaParams, 'aead' | 'crypt' | 'auth'> {
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

export function saParams(child: ChildSaView, ctx: InstallContext, inbound: boolean): SaParams {
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
    ...idsFor(ctx, inbound ? 'in' : 'out'),
  };
}

/**
 * Inbound SA first (completing the larval SA of allocSpi), then outbound -- unless `outbound` is
 * false: a rekey we answered adds its outbound SA later (child-rekey-end.ts, make-before-break).
 */
export async function installChildSas(
  kernel: Kernel,
  child: ChildSaView,
  ctx: InstallContext,
  outbound = true,
): Promise<void> {
  const inbound = saParams(child, ctx, true);
  try {
    await kernel.updateSa(inbound);
  } catch (e) {
    // The larval SA of allocSpi lives net.core.xfrm_acq_expires (30 s by default): an exchange
    // slower than that (seen with four daemons under TCG) finds it gone (ESRCH). The SPI is still
    // ours to use: add the SA with it instead, as strongSwan does. Anything else stays an error.
    if ((e as { isNotFound?: unknown }).isNotFound !== true) throw e;
    await kernel.addSa(inbound);
  }
  if (outbound) await kernel.addSa(saParams(child, ctx, false));
}

/** The outbound SA alone (XFRM sends on the newest SA of the policy's reqid from then on). */
export function installOutboundSa(kernel: Kernel, child: ChildSaView, ctx: InstallContext): Promise<void> {
  return kernel.addSa(saParams(child, ctx, false));
}

/** Removes a Child SA's two SAs (already missing ones are an outcome, not an error). */
export async function uninstallChildSas(
  kernel: Kernel,
  child: Pick<ChildSaView, 'spiIn' | 'spiOut'>,
  ctx: InstallContext,
): Promise<void> {
  const quiet = (p: Promise<void>) => p.catch(() => undefined);
  await quiet(
    kernel.deleteSa({ dst: ctx.localAddr, spi: child.spiIn, proto: 'esp', ...markOnly(ctx, 'in') }),
  );
  if (child.spiOut)
    await quiet(
      kernel.deleteSa({ dst: ctx.remoteAddr, spi: child.spiOut, proto: 'esp', ...markOnly(ctx, 'out') }),
    );
}
