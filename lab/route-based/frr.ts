// FRR (Debian's frr package: zebra + bgpd from /usr/lib/frr) for a lab router, started inside a
// namespace the lab created, with its config, pid files, sockets and logs in a directory of its own
// (never the system's /etc/frr or /run/frr, never as a service). The daemons drop to the `frr` user
// the package creates, so the directory is handed to that user; vtysh talks to them through it.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { LabError } from '../errors.ts';
import type { Netns } from '../netns/netns.ts';

export const FRR_DIR = '/usr/lib/frr';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** uid/gid of the `frr` user, from /etc/passwd (the package creates it). */
function frrUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('frr:'));
  const f = line?.split(':');
  if (!f || f.length < 4) throw new LabError('LAB_TUNNEL', 'no frr user in /etc/passwd (install frr)');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

export function frrAvailable(): boolean {
  return existsSync(join(FRR_DIR, 'zebra')) && existsSync(join(FRR_DIR, 'bgpd'));
}

export interface BgpPeer {
  readonly state: string;
  readonly pfxRcd: number;
  /** Sessions established and dropped since bgpd started (a flap counts one of each). */
  readonly established: number;
  readonly dropped: number;
}

export class Frr {
  private constructor(
    private readonly ns: Netns,
    readonly dir: string,
  ) {}

  /** Starts zebra, then bgpd with `bgpdConf` (copied), in `ns`; state under `dir`. */
  static async start(ns: Netns, dir: string, bgpdConf: string): Promise<Frr> {
    if (!frrAvailable()) throw new LabError('LAB_TUNNEL', `FRR not found in ${FRR_DIR}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'zebra.conf'), '');
    copyFileSync(bgpdConf, join(dir, 'bgpd.conf'));
    if (userInfo().uid === 0) {
      // The daemons run as `frr`: they must be able to pass through the parent (a 700 temp dir).
      const parent = dirname(dir);
      chmodSync(parent, (statSync(parent).mode & 0o777) | 0o011);
      const { uid, gid } = frrUser();
      for (const f of ['', 'zebra.conf', 'bgpd.conf']) chownSync(join(dir, f), uid, gid);
    }
    const frr = new Frr(ns, dir);
    frr.daemon('zebra', ['-z', join(dir, 'zserv.api')]);
    // bgpd connects to zebra's socket: wait for it before starting bgpd.
    for (let i = 0; i < 600 && !existsSync(join(dir, 'zserv.api')); i++) await sleep(100);
    frr.daemon('bgpd', ['-z', join(dir, 'zserv.api')]);
    for (let i = 0; i < 600 && !existsSync(join(dir, 'bgpd.vty')); i++) await sleep(100);
    if (!existsSync(join(dir, 'bgpd.vty')))
      throw new LabError('LAB_TUNNEL', `bgpd did not start: ${frr.logTail('bgpd')}`);
    return frr;
  }

  private daemon(name: 'zebra' | 'bgpd', extra: string[]): void {
    const d = this.dir;
    // -d: forks into the background once ready; -P 0: no TCP vty, only the socket in `dir`.
    const r = this.ns.tryExec(
      join(FRR_DIR, name),
      '-d',
      '-f',
      join(d, `${name}.conf`),
      '-i',
      join(d, `${name}.pid`),
      '--vty_socket',
      d,
      '-P',
      '0',
      '--log',
      `file:${join(d, `${name}.log`)}`,
      ...extra,
    );
    if (r.status !== 0)
      throw new LabError(
        'LAB_TUNNEL',
        `${name} exited ${r.status}: ${r.stderr.trim()} ${this.logTail(name)}`,
      );
  }

  logTail(name: 'zebra' | 'bgpd'): string {
    const f = join(this.dir, `${name}.log`);
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-8).join('\n') : '';
  }

  vtysh(command: string): string {
    const r = spawnSync(
      'ip',
      ['netns', 'exec', this.ns.name, 'vtysh', '--vty_socket', this.dir, '-c', command],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    return r.stdout ?? '';
  }

  /** What bgpd and zebra know, for a failure report: sessions, BGP table, zebra's routes. */
  diagnose(): Record<string, string> {
    return Object.fromEntries(
      ['show bgp summary', 'show bgp ipv4 unicast', 'show ip route', 'show interface brief'].map((c) => [
        c,
        this.vtysh(c).trim().slice(0, 3000),
      ]),
    );
  }

  /** BGP neighbours of the IPv4 unicast family by address: state and prefixes received. */
  peers(): Map<string, BgpPeer> {
    const out = new Map<string, BgpPeer>();
    try {
      const j = JSON.parse(this.vtysh('show bgp ipv4 unicast summary json')) as {
        peers?: Record<
          string,
          { state?: string; pfxRcd?: number; connectionsEstablished?: number; connectionsDropped?: number }
        >;
      };
      for (const [addr, p] of Object.entries(j.peers ?? {}))
        out.set(addr, {
          state: p.state ?? '?',
          pfxRcd: p.pfxRcd ?? 0,
          established: p.connectionsEstablished ?? 0,
          dropped: p.connectionsDropped ?? 0,
        });
    } catch {
      // bgpd busy or not up yet: no peers known
    }
    return out;
  }

  /** Stops bgpd and zebra by their pid files (only the processes this lab started). */
  stop(): void {
    for (const name of ['bgpd', 'zebra']) {
      const f = join(this.dir, `${name}.pid`);
      if (!existsSync(f)) continue;
      const pid = Number(readFileSync(f, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    }
  }
}
