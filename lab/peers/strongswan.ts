// strongSwan (charon 5.9.8) as a lab peer: one charon per network namespace, each with its own
// strongswan.conf, vici socket, log file, swanctl dir and pid file.
//
// charon 5.9.8 hard-codes its pid file as /var/run/charon.pid (no config option), so every instance
// runs in a private mount namespace (`unshare --mount`) in which a per-instance directory is
// bind-mounted over /run: two charons never see each other's pid file, and the host's /run is
// untouched. The vici socket lives in the per-instance directory on the host filesystem, so swanctl
// runs on the host with `--uri`.
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Netns } from '../netns/netns.ts';

export const CHARON_BIN = '/usr/lib/ipsec/charon';
export const SWANCTL_BIN = 'swanctl';

/** Which strongSwan build a Charon runs: binaries, the compiled-in pid-file directory, extra plugins. */
export interface StrongswanBuild {
  readonly version: string;
  readonly charon: string;
  readonly swanctl: string;
  /** The directory charon writes charon.pid to (compiled in); bind-mounted per instance. */
  readonly piddir: string;
  /** Plugins loaded after openssl, e.g. 'ml' (ML-KEM, needs openssl's SHA3/SHAKE). */
  readonly plugins: readonly string[];
}

/** Debian 12's strongSwan (the default). */
export const STRONGSWAN_5: StrongswanBuild = {
  version: '5.9.8',
  charon: CHARON_BIN,
  swanctl: SWANCTL_BIN,
  piddir: '/run',
  plugins: [],
};

/** strongSwan 6.0.6 with ML-KEM (/work/shared/peers/strongswan-6.0.6.md): not relocatable, lives in /opt. */
export const STRONGSWAN_6: StrongswanBuild = {
  version: '6.0.6',
  charon: '/opt/strongswan-6.0.6/libexec/ipsec/charon',
  swanctl: '/opt/strongswan-6.0.6/sbin/swanctl',
  piddir: '/opt/strongswan-6.0.6/var/run',
  plugins: ['ml'],
};

/** The 6.0.6 build's tarball (/work/shared/peers/strongswan-6.0.6.md); IKW_STRONGSWAN6_TARBALL overrides. */
export const STRONGSWAN_6_TARBALL =
  process.env['IKW_STRONGSWAN6_TARBALL'] ?? '/work/shared/peers/strongswan-6.0.6-debian12-amd64.tar.xz';
const STRONGSWAN_6_SHA256 = 'ef3d5154495abf77d1486f2bf2ccd1171410954f79cba30f55df51eb37378afd';

/**
 * Makes strongSwan 6.0.6 available at /opt/strongswan-6.0.6 (its compiled-in prefix): unpacked once
 * per machine from the tarball, checked against its published SHA-256, into a temporary directory
 * next to it and renamed into place, so a concurrent test never sees a half-unpacked tree. The guest
 * kernel sees the host's /opt, so callers unpack on the host before booting it. Returns why it is
 * unavailable, or undefined when charon is there.
 */
