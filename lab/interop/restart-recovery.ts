// Recovery from a restarted peer (issue 13 item 5, RFC 7296 §2.4 / §2.21.4): ikeway on router-a
// initiated the tunnel; the peer (router-b) is SIGKILLed, its kernel's SAs and policies flushed (a
// reboot), and started again. By default the restarted peer initiates, as a site-to-site gateway
// does after a reboot, with INITIAL_CONTACT: ikeway drops the stale IKE and Child SAs at once. With
// `restartInitiates: false` it only answers, and recovery depends on ikeway's next request: a peer
// that answers it with an unprotected INVALID_IKE_SPI starts ikeway's short check (restartProbeMs);
// strongSwan 5.9.8 does not answer at all (its whole retransmission schedule, ~165 s, runs first).
// Facts only: how long from the peer's restart until both sides agree on a new tunnel and until
// traffic passes again. The test asserts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCli } from '../guest/bundle.ts';
import { patchConfig } from '../robust/daemons.ts';
import { ping } from '../two-site/checks.ts';
import { buildLab, type Lab } from '../two-site/lab.ts';
import { siteOf } from '../two-site/topology.ts';
import { BASE_CELL, cellTopology } from './cells.ts';
import { IkewayDaemon, sleep, writeIkewayConfig } from './ikeway-side.ts';
import { waitUp } from './probes.ts';
import { CONN, endpoints, peerContext } from './run-cell.ts';
import type { CellSpec, PeerDriver } from './types.ts';

/** ikeway's liveness interval in this lab (the retransmission schedule stays at its defaults). */
export const RECOVERY_LIVENESS_S = 5;

export interface RecoveryFacts {
  readonly peer: string;
  readonly peerVersion: string;
  readonly error: string | null;
  /** From the peer's restart until ikeway and the peer agree on a tunnel with new IKE SPIs. */
  readonly agreedMs: number | null;
  /** From the peer's restart until a ping host-a -> host-b is answered again. */
  readonly trafficMs: number | null;
  /** ikeway's log lines about the hint, the failure and the new IKE SA (no secrets in them). */
  readonly ikewayLines: readonly string[];
  readonly restartHints: number;
  readonly livenessIntervalS: number;
}

export async function restartRecovery(o: {
  peer: PeerDriver;
  boundMs?: number;
  /** The restarted peer initiates again (default), or only answers. */
  restartInitiates?: boolean;
  log?: (l: string) => void;
}): Promise<RecoveryFacts> {
  const { peer } = o;
  const bound = o.boundMs ?? 90_000;
  const log = o.log ?? (() => undefined);
  const cell: CellSpec = { ...BASE_CELL, id: `restart-${peer.kind}`, rekeys: false };
  const dir = mkdtempSync(join(tmpdir(), `ikw-rr-${peer.kind}-`));
  let lab: Lab | undefined;
  let ikw: IkewayDaemon | undefined;
  const base = { peer: peer.kind, peerVersion: peer.version(), livenessIntervalS: RECOVERY_LIVENESS_S };
  const lines = () =>
    (ikw?.lines ?? [])
      .filter((l) => /INVALID_IKE_SPI|INITIAL_CONTACT|giving up|peer lost|failed|established/i.test(l))
      .slice(-12);
  try {
    lab = buildLab(cellTopology(cell, 'initiator'), { tag: 'rr' });
    const l = lab;
    const ep = endpoints(l, cell);
    const psk = `0x${randomBytes(32).toString('hex')}`;
    const ctx = peerContext(l, cell, 'initiator', dir, { kind: 'psk', psk });
    await peer.start(ctx);
    const config = writeIkewayConfig({
      cell,
      role: 'initiator',
      dir: join(dir, 'ikeway'),
      name: CONN,
      local: ep.ikeway,
      remote: ep.ikewayRemote,
      psk,
    });
    // The defaults a user has (4 s, base 1.8, 5 retransmits: ~165 s to give up), a short interval.
    patchConfig(config, CONN, {
      global: { retransmit: { timeout: '4s', tries: 5, base: 1.8 } },
      connection: { liveness: { interval: `${RECOVERY_LIVENESS_S}s`, timeout: '150s', action: 'restart' } },
    });
    ikw = await IkewayDaemon.start(l.a.router, await bundledCli(), config, CONN);
    const before = await waitUp(ikw, peer, 90_000);
    log(`up: IKE ${before.ikeSpiI}/${before.ikeSpiR}`);

    await peer.kill();
    // The peer's host "reboots": its kernel forgets the SAs and policies.
    l.b.router.exec('ip', 'xfrm', 'state', 'flush');
    l.b.router.exec('ip', 'xfrm', 'policy', 'flush');
    // A site-to-site peer that comes back starts its tunnels itself ('responder' is ikeway's role:
    // the restarted peer initiates, with INITIAL_CONTACT). strongSwan 5.9.8 never answers a request
    // on an IKE SA it does not know (no INVALID_IKE_SPI, only a log line), so waiting for ikeway's
    // next request alone would take its whole retransmission schedule.
    await peer.start({
      ...ctx,
      role: o.restartInitiates === false ? ctx.role : 'responder',
      restarted: true,
    });
    const t0 = Date.now();
    log('peer restarted with its kernel state wiped');
    const t = l.topology;
    const [src, dst] = [siteOf(t, 'a').lans[0]!.host, siteOf(t, 'b').lans[0]!.host];
    let agreedMs: number | null = null;
    let trafficMs: number | null = null;
    for (let i = 0; i < 10_000 && Date.now() - t0 < bound && trafficMs === null; i++) {
      if (agreedMs === null) {
        const up = await waitUp(ikw, peer, 500, (u) => u.ikeSpiI !== before.ikeSpiI).catch(() => undefined);
        if (up) agreedMs = Date.now() - t0;
      }
      if (agreedMs !== null && ping(l.a.host!, src, dst, 1).received === 1) trafficMs = Date.now() - t0;
      else await sleep(250);
    }
    const counters = (await ikw.status()).counters;
    return {
      ...base,
      error: trafficMs === null ? `no tunnel with traffic within ${bound} ms of the restart` : null,
      agreedMs,
      trafficMs,
      ikewayLines: lines(),
      restartHints: counters['ike.restart_hint'] ?? 0,
    };
  } catch (e) {
    return {
      ...base,
      error: String((e as Error).message ?? e),
      agreedMs: null,
      trafficMs: null,
      ikewayLines: lines(),
      restartHints: 0,
    };
  } finally {
    await ikw?.stop().catch(() => undefined);
    await peer.stop().catch(() => undefined);
    lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}
