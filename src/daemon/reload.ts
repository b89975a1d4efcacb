// Reload planning (pure): which connections a new config adds, removes, changes or leaves alone, and
// which global settings only a restart can apply. Connections compare by their full normalized form
// (connectionFingerprint), so any change of subnets, proposals, peers, identities or secrets counts.
import type { Config } from '../config/index.ts';
import { connectionFingerprint } from './connections.ts';

export interface ReloadPlan {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
  readonly unchanged: readonly string[];
  /** Global settings that differ but need a restart (the running values stay). */
  readonly needRestart: readonly string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function planReload(old: Config, next: Config): ReloadPlan {
  const before = new Map(old.connections.map((c) => [c.name, connectionFingerprint(c)]));
  const after = new Map(next.connections.map((c) => [c.name, connectionFingerprint(c)]));
  const added = [...after.keys()].filter((n) => !before.has(n));
  const removed = [...before.keys()].filter((n) => !after.has(n));
  const kept = [...after.keys()].filter((n) => before.has(n));
  const changed = kept.filter((n) => before.get(n) !== after.get(n));
  const unchanged = kept.filter((n) => before.get(n) === after.get(n));
  const needRestart: string[] = [];
  if (old.local.address.address !== next.local.address.address) needRestart.push('local.address');
  const listens = (c: Config) => c.local.addresses.map((a) => a.address).join(',');
  if (listens(old) !== listens(next)) needRestart.push('local.addresses');
  if (!same(old.ports, next.ports)) needRestart.push('ports');
  if (old.controlSocket !== next.controlSocket) needRestart.push('control-socket');
  if (old.stateDir !== next.stateDir) needRestart.push('state-dir');
  if (old.cookieThreshold !== next.cookieThreshold) needRestart.push('cookie-threshold');
  if (!same(old.limits, next.limits)) needRestart.push('limits');
  if (!same(old.retransmit, next.retransmit)) needRestart.push('retransmit');
  return { added, removed, changed, unchanged, needRestart };
}

/** Why the daemon refuses a reload with this plan (nothing changes), or undefined. */
export function reloadRejection(plan: ReloadPlan): string | undefined {
  const fatal = plan.needRestart.filter(
    (k) => k === 'local.address' || k === 'local.addresses' || k === 'ports',
  );
  return fatal.length > 0
    ? `reload rejected, nothing changed: ${fatal.join(', ')} changed; restart the daemon to apply`
    : undefined;
}
