// The data-plane part of the benchmark (issue 7, item 5), run where the kernel has ESP (the guest):
// two namespaces joined by a veth (WAN 192.0.2.1 <-> 192.0.2.2), each with a "LAN" address
// (10.1.0.1, 10.2.0.1) routed over the WAN, and iperf3 (TCP, LAN a -> LAN b) through
//   - plain: no IPsec;
//   - ikeway: two ikeway daemons (the esbuild bundle of the CLI, kernel xfrm), PSK, the default
//     proposal (AES-GCM-16-256 ESP, X25519) in tunnel mode, 10.1.0.0/24 <-> 10.2.0.0/24;
//   - charon: two strongSwan charons with kernel-netlink, the same proposal and selectors.
// An IPsec case counts only when the kernel SA byte counters show the iperf3 bytes went through
// ESP (RFC 4303) in both routers.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCli } from '../../lab/guest/bundle.ts';
import { readSaCounters } from '../../lab/two-site/checks.ts';
import { linkVeth, Netns } from '../../lab/netns/netns.ts';
import { Charon } from '../../lab/peers/strongswan.ts';
import { ESP_PROPOSAL, IKE_PROPOSAL } from './ike.ts';
import { cpuMs } from './proc.ts';

export type PathKind = 'plain' | 'ikeway' | 'charon';

export interface ThroughputRun {
  readonly kind: PathKind;
  readonly round: number;
  /** iperf3 receiver goodput (bits/s). */
  readonly bitsPerSec: number;
  readonly bytes: number;
  /** ESP bytes/packets of router a's outbound SA and router b's inbound SA over the run (IPsec only). */
  readonly esp?: { readonly outBytes: number; readonly inBytes: number; readonly packets: number };
  /** CPU the two daemons used while iperf3 ran (ms, /proc/<pid>/stat): they should idle. */
  readonly daemonCpuMs?: number;
}

