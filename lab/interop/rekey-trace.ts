// When each step of a Child SA rekey happened, from both routers' kernels and wires (issue 13): a
// capture of the IKE and ESP packets crossing router-a's WAN both ways (tcpdump -tt, headers only),
// the IKE packets on router-b's WAN, and both kernels' SA events (`ip -ts xfrm monitor SA`). Every
// time comes from the one guest clock, so the order of events is exact: when the peer installed its
// new outbound SA, when its first ESP packet on it reached router-a, when its response did, and when
// router-a's kernel had the new inbound SA (the larval SA of ALLOCSPI completed by UPDSA; until then
// the kernel drops that SPI's packets as XfrmAcquireError, net/xfrm/xfrm_input.c). Diagnostics
// only: no key ever leaves here (the monitor's key lines are never kept).
import type { ChildProcess } from 'node:child_process';
import type { LabNs } from '../netns/lab-ns.ts';

export type TraceKind = 'esp-in' | 'esp-out' | 'ike-in' | 'ike-out' | 'sa-new' | 'sa-upd' | 'sa-del';

export interface TraceEvent {
  /** ms since the epoch (guest clock, µs precision). */
  readonly t: number;
  readonly kind: TraceKind;
  /** ESP SPI, 8 lowercase hex digits (ESP packets and SA events). */
  readonly spi?: string;
}

const spiHex = (s: string) => s.replace(/^0x/, '').toLowerCase().padStart(8, '0');

/**
 * One line of `tcpdump -tt -nn -l` on a WAN whose own address is `wan`: ESP and IKE (UDP 500/4500,
 * ESP-in-UDP counted as ESP) packets with their direction; anything else is undefined.
 */
