// Counting loss in a two-site lab flow (lab/interop/rekey-flow.ts): a steady ping from host-a to
// host-b with every reply's sequence number kept, both routers' ESP SA counters (the largest count
// seen while each SA lived) and the deltas of the kernels' XFRM error counters (/proc/net/xfrm_stat).
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { LabError } from '../errors.ts';
import type { LabNs } from '../netns/lab-ns.ts';
import { parseXfrmStates } from '../two-site/checks.ts';
import type { Lab } from '../two-site/lab.ts';
import { siteOf } from '../two-site/topology.ts';

/** One router: ESP packets per SA (the largest count seen while the SA lived), and XFRM errors. */
export interface RouterCount {
  readonly sent: number;
  readonly received: number;
  readonly sas: readonly { spi: string; dir: 'in' | 'out'; packets: number }[];
  /** Non-zero deltas of /proc/net/xfrm_stat over the phase (XfrmOutNoStates, XfrmAcquireError ...). */
  readonly xfrmErrors: Readonly<Record<string, number>>;
}

export interface PingCount {
  /** Echo requests ping sent (its summary). */
  readonly sent: number;
  /** Requests sent before the last second of the flow (the ones that had time to be answered). */
  readonly counted: number;
  /** Of those, the ones never answered: the loss. */
  readonly lost: number;
  /** The first few lost sequence numbers with the ms since the flow started (10 ms each at 100/s). */
  readonly lostSeqs: readonly number[];
  /** Lost sequence numbers as ranges ("120-139"), all of them. */
  readonly lostRanges: string;
  /** When ping did not report (0 sent): its exit and its other output. */
  readonly note?: string;
}

/** Both routers' XFRM tables, taken while replies stopped coming (the loss moment). */
export interface LossSnapshot {
  /** ms since the flow started. */
  readonly at: number;
  readonly lastReplySeq: number;
  readonly text: string;
}

/** Why the last run() in each namespace printed nothing (its exit and stderr), for error messages. */
const lastFailure = new WeakMap<LabNs, string>();

/** Runs a command in a namespace without blocking the event loop (other flows run in parallel). */
export function run(ns: LabNs, cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve) => {
    const child: ChildProcess = ns.spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr?.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-300)));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => lastFailure.set(ns, `${cmd}: ${e.message}`));
    child.once('close', (code, sig) => {
      clearTimeout(t);
      if (out === '') lastFailure.set(ns, `${cmd} ${args.join(' ')}: exit ${code ?? sig}, ${err.trim()}`);
      resolve(out);
    });
  });
}

