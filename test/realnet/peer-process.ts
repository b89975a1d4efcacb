// Runs test/interop/scripts/ikeway-peer.ts inside a namespace and collects its JSON event lines, so a
// test can wait for "the IKE SA is up" on real sockets with a bounded timeout and stop it cleanly.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Netns } from '../../lab/netns/netns.ts';
import type { ConnectionSpec } from '../../lab/load/spec.ts';

export const PEER_SCRIPT = fileURLToPath(new URL('../interop/scripts/ikeway-peer.ts', import.meta.url));

export interface PeerEvent {
  readonly event: string;
  readonly [k: string]: unknown;
}

export interface PeerDescription {
  readonly kernel: 'memory' | 'xfrm' | 'xfrm-policies';
  readonly addresses: readonly string[];
  readonly connections: readonly ConnectionSpec[];
  readonly initiate?: readonly string[];
  readonly bypass?: boolean;
}

export class PeerProcess {
  readonly events: PeerEvent[] = [];
  #stderr = '';
  #waiters = new Set<() => void>();
  #exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    let buf = '';
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) this.events.push(JSON.parse(line) as PeerEvent);
      }
      for (const w of [...this.#waiters]) w();
    });
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => (this.#stderr += c.slice(0, 20_000)));
    this.#exited = new Promise((r) => proc.once('exit', (code) => r(code)));
    void this.#exited.then(() => [...this.#waiters].forEach((w) => w()));
  }

  static start(ns: Netns, name: string, d: PeerDescription): PeerProcess {
    const proc = ns.spawn(process.execPath, ['--import', 'tsx', PEER_SCRIPT, JSON.stringify(d)]);
    return new PeerProcess(name, proc);
  }

  get stderr(): string {
    return this.#stderr;
  }

  of(event: string): PeerEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  /** Resolves with the first event matching `pred`; rejects after `ms` or when the process exits. */
  waitFor(pred: (e: PeerEvent) => boolean, ms = 15_000, what = 'event'): Promise<PeerEvent> {
    return new Promise((resolve, reject) => {
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        f();
      };
      const check = () => {
        const hit = this.events.find(pred);
        if (hit) return done(() => resolve(hit));
        if (this.proc.exitCode !== null || this.proc.signalCode !== null)
          done(() => reject(new Error(`${this.name} exited waiting for ${what}: ${this.#diag()}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.name}: no ${what} within ${ms} ms: ${this.#diag()}`))),
        ms,
      );
      this.#waiters.add(check);
      check();
    });
  }

  waitEvent(event: string, ms?: number): Promise<PeerEvent> {
    return this.waitFor((e) => e.event === event, ms, event);
  }

  #diag(): string {
    return `events ${JSON.stringify(this.events.map((e) => e.event))} stderr ${this.#stderr.slice(-2000)}`;
  }

  /** SIGTERM (the peer closes its engine), SIGKILL after `graceMs`; resolves with the exit code. */
  async stop(graceMs = 5_000): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
      const code = await this.#exited;
      clearTimeout(t);
      return code;
    }
    return this.#exited;
  }
}

/** A site-to-site pair of connection specs (A initiates to B), PSK, IPv4 or IPv6 by address family. */
export function siteSpecs(
  a: string,
  b: string,
  over: Partial<ConnectionSpec> = {},
): [ConnectionSpec, ConnectionSpec] {
  const v6 = a.includes(':');
  const [netA, netB] = v6 ? ['2001:db8:a::/64', '2001:db8:b::/64'] : ['10.1.0.0/24', '10.2.0.0/24'];
  const common = {
    ike: 'aes256gcm16-prfsha256-x25519',
    esp: 'aes256gcm16',
    psk: 'realnet shared secret 0123456789',
  };
  return [
    {
      name: 'site',
      localAddr: a,
      remoteAddr: b,
      localId: 'fqdn:a.example',
      remoteId: 'fqdn:b.example',
      localTs: [netA],
      remoteTs: [netB],
      ...common,
      ...over,
    },
    {
      name: 'site',
      localAddr: b,
      remoteAddr: a,
      localId: 'fqdn:b.example',
      remoteId: 'fqdn:a.example',
      localTs: [netB],
      remoteTs: [netA],
      ...common,
      ...over,
    },
  ];
}