export function parseTcpdumpLine(line: string, wan: string): TraceEvent | undefined {
  const m = /^(\d+)\.(\d{1,9}) IP6? (\S+) > (\S+?):? (.*)$/.exec(line);
  if (!m) return undefined;
  const t = Number(m[1]) * 1000 + Number(`0.${m[2]}`) * 1000;
  const host = (a: string) => a.replace(/\.\d+$/, '');
  const src = m[3]!;
  const dst = m[4]!;
  const rest = m[5]!;
  const dir = host(src) === wan || src === wan ? 'out' : host(dst) === wan || dst === wan ? 'in' : undefined;
  if (!dir) return undefined;
  const esp = /ESP\(spi=(0x[0-9a-f]+)/i.exec(rest);
  if (esp) return { t, kind: `esp-${dir}`, spi: spiHex(esp[1]!) };
  if (/\.(500|4500)$/.test(src) || /\.(500|4500)$/.test(dst)) return { t, kind: `ike-${dir}` };
  return undefined;
}

/**
 * `ip -ts xfrm monitor SA` output, line by line: a "[2026-12-07T06:59:44.707968] [Updated |Deleted ]
 * src ..." line opens an SA event, the "proto esp spi 0x..." line after it names the SA. Key lines
 * are ignored (never stored). The timestamps are UTC (the monitor runs with TZ=UTC).
 */
export class MonitorParser {
  #open: { t: number; kind: TraceKind } | undefined;
  readonly events: TraceEvent[] = [];
  line(line: string): void {
    const head = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)\]\s*(Updated |Deleted |Expired )?src /.exec(
      line,
    );
    if (head) {
      const t = Date.parse(`${head[1]}Z`) + Number(`0.${head[2]}`) * 1000;
      const word = head[3]?.trim();
      // An expire event is no change of the table: not kept.
      this.#open =
        word === 'Expired'
          ? undefined
          : { t, kind: word === 'Updated' ? 'sa-upd' : word === 'Deleted' ? 'sa-del' : 'sa-new' };
      return;
    }
    if (/^\[\d{4}-/.test(line)) {
      this.#open = undefined; // another object's event (policy, acquire ...)
      return;
    }
    const spi = /\bproto (?:esp|ah) spi (0x[0-9a-f]+)/i.exec(line);
    if (spi && this.#open) {
      this.events.push({ ...this.#open, spi: spiHex(spi[1]!) });
      this.#open = undefined;
    }
  }
}

/** The steps of one Child SA rekey that router-a started, in ms after router-a sent the request. */
export interface ChildRekeyTiming {
  /** Router-a's CREATE_CHILD_SA request (its first IKE packet after the rekey was started), epoch ms. */
  readonly requestAt: number | null;
  /** The peer's kernel got its new outbound SA (router-a's new inbound SPI). */
  readonly peerOutboundSa: number | null;
  /** The peer sent its response (router-b's WAN). */
  readonly peerResponseSent: number | null;
  /** The first ESP packet on the new SA reached router-a. */
  readonly firstEspIn: number | null;
  /** The response reached router-a. */
  readonly responseIn: number | null;
  /** Router-a's kernel had the new inbound SA (UPDSA of the larval SA, or a NEWSA). */
  readonly inboundSa: number | null;
  /** ESP packets on the new SA that reached router-a before that: the ones its kernel dropped. */
  readonly early: number;
}

/**
 * The timing of the Child SA rekey started at `startedAt` (epoch ms) whose new inbound SPI at
 * router-a is `spiIn`, from router-a's events (`a`) and router-b's (`b`), each sorted by time.
 */
export function childRekeyTiming(
  a: readonly TraceEvent[],
  b: readonly TraceEvent[],
  startedAt: number,
  spiIn: string,
): ChildRekeyTiming {
  const spi = spiHex(spiIn);
  const first = (ev: readonly TraceEvent[], ok: (e: TraceEvent) => boolean, after: number) =>
    ev.find((e) => e.t >= after && ok(e))?.t ?? null;
  const req = first(a, (e) => e.kind === 'ike-out', startedAt);
  const from = req ?? startedAt;
  const rel = (t: number | null) => (t === null || req === null ? null : Math.round((t - req) * 10) / 10);
  const inbound = first(a, (e) => (e.kind === 'sa-upd' || e.kind === 'sa-new') && e.spi === spi, startedAt);
  const early = a.filter(
    (e) => e.kind === 'esp-in' && e.spi === spi && e.t >= from && (inbound === null || e.t < inbound),
  ).length;
  return {
    requestAt: req,
    peerOutboundSa: rel(first(b, (e) => e.kind === 'sa-new' && e.spi === spi, startedAt)),
    peerResponseSent: rel(first(b, (e) => e.kind === 'ike-out', from)),
    firstEspIn: rel(first(a, (e) => e.kind === 'esp-in' && e.spi === spi, startedAt)),
    responseIn: rel(first(a, (e) => e.kind === 'ike-in', from)),
    inboundSa: rel(inbound),
    early,
  };
}

/** One line for the report: every step relative to the request, in ms. */
export function describeTiming(t: ChildRekeyTiming): string {
  const f = (v: number | null) => (v === null ? '?' : `${v}`);
  return (
    `request 0, peer outbound SA +${f(t.peerOutboundSa)}, peer response sent +${f(t.peerResponseSent)}, ` +
    `first ESP on it at router-a +${f(t.firstEspIn)}, response at router-a +${f(t.responseIn)}, ` +
    `router-a inbound SA +${f(t.inboundSa)} ms; ESP before it: ${t.early}`
  );
}

/** A line-reading child process in `ns`; `started` resolves once it listens (at most 1.5 s). */
function follow(
  ns: LabNs,
  cmd: string,
  args: readonly string[],
  onLine: (l: string) => void,
): { child: ChildProcess; started: Promise<void> } {
  const child = ns.spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TZ: 'UTC' },
  });
  let tail = '';
  child.stdout?.on('data', (d: Buffer) => {
    const lines = (tail + d.toString('utf8')).split('\n');
    tail = lines.pop() ?? '';
    for (const l of lines) onLine(l);
  });
  const started = new Promise<void>((resolve) => {
    // tcpdump says "listening on"; the monitor says nothing: a short settle time bounds both.
    const t = setTimeout(resolve, 1500);
    child.stderr?.on('data', (d: Buffer) => {
      if (/listening on/.test(d.toString('utf8'))) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
  return { child, started };
}

/** The four recorders of one phase; stop() ends them. At most `max` events per router. */
export class RekeyTrace {
  readonly a: TraceEvent[] = [];
  readonly b: TraceEvent[] = [];
  readonly #children: ChildProcess[] = [];
  private constructor(private readonly max: number) {}

  static async start(
    routers: { readonly a: LabNs; readonly b: LabNs },
    wan: { readonly a: string; readonly b: string },
    max = 200_000,
  ): Promise<RekeyTrace> {
    const tr = new RekeyTrace(max);
    const push = (into: TraceEvent[], e: TraceEvent | undefined) => {
      if (e && into.length < tr.max) into.push(e);
    };
    const cap = (site: 'a' | 'b', filter: string) =>
      follow(
        routers[site],
        'tcpdump',
        ['-i', 'wan', '-nn', '-tt', '-l', '--immediate-mode', '-Z', 'root', filter],
        (l) => push(tr[site], parseTcpdumpLine(l, wan[site])),
      );
    const mon = (site: 'a' | 'b') => {
      const p = new MonitorParser();
      return follow(routers[site], 'ip', ['-ts', 'xfrm', 'monitor', 'SA'], (l) => {
        const n = p.events.length;
        p.line(l);
        if (p.events.length > n) push(tr[site], p.events.pop());
      });
    };
    const all = [
      cap('a', 'esp or udp port 500 or udp port 4500'),
      cap('b', 'udp port 500 or udp port 4500'),
      mon('a'),
      mon('b'),
    ];
    for (const x of all) tr.#children.push(x.child);
    await Promise.all(all.map((x) => x.started));
    return tr;
  }

  /** Ends the recorders (their last lines are read) and sorts the events by time. */
  async stop(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => c.kill('SIGKILL'), 5000);
            c.once('close', () => {
              clearTimeout(t);
              resolve();
            });
            c.kill('SIGINT');
          }),
      ),
    );
    this.a.sort((x, y) => x.t - y.t);
    this.b.sort((x, y) => x.t - y.t);
  }
}
