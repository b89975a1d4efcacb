// Libreswan 4.10 (pluto) as a lab peer: one pluto per network namespace, each with its own
// ipsec.conf, ipsec.secrets, NSS database, control socket, pid file and log, all in one instance dir.
//
// Debian's libreswan package conflicts with strongSwan, so scripts/install-deps.sh unpacks it with
// `dpkg -x` into LIBRESWAN_ROOT (default /opt/ikeway-libreswan). pluto takes its paths as options
// (--config --rundir --nssdir --secretsfile --ipsecdir --dumpdir), but it runs helpers such as the
// updown script from the hard-coded /usr/libexec/ipsec: every instance therefore runs in a private
// mount namespace (`unshare --mount`) where the unpacked usr/libexec is bind-mounted over
// /usr/libexec. The host's /usr/libexec, /run and /etc/ipsec.d are never touched. `whack` talks to
// the instance's control socket from the host.
import { execFile, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  renderIpsecConf,
  renderIpsecSecrets,
  type LswConnection,
  type LswSecrets,
} from './libreswan-conf.ts';

export * from './libreswan-conf.ts';

export const LIBRESWAN_ROOT = process.env.LIBRESWAN_ROOT ?? '/opt/ikeway-libreswan';
export const LIBRESWAN_VERSION = '4.10';
export const PLUTO_BIN = join(LIBRESWAN_ROOT, 'usr/libexec/ipsec/pluto');
export const WHACK_BIN = join(LIBRESWAN_ROOT, 'usr/libexec/ipsec/whack');
/**
 * Libreswan's own updown as pluto sees it inside its mount namespace (the unpacked usr/libexec is
 * bound over /usr/libexec). pluto's default, `ipsec _updown`, would run the host's `ipsec`, which is
 * strongSwan's here: its _updown exits 2 ("unknown interface version") and pluto then tears the
 * Child SA down and answers TS_UNACCEPTABLE.
 */
export const LSW_UPDOWN = '/usr/libexec/ipsec/_updown';

export class LibreswanError extends Error {
  readonly code = 'LIBRESWAN_ERROR';
  constructor(
    message: string,
    readonly detail = '',
  ) {
    super(detail ? `${message}: ${detail.trim()}` : message);
    this.name = 'LibreswanError';
  }
}

/** Why Libreswan cannot run here, or false when it can (root, unpacked pluto, NSS tools). */
export function libreswanUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync(PLUTO_BIN)) return `Libreswan not unpacked in ${LIBRESWAN_ROOT} (scripts/install-deps.sh)`;
  const r = execFileSafe('certutil', ['-H']);
  if (r === undefined) return 'certutil missing (libnss3-tools)';
  return false;
}

function execFileSafe(cmd: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    const err = e as { code?: string; stdout?: string };
    return err.code === 'ENOENT' ? undefined : (err.stdout ?? '');
  }
}

/** A certificate and key for pluto's NSS database; pluto refers to it by `nick` (leftcert=). */
export interface LswLocalCert {
  readonly nick: string;
  readonly certPem: string;
  /** PKCS#8 or traditional PEM private key. Never logged or echoed in errors. */
  readonly keyPem: string;
  /** Intermediate CA certificates (PEM) to store untrusted, sent along when pluto needs them. */
  readonly chainPems?: readonly string[];
}

