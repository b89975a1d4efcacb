// The control operations on a running engine: up (initiate and wait until settled), down and reload's
// terminate (Delete with the peer, bounded wait, then local removal), rekey on request. Each takes the
// engine and the registry; the Daemon runs them one at a time.
import type { Logger } from '../base/logger.ts';
import { ControlError } from '../control/protocol.ts';
import type { Engine } from '../ike/engine.ts';
import type { IkeSa } from '../ike/ike-sa.ts';
import type { ConnectionRegistry } from './registry.ts';

export interface UpResult {
  readonly name: string;
  readonly sa: string;
  readonly state: string;
  readonly children: number;
  readonly note?: string;
}

/**
 * Deletes the IKE SAs of a connection with the peer (RFC 7296 §1.4.1, engine.terminate), waits a
 * bounded time for the exchanges, then removes what is left locally (a peer that does not answer).
 */
export async function terminate(engine: Engine, name: string, waitMs = 3000): Promise<number> {
  const n = engine.terminate(name);
  for (let waited = 0; waited < waitMs && engine.sasOf(name).length > 0; waited += 20)
    await new Promise((r) => setTimeout(r, 20));
  for (const sa of engine.sasOf(name))
    await new Promise<void>((resolve) => engine.run(sa, () => sa.destroy().finally(resolve)));
  await engine.idle();
  return n;
}

/** Resolves when the SA is established with a Child SA, or failed, or after `ms`. */
function settled(engine: Engine, sa: IkeSa, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    const off = engine.onEvent((e) => {
      if (e.sa !== sa) return;
      if (e.type === 'child-installed' || e.type === 'child-failed' || e.type === 'ike-destroyed') done();
    });
    function done() {
      clearTimeout(t);
      off();
      resolve();
    }
  });
}

export async function up(
  engine: Engine,
  reg: ConnectionRegistry,
  name: string,
  waitMs: number,
): Promise<UpResult> {
  const s = reg.known(name);
  if (s.conn.remote === 'any')
    throw new ControlError(
      'ERR_BAD_ARGS',
      `"${name}" has remote: any; it can only answer, the peer must initiate`,
    );
  s.wantUp = true;
  const live = engine.sasOf(name)[0];
  if (live)
    return { name, sa: live.name, state: live.state, children: live.children.length, note: 'already up' };
  const sa = engine.initiate(name);
  await settled(engine, sa, waitMs);
  const res = { name, sa: sa.name, state: sa.state, children: sa.children.length };
  if (sa.state === 'destroyed')
    throw new ControlError('ERR_INTERNAL', `${sa.name} failed; see the daemon log for the reason`, res);
  return res;
}

/**
 * `<connection>/<child>` names one child (connection names hold no "/"); a child split per subnet
 * pair (`<child>#n`) is named by its child's name too.
 */
export function splitChildName(name: string): { conn: string; child: string | undefined } {
  const i = name.indexOf('/');
  return i < 0 ? { conn: name, child: undefined } : { conn: name.slice(0, i), child: name.slice(i + 1) };
}
const isOf = (childName: string, wanted: string) =>
  childName === wanted || childName.startsWith(`${wanted}#`);

/**
 * Deletes one child's Child SAs with the peer (RFC 7296 §1.4.1); the IKE SA and the other children
 * stay. Resolves once the Deletes were answered (or the IKE SA went).
 */
async function downChild(engine: Engine, conn: string, child: string, log: Logger): Promise<number> {
  const victims = engine
    .sasOf(conn)
    .filter((sa) => sa.state === 'established')
    .flatMap((sa) =>
      sa.children.filter((c) => c.state === 'installed' && isOf(c.name, child)).map((c) => [sa, c] as const),
    );
  if (victims.length === 0)
    throw new ControlError(
      'ERR_NO_CONNECTION',
      `${conn}/${child}: no installed Child SA; try: ikeway status ${conn}`,
    );
  for (const [sa, c] of victims) engine.terminateChild(sa, c);
  await engine.idle();
  log.log('info', 'child down', { component: 'daemon', conn, child, deleted: victims.length });
  return victims.length;
}

export async function down(
  engine: Engine,
  reg: ConnectionRegistry,
  name: string,
  log: Logger,
): Promise<{ name: string; deleted: number }> {
  const one = splitChildName(name);
  if (one.child !== undefined) {
    reg.known(one.conn);
    return { name, deleted: await downChild(engine, one.conn, one.child, log) };
  }
  const s = reg.known(name);
  s.wantUp = false;
  s.retry?.cancel();
  const deleted = await terminate(engine, name);
  log.log('info', 'connection down', { component: 'daemon', conn: name, deleted });
  return { name, deleted };
}

/**
 * Rekeys now, as this side's initiative: every installed Child SA of the connection's established
 * IKE SAs (RFC 7296 §2.8, CREATE_CHILD_SA with REKEY_SA), or the IKE SAs themselves (§2.8). The
 * exchanges run in the background; returns how many were started.
 */
export function rekey(
  engine: Engine,
  reg: ConnectionRegistry,
  name: string,
  what: 'child' | 'ike',
  log: Logger,
): { name: string; what: string; started: number } {
  const one = splitChildName(name);
  reg.known(one.conn);
  let started = 0;
  for (const sa of engine.sasOf(one.conn).filter((s) => s.state === 'established')) {
    if (what === 'ike') {
      engine.rekeyIke(sa);
      started++;
      continue;
    }
    const wanted = (c: { name: string }) => one.child === undefined || isOf(c.name, one.child);
    for (const child of sa.children.filter((c) => c.state === 'installed' && wanted(c))) {
      engine.rekeyChild(sa, child);
      started++;
    }
  }
  if (started === 0)
    throw new ControlError(
      'ERR_NO_CONNECTION',
      `${name}: no established SA to rekey; try: ikeway status ${name}`,
    );
  log.log('info', `rekey ${what} requested`, { component: 'daemon', conn: name, started });
  return { name, what, started };
}
