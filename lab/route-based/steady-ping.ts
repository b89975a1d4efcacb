// A steady ping (iputils, one echo request every intervalMs) across a failover, and what it saw:
// the runs of lost replies, each with the outage it caused (from the last reply before the run to the
// first after it, by ping's own -D timestamps) and where it fell relative to the lab's events.
import type { ChildProcess } from 'node:child_process';
import type { Netns } from '../netns/netns.ts';

export interface LossRun {
  /** Echo requests without a reply in this run. */
  readonly lost: number;
  /** Last reply before the run to first reply after it (ms); -1 if the run never ended. */
  readonly outageMs: number;
  /** When its first request went out (last reply before it + one interval), relative to the cut (ms). */
  readonly atMsFromCut: number;
  /** 'cut' when that request went out before the restore, 'restore' after it. */
  readonly after: 'cut' | 'restore';
}

export interface PingSummary {
  readonly intervalMs: number;
  readonly transmitted: number;
  readonly received: number;
  readonly runs: readonly LossRun[];
}

/** Parses ping -D -n output into reply timestamps by icmp_seq and the transmitted count. */
export function parsePing(text: string): { replies: Map<number, number>; transmitted: number } {
  const replies = new Map<number, number>();
  for (const line of text.split('\n')) {
    const m = /^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+)/.exec(line);
    if (m) replies.set(Number(m[2]), Math.round(Number(m[1]) * 1000));
  }
  const t = /(\d+) packets transmitted/.exec(text);
  return { replies, transmitted: t ? Number(t[1]) : 0 };
}

/** Runs of missing replies in 1..transmitted, timed by the replies around them. */
export function lossRuns(
  replies: ReadonlyMap<number, number>,
  transmitted: number,
  intervalMs: number,
  cutAt: number,
  restoreAt: number,
): LossRun[] {
  const runs: LossRun[] = [];
  let seq = 1;
  while (seq <= transmitted) {
    if (replies.has(seq)) {
      seq++;
      continue;
    }
    const first = seq;
    while (seq <= transmitted && !replies.has(seq)) seq++;
    const before = replies.get(first - 1);
    const after = replies.get(seq);
    const start = before !== undefined ? before + intervalMs : (after ?? cutAt);
    runs.push({
      lost: seq - first,
      outageMs: before !== undefined && after !== undefined ? after - before : -1,
      atMsFromCut: start - cutAt,
      after: start < restoreAt ? 'cut' : 'restore',
    });
  }
  return runs;
}

export interface SteadyPing {
  stop(): Promise<{ text: string; summary(cutAt: number, restoreAt: number): PingSummary }>;
}

/** Starts `ping -D -n -i` in `ns`; stop() interrupts it (SIGINT, so ping prints its totals). */
export function startPing(ns: Netns, from: string, to: string, intervalMs: number): SteadyPing {
  const child: ChildProcess = ns.spawn(
    'ping',
    ['-n', '-D', '-i', String(intervalMs / 1000), '-W', '1', '-I', from, to],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout?.on('data', (b: Buffer) => {
    // Bounded: a 0.1 s ping for 10 minutes is about 400 KB.
    if (text.length < 2_000_000) text += b.toString('utf8');
  });
  return {
    async stop() {
      const done = new Promise((r) => child.once('exit', r));
      // ip netns exec passes the signal on to ping by exec'ing it.
      child.kill('SIGINT');
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return {
        text,
        summary(cutAt: number, restoreAt: number): PingSummary {
          const { replies, transmitted } = parsePing(text);
          return {
            intervalMs,
            transmitted,
            received: replies.size,
            runs: lossRuns(replies, transmitted, intervalMs, cutAt, restoreAt),
          };
        },
      };
    },
  };
}
