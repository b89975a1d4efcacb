// Host-namespace HA lab, IKE level (`--kernel memory`: the host kernel has no ESP). Three namespaces
// on one bridge (a fourth namespace): node 1 and node 2 run ikeway with `ha:` and keepalived (VRRP,
// one shared address); the peer runs ikeway and initiates to the shared address with a 1 s liveness
// interval. Once the standby is synced, node 1's ikeway and keepalived get SIGKILL; keepalived on
// node 2 takes the address and runs `ikeway ha promote`. Measured (figures, not assertions): seconds
// from the kill to the promotion and to the first request of the peer that node 2 answered; checked:
// the peer's IKE SA keeps its SPIs, a Child SA rekey after the failover succeeds, node 1 comes back as
// standby and resyncs. Bounded waits everywhere; every namespace and process is removed at the end.
//
// With `kernel: 'xfrm'` (a kernel with ESP: the guest, test/ha/ha-esp.guest.ts) the same lab carries
// real ESP: a steady ping from the peer's LAN address to site A's (a second VRRP address) counts the
// packets lost and the longest gap, and the dead node's link goes down with it.
//
// Run (root): node --import tsx lab/ha/lab.ts [xfrm]   -> one JSON report on stdout.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from '../../src/control/client.ts';
import type { StatusReport, HaStatusReport } from '../../src/control/status-types.ts';
import { LabNs, labNsName, removeNamespaces } from '../netns/lab-ns.ts';
import { bundledCli } from '../guest/bundle.ts';

export type HaLabKernel = 'memory' | 'xfrm';
const VIP = '10.77.0.1';
/** Site A's LAN address (moves with the VRRP instance) and the peer's, inside the selectors. */
const LAN_A = '10.1.0.1';
const LAN_B = '10.2.0.1';
const ADDR = { n1: '10.77.0.11', n2: '10.77.0.12', peer: '10.77.0.20' } as const;
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

function nodeConfig(dir: string, n: 1 | 2): string {
  return `local: { address: ${VIP} }
control-socket: ${dir}/n${n}.sock
state-dir: ${dir}/n${n}
connections:
  site:
    remote: ${ADDR.peer}
    auth: { psk: { env: IKW_PSK } }
    local-subnets: [10.1.0.0/24]
    remote-subnets: [10.2.0.0/24]
    start: wait
ha:
  node-id: ${n}
  priority: ${n === 1 ? 200 : 100}
  local: ${n === 1 ? ADDR.n1 : ADDR.n2}
  peer: ${n === 1 ? ADDR.n2 : ADDR.n1}
  sync-key: { env: IKW_HA_KEY }
  heartbeat: 200ms
  seq-report: 1s
`;
}

function peerConfig(dir: string): string {
  return `local: { address: ${ADDR.peer} }
control-socket: ${dir}/peer.sock
state-dir: ${dir}/peer
retransmit: { timeout: 500ms, tries: 8, base: 1.5 }
connections:
  site:
    remote: ${VIP}
    auth: { psk: { env: IKW_PSK } }
    local-subnets: [10.2.0.0/24]
    remote-subnets: [10.1.0.0/24]
    liveness: { interval: 1s, timeout: 30s }
`;
}

function keepalivedConfig(dir: string, n: 1 | 2): string {
  return `global_defs { script_user root }
vrrp_instance site {
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id 77
  priority ${n === 1 ? 200 : 100}
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
    ${LAN_A}/32 dev eth0
  }
  notify_master "${dir}/notify.sh ${dir}/n${n}.sock promote"
  notify_backup "${dir}/notify.sh ${dir}/n${n}.sock demote"
  notify_fault "${dir}/notify.sh ${dir}/n${n}.sock demote"
}
`;
}

const status = (sock: string) =>
  request(sock, 'status', undefined, { timeoutMs: 2000 }) as Promise<StatusReport>;
const haStatus = (sock: string) =>
  request(sock, 'ha', { action: 'status' }, { timeoutMs: 2000 }) as Promise<HaStatusReport>;