interface Tunnel {
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

export class DataplaneError extends Error {
  override readonly name = 'DataplaneError';
  readonly code = 'ERR_BENCH_DATAPLANE';
}

const WAN = { a: '192.0.2.1', b: '192.0.2.2' } as const;
const LAN = { a: '10.1.0.1', b: '10.2.0.1' } as const;
const SUBNET = { a: '10.1.0.0/24', b: '10.2.0.0/24' } as const;
const PSK = 'bench-dataplane-psk-7Hq2Lx9Wd4Rm';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class DataplaneLab {
  readonly a = Netns.create('bdpa');
  readonly b: Netns;

  constructor() {
    try {
      this.b = Netns.create('bdpb');
      linkVeth(this.a, `${WAN.a}/24`, this.b, `${WAN.b}/24`);
      for (const [ns, self, peer, wan] of [
        [this.a, 'a', 'b', WAN.b],
        [this.b, 'b', 'a', WAN.a],
      ] as const) {
        ns.ip('addr', 'add', `${LAN[self]}/32`, 'dev', 'lo');
        ns.ip('route', 'add', SUBNET[peer], 'via', wan, 'src', LAN[self]);
      }
    } catch (e) {
      this.a.delete();
      throw e;
    }
  }

  flushXfrm(): void {
    for (const ns of [this.a, this.b]) {
      ns.ip('xfrm', 'policy', 'flush');
      ns.ip('xfrm', 'state', 'flush');
    }
  }

  close(): void {
    this.b?.delete();
    this.a.delete();
  }
}

async function until(what: string, fn: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < end; i++) {
    if (fn()) return;
    await sleep(100);
  }
  throw new DataplaneError(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const espStates = (ns: Netns) => readSaCounters(ns).filter((s) => s.mode === 'tunnel');

/** Two ikeway daemons; resolves once both routers hold the Child SA pair. Returns the stopper. */
async function startIkeways(lab: DataplaneLab): Promise<Tunnel> {
  const cli = await bundledCli();
  const dir = mkdtempSync(join(tmpdir(), 'ikw-bench-dp-'));
  const procs: ChildProcess[] = [];
  const logs: string[] = ['', ''];
  const stop = async () => {
    await Promise.all(
      procs.map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exit = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(t);
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  writeFileSync(join(dir, 'psk'), PSK, { mode: 0o600 });
  for (const [i, self, peer] of [
    [0, 'a', 'b'],
    [1, 'b', 'a'],
  ] as const) {
    const conf = join(dir, `${self}.yaml`);
    writeFileSync(
      conf,
      [
        'log: { level: warn, format: text }',
        `control-socket: ${join(dir, `${self}.sock`)}`,
        `state-dir: ${join(dir, `state-${self}`)}`,
        `local: { address: ${WAN[self]} }`,
        'connections:',
        '  site:',
        `    remote: ${WAN[peer]}`,
        `    auth: { psk: { file: ${join(dir, 'psk')} } }`,
        `    local-subnets: [${SUBNET[self]}]`,
        `    remote-subnets: [${SUBNET[peer]}]`,
        `    start: ${self === 'a' ? 'now' : 'wait'}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const ns = self === 'a' ? lab.a : lab.b;
    const p = ns.spawn(process.execPath, [cli, 'daemon', '-c', conf], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    p.stderr?.on('data', (b: Buffer) => (logs[i] = (logs[i]! + b.toString('utf8')).slice(-3000)));
    procs.push(p);
    if (self === 'b') await sleep(500); // the responder listens before the initiator's first try
  }
  try {
    await until(
      'the ikeway Child SAs',
      () => espStates(lab.a).length >= 2 && espStates(lab.b).length >= 2,
      90_000,
    );
  } catch (e) {
    await stop();
    throw new DataplaneError(`${(e as Error).message}\n--- a ---\n${logs[0]}\n--- b ---\n${logs[1]}`);
  }
  return { pids: procs.map((p) => p.pid!), stop };
}

/** Two charons with kernel-netlink; a initiates. Returns the stopper. */
async function startCharons(lab: DataplaneLab): Promise<Tunnel> {
  const charons: Charon[] = [];
  const stop = async () => {
    await Promise.all(charons.map((c) => c.stop()));
  };
  try {
    for (const [self, peer] of [
      ['b', 'a'],
      ['a', 'b'],
    ] as const) {
      charons.push(
        await Charon.start({
          ns: self === 'a' ? lab.a : lab.b,
          tag: `dp-${self}`,
          libipsec: false,
          logLevels: { default: -1 },
          extraCharonConf: '  install_routes = no',
          startTimeoutMs: 60_000,
          connections: [
            {
              name: 'site',
              localAddrs: [WAN[self]],
              remoteAddrs: [WAN[peer]],
              localId: WAN[self],
              remoteId: WAN[peer],
              localAuth: 'psk',
              remoteAuth: 'psk',
              proposals: [IKE_PROPOSAL],
              mobike: false,
              children: [
                {
                  name: 'net',
                  localTs: [SUBNET[self]],
                  remoteTs: [SUBNET[peer]],
                  espProposals: [ESP_PROPOSAL],
                },
              ],
            },
          ],
          secrets: { psk: [{ secret: PSK }] },
        }),
      );
      await charons[charons.length - 1]!.loadAll();
    }
    await charons[1]!.initiate('net', 'site', 60_000);
    await until(
      'the charon Child SAs',
      () => espStates(lab.a).length >= 2 && espStates(lab.b).length >= 2,
      30_000,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { pids: charons.map((c) => c.pid!), stop };
}

interface IperfResult {
  readonly bitsPerSec: number;
  readonly bytes: number;
}

/** iperf3 TCP from LAN a to LAN b for `seconds` (first second omitted as slow start). */
async function iperf(lab: DataplaneLab, seconds: number): Promise<IperfResult> {
  const server = lab.b.spawn('iperf3', ['-s', '-1', '-B', LAN.b], { stdio: 'ignore' });
  try {
    await until('the iperf3 server', () => /:5201\b/.test(lab.b.exec('ss', '-ltn')), 30_000);
    const out = await new Promise<string>((resolve, reject) => {
      const c = lab.a.spawn('iperf3', ['-c', LAN.b, '-B', LAN.a, '-t', String(seconds), '-O', '1', '-J']);
      let text = '';
      c.stdout?.on('data', (b: Buffer) => (text += b.toString('utf8')));
      const t = setTimeout(() => c.kill('SIGKILL'), (seconds + 60) * 1000);
      c.once('exit', (code) => {
        clearTimeout(t);
        if (code === 0) resolve(text);
        else reject(new DataplaneError(`iperf3 client exited ${code}: ${text.slice(-1000)}`));
      });
    });
    const j = JSON.parse(out) as { end?: { sum_received?: { bits_per_second?: number; bytes?: number } } };
    const r = j.end?.sum_received;
    if (r?.bits_per_second === undefined || r.bytes === undefined)
      throw new DataplaneError(`iperf3 reported no receiver sum: ${out.slice(0, 500)}`);
    return { bitsPerSec: r.bits_per_second, bytes: r.bytes };
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
  }
}

/** One measured run of `kind`; the IPsec cases set up and tear down their tunnel around it. */
export async function throughput(
  lab: DataplaneLab,
  kind: PathKind,
  round: number,
  seconds: number,
): Promise<ThroughputRun> {
  const tunnel =
    kind === 'ikeway' ? await startIkeways(lab) : kind === 'charon' ? await startCharons(lab) : undefined;
  try {
    const cpu = () => (tunnel?.pids ?? []).reduce((n, pid) => n + cpuMs(pid), 0);
    const c0 = cpu();
    const r = await iperf(lab, seconds);
    const daemonCpuMs = cpu() - c0;
    if (!tunnel) {
      if (espStates(lab.a).length > 0) throw new DataplaneError('plain run with SAs installed');
      return { kind, round, ...r };
    }
    // a's outbound SA goes a -> b; b's inbound SA is the same SA (same SPI) on the receiving side.
    const out = espStates(lab.a).find((s) => s.src === WAN.a && s.dst === WAN.b);
    const inb = espStates(lab.b).find((s) => s.src === WAN.a && s.dst === WAN.b);
    if (!out || !inb || out.spi !== inb.spi)
      throw new DataplaneError(`${kind}: no matching a->b SA pair (a ${out?.spi}, b ${inb?.spi})`);
    // The iperf3 payload went through ESP: the SA carried at least the bytes iperf3 received.
    if (out.bytes < r.bytes || inb.bytes < r.bytes)
      throw new DataplaneError(`${kind}: SA counters ${out.bytes}/${inb.bytes} bytes < iperf3's ${r.bytes}`);
    const esp = { outBytes: out.bytes, inBytes: inb.bytes, packets: out.packets };
    return { kind, round, ...r, esp, daemonCpuMs };
  } finally {
    await tunnel?.stop();
    lab.flushXfrm();
  }
}
