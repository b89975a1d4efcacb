// The failure labs (issue 8, "Loss and failure"), each on its own two-site lab with real ESP. A
// scenario returns facts (states, SPIs, counters, capture, times); the test asserts on them, so
// a run in the guest kernel reports everything it saw even when something is wrong.
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from '../../src/control/client.ts';
import { WanCapture, mergeCaptures, ping, type CaptureSummary } from '../two-site/checks.ts';
import { lanHostAddresses, siteOf } from '../two-site/topology.ts';
import { sleep, pollUntil, type ConfigPatch } from './daemons.ts';
import type { RouterSnapshot } from './kernel-view.ts';
import { robustLab, type RobustLab } from './setup.ts';

export type ScenarioName = 'loss' | 'peer' | 'crash';

const COUNTERS = [
  'ike.request_sent',
  'ike.retransmit_sent',
  'ike.retransmit_answered',
  'ike.give_up',
  'ike.sa_established',
  'ike.child_installed',
  'ike.sa_failed',
] as const;

async function counters(r: RobustLab): Promise<Record<'a' | 'b', Record<string, number>>> {
  const pick = (c: Record<string, number>) => Object.fromEntries(COUNTERS.map((k) => [k, c[k] ?? 0]));
  return { a: pick(await r.a.counters()), b: pick(await r.b.counters()) };
}

/** The daemons' recent log lines (no secrets: the daemon never logs keys), to explain failures. */
export type Logs = Record<'a' | 'b', string[]>;
const logs = (r: RobustLab): Logs => ({ a: r.a.log.slice(-120), b: r.b.log.slice(-120) });

const firstIke = (s: RouterSnapshot) => s.ikeSas[0]?.spiI ?? '';

// ---- 20% loss, delay and reordering on the WAN: establish, rekey, settle ----

export const LOSS_NETEM = { lossPct: 20, delayMs: 40, reorderPct: 25 };
export const LOSS_RETRANSMIT = { timeout: '500ms', tries: 8, base: 1.4 };
/** Child SAs rekey 10 s after install, IKE SAs 25 s after establishment (lifetime - margin). */
const SHORT_LIVES: ConfigPatch = {
  global: { retransmit: LOSS_RETRANSMIT },
  connection: {
    'child-lifetime': '60s',
    'ike-lifetime': '75s',
    'rekey-margin': '50s',
    liveness: { interval: '3s', timeout: '30s' },
  },
};

export interface LossFacts {
  readonly establishMs: number;
  readonly windowMs: number;
  /** Distinct inbound Child SPIs / IKE SPIi router-a reported during the window (rekeys + 1). */
  readonly childSpisSeen: number;
  readonly ikeSpisSeen: number;
  readonly settle: { ok: boolean; ms: number; problems: string[] };
  readonly final: Record<'a' | 'b', RouterSnapshot>;
  readonly counters: Record<'a' | 'b', Record<string, number>>;
  readonly ping: { sent: number; received: number };
  readonly logs: Logs;
}

export async function lossScenario(windowMs = 30_000): Promise<LossFacts> {
  const t0 = Date.now();
  const r = await robustLab({ tag: 'rloss', netem: LOSS_NETEM, a: SHORT_LIVES, b: SHORT_LIVES });
  try {
    const establishMs = Date.now() - t0;
    const ping = r.pingFlow(Math.ceil(windowMs / 500) + 10, 0.5);
    const child = new Set<string>();
    const ike = new Set<string>();
    const end = Date.now() + windowMs;
    while (Date.now() < end) {
      const s = await r.snapshot('a');
      s.children.forEach((c) => child.add(c.spiIn));
      s.ikeSas.forEach((i) => ike.add(i.spiI));
      await sleep(500);
    }
    // The loss and reordering stop (the delay stays): exchanges in flight now complete, so what is
    // still half-done after the settle time is stuck, not late. The daemons keep rekeying (Child SAs
    // every 5-10 s, old SAs kept for the grace period): settled is a moment with exactly one pair.
    r.setNetem({ delayMs: LOSS_NETEM.delayMs });
    const { last, ...settle } = await r.settle(60_000);
    return {
      establishMs,
      windowMs,
      childSpisSeen: child.size,
      ikeSpisSeen: ike.size,
      settle,
      final: settle.ok && last ? last : { a: await r.snapshot('a'), b: await r.snapshot('b') },
      counters: await counters(r),
      ping: await ping.stop(),
      logs: logs(r),
    };
  } finally {
    await r.close();
  }
}