export function ensureStrongswan6(tarball = STRONGSWAN_6_TARBALL): string | undefined {
  if (existsSync(STRONGSWAN_6.charon)) return undefined;
  if (process.getuid?.() !== 0) return 'strongSwan 6.0.6 is not unpacked and unpacking it needs root';
  if (!existsSync(tarball)) return `strongSwan 6.0.6 not available (no ${tarball})`;
  const sum = createHash('sha256').update(readFileSync(tarball)).digest('hex');
  if (sum !== STRONGSWAN_6_SHA256) return `${tarball}: SHA-256 ${sum}, expected ${STRONGSWAN_6_SHA256}`;
  const prefix = dirname(dirname(dirname(STRONGSWAN_6.charon))); // /opt/strongswan-6.0.6
  const tmp = mkdtempSync(join(dirname(prefix), '.strongswan-6.0.6-'));
  try {
    execFileSync('tar', ['-C', tmp, '-xJf', tarball]);
    try {
      renameSync(join(tmp, 'strongswan-6.0.6'), prefix);
    } catch (e) {
      if (!existsSync(STRONGSWAN_6.charon)) throw e; // else another process unpacked it meanwhile
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return existsSync(STRONGSWAN_6.charon)
    ? undefined
    : `unpacked ${tarball} but ${STRONGSWAN_6.charon} is missing`;
}

export class StrongswanError extends Error {
  readonly code = 'STRONGSWAN_ERROR';
  constructor(
    message: string,
    readonly detail = '',
  ) {
    super(detail ? `${message}: ${detail.trim()}` : message);
    this.name = 'StrongswanError';
  }
}

/** Log groups of charon's filelog (ike, enc, cfg, chd, knl, net, ...) mapped to levels -1..4. */
export type LogLevels = Readonly<Record<string, number>>;

export interface CharonOptions {
  /** Where charon runs: a Netns (netns/netns.ts) or a lab namespace (netns/lab-ns.ts); only spawn is used. */
  readonly ns: Pick<Netns, 'spawn'>;
  /** Short name used in paths and error messages. */
  readonly tag: string;
  /** ESP in user space over a TUN device (no kernel ESP needed); default true. */
  readonly libipsec?: boolean;
  /** filelog levels; `default` applies to groups not listed. Default { default: 1 }. */
  readonly logLevels?: LogLevels;
  readonly connections: readonly SwanConnection[];
  readonly secrets?: SwanSecrets;
  /** Files to place in the swanctl dir, e.g. { 'x509/me.pem': pem, 'ecdsa/me.pem': key }. */
  readonly files?: Readonly<Record<string, string>>;
  /** Extra lines inside `charon { }` of strongswan.conf. */
  readonly extraCharonConf?: string;
  /** Milliseconds to wait for the vici socket; default 10 s. */
  readonly startTimeoutMs?: number;
  /** Which strongSwan; default STRONGSWAN_5. */
  readonly build?: StrongswanBuild;
}

/** One IKE SA as listed by `swanctl --list-sas`, with its Child SAs. */
export interface SaInfo {
  readonly name: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly children: readonly ChildSaInfo[];
}
export interface ChildSaInfo {
  readonly key: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly localTs: readonly string[];
  readonly remoteTs: readonly string[];
}

export class Charon {
  private exited = false;
  private constructor(
    readonly opts: CharonOptions,
    readonly dir: string,
    private readonly proc: ChildProcess,
  ) {
    proc.once('exit', () => (this.exited = true));
  }

  get vici(): string {
    return `unix://${join(this.dir, 'charon.vici')}`;
  }
  get logPath(): string {
    return join(this.dir, 'charon.log');
  }
  get swanctlDir(): string {
    return join(this.dir, 'swanctl');
  }
  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Writes the configuration, starts charon inside `ns` and waits until vici answers. */
  static async start(opts: CharonOptions): Promise<Charon> {
    const dir = mkdtempSync(join(tmpdir(), `ikw-swan-${opts.tag}-`));
    writeInstanceFiles(dir, opts);
    const build = opts.build ?? STRONGSWAN_5;
    const script = 'mount --bind "$1" "$3" && exec "$2"';
    const proc = opts.ns.spawn(
      'unshare',
      [
        ...['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh'],
        ...[join(dir, 'run'), build.charon, build.piddir],
      ],
      { env: { ...process.env, STRONGSWAN_CONF: join(dir, 'strongswan.conf') }, stdio: 'ignore' },
    );
    const charon = new Charon(opts, dir, proc);
    try {
      await charon.waitReady(opts.startTimeoutMs ?? 10_000);
    } catch (e) {
      await charon.stop();
      throw e;
    }
    return charon;
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
      if (this.exited)
        throw new StrongswanError(`charon ${this.opts.tag} exited during start`, this.logTail());
      if (existsSync(join(this.dir, 'charon.vici'))) {
        const r = await this.swanctlRaw(['--stats']);
        if (r.ok) return;
      }
      await sleep(50);
    }
    throw new StrongswanError(`charon ${this.opts.tag} not ready after ${timeoutMs} ms`, this.logTail());
  }

  /** Runs swanctl against this instance's vici socket and swanctl dir; throws on failure. */
  async swanctl(args: readonly string[], timeoutMs = 15_000): Promise<string> {
    const r = await this.swanctlRaw(args, timeoutMs);
    if (!r.ok) throw new StrongswanError(`swanctl ${args.join(' ')} (${this.opts.tag})`, r.stderr + r.stdout);
    return r.stdout;
  }

  private swanctlRaw(
    args: readonly string[],
    timeoutMs = 5_000,
  ): Promise<{ ok: boolean; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        (this.opts.build ?? STRONGSWAN_5).swanctl,
        [...args, '--uri', this.vici],
        {
          env: {
            ...process.env,
            STRONGSWAN_CONF: join(this.dir, 'strongswan.conf'),
            SWANCTL_DIR: this.swanctlDir,
          },
          timeout: timeoutMs,
          encoding: 'utf8',
          maxBuffer: 1024 * 1024 * 1024, // --list-sas of a loaded daemon (the benchmarks) runs to MBs
        },
        (err, stdout, stderr) => resolve({ ok: !err, stdout, stderr }),
      );
    });
  }

  /** `swanctl --load-all` (connections, secrets, certificates from the swanctl dir). */
  async loadAll(): Promise<string> {
    return this.swanctl(['--load-all', '--noprompt']);
  }

  /** Initiates a Child SA (and its IKE SA when needed); resolves when charon reports success. */
  async initiate(child: string, ike?: string, timeoutMs = 15_000): Promise<string> {
    const args = ['--initiate', '--child', child, '--timeout', String(Math.ceil(timeoutMs / 1000))];
    return this.swanctl(ike ? [...args, '--ike', ike] : args, timeoutMs + 2_000);
  }

  /** Rekeys a Child SA (`{ child }`) or an IKE SA (`{ ike }`) and waits for completion. */
  async rekey(target: { child: string } | { ike: string }): Promise<string> {
    const args = 'child' in target ? ['--child', target.child] : ['--ike', target.ike];
    return this.swanctl(['--rekey', ...args]);
  }

  async terminateIke(ike: string): Promise<string> {
    return this.swanctl(['--terminate', '--ike', ike, '--timeout', '5']);
  }

  async listSas(): Promise<SaInfo[]> {
    return parseListSas(await this.swanctl(['--list-sas', '--pretty']));
  }

  logText(): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : '';
  }

  private logTail(lines = 20): string {
    return this.logText().split('\n').slice(-lines).join('\n');
  }

  /** SIGKILL at once: charon deletes nothing (its kernel SAs stay), as when its host dies. */
  async kill(): Promise<void> {
    if (this.exited || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exit = new Promise<void>((res) => this.proc.once('exit', () => res()));
    this.proc.kill('SIGKILL');
    await Promise.race([exit, sleep(5_000)]);
  }

  /** SIGTERM, wait up to `graceMs`, then SIGKILL; removes the instance directory unless `keep`. */
  async stop(opts: { graceMs?: number; keep?: boolean } = {}): Promise<void> {
    if (!this.exited && this.proc.exitCode === null && this.proc.signalCode === null) {
      const exit = new Promise<void>((res) => this.proc.once('exit', () => res()));
      this.proc.kill('SIGTERM');
      const done = await Promise.race([
        exit.then(() => true),
        sleep(opts.graceMs ?? 3_000).then(() => false),
      ]);
      if (!done) {
        this.proc.kill('SIGKILL');
        await Promise.race([exit, sleep(2_000)]);
      }
    }
    if (!opts.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

function writeInstanceFiles(dir: string, opts: CharonOptions): void {
  mkdirSync(join(dir, 'run'));
  const sw = join(dir, 'swanctl');
  for (const sub of ['x509', 'x509ca', 'private', 'ecdsa', 'rsa', 'pkcs8', 'pubkey']) {
    mkdirSync(join(sw, sub), { recursive: true });
  }
  writeFileSync(
    join(dir, 'strongswan.conf'),
    renderStrongswanConf({
      dir,
      libipsec: opts.libipsec ?? true,
      plugins: (opts.build ?? STRONGSWAN_5).plugins,
      logLevels: opts.logLevels ?? { default: 1 },
      extra: opts.extraCharonConf,
    }),
  );
  writeFileSync(join(sw, 'swanctl.conf'), renderSwanctlConf(opts.connections, opts.secrets ?? {}));
  for (const [rel, content] of Object.entries(opts.files ?? {})) {
    if (rel.includes('..') || rel.startsWith('/'))
      throw new StrongswanError('file path escapes swanctl dir', rel);
    writeFileSync(join(sw, rel), content, { mode: 0o600 });
  }
}

/** Parses `swanctl --list-sas --pretty` output into IKE SAs with their Child SAs. */
export function parseListSas(text: string): SaInfo[] {
  const sas: SaInfo[] = [];
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length) {
    if (/^list-sa event \{$/.test(lines[i]!.trim())) {
      const [sa, next] = parseIkeSa(lines, i + 1);
      if (sa) sas.push(sa);
      i = next;
    } else i++;
  }
  return sas;
}

function parseIkeSa(lines: readonly string[], start: number): [SaInfo | undefined, number] {
  const head = /^\s*(\S+) \{$/.exec(lines[start] ?? '');
  if (!head) return [undefined, start];
  const fields: Record<string, string> = {};
  const children: ChildSaInfo[] = [];
  let i = start + 1;
  for (; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '}') return [{ name: head[1]!, fields, children }, i + 1];
    if (line === 'child-sas {') {
      for (i++; i < lines.length && lines[i]!.trim() !== '}';) {
        const [c, next] = parseSection(lines, i);
        children.push(c);
        i = next;
      }
      continue;
    }
    const kv = /^(\S+) = (.*)$/.exec(line);
    if (kv) fields[kv[1]!] = kv[2]!;
  }
  return [{ name: head[1]!, fields, children }, i];
}

function parseSection(lines: readonly string[], start: number): [ChildSaInfo, number] {
  const key = /^\s*(\S+) \{$/.exec(lines[start]!)?.[1] ?? lines[start]!.trim();
  const fields: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  let list: string[] | undefined;
  let i = start + 1;
  for (; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (list) {
      if (line === ']') list = undefined;
      else list.push(line);
      continue;
    }
    if (line === '}') break;
    const l = /^(\S+) = \[$/.exec(line);
    if (l) {
      list = lists[l[1]!] = [];
      continue;
    }
    const kv = /^(\S+) = (.*)$/.exec(line);
    if (kv) fields[kv[1]!] = kv[2]!;
  }
  return [{ key, fields, localTs: lists['local-ts'] ?? [], remoteTs: lists['remote-ts'] ?? [] }, i + 1];
}

// ---- configuration rendering -------------------------------------------------------------------

export interface SwanChild {
  readonly name: string;
  readonly localTs: readonly string[];
  readonly remoteTs: readonly string[];
  /** e.g. ['aes256gcm16-x25519']; a DH group here means PFS on rekeys (RFC 7296 §1.3.1). */
  readonly espProposals: readonly string[];
  /** AH proposals (swanctl ah_proposals): when given, the child offers AH only. */
  readonly ahProposals?: readonly string[];
  readonly mode?: 'tunnel' | 'transport';
  readonly startAction?: 'none' | 'trap' | 'start';
  readonly rekeyTime?: string;
  /** XFRM interface ids (swanctl if_id_in/if_id_out, 5.8+): a route-based child. */
  readonly ifIdIn?: number;
  readonly ifIdOut?: number;
}

export interface SwanConnection {
  readonly name: string;
  readonly localAddrs: readonly string[];
  readonly remoteAddrs: readonly string[];
  readonly localId: string;
  readonly remoteId: string;
  /** swanctl `auth` value per side: 'psk', 'pubkey', 'ecdsa-sha256', 'rsa/pss-sha256' ... */
  readonly localAuth: string;
  readonly remoteAuth: string;
  /** File names in the swanctl x509/ dir for this side's certificate. */
  readonly localCerts?: readonly string[];
  /** Trust anchor file names in x509ca/ that the peer's certificate must chain to. */
  readonly remoteCaCerts?: readonly string[];
  /** Raw public keys (RFC 7670; swanctl `pubkeys`, files in the pubkey/ dir) of this side / the peer. */
  readonly localPubkeys?: readonly string[];
  readonly remotePubkeys?: readonly string[];
  readonly proposals: readonly string[];
  readonly children: readonly SwanChild[];
  readonly rekeyTime?: string;
  readonly dpdDelay?: string;
  readonly encap?: boolean;
  readonly mobike?: boolean;
}

export interface SwanSecrets {
  /** Pre-shared keys; `ids` restricts each to those identities (empty: any). */
  readonly psk?: readonly { readonly secret: string; readonly ids?: readonly string[] }[];
}

const SAFE_VALUE = /^[\w.:/=,@%*+-]+$/;

/** Values go verbatim into swanctl.conf; reject anything that could break its syntax. */
function v(value: string, what: string): string {
  if (!SAFE_VALUE.test(value)) {
    // A secret's value never goes into the error: name the field and its length only.
    const shown = /secret|psk/i.test(what) ? `<redacted, ${value.length} chars>` : value;
    throw new StrongswanError(`unsafe swanctl.conf value for ${what}`, shown);
  }
  return value;
}
/** An XFRM interface id: 1..2^32-1 (0 means none to the kernel). */
function ifId(n: number, what: string): string {
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new StrongswanError(`bad ${what}`, String(n));
  return String(n);
}
const list = (xs: readonly string[], what: string): string => xs.map((x) => v(x, what)).join(',');

/** Renders swanctl.conf (connections and secrets sections) from the typed description. */
export function renderSwanctlConf(conns: readonly SwanConnection[], secrets: SwanSecrets): string {
  const out: string[] = ['connections {'];
  for (const c of conns) {
    out.push(`  ${v(c.name, 'name')} {`, '    version = 2');
    out.push(`    local_addrs = ${list(c.localAddrs, 'local_addrs')}`);
    out.push(`    remote_addrs = ${list(c.remoteAddrs, 'remote_addrs')}`);
    out.push(`    proposals = ${list(c.proposals, 'proposals')}`);
    if (c.rekeyTime) out.push(`    rekey_time = ${v(c.rekeyTime, 'rekey_time')}`);
    if (c.dpdDelay) out.push(`    dpd_delay = ${v(c.dpdDelay, 'dpd_delay')}`);
    if (c.encap !== undefined) out.push(`    encap = ${c.encap ? 'yes' : 'no'}`);
    if (c.mobike !== undefined) out.push(`    mobike = ${c.mobike ? 'yes' : 'no'}`);
    out.push('    local {', `      auth = ${v(c.localAuth, 'auth')}`, `      id = "${v(c.localId, 'id')}"`);
    if (c.localCerts?.length) out.push(`      certs = ${list(c.localCerts, 'certs')}`);
    if (c.localPubkeys?.length) out.push(`      pubkeys = ${list(c.localPubkeys, 'pubkeys')}`);
    out.push(
      '    }',
      '    remote {',
      `      auth = ${v(c.remoteAuth, 'auth')}`,
      `      id = "${v(c.remoteId, 'id')}"`,
    );
    if (c.remoteCaCerts?.length) out.push(`      cacerts = ${list(c.remoteCaCerts, 'cacerts')}`);
    if (c.remotePubkeys?.length) out.push(`      pubkeys = ${list(c.remotePubkeys, 'pubkeys')}`);
    out.push('    }', '    children {');
    for (const ch of c.children) {
      out.push(`      ${v(ch.name, 'child name')} {`);
      out.push(`        local_ts = ${list(ch.localTs, 'local_ts')}`);
      out.push(`        remote_ts = ${list(ch.remoteTs, 'remote_ts')}`);
      if (ch.ahProposals?.length) out.push(`        ah_proposals = ${list(ch.ahProposals, 'ah_proposals')}`);
      else out.push(`        esp_proposals = ${list(ch.espProposals, 'esp_proposals')}`);
      out.push(`        mode = ${ch.mode ?? 'tunnel'}`, `        start_action = ${ch.startAction ?? 'none'}`);
      if (ch.rekeyTime) out.push(`        rekey_time = ${v(ch.rekeyTime, 'rekey_time')}`);
      if (ch.ifIdIn !== undefined) out.push(`        if_id_in = ${ifId(ch.ifIdIn, 'if_id_in')}`);
      if (ch.ifIdOut !== undefined) out.push(`        if_id_out = ${ifId(ch.ifIdOut, 'if_id_out')}`);
      out.push('      }');
    }
    out.push('    }', '  }');
  }
  out.push('}', 'secrets {');
  (secrets.psk ?? []).forEach((p, n) => {
    // RFC 7296 §2.15: the PSK is used as an octet string; swanctl takes a quoted string or 0x hex.
    const secret = /^0x[0-9a-f]+$/i.test(p.secret) ? p.secret : `"${v(p.secret, 'psk')}"`;
    out.push(`  ike-${n} {`, `    secret = ${secret}`);
    (p.ids ?? []).forEach((id, k) => out.push(`    id-${k} = "${v(id, 'psk id')}"`));
    out.push('  }');
  });
  out.push('}');
  return out.join('\n') + '\n';
}

/** Plugins loaded, in order: kernel-libipsec must come before kernel-netlink. */
export function charonPlugins(libipsec: boolean, extra: readonly string[] = []): string[] {
  return [
    'random',
    'nonce',
    'openssl',
    ...extra,
    'curve25519',
    'kdf',
    'x509',
    'pem',
    'pkcs1',
    'pkcs8',
    'pubkey',
    'revocation',
    'constraints',
    'vici',
    'socket-default',
    ...(libipsec ? ['kernel-libipsec'] : []),
    'kernel-netlink',
  ];
}

/** strongswan.conf for one instance: its own vici socket, log file and explicit plugin list. */
export function renderStrongswanConf(o: {
  dir: string;
  libipsec: boolean;
  plugins?: readonly string[];
  logLevels: LogLevels;
  extra?: string | undefined;
}): string {
  const levels = Object.entries(o.logLevels).map(([g, l]) => {
    if (!/^[a-z]{3,7}$/.test(g) || !Number.isInteger(l) || l < -1 || l > 4)
      throw new StrongswanError('bad log level', `${g}=${l}`);
    return `        ${g} = ${l}`;
  });
  return [
    'charon {',
    `  load = ${charonPlugins(o.libipsec, o.plugins).join(' ')}`,
    '  install_virtual_ip = no',
    '  plugins {',
    `    vici { socket = unix://${join(o.dir, 'charon.vici')} }`,
    '  }',
    '  filelog {',
    '    main {',
    `      path = ${join(o.dir, 'charon.log')}`,
    '      flush_line = yes',
    ...levels,
    '    }',
    '  }',
    o.extra ?? '',
    '}',
    'swanctl {',
    '  load = pem pkcs1 pkcs8 x509 openssl',
    '}',
    '',
  ].join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
