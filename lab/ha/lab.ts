// The HA lab: two ikeway nodes with `ha:` and keepalived (VRRP, one shared address) on site A, a
// site-B peer (ikeway or strongSwan 5.9.8, lab/ha/peers.ts); topology and configs in lab/ha/setup.ts.
// Once the tunnel is up (and the standby synced), every process of node 1 gets SIGKILL; keepalived
// on node 2 takes the address and runs `ikeway ha promote`. Scenarios (lab/ha/scenarios.ts):
// - ikeway, strongswan: the standby takes the SAs over; checked: the peer keeps its IKE SA and Child
//   SA SPIs (strongSwan: `swanctl --list-sas` before and after, and no IKE_SA_INIT in its log after
//   the kill), a Child SA rekey after the failover succeeds, node 1 comes back as standby and resyncs.
// - nosync: the sync link is down from the start, the standby holds nothing; the promoted node
//   initiates (`start: now`) and the tunnel comes back through a new IKE SA.
// Measured (figures, never assertions): seconds from the kill to the promotion, to the peer's next
// request answered or to the new IKE SA; with `kernel: 'xfrm'` (real ESP: the guest kernel) a steady
// ping LAN to LAN counts the packets lost and the longest gap, and the dead node's links go down.
// Scenarios run side by side (each in its own namespaces); their kill-to-end parts take turns, so
// the figures are not distorted by each other. Bounded waits; every namespace and process goes.
//
// Run (root): node --import tsx lab/ha/lab.ts [memory|xfrm] [ikeway,strongswan,nosync]
//   -> one JSON report on stdout: { scenarios: { <name>: report } }.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from '../../src/control/client.ts';
import type { StatusReport, HaStatusReport } from '../../src/control/status-types.ts';
import { LabNs, labNsName, removeNamespaces } from '../netns/lab-ns.ts';
import { bundledCli } from '../guest/bundle.ts';
import { haPeer, type PeerIkeSa } from './peers.ts';
import {
  HA_SCENARIOS,
  haScenario,
  isScenarioName,
  type HaLabKernel,
  type HaLabScenario,
  type HaScenarioName,
} from './scenarios.ts';
import {
  ikewayPeerConfig,
  keepalivedConfig,
  LAN_A,
  LAN_B,
  nodeConfig,
  setupScript,
  type HaNamespaces,
} from './setup.ts';

export type { HaLabKernel } from './scenarios.ts';
const env = {
  ...process.env,
  IKW_PSK: 'ha-lab-psk-0123456789abcdef',
  IKW_HA_KEY: 'ha-lab-sync-key-0123456789abcdef',
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (let i = 0; Date.now() < end && i < 10_000; i++) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(50);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

const status = (sock: string) =>
  request(sock, 'status', undefined, { timeoutMs: 2000 }) as Promise<StatusReport>;
const haStatus = (sock: string) =>
  request(sock, 'ha', { action: 'status' }, { timeoutMs: 2000 }) as Promise<HaStatusReport>;
const up = (sa: PeerIkeSa | undefined) => sa?.established && sa.children.some((c) => c.installed);

/** ping's verdict: sent, received, the longest run of lost replies (seconds at 0.1 s a packet). */
export function pingVerdict(out: string) {
  const seqs = [...out.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1]));
  const sent = Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? NaN);
  let gap = 0;
  for (let i = 1; i < seqs.length; i++) gap = Math.max(gap, seqs[i]! - seqs[i - 1]! - 1);
  return {
    sent,
    received: seqs.length,
    lost: sent - seqs.length,
    longestGapSeconds: gap / 10,
    lastSeq: seqs.at(-1) ?? 0,
  };
}

/** Takes turns: the next caller gets its release function once the previous one released. */
export function turns(): () => Promise<() => void> {
  let chain = Promise.resolve();
  return () => {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const before = chain;
    chain = chain.then(() => mine);
    return before.then(() => release);
  };
}