// ---- peer failure: liveness clears our state; the peer back; INITIAL_CONTACT on a restart ----

const FAST_RETRANSMIT = { timeout: '500ms', tries: 3, base: 1.5 };

export interface PeerFacts {
  /** router-b SIGKILLed: when router-a had no IKE SA, no Child SA and no ESP SA left. */
  readonly cleared: { ok: boolean; ms: number; a: RouterSnapshot };
  /** router-b restarted: both settled again, with SPIs other than before. */
  readonly back: { ok: boolean; ms: number; problems: string[]; newSpis: boolean };
  /** router-a SIGKILLed and restarted at once: b must drop the stale IKE SA (INITIAL_CONTACT). */
  readonly initialContact: {
    ok: boolean;
    ms: number;
    problems: string[];
    staleIke: string;
    b: RouterSnapshot;
    bLog: string[];
  };
  readonly livenessIntervalMs: number;
  readonly logs: Logs;
}

export async function peerScenario(): Promise<PeerFacts> {
  const r = await robustLab({
    tag: 'rpeer',
    a: {
      global: { retransmit: FAST_RETRANSMIT },
      connection: { liveness: { interval: '2s', timeout: '10s', action: 'restart' } },
    },
    b: {
      global: { retransmit: FAST_RETRANSMIT },
      connection: { liveness: { interval: '60s', timeout: '150s' } },
    },
  });
  try {
    const before = await r.snapshot('a');
    let t = Date.now();
    await r.b.stop('SIGKILL');
    let lastA = before;
    const gone = await pollUntil(async () => {
      lastA = await r.snapshot('a');
      const clear =
        !lastA.ikeSas.some((i) => i.state === 'established') &&
        lastA.children.length === 0 &&
        lastA.kernelSpis.length === 0;
      return clear ? true : undefined;
    }, 40_000);
    const cleared = { ok: gone === true, ms: Date.now() - t, a: lastA };

    t = Date.now();
    await r.b.start();
    const up = await r.settle(45_000);
    const after = await r.snapshot('a');
    const back = { ...up, ms: Date.now() - t, newSpis: firstIke(after) !== firstIke(before) };

    const stale = await r.snapshot('b');
    t = Date.now();
    await r.a.stop('SIGKILL');
    await r.a.start();
    const ic = await pollUntil(async () => {
      const s = await r.settle(1000);
      return s.ok && firstIke(await r.snapshot('b')) !== firstIke(stale) ? s : undefined;
    }, 40_000);
    const b = await r.snapshot('b');
    return {
      cleared,
      back,
      initialContact: {
        ok: ic !== undefined,
        ms: Date.now() - t,
        problems: ic?.problems ?? (await r.settle(0)).problems,
        staleIke: firstIke(stale),
        b,
        bLog: r.b.log.filter((l) => /INITIAL_CONTACT/.test(l)).slice(-5),
      },
      livenessIntervalMs: 2000,
      logs: logs(r),
    };
  } finally {
    await r.close();
  }
}

// ---- daemon failure: SIGKILL under traffic, SA loss, restart; reload; SIGTERM ----

/** A foreign SA and policy on router-a: the daemon must never touch them. */
const FOREIGN_SPI = '00004242';
const FOREIGN_SA = [
  ...['xfrm', 'state', 'add', 'src', '192.0.2.1', 'dst', '192.0.2.99', 'proto', 'esp'],
  ...[
    'spi',
    `0x${FOREIGN_SPI}`,
    'mode',
    'tunnel',
    'aead',
    'rfc4106(gcm(aes))',
    `0x${'11'.repeat(20)}`,
    '128',
  ],
];
const FOREIGN_POLICY = [
  ...['xfrm', 'policy', 'add', 'src', '198.51.100.0/24', 'dst', '203.0.113.0/24'],
  ...['dir', 'out', 'priority', '5000', 'action', 'block'],
];

