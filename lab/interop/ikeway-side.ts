// ikeway's side of an interop cell: its policy file for router-a (rendered from the cell), the
// daemon (the bundled CLI: tsx starts 10-30x slower under TCG), and its control socket for status,
// rekey and down. The PSK goes to a mode-600 file, never into a log or an error.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { request } from '../../src/control/client.ts';
import type { ChildStatus, IkeSaStatus, StatusReport } from '../../src/control/status-types.ts';
import type { LabNs } from '../netns/lab-ns.ts';
import { LabError } from '../errors.ts';
import { LIVENESS } from './cells.ts';
import type { CellSpec, Endpoint, Role } from './types.ts';

export interface IkewayCellConfig {
  readonly cell: CellSpec;
  readonly role: Role;
  readonly dir: string;
  readonly name: string;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /** 0x-hex PSK, or certificate files. */
  readonly psk?: string;
  readonly cert?: { readonly cert: string; readonly key: string; readonly ca: readonly string[] };
  /** More connection keys (the ikeway peer's accept-tfc-padding), over the cell's. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** The cell's Child SA keys: ESP proposals, or protocol ah with AH ones; TFC padding. */
function childKeys(cell: CellSpec): Record<string, unknown> {
  return {
    ...(cell.protocol === 'ah'
      ? { protocol: 'ah', 'ah-proposals': [cell.esp] }
      : { 'esp-proposals': [cell.esp] }),
    ...(cell.tfcPadding !== undefined && { 'tfc-padding': cell.tfcPadding }),
  };
}

/** Writes ikeway.yaml (and the PSK file) for router-a; returns the config path. */
export function writeIkewayConfig(c: IkewayCellConfig): string {
  mkdirSync(c.dir, { recursive: true, mode: 0o700 });
  let auth: Record<string, unknown>;
  if (c.psk !== undefined) {
    writeFileSync(join(c.dir, 'interop.psk'), `${c.psk}\n`, { mode: 0o600 });
    auth = { psk: { file: 'interop.psk' } };
  } else if (c.cert) auth = { cert: { cert: c.cert.cert, key: c.cert.key, ca: [...c.cert.ca] } };
  else throw new LabError('LAB_TOPOLOGY', 'an interop cell needs a PSK or certificates');
  const conn: Record<string, unknown> = {
    remote: c.remote.address,
    'local-id': c.local.id,
    'remote-id': c.remote.id,
    auth,
    'local-subnets': [...c.local.subnets],
    'remote-subnets': [...c.remote.subnets],
    mode: c.cell.mode,
    start: c.role === 'initiator' ? 'now' : 'wait',
    ...(c.cell.ikewayDefaultIke ? {} : { 'ike-proposals': [c.cell.ike] }),
    ...childKeys(c.cell),
    liveness: c.cell.liveness
      ? {
          interval: `${LIVENESS.interval}s`,
          timeout: `${LIVENESS.timeout}s`,
          action: c.role === 'initiator' ? 'restart' : 'clear',
        }
      : { interval: '30s', timeout: '150s' },
    ...c.extra,
  };
  const doc = {
    'control-socket': join(c.dir, 'ikeway.sock'),
    'state-dir': join(c.dir, 'state'),
    // Short retransmits: a dead peer is given up on in seconds, not minutes (RFC 7296 §2.1).
    retransmit: { timeout: '1s', tries: 4, base: 1.5 },
    log: { level: 'info', format: 'text' },
    local: { address: c.local.address },
    connections: { [c.name]: conn },
  };
  const file = join(c.dir, 'ikeway.yaml');
  writeFileSync(file, `# ikeway side of interop cell ${c.cell.id} (${c.role})\n${stringify(doc)}`);
  return file;
}

const LOG_KEEP = 400;

/** One `ikeway daemon` in router-a's namespace, talked to over its control socket. */
export class IkewayDaemon {
  readonly lines: string[] = [];
  private constructor(
    private readonly child: ChildProcess,
    readonly socket: string,
    readonly name: string,
  ) {
    const keep = (b: Buffer) => {
      this.lines.push(...b.toString('utf8').split('\n').filter(Boolean));
      if (this.lines.length > LOG_KEEP * 2) this.lines.splice(0, this.lines.length - LOG_KEEP);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /** `args`: more daemon options (e.g. `--kernel memory` for IKE-only runs on a host without ESP). */
  static async start(
    ns: LabNs,
    bin: string,
    config: string,
    name: string,
    readyMs = 120_000,
    args: readonly string[] = [],
  ) {
    const child = ns.spawn(process.execPath, [bin, 'daemon', '-c', config, '--log-format', 'text', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const d = new IkewayDaemon(child, join(config, '..', 'ikeway.sock'), name);
    await d.waitFor(() => d.lines.some((l) => /\bready\b/.test(l)), readyMs, 'the daemon to log "ready"');
    return d;
  }

  private async waitFor(ok: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
      if (ok()) return;
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new LabError(
          'LAB_TUNNEL',
          `ikeway exited waiting for ${what}:\n${this.lines.slice(-8).join('\n')}`,
        );
      await sleep(100);
    }
    throw new LabError('LAB_TUNNEL', `ikeway: no ${what} within ${ms} ms`);
  }

  async status(): Promise<StatusReport> {
    return (await request(this.socket, 'status', undefined, { timeoutMs: 15_000 })) as StatusReport;
  }

  /** Established IKE SAs of the cell's connection. */
  async ikeSas(): Promise<IkeSaStatus[]> {
    const s = await this.status();
    return s.connections
      .filter((c) => c.name === this.name)
      .flatMap((c) => c.ikeSas.filter((i) => i.state === 'established'));
  }

  async installedChildren(): Promise<ChildStatus[]> {
    return (await this.ikeSas()).flatMap((i) => i.children.filter((c) => c.state === 'installed'));
  }

  async rekey(what: 'child' | 'ike'): Promise<void> {
    await request(this.socket, 'rekey', { name: this.name, what }, { timeoutMs: 15_000 });
  }

  async down(): Promise<void> {
    await request(this.socket, 'down', { name: this.name }, { timeoutMs: 20_000 });
  }

  async up(): Promise<void> {
    await request(this.socket, 'up', { name: this.name }, { timeoutMs: 20_000 });
  }

  /** SIGKILL: nothing deleted, the daemon just vanishes. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exit = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGKILL');
    await exit;
  }

  /** SIGTERM, then SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exit = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(t);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
