// IKE's own packets must never be captured by the tunnels' policies (RFC 7296 §2.23 / RFC 4301
// §5.1: the IKE traffic of the SPD's own endpoints is BYPASS). Tunnels of 0.0.0.0/0, or host-to-host
// transport mode between the two IKE addresses, would otherwise swallow UDP 500/4500. We install
// allow policies without templates, at a priority that beats every tunnel policy, for each local
// address: in (dst = us, dport = IKE port) and out (src = us, sport = IKE port).
import type { KernelError } from './errors.ts';
import type { Kernel, PolicyParams } from './types.ts';
import { parseAddr } from './xfrm/addr.ts';

export interface IkeBypassOptions {
  /** The daemon's local IKE addresses (IPv4 and/or IPv6). */
  addresses: readonly string[];
  /** UDP ports of the IKE sockets (default 500 and 4500, RFC 7296 §2.23 / RFC 3948). */
  ports?: readonly number[];
  /** Policy priority (lower wins in the kernel); default 1, above any tunnel policy. */
  priority?: number;
}

export const IKE_BYPASS_PRIORITY = 1;
const UDP = 17;

/** The bypass policies for these addresses and ports, in/out per family. */
export function ikeBypassPolicies(opts: IkeBypassOptions): PolicyParams[] {
  const out: PolicyParams[] = [];
  const priority = opts.priority ?? IKE_BYPASS_PRIORITY;
  for (const a of opts.addresses) {
    const v4 = parseAddr(a, 'bypass address').family === 2;
    const any = v4 ? '0.0.0.0/0' : '::/0';
    const host = `${a}/${v4 ? 32 : 128}`; // explicit, so it equals what the kernel reports back
    for (const port of opts.ports ?? [500, 4500]) {
      const base = { action: 'allow' as const, priority, templates: [] };
      out.push({ ...base, dir: 'in', selector: { src: any, dst: host, proto: UDP, dport: port } });
      out.push({ ...base, dir: 'out', selector: { src: host, dst: any, proto: UDP, sport: port } });
    }
  }
  return out;
}

/** Installs (or refreshes) the bypass policies; idempotent. */
export async function installIkeBypass(k: Kernel, opts: IkeBypassOptions): Promise<PolicyParams[]> {
  const pols = ikeBypassPolicies(opts);
  const res = await k.batch(pols.map((policy) => ({ op: 'updatePolicy' as const, policy })));
  const err = res.find((e) => e !== null);
  if (err) throw err;
  return pols;
}

/** Removes the bypass policies; missing ones are fine. */
export async function removeIkeBypass(k: Kernel, opts: IkeBypassOptions): Promise<void> {
  const res = await k.batch(ikeBypassPolicies(opts).map((p) => ({ op: 'deletePolicy' as const, id: p })));
  const err = res.find((e): e is KernelError => e !== null && !e.isNotFound);
  if (err) throw err;
}
