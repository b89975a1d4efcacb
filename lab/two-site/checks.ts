// What a lab proves: LAN-to-LAN pings (bounded count), the kernel's SA counters on both routers
// (`ip -s xfrm state`, parsed here; its key lines are never kept or printed), and a capture on
// the WAN link that must show ESP (RFC 4303) or ESP-in-UDP (RFC 3948) and no LAN address in clear.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabNs } from '../netns/lab-ns.ts';

type Netns = Pick<LabNs, 'exec' | 'tryExec' | 'spawn'>;

export interface PingResult {
  readonly from: string;
  readonly to: string;
  readonly sent: number;
  readonly received: number;
}

/** Pings `to` from inside `ns`: count echo requests 0.2 s apart, each waiting at most 2 s. */
export function ping(ns: Netns, from: string, to: string, count: number): PingResult {
  const r = ns.tryExec('ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '2', '-I', from, to);
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(r.stdout);
  return { from, to, sent: m ? Number(m[1]) : 0, received: m ? Number(m[2]) : 0 };
}

export interface SaCounter {
  readonly src: string;
  readonly dst: string;
  /** esp or ah (RFC 4302). */
  readonly proto: string;
  readonly spi: string;
  readonly mode: string;
  /** UDP encapsulation (RFC 3948) when the state has an encap line. */
  readonly udpEncap: boolean;
  readonly bytes: number;
  readonly packets: number;
}

/**
 * Parses `ip -s xfrm state` output into counters. Only the src/dst, proto/spi/mode, encap and
 * "lifetime current" lines are read; algorithm lines (which carry keys) are skipped.
 */
export function parseXfrmStates(text: string): SaCounter[] {
  const out: SaCounter[] = [];
  let cur:
    | {
        src: string;
        dst: string;
        proto: string;
        spi: string;
        mode: string;
        udpEncap: boolean;
        bytes: number;
        packets: number;
      }
    | undefined;
  let inCurrent = false;
  const flush = () => {
    if (cur) out.push(cur);
    cur = undefined;
  };
  for (const line of text.split('\n')) {
    const head = /^src (\S+) dst (\S+)/.exec(line);
    if (head) {
      flush();
      cur = {
        src: head[1]!,
        dst: head[2]!,
        proto: 'esp',
        spi: '',
        mode: '',
        udpEncap: false,
        bytes: 0,
        packets: 0,
      };
      inCurrent = false;
      continue;
    }
    if (!cur) continue;
    const proto = /^\s+proto (esp|ah) spi (0x[0-9a-f]+).*?mode (\S+)/.exec(line);
    if (proto) {
      cur.proto = proto[1]!;
      cur.spi = proto[2]!;
      cur.mode = proto[3]!;
    } else if (/^\s+encap type espinudp/.test(line)) cur.udpEncap = true;
    else if (/^\s+lifetime current:/.test(line)) inCurrent = true;
    else if (inCurrent) {
      const c = /^\s+(\d+)\(bytes\), (\d+)\(packets\)/.exec(line);
      if (c) {
        cur.bytes = Number(c[1]);
        cur.packets = Number(c[2]);
      }
      inCurrent = false;
    }
  }
  flush();
  return out.filter((s) => s.spi !== '');
}

export function readSaCounters(ns: Netns): SaCounter[] {
  return parseXfrmStates(ns.exec('ip', '-s', 'xfrm', 'state'));
}

export interface CaptureSummary {
  readonly packets: number;
  /** ESP straight on IP (protocol 50). */
  readonly esp: number;
  /** ESP inside UDP 4500 (RFC 3948). */
  readonly espInUdp: number;
  /** IKE messages (UDP 500, or UDP 4500 with the non-ESP marker). */
  readonly ike: number;
  /** Packets that show a LAN address or an ICMP echo in clear: must be 0. */
  readonly cleartext: number;
  /** A few cleartext lines, to show what leaked. */
  readonly leaks: readonly string[];
}

/** Classifies `tcpdump -nn -r` lines. `secretAddrs` are inner addresses that must never show. */
export function mergeCaptures(c: readonly CaptureSummary[]): CaptureSummary {
  const sum = (k: 'packets' | 'esp' | 'espInUdp' | 'ike' | 'cleartext') => c.reduce((n, x) => n + x[k], 0);
  return {
    packets: sum('packets'),
    esp: sum('esp'),
    espInUdp: sum('espInUdp'),
    ike: sum('ike'),
    cleartext: sum('cleartext'),
    leaks: c.flatMap((x) => x.leaks).slice(0, 5),
  };
}

export function classifyCapture(lines: readonly string[], secretAddrs: readonly string[]): CaptureSummary {
  let packets = 0;
  let esp = 0;
  let espInUdp = 0;
  let ike = 0;
  const leaks: string[] = [];
  const leaky = (l: string) =>
    /ICMP6?,? echo (request|reply)|ICMP echo/.test(l) ||
    secretAddrs.some((a) => new RegExp(`(^|[\\s>])${a.replaceAll('.', '\\.')}([.:\\s,]|$)`).test(l));
  for (const l of lines) {
    if (!/^\d/.test(l)) continue; // tcpdump packet lines begin with the timestamp
    packets++;
    if (/UDP-encap: ESP\(spi=/.test(l)) espInUdp++;
    else if (/ESP\(spi=/.test(l)) esp++;
    else if (/isakmp|NONESP-encap|\.500 > |\.500: /.test(l)) ike++;
    else if (leaky(l)) leaks.push(l);
  }
  return { packets, esp, espInUdp, ike, cleartext: leaks.length, leaks: leaks.slice(0, 5) };
}

/** A bounded tcpdump on one interface of one namespace, written to a pcap and read back. */
export class WanCapture {
  private constructor(
    private readonly ns: Netns,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  /**
   * Starts tcpdump on what the router sends (-Q out: after ESP decapsulation the kernel re-injects
   * the inner packet on the same interface, so inbound capture would show it) and waits (at most
   * `startMs`, 10 s by default) until it listens. At most maxPackets are kept.
   */
  static async start(ns: Netns, ifname: string, maxPackets = 5000, startMs = 10_000): Promise<WanCapture> {
    const dir = mkdtempSync(join(tmpdir(), 'ikw-cap-'));
    const child = ns.spawn(
      'tcpdump',
      [
        '-i',
        ifname,
        '-nn',
        '-U',
        '--immediate-mode',
        '-Q',
        'out',
        '-Z',
        'root',
        '-c',
        String(maxPackets),
        '-w',
        join(dir, 'wan.pcap'),
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const cap = new WanCapture(ns, child, dir);
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(
        () => reject(new Error(`tcpdump did not start in ${startMs / 1000} s: ${err.trim()}`)),
        startMs,
      );
      child.stderr?.on('data', (b: Buffer) => {
        err += b.toString('utf8');
        if (err.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tcpdump exited ${code}: ${err.trim()}`));
      });
    }).catch((e: unknown) => {
      cap.discard();
      throw e;
    });
    return cap;
  }

  /** Stops the capture and classifies what crossed the interface. */
  async stop(secretAddrs: readonly string[]): Promise<CaptureSummary> {
    await this.kill();
    try {
      const r = this.ns.tryExec('tcpdump', '-nn', '-r', join(this.dir, 'wan.pcap'));
      return classifyCapture(r.stdout.split('\n'), secretAddrs);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Stops the capture and returns tcpdump's verbose reading of it (`-nn -v`: IP protocol, lengths). */
  async stopVerbose(): Promise<string[]> {
    await this.kill();
    try {
      return this.ns.tryExec('tcpdump', '-nn', '-v', '-r', join(this.dir, 'wan.pcap')).stdout.split('\n');
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  discard(): void {
    this.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      this.child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      // `ip netns exec` passes the signal on; tcpdump flushes the pcap on SIGINT.
      this.child.kill('SIGINT');
    });
  }
}
