// How a Child SA's ESP (or AH) SAs reach the kernel: only through the Kernel interface (src/kernel/types.ts),
// with parameter objects. Order: inbound SA (completing the larval SA from allocSpi), then outbound;
// the policies that lead to them come after (their shapes: spd/policies.ts). Knows the Child SA only
// through the narrow view below, so child-sa.ts imports this file and not the other way round.
import type { ChildSaKeys, EncrSpec, IntegAlgorithm } from '../crypto/index.ts';
import { ahKernelAuth, espKernelAlgs } from '../crypto/index.ts';
import type { IpProto, Kernel, KernelOp, Lifetime, SaId, SaParams } from '../kernel/types.ts';
import { IkeError } from './errors.ts';
import { idsFor, markOnly } from './xfrm-ids.ts';

/** What SA installation reads of a Child SA. */
export interface ChildSaView {
  readonly spiIn: number;
  readonly spiOut: number;
  /** ESP, or AH (RFC 4302: integrity only, no encryption key). */
  readonly protocol: IpProto;
  readonly mode: 'tunnel' | 'transport';
  readonly reqid: number;
  readonly esn: boolean;
  readonly initiator: boolean;
  readonly keys: ChildSaKeys | undefined;
  readonly encr: EncrSpec | undefined;
  readonly integ: IntegAlgorithm | undefined;
  /** RFC 4303 §2.7 TFC padding of the outbound SA (XFRMA_TFCPAD), if any. */
  readonly tfcPad: number | undefined;
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
  // RFC 7296 §2.17: the first keys are for initiator -> responder traffic.
  const fromInitiator = child.initiator !== inbound;
  if (k && child.protocol === 'ah') {
    // RFC 4302 §2.6: AH has an integrity key only (KEYMAT holds no encryption key for it).
    const auth = child.integ && ahKernelAuth(child.integ);
    if (!auth) throw new IkeError('ERR_KERNEL', 'negotiated AH transform has no kernel mapping');
    const key = (fromInitiator ? k.integI : k.integR).slice();
    return { auth: { name: auth.name, key, truncBits: auth.truncBits } };
  }
  if (!k || !child.encr) throw new IkeError('ERR_KERNEL', 'Child SA has no keys to install');
  const algs = espKernelAlgs(child.encr, child.integ);
  if (!algs) throw new IkeError('ERR_KERNEL', 'negotiated ESP transforms have no kernel mapping');
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
    proto: child.protocol,
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
    // RFC 4303 §2.7: TFC padding is what we send; the inbound SA never pads.
    ...(!inbound && child.tfcPad !== undefined ? { tfcPad: child.tfcPad } : {}),
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
  // One netlink round trip for both SAs (the kernel runs a batch in order).
  const ops: KernelOp[] = [{ op: 'updateSa', sa: inbound }];
  if (outbound) ops.push({ op: 'addSa', sa: saParams(child, ctx, false) });
  const [inErr, outErr] = await kernel.batch(ops);
  if (inErr) {
    // The larval SA of allocSpi lives net.core.xfrm_acq_expires (30 s by default): an exchange
    // slower than that (seen with four daemons under TCG) finds it gone (ESRCH). The SPI is still
    // ours to use: add the SA with it instead, as strongSwan does. Anything else stays an error.
    if (!inErr.isNotFound) {
      if (outbound && !outErr) await kernel.deleteSa(saId(ops[1]!)).catch(() => undefined);
      throw inErr;
    }
    await kernel.addSa(inbound);
  }
  if (outErr) throw outErr;
}

const saId = (op: KernelOp): SaId => {
  const sa = (op as { sa: SaParams }).sa;
  return { dst: sa.dst, spi: sa.spi, proto: sa.proto, ...(sa.mark ? { mark: sa.mark } : {}) };
};

/** The outbound SA alone (XFRM sends on the newest SA of the policy's reqid from then on). */
export function installOutboundSa(kernel: Kernel, child: ChildSaView, ctx: InstallContext): Promise<void> {
  return kernel.addSa(saParams(child, ctx, false));
}

/** Removes a Child SA's two SAs (already missing ones are an outcome, not an error). */
export async function uninstallChildSas(
  kernel: Kernel,
  child: Pick<ChildSaView, 'spiIn' | 'spiOut' | 'protocol'>,
  ctx: InstallContext,
): Promise<void> {
  const quiet = (p: Promise<void>) => p.catch(() => undefined);
  await quiet(
    kernel.deleteSa({ dst: ctx.localAddr, spi: child.spiIn, proto: child.protocol, ...markOnly(ctx, 'in') }),
  );
  if (child.spiOut)
    await quiet(
      kernel.deleteSa({
        dst: ctx.remoteAddr,
        spi: child.spiOut,
        proto: child.protocol,
        ...markOnly(ctx, 'out'),
      }),
    );
}