export interface CrashFacts {
  readonly capture: CaptureSummary;
  readonly ping: { sent: number; received: number };
  /** From the restart of router-a's daemon until both routers are settled. */
  readonly recovery: { ok: boolean; ms: number; problems: string[] };
  /** Policies (normalized) before the kill and after the restart, per router. */
  readonly policies: Record<'a' | 'b', { before: string[]; after: string[] }>;
  readonly reload: { rejected: boolean; message: string; spisKept: boolean; pingAfter: number };
  readonly sigterm: { a: { spis: string[]; policies: string[] }; b: { spis: string[]; policies: string[] } };
  readonly foreignPolicy: string;
  readonly logs: Logs;
}

/** Only our policies: drop per-socket policies (they belong to open sockets, not to the tables). */
const tablePolicies = (s: RouterSnapshot) => s.policies.filter((p) => !/ socket (in|out) /.test(p));

export async function crashScenario(): Promise<CrashFacts> {
  const noLiveness: ConfigPatch = { global: { retransmit: { timeout: '500ms', tries: 4, base: 1.5 } } };
  const r = await robustLab({ tag: 'rcrash', a: noLiveness, b: noLiveness });
  const ra = r.lab.a.router;
  try {
    ra.exec('ip', ...FOREIGN_SA);
    ra.exec('ip', ...FOREIGN_POLICY);
    const ign = [FOREIGN_SPI];
    const before = { a: await r.snapshot('a', ign), b: await r.snapshot('b', ign) };
    const caps = [
      await WanCapture.start(ra, 'wan', 20_000),
      await WanCapture.start(r.lab.b.router, 'wan', 20_000),
    ];
    const ping = r.pingFlow(1200, 0.1);
    await sleep(1500);
    await r.a.stop('SIGKILL'); // the kernel keeps carrying ESP with the SAs it holds
    await sleep(2000);
    ra.exec('ip', 'xfrm', 'state', 'flush'); // SA loss: the fail-closed policies must drop, not leak
    ra.exec('ip', ...FOREIGN_SA);
    await sleep(2000);
    let t = Date.now();
    await r.a.start();
    const { last: _last, ...settled } = await r.settle(45_000, ign);
    const recovery = { ...settled, ms: Date.now() - t };
    await sleep(2000);
    const pingFacts = await ping.stop();
    const capture = mergeCaptures(
      await Promise.all(caps.map((c) => c.stop(lanHostAddresses(r.lab.topology)))),
    );
    const after = { a: await r.snapshot('a', ign), b: await r.snapshot('b', ign) };
    const reload = await badReload(r, ign);
    t = Date.now();
    await Promise.all([r.a.stop('SIGTERM'), r.b.stop('SIGTERM')]);
    const end = { a: await r.snapshot('a'), b: await r.snapshot('b') };
    return {
      capture,
      ping: pingFacts,
      recovery,
      policies: {
        a: { before: tablePolicies(before.a), after: tablePolicies(after.a) },
        b: { before: tablePolicies(before.b), after: tablePolicies(after.b) },
      },
      reload,
      sigterm: {
        a: { spis: [...end.a.kernelSpis], policies: tablePolicies(end.a) },
        b: { spis: [...end.b.kernelSpis], policies: tablePolicies(end.b) },
      },
      foreignPolicy: 'src 198.51.100.0/24 dst 203.0.113.0/24',
      logs: logs(r),
    };
  } finally {
    await r.close();
  }
}

/** A reload with an invalid file: refused, the tunnel keeps its SAs (src/daemon/README.md, Reload). */
async function badReload(r: RobustLab, ign: string[]): Promise<CrashFacts['reload']> {
  const file = r.ex.configs.a;
  const good = readFileSync(file, 'utf8');
  const before = await r.snapshot('a', ign);
  writeFileSync(file, `${good}\nbogus-key: 1\n`, { mode: 0o600 });
  let rejected = false;
  let message = '';
  try {
    await request(r.a.socket, 'reload', undefined, { timeoutMs: 20_000 });
  } catch (e) {
    rejected = true;
    message = String((e as Error).message).slice(0, 500);
  } finally {
    writeFileSync(file, good, { mode: 0o600 });
  }
  const after = await r.snapshot('a', ign);
  const t = r.lab.topology;
  const pinged = ping(r.lab.a.host!, siteOf(t, 'a').lans[0]!.host, siteOf(t, 'b').lans[0]!.host, 3);
  return {
    rejected,
    message,
    spisKept: before.kernelSpis.join() === after.kernelSpis.join() && after.kernelSpis.length === 2,
    pingAfter: pinged.received,
  };
}
