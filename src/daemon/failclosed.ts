// Fail-closed policies (RFC 4301 §4.4.1: traffic that the SPD says to PROTECT must never leave in
// clear). For every connection the daemon keeps policies in the kernel for the configured subnets
// whenever no Child SA's own policies stand there:
// - a fixed peer: "trap" policies (action allow with an ESP template to the peer and the
//   connection's reqid, no SA). Matching traffic is dropped and makes the kernel send an ACQUIRE,
//   which starts the connection (start: on-traffic). Inbound clear traffic fails the template check.
// - remote: any: "block" policies (discard), since no template can name an unknown peer.
//
// They have the same identity (selector, dir, mark, if_id) as the Child SA policies for the full
// subnets, so a Child SA's updatePolicy replaces them, and they are put back when the Child SA goes.
// With the connection's own reqid in the template, a trap re-installed over a live Child SA still
// leads to that SA. When the daemon is killed outright they stay: traffic is dropped until the next
// start re-installs them (replacing, never deleting first) and removes only what no longer applies.
import type { Connection } from '../config/index.ts';
import type { Kernel, PolicyDir, PolicyId, PolicyParams, Selector } from '../kernel/types.ts';
import { selectorPairs } from '../ike/kernel-install.ts';
import { tsFromCidr } from '../ike/ts.ts';

/** Lower precedence than Child SA policies (1000 by default) and IKE bypass (1). */
export const FAIL_CLOSED_PRIORITY = 2000;

const reverse = (s: Selector): Selector => ({
  ...s,
  src: s.dst,
  dst: s.src,
  sport: s.dport ?? 0,
  dport: s.sport ?? 0,
});

/** The fail-closed policies of one connection (empty when it has no remote subnets). */
export function failClosedPolicies(c: Connection, reqid: number | undefined): PolicyParams[] {
  const local = c.localSubnets.map((p) => tsFromCidr(p.text));
  const remote = c.remoteSubnets.map((p) => tsFromCidr(p.text));
  const dirs: PolicyDir[] = c.mode === 'tunnel' ? ['out', 'in', 'fwd'] : ['out', 'in'];
  const peer = c.remote === 'any' ? undefined : c.remote.address;
  const me = c.localAddress.address;
  const out: PolicyParams[] = [];
  for (const sel of selectorPairs(local, remote)) {
    for (const dir of dirs) {
      const outbound = dir === 'out';
      const [src, dst] = outbound ? [me, peer] : [peer, me];
      const trap = peer !== undefined && reqid !== undefined && src !== undefined && dst !== undefined;
      out.push({
        selector: outbound ? sel : reverse(sel),
        dir,
        action: trap ? 'allow' : 'block',
        priority: FAIL_CLOSED_PRIORITY,
        templates: trap ? [{ src, dst, proto: 'esp', mode: c.mode, reqid }] : [],
        ...(c.mark ? { mark: { value: c.mark.value, mask: c.mark.mask } } : {}),
        ...(c.ifId !== undefined ? { ifId: c.ifId } : {}),
      });
    }
  }
  return out;
}

export const policyId = (p: PolicyParams): PolicyId => ({
  selector: p.selector,
  dir: p.dir,
  ...(p.mark ? { mark: p.mark } : {}),
  ...(p.ifId !== undefined ? { ifId: p.ifId } : {}),
});

/** Installs (or replaces: updatePolicy never leaves a gap) the policies; throws the first error. */
export async function installPolicies(k: Kernel, pols: readonly PolicyParams[]): Promise<void> {
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