export function parseXfrmStat(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s+(\d+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Both routers' ESP SA counters, read when asked (before each rekey and at the end: cheap). */
export class SaSampler {
  readonly #max = new Map<string, { spi: string; dir: 'in' | 'out'; packets: number }>();
  constructor(
    private readonly ns: LabNs,
    private readonly wan: string,
  ) {}
  async sample(): Promise<void> {
    let states = parseXfrmStates(await run(this.ns, 'ip', ['-s', 'xfrm', 'state']));
    // A loaded guest may not finish `ip` within run()'s bound: once more, with more time (a Child SA
    // always stands here, so an empty table is a read that did not complete).
    if (states.length === 0)
      states = parseXfrmStates(await run(this.ns, 'ip', ['-s', 'xfrm', 'state'], 60_000));
    for (const s of states) {
      const dir = s.src === this.wan ? 'out' : 'in';
      const prev = this.#max.get(s.spi);
      if (!prev || prev.packets < s.packets) this.#max.set(s.spi, { spi: s.spi, dir, packets: s.packets });
    }
  }
  get sas(): RouterCount['sas'] {
    return [...this.#max.values()];
  }
}

/** Per namespace, a process that sleeps in it: its /proc/<pid>/net is the namespace's (nsFile). */
const anchors = new WeakMap<LabNs, ChildProcess>();

/**
 * A /proc/net file of a namespace, read from a process already in it rather than by a new `cat`
 * (in a loaded guest a spawned `cat` came back empty, twice in a row). Checked to be the namespace's
 * own (the anchor's net namespace is the one /run/netns names); undefined if it cannot be.
 */
async function nsFile(ns: LabNs, file: string): Promise<string | undefined> {
  let a = anchors.get(ns);
  if (!a || a.exitCode !== null || a.signalCode !== null) {
    // The lab's teardown kills it with everything else in the namespace; it would end in an hour.
    a = ns.spawn('sleep', ['3600'], { stdio: 'ignore' });
    a.unref();
    anchors.set(ns, a);
  }
  let want: string;
  try {
    want = `net:[${statSync(`/run/netns/${ns.name}`).ino}]`;
  } catch {
    return undefined;
  }
  // Bounded: 100 tries 100 ms apart, until `ip netns exec` has entered the namespace.
  for (let i = 0; i < 100; i++) {
    try {
      if (a.pid !== undefined && readlinkSync(`/proc/${a.pid}/ns/net`) === want)
        return readFileSync(`/proc/${a.pid}/net/${file}`, 'utf8');
    } catch {
      // Not there yet, or gone (then the next call starts another).
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

/**
 * /proc/net/xfrm_stat of a router. The file always has its counters: an empty read once made a
 * phase's deltas the whole history, so an empty or failed read is tried another way, then a precise
 * error rather than a wrong baseline.
 */
export async function xfrmStat(ns: LabNs): Promise<Record<string, number>> {
  const first = parseXfrmStat((await nsFile(ns, 'xfrm_stat')) ?? '');
  if (Object.keys(first).length > 0) return first;
  for (const ms of [20_000, 60_000]) {
    const stat = parseXfrmStat(await run(ns, 'cat', ['/proc/net/xfrm_stat'], ms));
    if (Object.keys(stat).length > 0) return stat;
  }
  throw new LabError(
    'LAB_TUNNEL',
    `could not read /proc/net/xfrm_stat in ${ns.name} (${lastFailure.get(ns) ?? 'no reason'})`,
  );
}

export function deltas(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) !== 0) out[k] = v - (before[k] ?? 0);
  return out;
}

/** "3-5,9": sorted numbers as ranges. */
export function ranges(n: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < n.length;) {
    let j = i;
    while (j + 1 < n.length && n[j + 1] === n[j]! + 1) j++;
    out.push(i === j ? `${n[i]}` : `${n[i]}-${n[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/**
 * ping at `pps` from host-a to host-b until stopped (SIGINT). Every reply's sequence number is
 * kept, so the loss is exact for the requests sent before the last second (the rest may be in
 * flight when ping stops). `onStall` runs (at most `maxStalls` times) when no reply came for
 * `stallMs`: the moment to look at the kernels' tables.
 */
export function pingFlow(
  l: Lab,
  pps: number,
  onStall: (lastSeq: number) => Promise<void>,
  stallMs = 150,
  maxStalls = 3,
): { stop(): Promise<PingCount> } {
  const t = l.topology;
  const [src, dst] = [siteOf(t, 'a').lans[0]!.host, siteOf(t, 'b').lans[0]!.host];
  const args = ['-n', '-c', '1000000', '-i', (1 / pps).toFixed(3), '-W', '2', '-I', src, dst];
  const child = l.a.host!.spawn('ping', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const replied = new Set<number>();
  let out = '';
  let err = '';
  let tail = '';
  let lastReply = Date.now();
  let lastSeq = 0;
  child.stdout?.on('data', (b: Buffer) => {
    const text = tail + b.toString('utf8');
    const lines = text.split('\n');
    tail = lines.pop() ?? '';
    for (const line of lines) {
      const m = / bytes from .*icmp_seq=(\d+)/.exec(line);
      if (m) {
        replied.add(Number(m[1]));
        lastReply = Date.now();
        lastSeq = Math.max(lastSeq, Number(m[1]));
      } else out += `${line}\n`;
    }
  });
  child.stderr?.on('data', (b: Buffer) => {
    if (err.length < 2000) err += b.toString('utf8');
  });
  let exit = '';
  // 'close', not 'exit': ping's summary may still be in the stdout pipe when the process exits.
  const exited = new Promise<void>((r) =>
    child.once('close', (code, sig) => {
      exit = `exit ${code ?? ''}${sig ?? ''}`;
      r();
    }),
  );
  let stalls = 0;
  let busy = false;
  let stalled = false;
  const watch = setInterval(() => {
    const quiet = Date.now() - lastReply > stallMs;
    if (!quiet) stalled = false;
    if (!quiet || stalled || busy || stalls >= maxStalls || replied.size === 0) return;
    stalled = true; // once per stall
    stalls++;
    busy = true;
    void onStall(lastSeq).finally(() => (busy = false));
  }, 50);
  return {
    stop: async () => {
      clearInterval(watch);
      child.kill('SIGINT');
      const guard = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(guard);
      const m = /(\d+) packets transmitted/.exec(out + tail);
      const sent = m ? Number(m[1]) : 0;
      const counted = Math.max(0, sent - pps);
      const lost: number[] = [];
      for (let seq = 1; seq <= counted; seq++) if (!replied.has(seq)) lost.push(seq);
      return {
        sent,
        counted,
        lost: lost.length,
        lostSeqs: lost.slice(0, 20),
        lostRanges: ranges(lost),
        ...(sent === 0 && { note: `${exit}; ${(out + tail + err).slice(-600)}` }),
      };
    },
  };
}