/** Where pluto runs: a namespace handle (Netns of netns.ts or LabNs of lab-ns.ts). */
export interface PlutoNs {
  spawn(cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
}

export interface PlutoOptions {
  readonly ns: PlutoNs;
  /** Short name used in paths and error messages. */
  readonly tag: string;
  readonly connections: readonly LswConnection[];
  readonly secrets?: LswSecrets;
  /** Trust anchors (PEM), imported into NSS with trust CT,, (RFC 5280 path validation roots). */
  readonly caPems?: readonly string[];
  readonly localCerts?: readonly LswLocalCert[];
  /** Addresses pluto listens on (config setup listen=); default: all its interfaces. */
  readonly listen?: string;
  /** plutodebug value, e.g. 'base'; default none. 'private' is refused (it logs key material). */
  readonly debug?: string;
  /** Milliseconds to wait for the control socket; default 10 s. */
  readonly startTimeoutMs?: number;
}

/** One state (IKE SA or Child SA) as `whack --showstates` lists it. */
export interface LswState {
  readonly serial: number;
  readonly conn: string;
  /** e.g. STATE_V2_ESTABLISHED_IKE_SA, STATE_V2_ESTABLISHED_CHILD_SA. */
  readonly state: string;
  readonly kind: 'ike' | 'child' | 'other';
  /** For a Child SA: the serial of its IKE SA. */
  readonly ikeSerial?: number;
  readonly newest: boolean;
}

/** One Child SA as `whack --trafficstatus` lists it. */
export interface LswTraffic {
  readonly serial: number;
  readonly conn: string;
  readonly type: string;
  readonly inBytes: number;
  readonly outBytes: number;
  readonly id: string;
}

export class Pluto {
  private exited = false;
  private constructor(
    readonly opts: PlutoOptions,
    readonly dir: string,
    private readonly proc: ChildProcess,
  ) {
    proc.once('exit', () => (this.exited = true));
  }

  get ctlSocket(): string {
    return join(this.dir, 'run', 'pluto.ctl');
  }
  get logPath(): string {
    return join(this.dir, 'pluto.log');
  }
  get nssDir(): string {
    return join(this.dir, 'nss');
  }
  get pid(): number | undefined {
    return this.proc.pid;
  }
  get running(): boolean {
    return !this.exited && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Writes configuration and NSS db, starts pluto inside `ns`, waits until whack answers. */
  static async start(opts: PlutoOptions): Promise<Pluto> {
    if (!existsSync(PLUTO_BIN)) throw new LibreswanError('pluto not found', PLUTO_BIN);
    const dir = mkdtempSync(join(tmpdir(), `ikw-lsw-${opts.tag}-${process.pid}-`));
    let proc: ChildProcess | undefined;
    try {
      writeInstanceFiles(dir, opts);
      initNss(join(dir, 'nss'), opts);
      proc = opts.ns.spawn('unshare', plutoArgs(dir), { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const pluto = new Pluto(opts, dir, proc);
    try {
      await pluto.waitReady(opts.startTimeoutMs ?? 10_000);
    } catch (e) {
      await pluto.stop();
      throw e;
    }
    return pluto;
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
      if (this.exited) throw new LibreswanError(`pluto ${this.opts.tag} exited during start`, this.logTail());
      if (existsSync(this.ctlSocket)) {
        const r = await this.whackRaw(['--status']);
        // pluto loads auto=add connections itself; ready once they are listed.
        if (r.ok && this.opts.connections.every((c) => r.stdout.includes(`"${c.name}":`))) return;
      }
      await sleep(50);
    }
    throw new LibreswanError(`pluto ${this.opts.tag} not ready after ${timeoutMs} ms`, this.logTail());
  }

  /** Runs whack against this instance's control socket; throws LibreswanError when it fails. */
  async whack(args: readonly string[], timeoutMs = 20_000): Promise<string> {
    const r = await this.whackRaw(args, timeoutMs);
    if (!r.ok) throw new LibreswanError(`whack ${args.join(' ')} (${this.opts.tag})`, r.stdout + r.stderr);
    return r.stdout;
  }

  /** Like whack, but resolves with the exit status instead of throwing. */
  whackRaw(
    args: readonly string[],
    timeoutMs = 5_000,
  ): Promise<{ ok: boolean; status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        WHACK_BIN,
        ['--ctlsocket', this.ctlSocket, ...args],
        { timeout: timeoutMs, encoding: 'utf8' },
        (err, stdout, stderr) => {
          const status = err ? (typeof err.code === 'number' ? err.code : null) : 0;
          resolve({ ok: !err, status, stdout, stderr });
        },
      );
    });
  }