export async function runHaScenario(
  s: HaLabScenario,
  kernel: HaLabKernel,
  turn: () => Promise<() => void> = turns(),
): Promise<Record<string, unknown>> {
  const IKEWAY = await bundledCli();
  const dir = mkdtempSync(join(tmpdir(), `ikw-ha-${s.name}-`));
  chmodSync(dir, 0o755);
  const ns: HaNamespaces = {
    sw: labNsName('hasw'),
    n1: labNsName('han1'),
    n2: labNsName('han2'),
    peer: labNsName('hapeer'),
  };
  const procs: ChildProcess[] = [];
  const logs: Record<string, string> = {};
  const spawnIn = (name: string, nsName: string, cmd: string, args: string[]) => {
    const p = new LabNs(nsName, name).spawn(cmd, args, { env });
    logs[name] = '';
    const keep = (d: Buffer) => (logs[name] = (logs[name]! + d.toString()).slice(-20_000));
    p.stdout?.on('data', keep);
    p.stderr?.on('data', keep);
    procs.push(p);
    return p;
  };
  const ikeway = (name: 'n1' | 'n2', cfg: string) =>
    spawnIn(`ikeway-${name}`, ns[name], process.execPath, [IKEWAY, 'daemon', '-c', cfg, '--kernel', kernel]);
  const keepalived = (n: 1 | 2) =>
    spawnIn(`keepalived-n${n}`, ns[`n${n}`], '/usr/sbin/keepalived', [
      ...['-n', '-l', '-P', '-f', `${dir}/k${n}.conf`, '-p', `${dir}/k${n}.pid`],
      ...['-r', `${dir}/k${n}.vrrp.pid`],
    ]);
  const peer = haPeer(
    s.peer,
    {
      ns: ns.peer,
      dir,
      kernel,
      ikewayCli: IKEWAY,
      psk: env.IKW_PSK,
      spawn: (name, cmd, args) => spawnIn(name, ns.peer, cmd, args),
    },
    join(dir, 'peer.yaml'),
  );
  const n1sock = `${dir}/n1.sock`;
  const n2sock = `${dir}/n2.sock`;
  let release: (() => void) | undefined;
  // Seconds since the scenario started at each step (where a slow guest run spends its time).
  const started = Date.now();
  const timeline: string[] = [];
  const step = (what: string) => timeline.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)}`);
  try {
    const r = spawnSync('sh', ['-ec', setupScript(ns, s, process.pid)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`namespace setup failed: ${r.stderr}`);
    for (const n of [1, 2] as const) {
      writeFileSync(join(dir, `n${n}.yaml`), nodeConfig(dir, n, s));
      writeFileSync(join(dir, `k${n}.conf`), keepalivedConfig(dir, n));
    }
    writeFileSync(join(dir, 'peer.yaml'), ikewayPeerConfig(dir));
    writeFileSync(
      join(dir, 'notify.sh'),
      `#!/bin/sh\nexec ${process.execPath} ${IKEWAY} ha "$2" --socket "$1" >>${dir}/notify.log 2>&1\n`,
    );
    chmodSync(join(dir, 'notify.sh'), 0o755);

    // Under TCG (kernel xfrm in the guest) every node process starts 10-30x slower: the waits scale.
    const slow = kernel === 'xfrm' ? 4 : 1;
    ikeway('n1', join(dir, 'n1.yaml'));
    ikeway('n2', join(dir, 'n2.yaml'));
    // strongSwan answers; it must be there before node 1 is promoted and initiates.
    if (s.peer === 'strongswan') await peer.start();
    await until(
      'both nodes ready',
      kernel === 'xfrm' ? 150_000 : 30_000,
      async () => (await haStatus(n1sock)) && haStatus(n2sock),
    );
    step('nodes ready');
    keepalived(1);
    await until('node 1 active (VRRP MASTER, promoted)', 20_000 * slow, async () =>
      (await haStatus(n1sock)).role === 'active' ? true : undefined,
    );
    keepalived(2);
    if (s.peer === 'ikeway') await peer.start();
    const before = await until('the tunnel up at the peer', 30_000 * slow, async () => {
      const sas = await peer.sas();
      return up(sas[0]) && sas.length === 1 ? sas : undefined;
    });
    step('tunnel up');
    const spis = { spiI: before[0]!.spiI, spiR: before[0]!.spiR, child: before[0]!.children[0]!.spiIn };
    // Synced means the standby holds the tunnel's IKE SA, not only that a resync ended (under TCG
    // the record may come seconds after the flag).
    if (s.sync)
      await until('node 2 synced, holding the IKE SA', 30_000 * slow, async () => {
        const h = await haStatus(n2sock);
        return h.synced && h.records >= 1 ? true : undefined;
      });
    step('standby ready');

    // One scenario at a time from here: the failover's figures are its own.
    release = await turn();
    step('turn');
    let pingOut = '';
    const ping =
      kernel === 'xfrm'
        ? spawn('ip', ['netns', 'exec', ns.peer, 'ping', '-n', '-i', '0.1', '-I', LAN_B, '-w', '90', LAN_A])
        : undefined;
    ping?.stdout?.on('data', (d: Buffer) => (pingOut += d.toString()));
    if (ping) {
      procs.push(ping);
      await until('the first ping answered', 15_000 * slow, async () =>
        /icmp_seq=/.test(pingOut) ? true : undefined,
      );
      await sleep(2000);
    }

    // The active dies outright: every process of node 1 at once (keepalived's VRRP child too:
    // killed alone, the parent's death would make it leave gracefully with a priority-0 advert).
    const standby = await haStatus(n2sock);
    peer.mark();
    const t0 = Date.now();
    spawnSync('sh', ['-c', `kill -9 $(ip netns pids ${ns.n1}) 2>/dev/null; true`]);
    // A dead box takes its addresses with it (SIGKILL leaves keepalived's VRRP addresses behind).
    if (kernel === 'xfrm') spawnSync('sh', ['-c', `ip -n ${ns.n1} link set eth0 down; true`]);
    const since = () => (Date.now() - t0) / 1000;
    step('kill');
    await until('node 2 promoted', 30_000 * slow, async () =>
      (await haStatus(n2sock)).role === 'active' ? true : undefined,
    );
    const report: Record<string, unknown> = { scenario: s.name, peer: s.peer, sync: s.sync };
    report.secondsKillToPromoted = since();
    report.standbyBeforeKill = { records: standby.records, synced: standby.synced };
    if (s.sync) {
      await until('a request of the peer answered by node 2', 40_000 * slow, async () =>
        ((await status(n2sock)).counters['ike.response_sent'] ?? 0) > 0 ? true : undefined,
      );
      report.secondsKillToPeerRequestAnswered = since();
    } else {
      await until('node 2 established a new IKE SA', 40_000 * slow, async () => {
        const sa = (await status(n2sock)).connections[0]?.ikeSas[0];
        return sa?.state === 'established' && sa.children.some((c) => c.state === 'installed')
          ? true
          : undefined;
      });
      report.secondsKillToNewIkeSa = since();
      await until('the peer on the new IKE SA', 20_000 * slow, async () =>
        (await peer.sas()).some((sa) => up(sa) && sa.spiI !== spis.spiI) ? true : undefined,
      );
      report.secondsKillToPeerOnNewIkeSa = since();
    }
    step('recovered');
    const after = await peer.sas();
    report.peerSasBefore = before;
    report.peerSasAfter = after;
    report.peerIkeSas = after.length;
    report.peerIkeSaUnchanged =
      after.length === 1 && after[0]!.spiI === spis.spiI && after[0]!.spiR === spis.spiR;
    report.peerChildSaUnchanged = after[0]?.children.some((c) => c.spiIn === spis.child) ?? false;
    // A takeover that did not keep the peer's SAs: both nodes' log tails for the failure report.
    if (s.sync && !report.peerIkeSaUnchanged)
      report.logs = { n1: logs['ikeway-n1']?.slice(-5000), n2: logs['ikeway-n2']?.slice(-8000) };
    if (ping) {
      await sleep(3000);
      ping.kill('SIGINT');
      await until('ping ends', 5000, async () => (ping.exitCode !== null ? true : undefined)).catch(
        () => undefined,
      );
      report.ping = pingVerdict(pingOut);
      const xfrm = new LabNs(ns.n2, 'n2').tryExec('ip', 'xfrm', 'state').stdout;
      report.node2EspStates = (xfrm.match(/^src /gm) ?? []).length;
    }

    if (s.rekey) {
      // ikeway peer: the peer rekeys (node 2 answers); strongSwan: node 2 rekeys (its own message ID).
      if (s.peer === 'ikeway') await peer.rekeyChild();
      else await request(n2sock, 'rekey', { name: 'site', what: 'child' });
      report.childRekeyAfterFailover = await until('the Child SA rekeyed', 20_000 * slow, async () => {
        const sa = (await peer.sas()).find((x) => x.spiI === spis.spiI && x.spiR === spis.spiR);
        return sa?.children.some((c) => c.installed && c.spiIn !== spis.child) ? true : undefined;
      }).catch(() => false);
      report.peerSasAfterRekey = await peer.sas();
      step('rekeyed');
    }
    const wire = peer.wire();
    if (wire) report.peerWireAfterKill = wire;
    report.node2Counters = pick((await status(n2sock)).counters, /^ike\.(request|response|retrans|drop_)/);

    if (s.oldNodeReturns) {
      // Node 1 comes back (as standby: nopreempt) with its links up again, and resyncs.
      if (kernel === 'xfrm') spawnSync('ip', ['-n', ns.n1, 'link', 'set', 'eth0', 'up']);
      ikeway('n1', join(dir, 'n1.yaml'));
      await until('node 1 back', 30_000 * slow, () => haStatus(n1sock));
      keepalived(1);
      const back = await until('node 1 synced as standby', 20_000 * slow, async () => {
        const h = await haStatus(n1sock);
        return h.role === 'standby' && h.synced ? h : undefined;
      }).catch(() => undefined);
      report.oldNodeResyncedAsStandby = back !== undefined;
      report.oldNodeRecords = back?.records;
      step('old node back');
    }
    report.timeline = timeline;
    return report;
  } catch (e) {
    const tail = peer.logTail();
    return {
      scenario: s.name,
      error: e instanceof Error ? e.message : String(e),
      timeline,
      logs: { ...logs, ...(tail ? { charon: tail } : {}) },
    };
  } finally {
    release?.();
    await peer.stop().catch(() => undefined);
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    removeNamespaces(Object.values(ns));
    rmSync(dir, { recursive: true, force: true });
  }
}

function pick(c: Record<string, number>, re: RegExp): Record<string, number> {
  return Object.fromEntries(Object.entries(c).filter(([k]) => re.test(k)));
}

/** The named scenarios side by side, each in its own namespaces; their failovers take turns. */
export async function runHaLab(
  kernel: HaLabKernel = 'memory',
  names: readonly HaScenarioName[] = ['ikeway'],
): Promise<Record<string, Record<string, unknown>>> {
  const turn = turns();
  const reports = await Promise.all(names.map((n, i) => runHaScenario(haScenario(n, i), kernel, turn)));
  return Object.fromEntries(names.map((n, i) => [n, reports[i]!]));
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const kernel = process.argv[2] === 'xfrm' ? 'xfrm' : 'memory';
  const names = (process.argv[3] ?? HA_SCENARIOS.join(',')).split(',').filter(isScenarioName);
  const t0 = Date.now();
  const scenarios = await runHaLab(kernel, names);
  const wallMs = Date.now() - t0;
  process.stdout.write(`${JSON.stringify({ kernel, wallMs, scenarios }, null, 2)}\n`);
  process.exit(Object.values(scenarios).some((r) => r.error) ? 1 : 0);
}
