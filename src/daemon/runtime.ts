// What the daemon runs on: the kernel backend (real XFRM with an ownership record, or the in-memory
// kernel for IKE-only tests), the IKE bypass policies and the UDP sockets. Opened in this order at
// start and closed in reverse at stop.
import type { Config } from '../config/index.ts';
import type { Counters } from '../base/counters.ts';
import { traceDatagrams } from '../net/trace.ts';
import type { Logger } from '../base/logger.ts';
import { FakeKernel, OwnedKernel, installIkeBypass, openXfrmKernel, type Kernel } from '../kernel/index.ts';
import { UdpTransport } from '../net/udp.ts';

export type KernelKind = 'xfrm' | 'memory';

export const MEMORY_KERNEL_WARNING =
  'IN-MEMORY KERNEL: no SA or policy reaches the Linux kernel, traffic is NOT protected (IKE-only testing)';

export interface Runtime {
  readonly kind: KernelKind;
  readonly kernel: Kernel;
  /** The ownership wrapper (xfrm only): reconcile() after the fail-closed policies are back. */
  readonly owned: OwnedKernel | undefined;
  readonly transport: UdpTransport;
}

export async function openKernel(
  kind: KernelKind,
  config: Config,
  logger: Logger,
  counters: Counters,
): Promise<Pick<Runtime, 'kernel' | 'owned'>> {
  if (kind === 'memory') {
    logger.log('warn', MEMORY_KERNEL_WARNING, { component: 'kernel' });
    return { kernel: new FakeKernel({ recordCalls: false, validate: false }), owned: undefined };
  }
  const onSocketError = (purpose: 'requests' | 'events', e: Error): void => {
    counters.inc('kernel.socket_errors');
    const lost = purpose === 'events' ? 'kernel events (acquires, expires) were lost' : 'replies were lost';
    logger.log('warn', `netlink ${purpose} socket: ${e.message}; ${lost}`, { component: 'kernel' });
  };
  const owned = new OwnedKernel(await openXfrmKernel({ onSocketError }), config.stateDir);
  return { kernel: owned, owned };
}

/** RFC 7296 §2.23 / RFC 4301 §5.1: IKE's own packets bypass every tunnel policy. */
export async function installBypass(kernel: Kernel, config: Config): Promise<void> {
  await installIkeBypass(kernel, {
    addresses: config.local.addresses.map((a) => a.address),
    ports: [config.ports.ike, config.ports.natT],
  });
}

/**
 * Binds UDP 500/4500 on the local address. With XFRM the NAT-T socket gets UDP_ENCAP_ESPINUDP
 * (RFC 3948) so the kernel decapsulates ESP-in-UDP; if the kernel refuses, IKE still runs and the
 * refusal is logged (NAT-T Child SAs would then carry no traffic).
 */
export async function openTransport(
  kind: KernelKind,
  config: Config,
  counters: Counters,
  logger: Logger,
): Promise<UdpTransport> {
  const base = {
    addresses: config.local.addresses.map((a) => a.address),
    ikePort: config.ports.ike,
    nattPort: config.ports.natT,
    counters,
    // --log-level trace: one line per IKE datagram (header only); no cost at other levels.
    trace: traceDatagrams(
      () => logger.enabled?.('trace') ?? false,
      (m, f) => logger.log('trace', m, f),
    ),
  };
  if (kind === 'memory') return UdpTransport.open(base);
  try {
    return await UdpTransport.open({ ...base, kernelEspInUdp: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/EADDRINUSE|EADDRNOTAVAIL|EACCES/.test(msg)) throw e;
    logger.log('warn', 'ESP-in-UDP (UDP_ENCAP) refused by the kernel; NAT-T traffic will not flow', {
      component: 'net',
      error: msg,
    });
    return UdpTransport.open(base);
  }
}

/**
 * Removes every SA and policy we own (fail-closed and bypass included), bounded by `budgetMs`, then
 * closes the sockets and the kernel. Others' objects stay.
 */
export async function closeRuntime(rt: Partial<Runtime>, logger: Logger, budgetMs = 5000): Promise<void> {
  if (rt.owned) {
    const n = await bounded(rt.owned.removeAll(), budgetMs, () => undefined);
    logger.log('info', 'kernel state removed', { component: 'kernel', objects: n ?? 'timeout' });
  }
  await rt.transport?.close();
  if (rt.kernel) await bounded(rt.kernel.close(), 1000, () => undefined);
}

/** Awaits `p` for at most `ms`; calls `late` and resolves undefined on timeout. */
export async function bounded<T>(
  p: Promise<T> | undefined,
  ms: number,
  late: () => void,
): Promise<T | undefined> {
  if (!p) return undefined;
  let t: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    t = setTimeout(() => {
      late();
      resolve(undefined);
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}
