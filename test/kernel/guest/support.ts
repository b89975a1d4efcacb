// Helpers for the *.gtest.ts files, which run inside a kernel with ESP (the guest, or a host that
// has it), each in a fresh network namespace of its own ("self", side A). Side B is a Netns made
// by the test; our Kernel reaches it through a tiny netlink relay process living in B.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openXfrmKernel } from '../../../src/kernel/index.ts';
import type { Kernel } from '../../../src/kernel/index.ts';
import type { Transport } from '../../../src/kernel/xfrm/channel.ts';
import { Netns, sh } from '../../../lab/netns/netns.ts';

const RELAY = fileURLToPath(new URL('./netlink-relay.mjs', import.meta.url));

interface RelayMsg {
  c: number;
  op: 'ready' | 'sent' | 'msg' | 'error';
  n?: number;
  d?: string;
  e?: string;
}

/** One relay process in a namespace, multiplexing the netlink sockets opened through it. */
export class NetnsRelay {
  private readonly child: ChildProcess;
  private nextChannel = 1;
  private nextSend = 1;
  private readonly onMsg = new Map<number, (d: Uint8Array) => void>();
  private readonly sendCbs = new Map<number, (err?: Error) => void>();
  errors: string[] = [];
  /** Resolves when the relay process is up (node starts slowly under TCG). */
  readonly ready: Promise<void>;
  private onReady: () => void = () => undefined;

  constructor(readonly ns: Netns) {
    this.child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, RELAY], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.ready = new Promise((resolve, reject) => {
      this.onReady = resolve;
      this.child.once('exit', (code) => reject(new Error(`netlink relay in ${ns.name} exited ${code}`)));
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.receive(line));
  }

  private receive(line: string): void {
    const m = JSON.parse(line) as RelayMsg;
    if (m.op === 'ready') this.onReady();
    else if (m.op === 'msg' && m.d !== undefined) this.onMsg.get(m.c)?.(Buffer.from(m.d, 'base64'));
    else if (m.op === 'sent' && m.n !== undefined) {
      this.sendCbs.get(m.n)?.(m.e ? new Error(m.e) : undefined);
      this.sendCbs.delete(m.n);
    } else if (m.op === 'error') this.errors.push(m.e ?? 'unknown');
  }

  private write(o: object): void {
    this.child.stdin!.write(`${JSON.stringify(o)}\n`);
  }

  /** A Transport (src/kernel/xfrm/channel.ts) whose socket lives in the relay's namespace. */
  transport(): Transport {
    const c = this.nextChannel++;
    this.write({ c, op: 'open' });
    return {
      send: (data, cb) => {
        const n = this.nextSend++;
        this.sendCbs.set(n, cb);
        this.write({ c, op: 'send', n, d: Buffer.from(data).toString('base64') });
      },
      onMessage: (fn) => void this.onMsg.set(c, fn),
      addMembership: (g) => this.write({ c, op: 'join', g }),
      ref: () => undefined,
      close: () => {
        this.onMsg.delete(c);
        this.write({ c, op: 'close' });
      },
    };
  }

  /** Sends one UDP datagram from `src:sport` inside the relay's namespace. */
  udpSend(src: string, sport: number, dst: string, dport: number, data: Uint8Array): Promise<void> {
    const n = this.nextSend++;
    return new Promise((resolve, reject) => {
      this.sendCbs.set(n, (err) => (err ? reject(err) : resolve()));
      this.write({ c: 0, op: 'udp', n, src, sport, dst, dport, d: Buffer.from(data).toString('base64') });
    });
  }

  close(): void {
    this.child.stdin!.end();
    this.child.kill('SIGKILL');
  }
}

/** Generous: under TCG the first SA of an algorithm loads modules and runs crypto self-tests. */
const KERNEL_TIMEOUT_MS = 30_000;

/** Our Kernel backend opened inside `ns` (through a relay), or in this process's own namespace. */
export async function kernelIn(
  ns?: Netns,
): Promise<{ kernel: Kernel; relay?: NetnsRelay; close: () => Promise<void> }> {
  if (!ns) {
    const kernel = await openXfrmKernel({ timeoutMs: KERNEL_TIMEOUT_MS });
    return { kernel, close: () => kernel.close() };
  }
  const relay = new NetnsRelay(ns);
  await relay.ready;
  const kernel = await openXfrmKernel({ transport: () => relay.transport(), timeoutMs: KERNEL_TIMEOUT_MS });
  return {
    kernel,
    relay,
    close: async () => {
      await kernel.close();
      relay.close();
    },
  };
}

let linkCounter = 0;

/**
 * A veth pair from this process's namespace to `peer`, with addresses (CIDR) on both ends.
 * Returns the interface names [self, peer].
 */
