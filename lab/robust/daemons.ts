// Daemons the failure labs can kill: one `ikeway daemon` (the bundled CLI) per router namespace,
// started, signalled and restarted by the scenario, with its log kept (bounded) and its control
// socket for status. Config variants for the labs (short lifetimes, liveness, retransmits) are
// patched into the configs prepareExample rendered.
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { request } from '../../src/control/client.ts';
import type { StatusReport } from '../../src/control/status-types.ts';
import type { ExampleLab } from '../two-site/examples.ts';
import type { Lab } from '../two-site/lab.ts';
import { LabError } from '../errors.ts';
import { type SiteName } from '../two-site/topology.ts';

const LOG_KEEP = 400;

/** Settings written into one router's config: global keys, and keys of the lab's connection. */
export interface ConfigPatch {
  readonly global?: Readonly<Record<string, unknown>>;
  readonly connection?: Readonly<Record<string, unknown>>;
}

/** Rewrites `file` with the patch applied (comments kept); the daemon validates it on start. */
export function patchConfig(file: string, connection: string, p: ConfigPatch): void {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  for (const [k, v] of Object.entries(p.global ?? {})) doc.set(k, v);
  for (const [k, v] of Object.entries(p.connection ?? {})) doc.setIn(['connections', connection, k], v);
  writeFileSync(file, doc.toString(), { mode: 0o600 });
}

export class LabDaemon {
  readonly log: string[] = [];
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  /** How many times this router's daemon was started. */
  starts = 0;

  constructor(
    readonly lab: Lab,
    readonly ex: ExampleLab,
    readonly site: SiteName,
    readonly bin: string,
  ) {}

  get socket(): string {
    return resolve(this.ex.configs[this.site], '..', 'ikeway.sock');
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts the daemon; resolves once it logged "ready" (bounded), rejects if it exits first. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new LabError('LAB_TUNNEL', `router-${this.site}: daemon already running`);
    const from = this.log.length;
    this.log.push(`--- start ${++this.starts} ---`);
    const child = this.lab
      .site(this.site)
      .router.spawn(
        process.execPath,
        [this.bin, 'daemon', '-c', this.ex.configs[this.site], '--log-format', 'text'],
        {
          env: { ...process.env, ...this.ex.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
    this.#child = child;
    const keep = (b: Buffer) => {
      this.log.push(...b.toString('utf8').split('\n').filter(Boolean));
      if (this.log.length > LOG_KEEP * 2) this.log.splice(0, this.log.length - LOG_KEEP);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#exited = new Promise((r) => child.once('exit', () => r()));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.log.slice(from).some((l) => /\bready\b/.test(l))) return;
      if (!this.running)
        throw new LabError(
          'LAB_TUNNEL',
          `router-${this.site}: daemon exited before ready:\n${this.tail(10)}`,
        );
      await sleep(100);
    }
    throw new LabError('LAB_TUNNEL', `router-${this.site}: no "ready" in ${timeoutMs} ms`);
  }

  /** Sends a signal; resolves when the process is gone (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(t);
  }

  status(): Promise<StatusReport> {
    return request(this.socket, 'status', undefined, { timeoutMs: 10_000 }) as Promise<StatusReport>;
  }

  async counters(): Promise<Record<string, number>> {
    return (await request(this.socket, 'counters', undefined, { timeoutMs: 10_000 })) as Record<
      string,
      number
    >;
  }

  tail(n: number): string {
    return this.log.slice(-n).join('\n');
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns a value (not undefined) or `ms` pass. */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  ms: number,
  everyMs = 250,
): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 10_000; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() + everyMs > deadline) return undefined;
    await sleep(everyMs);
  }
  return undefined;
}