/** ping's verdict: sent, received, the longest run of lost replies (seconds at 0.1 s a packet). */
function pingVerdict(out: string) {
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

export async function runHaLab(kernel: HaLabKernel = 'memory'): Promise<Record<string, unknown>> {
  const IKEWAY = await bundledCli();
  const dir = mkdtempSync(join(tmpdir(), 'ikw-ha-lab-'));
  chmodSync(dir, 0o755);
  const ns = {
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
  const ikeway = (name: 'n1' | 'n2' | 'peer', cfg: string) =>
    spawnIn(`ikeway-${name}`, ns[name], process.execPath, [IKEWAY, 'daemon', '-c', cfg, '--kernel', kernel]);
  const keepalived = (n: 1 | 2) =>
    spawnIn(`keepalived-n${n}`, ns[`n${n}`], '/usr/sbin/keepalived', [
      '-n',
      '-l',
      '-P',
      '-f',
      `${dir}/k${n}.conf`,
      '-p',
      `${dir}/k${n}.pid`,
      '-r',
      `${dir}/k${n}.vrrp.pid`,
    ]);
  try {
    const setup = [
      ...Object.values(ns).map((n) => `ip netns add ${n}`),
      `ip -n ${ns.sw} link add br0 type bridge`,
      `ip -n ${ns.sw} link set br0 up`,
      ...(['n1', 'n2', 'peer'] as const).flatMap((k, i) => [
        `ip link add v${i}-${process.pid} netns ${ns.sw} type veth peer name eth0 netns ${ns[k]}`,
        `ip -n ${ns.sw} link set v${i}-${process.pid} master br0 up`,
        `ip -n ${ns[k]} addr add ${ADDR[k]}/24 dev eth0`,
        `ip -n ${ns[k]} link set eth0 up`,
        `ip -n ${ns[k]} link set lo up`,
        `ip netns exec ${ns[k]} sysctl -qw net.ipv4.ip_nonlocal_bind=1`,
      ]),
    ];
    setup.push(
      `ip -n ${ns.peer} addr add ${LAN_B}/32 dev lo`,
      `ip -n ${ns.peer} route add 10.1.0.0/24 via ${VIP} src ${LAN_B}`,
      `ip -n ${ns.n1} route add 10.2.0.0/24 via ${ADDR.peer}`,
      `ip -n ${ns.n2} route add 10.2.0.0/24 via ${ADDR.peer}`,
    );
    const r = spawnSync('sh', ['-ec', setup.join('\n')], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`namespace setup failed: ${r.stderr}`);
    writeFileSync(join(dir, 'n1.yaml'), nodeConfig(dir, 1));
    writeFileSync(join(dir, 'n2.yaml'), nodeConfig(dir, 2));
    writeFileSync(join(dir, 'peer.yaml'), peerConfig(dir));
    writeFileSync(join(dir, 'k1.conf'), keepalivedConfig(dir, 1));
    writeFileSync(join(dir, 'k2.conf'), keepalivedConfig(dir, 2));
    writeFileSync(
      join(dir, 'notify.sh'),
      `#!/bin/sh\nexec ${process.execPath} ${IKEWAY} ha "$2" --socket "$1" >>${dir}/notify.log 2>&1\n`,
    );
    chmodSync(join(dir, 'notify.sh'), 0o755);

    // Under TCG (kernel xfrm in the guest) every node process starts 10-30x slower: the waits scale.
    const slow = kernel === 'xfrm' ? 4 : 1;
    ikeway('n1', join(dir, 'n1.yaml'));
    ikeway('n2', join(dir, 'n2.yaml'));
    await until(
      'both nodes ready',
      kernel === 'xfrm' ? 120_000 : 30_000,
      async () => (await haStatus(`${dir}/n1.sock`)) && haStatus(`${dir}/n2.sock`),
    );
    keepalived(1);
    await until('node 1 active (VRRP MASTER, promoted)', 20_000 * slow, async () =>
      (await haStatus(`${dir}/n1.sock`)).role === 'active' ? true : undefined,
    );
    keepalived(2);
    ikeway('peer', join(dir, 'peer.yaml'));
    const spis = await until('the peer established with the shared address', 30_000 * slow, async () => {
      const sa = (await status(`${dir}/peer.sock`)).connections[0]?.ikeSas.find(
        (s) => s.state === 'established',
      );
      return sa && sa.children.length > 0
        ? { spiI: sa.spiI, spiR: sa.spiR, child: sa.children[0]!.spiIn }
        : undefined;
    });
    await until('node 2 synced', 15_000 * slow, async () =>
      (await haStatus(`${dir}/n2.sock`)).synced ? true : undefined,
    );

    // Real ESP: a steady ping LAN to LAN through the tunnel, from before the kill to after the takeover.
    let pingOut = '';
    const ping =
      kernel === 'xfrm'
        ? spawn('ip', ['netns', 'exec', ns.peer, 'ping', '-n', '-i', '0.1', '-I', LAN_B, '-w', '60', LAN_A])
        : undefined;
    ping?.stdout?.on('data', (d: Buffer) => (pingOut += d.toString()));
    if (ping) {
      procs.push(ping);
      await until('the first ping answered', 15_000 * slow, async () =>
        /icmp_seq=/.test(pingOut) ? true : undefined,
      );
      await sleep(2000);
    }

    // The active dies outright.
    const t0 = Date.now();
    // Every process of node 1 at once (keepalived's VRRP child too: killed alone, the parent's death
    // would make it leave gracefully with a priority-0 advert, a faster failover than a crash).
    spawnSync('sh', ['-c', `kill -9 $(ip netns pids ${ns.n1}) 2>/dev/null; true`]);
    // A dead box takes its addresses with it (SIGKILL leaves keepalived's VRRP addresses behind).
    if (kernel === 'xfrm') spawnSync('ip', ['-n', ns.n1, 'link', 'set', 'eth0', 'down']);
    await until('node 2 promoted', 30_000 * slow, async () =>
      (await haStatus(`${dir}/n2.sock`)).role === 'active' ? true : undefined,
    );
    const promotedS = (Date.now() - t0) / 1000;
    await until('a request of the peer answered by node 2', 30_000 * slow, async () =>
      ((await status(`${dir}/n2.sock`)).counters['ike.response_sent'] ?? 0) > 0 ? true : undefined,
    );
    const answeredS = (Date.now() - t0) / 1000;
    const after = (await status(`${dir}/peer.sock`)).connections[0]!.ikeSas;
    const sameIkeSa = after.length === 1 && after[0]!.spiI === spis.spiI && after[0]!.spiR === spis.spiR;
    const sameChildSa = after[0]?.children.some((c) => c.spiIn === spis.child) ?? false;
    let traffic: ReturnType<typeof pingVerdict> | undefined;
    if (ping) {
      await sleep(3000);
      ping.kill('SIGINT');
      await until('ping ends', 5000, async () => (ping.exitCode !== null ? true : undefined)).catch(
        () => undefined,
      );
      traffic = pingVerdict(pingOut);
    }
    const xfrmN2 =
      kernel === 'xfrm' ? new LabNs(ns.n2, 'n2').tryExec('ip', '-s', 'xfrm', 'state').stdout : '';

    // A Child SA rekey after the failover, started by the peer.
    await request(`${dir}/peer.sock`, 'rekey', { name: 'site', what: 'child' });
    const rekeyed = await until('the Child SA rekeyed', 20_000 * slow, async () => {
      const sa = (await status(`${dir}/peer.sock`)).connections[0]?.ikeSas[0];
      const c = sa?.children.find((x) => x.state === 'installed' && x.spiIn !== spis.child);
      return c && sa?.spiI === spis.spiI ? true : undefined;
    }).catch(() => false);

    // Node 1 comes back (as standby: nopreempt) and resyncs; with its link up again.
    if (kernel === 'xfrm') spawnSync('ip', ['-n', ns.n1, 'link', 'set', 'eth0', 'up']);
    ikeway('n1', join(dir, 'n1.yaml'));
    await until('node 1 back', 30_000 * slow, () => haStatus(`${dir}/n1.sock`));
    keepalived(1);
    const back = await until('node 1 synced as standby', 20_000 * slow, async () => {
      const s = await haStatus(`${dir}/n1.sock`);
      return s.role === 'standby' && s.synced ? s : undefined;
    }).catch(() => undefined);
    return {
      secondsKillToPromoted: promotedS,
      secondsKillToPeerRequestAnswered: answeredS,
      peerIkeSaUnchanged: sameIkeSa,
      peerChildSaUnchanged: sameChildSa,
      ...(traffic ? { ping: traffic, node2EspStates: (xfrmN2.match(/^src /gm) ?? []).length } : {}),
      peerIkeSas: after.length,
      childRekeyAfterFailover: rekeyed,
      oldNodeResyncedAsStandby: back !== undefined,
      oldNodeRecords: back?.records,
    };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e), logs };
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    removeNamespaces(Object.values(ns));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const report = await runHaLab(process.argv[2] === 'xfrm' ? 'xfrm' : 'memory');
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exit(report.error ? 1 : 0);
}
