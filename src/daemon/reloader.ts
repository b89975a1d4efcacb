// Reload (SIGHUP or `ikeway reload`), atomic: the new file is validated completely before anything
// changes (a bad one changes nothing; every problem is logged and returned). Then, per the plan
// (reload.ts): removed and changed connections lose their SAs while their old fail-closed policies
// stand again; changed and added ones are registered (their new policies in place) and started;
// unchanged ones are left alone; only then does the policy owner remove the old policies no current
// connection claims, so the subnets are never unprotected.
import type { Logger } from '../base/logger.ts';
import { ConfigErrors, formatProblem, loadConfig, type Config } from '../config/index.ts';
import { ControlError } from '../control/protocol.ts';
import type { Engine } from '../ike/engine.ts';
import { terminate } from './commands.ts';
import type { ConnState, ConnectionRegistry } from './registry.ts';
import { planReload, type ReloadPlan } from './reload.ts';
import type { TunnelInterfaces } from './interfaces.ts';

export type ReloadReport = ReloadPlan & { readonly file: string };

/** Reads and validates the file; ControlError ERR_CONFIG (every problem, logged) when it is bad. */
export function readForReload(file: string, env: NodeJS.ProcessEnv | undefined, log: Logger): Config {
  try {
    const r = loadConfig(file, env ? { env } : {});
    for (const w of r.warnings) log.log('warn', formatProblem(w), { component: 'config' });
    return r.config;
  } catch (e) {
    if (!(e instanceof ConfigErrors)) throw e;
    const lines = e.problems.filter((p) => p.severity === 'error').map(formatProblem);
    for (const l of lines) log.log('error', l, { component: 'config' });
    log.log('error', 'reload rejected; the running configuration stays', { component: 'daemon' });
    throw new ControlError('ERR_CONFIG', `reload rejected, nothing changed:\n${lines.join('\n')}`, lines);
  }
}

export interface ReloadContext {
  readonly engine: Engine;
  readonly registry: ConnectionRegistry;
  readonly log: Logger;
  readonly applyLogSettings?: (c: Config) => void;
  /** Owner of route-based interfaces (xfrm kernel only). */
  readonly ifaces?: TunnelInterfaces;
}

/**
 * Applies `next` over `current`; returns the plan and the connections to start (once `next` is the
 * running config). Refuses (ERR_CONFIG, nothing changed) a change of
 * local.address or ports, which only a restart can apply.
 */
export async function applyReload(
  ctx: ReloadContext,
  current: Config,
  next: Config,
): Promise<{ plan: ReloadPlan; started: ConnState[] }> {
  const { engine, registry, log } = ctx;
  const plan = planReload(current, next);
  const fatal = plan.needRestart.filter(
    (k) => k === 'local.address' || k === 'local.addresses' || k === 'ports',
  );
  if (fatal.length > 0) {
    const msg = `reload rejected, nothing changed: ${fatal.join(', ')} changed; restart the daemon to apply`;
    log.log('error', msg, { component: 'daemon' });
    throw new ControlError('ERR_CONFIG', msg);
  }
  // Interface names taken by someone else's interface: refused before anything changes.
  const incoming = next.connections.filter(
    (c) => plan.added.includes(c.name) || plan.changed.includes(c.name),
  );
  const problems = (await ctx.ifaces?.check(incoming)) ?? [];
  if (problems.length > 0) {
    const lines = problems.map(formatProblem);
    for (const l of lines) log.log('error', l, { component: 'config' });
    // The same closing line as a file that does not parse (SIGHUP has no caller to answer).
    log.log('error', 'reload rejected; the running configuration stays', { component: 'daemon' });
    throw new ControlError('ERR_CONFIG', `reload rejected, nothing changed:\n${lines.join('\n')}`, lines);
  }
  ctx.applyLogSettings?.(next);
  const byNameOld = new Map(current.connections.map((c) => [c.name, c]));
  for (const n of [...plan.removed, ...plan.changed]) {
    // Stops a connection's SAs and forgets it; its fail-closed policies stand until the new ones do.
    if (!registry.remove(n, plan.changed.includes(n))) continue;
    const held = engine.spd.detach(n);
    engine.removeConnection(n);
    await terminate(engine, n);
    await engine.spd.hold(held);
    const old = byNameOld.get(n);
    if (old) await ctx.ifaces?.remove(old);
  }
  for (const c of incoming) await ctx.ifaces?.ensure(c);
  const byName = new Map(next.connections.map((c) => [c.name, c]));
  const started: ConnState[] = [];
  for (const n of [...plan.changed, ...plan.added]) {
    const s = await registry.add(byName.get(n)!);
    engine.addConnection(s.ike);
    started.push(s);
  }
  for (const n of plan.unchanged) registry.refresh(byName.get(n)!);
  await engine.spd.sweep();
  return { plan, started };
}
