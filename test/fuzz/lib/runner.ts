// The fuzz runner: feeds mutated inputs to a target, bounded by count and by time (it stops early,
// it never fails for running out of time), collects findings (invariant violations with the input
// that caused them) and saves them as hex under test/fuzz/findings/ for the regression test.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mutate, rng, toHex } from './mutate.ts';

/** An invariant the target holds was violated by an input. */
export class FuzzFinding extends Error {
  override readonly name = 'FuzzFinding';
  constructor(
    readonly detail: string,
    readonly input?: Uint8Array,
  ) {
    super(detail);
  }
}

/** One running instance of a target: state (engines, keys) built once, then one input at a time. */
export interface FuzzSession {
  /** Known-good inputs the mutations start from. */
  readonly corpus: readonly Uint8Array[];
  /**
   * Feeds one input. The target catches the errors its module is allowed to throw (CodecError,
   * KernelError, ConfigErrors ...); anything else it throws is a finding.
   */
  run(input: Uint8Array): void | Promise<void>;
  /** Invariants between inputs (tables bounded, a normal exchange still works); throws FuzzFinding. */
  check?(): void | Promise<void>;
  /** Target-specific figures (e.g. how many inputs passed decryption). */
  stats?(): Record<string, number>;
  close(): void | Promise<void>;
}

export interface FuzzTarget {
  readonly name: string;
  readonly description: string;
  open(): Promise<FuzzSession>;
}

export interface RunOptions {
  readonly maxInputs: number;
  readonly maxMs: number;
  readonly seed?: number;
  /** Run check() every this many inputs (and once at the end). Default 200. */
  readonly checkEvery?: number;
  /** Stop after this many findings (default 10). */
  readonly maxFindings?: number;
  /** Largest input (default 65535). */
  readonly maxLen?: number;
}

export interface Finding {
  readonly target: string;
  readonly error: string;
  /** Hex of the input, when the finding belongs to one input (not to a periodic check). */
  readonly input?: string;
}

export interface RunResult {
  readonly target: string;
  readonly inputs: number;
  readonly ms: number;
  readonly perSecond: number;
  /** The slowest single input (ms): a hang shows here long before a timeout would. */
  readonly slowestMs: number;
  readonly stoppedBy: 'count' | 'time' | 'findings';
  readonly findings: readonly Finding[];
  readonly stats: Record<string, number>;
}

const describe = (e: unknown): string =>
  e instanceof FuzzFinding
    ? e.detail
    : e instanceof Error
      ? `${e.name}: ${e.message}\n${e.stack ?? ''}`
      : String(e);

/** Runs the seeds unmutated first (they must pass), then mutations until a bound is reached. */
export async function runTarget(target: FuzzTarget, o: RunOptions): Promise<RunResult> {
  const session = await target.open();
  const rand = rng(o.seed ?? 0x5eed);
  const findings: Finding[] = [];
  const maxFindings = o.maxFindings ?? 10;
  const checkEvery = o.checkEvery ?? 200;
  const start = performance.now();
  let inputs = 0;
  let slowestMs = 0;
  let stoppedBy: RunResult['stoppedBy'] = 'count';
  const check = async (): Promise<void> => {
    try {
      await session.check?.();
    } catch (e) {
      findings.push({ target: target.name, error: `check: ${describe(e)}` });
    }
  };
  try {
    for (; inputs < o.maxInputs; inputs++) {
      if (findings.length >= maxFindings) {
        stoppedBy = 'findings';
        break;
      }
      if (performance.now() - start > o.maxMs) {
        stoppedBy = 'time';
        break;
      }
      const input =
        inputs < session.corpus.length ? session.corpus[inputs]! : mutate(session.corpus, rand, o.maxLen);
      const t0 = performance.now();
      try {
        await session.run(input);
      } catch (e) {
        findings.push({ target: target.name, error: describe(e), input: toHex(input) });
      }
      slowestMs = Math.max(slowestMs, performance.now() - t0);
      if ((inputs + 1) % checkEvery === 0) await check();
    }
    await check();
  } finally {
    await session.close();
  }
  const ms = performance.now() - start;
  return {
    target: target.name,
    inputs,
    ms,
    perSecond: inputs / Math.max(ms / 1000, 1e-3),
    slowestMs,
    stoppedBy,
    findings,
    stats: session.stats?.() ?? {},
  };
}

/** Replays inputs (e.g. saved findings) once each; the findings they still cause. */
export async function replay(target: FuzzTarget, inputs: readonly Uint8Array[]): Promise<Finding[]> {
  const session = await target.open();
  const findings: Finding[] = [];
  try {
    for (const input of inputs) {
      try {
        await session.run(input);
      } catch (e) {
        findings.push({ target: target.name, error: describe(e), input: toHex(input) });
      }
    }
    try {
      await session.check?.();
    } catch (e) {
      findings.push({ target: target.name, error: `check: ${describe(e)}` });
    }
  } finally {
    await session.close();
  }
  return findings;
}

export const FINDINGS_DIR = new URL('../findings/', import.meta.url);

/** Saves each input finding as `<target>-<sha256 prefix>.hex`; returns the file names. */
export function saveFindings(findings: readonly Finding[], dir = FINDINGS_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  const names: string[] = [];
  for (const f of findings) {
    if (f.input === undefined) continue;
    const id = createHash('sha256').update(f.input).digest('hex').slice(0, 12);
    const name = `${f.target}-${id}.hex`;
    writeFileSync(join(dir.pathname, name), `${f.input}\n`);
    names.push(name);
  }
  return names;
}