  /** `ipsec auto --up`: initiates `name` and waits until pluto reports the outcome. */
  async up(name: string, timeoutMs = 30_000): Promise<string> {
    return this.whack(['--name', name, '--initiate'], timeoutMs);
  }

  /** `ipsec auto --up --asynchronous`: starts the exchange and returns at once. */
  async upAsync(name: string): Promise<void> {
    await this.whack(['--name', name, '--initiate', '--asynchronous']);
  }

  /** `ipsec auto --down`: deletes the connection's IKE SA and its Child SAs with the peer. */
  async down(name: string): Promise<string> {
    return this.whack(['--name', name, '--terminate']);
  }

  /** Rekeys the connection's Child SA (CREATE_CHILD_SA, RFC 7296 §1.3.3) or IKE SA (§1.3.2). */
  async rekey(name: string, what: 'ipsec' | 'ike'): Promise<string> {
    return this.whack(['--name', name, what === 'ike' ? '--rekey-ike' : '--rekey-ipsec']);
  }

  async status(): Promise<string> {
    return this.whack(['--status']);
  }

  async states(): Promise<LswState[]> {
    return parseStates(await this.whack(['--showstates']));
  }

  async traffic(): Promise<LswTraffic[]> {
    return parseTrafficStatus(await this.whack(['--trafficstatus']));
  }

  /** Polls `--showstates` until `pred` holds (bounded); returns the last states. */
  async waitStates(pred: (s: LswState[]) => boolean, timeoutMs = 10_000): Promise<LswState[]> {
    const deadline = Date.now() + timeoutMs;
    let last: LswState[] = [];
    for (let i = 0; i < 500 && Date.now() < deadline; i++) {
      last = await this.states();
      if (pred(last)) return last;
      await sleep(100);
    }
    throw new LibreswanError(`pluto ${this.opts.tag}: state not reached`, JSON.stringify(last));
  }

  logText(): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : '';
  }

  /** Log lines matching `re` (pluto's own words, for evidence in reports). */
  logLines(re: RegExp): string[] {
    return this.logText()
      .split('\n')
      .filter((l) => re.test(l));
  }

  private logTail(lines = 25): string {
    const stderr = this.stderrText ? `\n--- stderr ---\n${this.stderrText}` : '';
    return this.logText().split('\n').slice(-lines).join('\n') + stderr;
  }
  private get stderrText(): string {
    return this.proc.stderr?.read()?.toString() ?? '';
  }

  /** SIGKILL at once (a crashed peer): no Delete goes out, kernel state stays behind. */
  async kill(): Promise<void> {
    if (!this.running) return;
    const exit = new Promise<void>((res) => this.proc.once('exit', () => res()));
    this.proc.kill('SIGKILL');
    await Promise.race([exit, sleep(3_000)]);
  }