export function linkToPeer(peer: Netns, selfAddrs: string[], peerAddrs: string[]): [string, string] {
  const id = `${(process.pid % 100000).toString(36)}${(linkCounter++).toString(36)}`;
  const [a, b] = [`ga${id}`, `gb${id}`];
  sh('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', peer.name]);
  for (const addr of selfAddrs) sh('ip', ['addr', 'add', addr, 'dev', a, ...nodad(addr)]);
  for (const addr of peerAddrs) peer.ip('addr', 'add', addr, 'dev', b, ...nodad(addr));
  sh('ip', ['link', 'set', a, 'up']);
  peer.ip('link', 'set', b, 'up');
  return [a, b];
}

function nodad(addr: string): string[] {
  return addr.includes(':') ? ['nodad'] : [];
}

/** Sends `count` ICMP echo requests from this namespace (or `from`); returns replies received. */
export function ping(dst: string, count: number, from?: Netns): number {
  const args = [...(dst.includes(':') ? ['-6'] : []), '-c', String(count), '-i', '0.05', '-W', '3', dst];
  const r = from
    ? from.tryExec('ping', ...args)
    : spawnSync('ping', args, { encoding: 'utf8', timeout: 30_000 });
  const m = /(\d+) received/.exec(r.stdout ?? '');
  return m ? Number(m[1]) : 0;
}

/** Deterministic, obviously-not-secret test key of `n` bytes (seeded so each SA differs). */
export function testKey(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i * 7) & 0xff);
}

/** Addresses of the two-sided lab: outer (veth) and inner (tunnel endpoints on lo), per family. */
export const ADDR = {
  outer4: { a: '192.0.2.1', b: '192.0.2.2' },
  outer6: { a: '2001:db8::1', b: '2001:db8::2' },
  inner4: { a: '198.51.100.1', b: '203.0.113.1' },
  inner6: { a: '2001:db8:a::1', b: '2001:db8:b::1' },
} as const;

export interface TwoSides {
  /** Side B's namespace; side A is this process's own namespace. */
  b: Netns;
  ka: Kernel;
  kb: Kernel;
  /** The relay living in B, which can also send UDP from there. */
  relayB: NetnsRelay;
  /** Interface names [A, B] of the veth. */
  dev: [string, string];
  close(): Promise<void>;
}

/**
 * Side A (this namespace) and side B joined by veth with both families, inner addresses on
 * lo for tunnel mode and host routes for them over the veth, and our Kernel opened on both sides.
 */
export async function twoSides(tag: string): Promise<TwoSides> {
  const b = Netns.create(tag);
  try {
    const dev = linkToPeer(
      b,
      [`${ADDR.outer4.a}/24`, `${ADDR.outer6.a}/64`],
      [`${ADDR.outer4.b}/24`, `${ADDR.outer6.b}/64`],
    );
    sh('ip', ['addr', 'add', `${ADDR.inner4.a}/32`, 'dev', 'lo']);
    sh('ip', ['addr', 'add', `${ADDR.inner6.a}/128`, 'dev', 'lo']);
    b.ip('addr', 'add', `${ADDR.inner4.b}/32`, 'dev', 'lo');
    b.ip('addr', 'add', `${ADDR.inner6.b}/128`, 'dev', 'lo');
    sh('ip', ['route', 'add', `${ADDR.inner4.b}/32`, 'dev', dev[0], 'src', ADDR.inner4.a]);
    sh('ip', ['route', 'add', `${ADDR.inner6.b}/128`, 'dev', dev[0], 'src', ADDR.inner6.a]);
    b.ip('route', 'add', `${ADDR.inner4.a}/32`, 'dev', dev[1], 'src', ADDR.inner4.b);
    b.ip('route', 'add', `${ADDR.inner6.a}/128`, 'dev', dev[1], 'src', ADDR.inner6.b);
    const [sa, sb] = await Promise.all([kernelIn(), kernelIn(b)]);
    return {
      b,
      ka: sa.kernel,
      kb: sb.kernel,
      relayB: sb.relay!,
      dev,
      close: async () => {
        await Promise.all([sa.close(), sb.close()]);
        sh('ip', ['addr', 'del', `${ADDR.inner4.a}/32`, 'dev', 'lo']);
        sh('ip', ['addr', 'del', `${ADDR.inner6.a}/128`, 'dev', 'lo']);
        sh('ip', ['link', 'del', dev[0]]);
        b.delete();
      },
    };
  } catch (e) {
    b.delete();
    throw e;
  }
}

/** Sends `count` echo requests from `src` to `dst` in this namespace; returns replies received. */
export function pingFrom(src: string, dst: string, count: number): number {
  const args = [
    ...(dst.includes(':') ? ['-6'] : []),
    '-c',
    String(count),
    '-i',
    '0.05',
    '-W',
    '3',
    '-I',
    src,
    dst,
  ];
  const r = spawnSync('ping', args, { encoding: 'utf8', timeout: 30_000 });
  const m = /(\d+) received/.exec(r.stdout ?? '');
  return m ? Number(m[1]) : 0;
}