  /** `whack --shutdown`, then SIGTERM/SIGKILL if needed; removes the instance dir unless `keep`. */
  async stop(opts: { graceMs?: number; keep?: boolean } = {}): Promise<void> {
    if (this.running) {
      const exit = new Promise<void>((res) => this.proc.once('exit', () => res()));
      await this.whackRaw(['--shutdown'], 3_000);
      const grace = (ms: number) => Promise.race([exit.then(() => true), sleep(ms).then(() => false)]);
      if (!(await grace(opts.graceMs ?? 3_000))) {
        this.proc.kill('SIGTERM');
        if (!(await grace(1_000))) {
          this.proc.kill('SIGKILL');
          await grace(2_000);
        }
      }
    }
    if (!opts.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** argv for `unshare`: a private mount namespace with the unpacked libexec over /usr/libexec. */
export function plutoArgs(dir: string, root = LIBRESWAN_ROOT): string[] {
  const script = 'mount --bind "$1" /usr/libexec && shift && exec "$@"';
  return [
    ...['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', join(root, 'usr/libexec')],
    ...[join(root, 'usr/libexec/ipsec/pluto'), '--nofork', '--config', join(dir, 'ipsec.conf')],
    ...['--rundir', join(dir, 'run'), '--nssdir', join(dir, 'nss'), '--dumpdir', join(dir, 'run')],
    ...['--secretsfile', join(dir, 'ipsec.secrets'), '--ipsecdir', join(dir, 'ipsec.d')],
    ...['--logfile', join(dir, 'pluto.log')],
  ];
}

function writeInstanceFiles(dir: string, opts: PlutoOptions): void {
  for (const sub of ['run', 'nss', 'ipsec.d']) mkdirSync(join(dir, sub), { mode: 0o700 });
  if (opts.debug === 'private' || opts.debug?.includes('private'))
    throw new LibreswanError('plutodebug=private logs key material; refused');
  const conns = opts.connections.map((c) => ({ updown: LSW_UPDOWN, ...c }));
  const conf = renderIpsecConf(conns, {
    logfile: join(dir, 'pluto.log'),
    ...(opts.listen ? { listen: opts.listen } : {}),
    ...(opts.debug ? { debug: opts.debug } : {}),
  });
  writeFileSync(join(dir, 'ipsec.conf'), conf);
  writeFileSync(join(dir, 'ipsec.secrets'), renderIpsecSecrets(opts.secrets ?? {}), { mode: 0o600 });
}

/** An empty NSS db (`ipsec initnss`), trust anchors (CT,,) and local cert+key via PKCS#12. */
function initNss(nss: string, opts: PlutoOptions): void {
  const db = `sql:${nss}`;
  const run = (cmd: string, args: string[], what: string) => {
    try {
      execFileSync(cmd, args, { stdio: 'pipe', timeout: 20_000 });
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? String(e);
      throw new LibreswanError(`NSS: ${what}`, stderr);
    }
  };
  run('certutil', ['-N', '-d', db, '--empty-password'], 'create database');
  (opts.caPems ?? []).forEach((pem, i) => {
    const f = join(nss, `ca-${i}.pem`);
    writeFileSync(f, pem);
    run('certutil', ['-A', '-d', db, '-n', `ca-${i}`, '-t', 'CT,,', '-a', '-i', f], `import CA ${i}`);
    rmSync(f);
  });
  for (const c of opts.localCerts ?? []) {
    if (!/^[\w.-]+$/.test(c.nick)) throw new LibreswanError('bad certificate nickname', c.nick);
    const base = join(nss, `import-${c.nick}`);
    writeFileSync(`${base}.crt`, c.certPem);
    writeFileSync(`${base}.key`, c.keyPem, { mode: 0o600 });
    // An empty PKCS#12 password: the bundle exists only inside the instance dir, for this moment.
    run(
      'openssl',
      [
        ...['pkcs12', '-export', '-in', `${base}.crt`, '-inkey', `${base}.key`, '-name', c.nick],
        ...['-out', `${base}.p12`, '-passout', 'pass:', '-certpbe', 'AES-256-CBC', '-keypbe', 'AES-256-CBC'],
      ],
      `PKCS#12 for ${c.nick}`,
    );
    run('pk12util', ['-i', `${base}.p12`, '-d', db, '-W', ''], `import key of ${c.nick}`);
    (c.chainPems ?? []).forEach((pem, i) => {
      writeFileSync(`${base}.chain${i}.pem`, pem);
      run(
        'certutil',
        ['-A', '-d', db, '-n', `${c.nick}-chain-${i}`, '-t', ',,', '-a', '-i', `${base}.chain${i}.pem`],
        `import chain ${i} of ${c.nick}`,
      );
    });
    for (const f of [`${base}.crt`, `${base}.key`, `${base}.p12`]) rmSync(f, { force: true });
  }
}

/** Parses `whack --showstates` (or the state part of `--status`). */
export function parseStates(text: string): LswState[] {
  const out: LswState[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d{3} #(\d+): "([^"]+)"(?:\[\d+\])?(?::\d+)? (STATE_\w+) \(([^)]*)\);(.*)$/.exec(line);
    if (!m) continue;
    const state = m[3]!;
    const rest = m[5]!;
    const kind = /IKE_SA$|_I$|_R$|SA_INIT|IKE_AUTH/.test(state)
      ? state.includes('CHILD')
        ? 'child'
        : 'ike'
      : state.includes('CHILD')
        ? 'child'
        : 'other';
    const ike = /IKE SA #(\d+)/.exec(rest);
    out.push({
      serial: Number(m[1]),
      conn: m[2]!,
      state,
      kind,
      ...(ike ? { ikeSerial: Number(ike[1]) } : {}),
      newest: /(^|; )newest;/.test(rest),
    });
  }
  return out;
}

/** Parses `whack --trafficstatus`: one line per established Child SA with byte counters. */
export function parseTrafficStatus(text: string): LswTraffic[] {
  const out: LswTraffic[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d{3} #(\d+): "([^"]+)"(?:\[\d+\])?[^,]*, (.*)$/.exec(line);
    if (!m) continue;
    const f: Record<string, string> = {};
    for (const kv of m[3]!.matchAll(/(\w+)=('[^']*'|[^,]*)/g)) f[kv[1]!] = kv[2]!.replace(/^'|'$/g, '');
    out.push({
      serial: Number(m[1]),
      conn: m[2]!,
      type: f.type ?? '',
      inBytes: Number(f.inBytes ?? NaN),
      outBytes: Number(f.outBytes ?? NaN),
      id: f.id ?? '',
    });
  }
  return out;
}

/** One Child SA's SPIs as the `--status` state lines show them: `esp.<spi>@<address>`. */
export interface LswChildSpis {
  readonly serial: number;
  readonly conn: string;
  /** Each SPI with the address it belongs to (the receiver of packets that carry it). */
  readonly spis: readonly { readonly proto: string; readonly spi: string; readonly at: string }[];
}

/** Parses the SPI lines of `whack --status` (`#2: "c" esp.1a2b@192.0.2.2 esp.3c4d@192.0.2.1 ...`,
 * `esp:1a2b@2001:db8::2` for IPv6). */
export function parseChildSpis(text: string): LswChildSpis[] {
  const out: LswChildSpis[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d{3} #(\d+): "([^"]+)"(?:\[\d+\])? ((?:(?:esp|ah|comp)[.:][0-9a-f]+@\S+ ?)+)/.exec(line);
    if (!m) continue;
    // pluto writes an SA ID as esp.SPI@ADDR for IPv4 and esp:SPI@ADDR for IPv6.
    const spis = [...m[3]!.matchAll(/(esp|ah|comp)[.:]([0-9a-f]+)@(\S+)/g)].map((x) => ({
      proto: x[1]!,
      spi: x[2]!.padStart(8, '0'),
      at: x[3]!,
    }));
    out.push({ serial: Number(m[1]), conn: m[2]!, spis });
  }
  return out;
}

/**
 * IKE SPIs per state serial from pluto's `plutodebug=base` log: the `ike_spis` hash-table entry
 * lines carry SPIi and SPIr (16 bytes) once the responder's SPI is known. pluto 4.10 shows them in
 * no status command. Later lines win (a state re-hashed after IKE_SA_INIT).
 */
export function parseIkeSpis(log: string): Map<number, { spiI: string; spiR: string }> {
  const out = new Map<number, { spiI: string; spiR: string }>();
  const re = /ike_spis@\S+ "[^"]+"(?:\[\d+\])? #(\d+): ((?:[0-9a-f]{2}\s+){16})added/g;
  for (const m of log.matchAll(re)) {
    const hex = m[2]!.replace(/\s+/g, '');
    const spiR = hex.slice(16);
    if (/^0+$/.test(spiR)) continue;
    out.set(Number(m[1]), { spiI: hex.slice(0, 16), spiR });
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
