// strongSwan (charon 5.9.8, Debian, or 6.0.6) as the interop peer: charon with the REAL kernel
// (kernel-netlink, no libipsec) in the peer router's namespace, configured by swanctl.conf rendered
// from the cell. With `libipsec` (the host's IKE-only matrix, no kernel ESP) charon keeps its SAs in
// kernel-libipsec instead, which has tunnel mode only.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Charon, STRONGSWAN_5, type StrongswanBuild, type SwanConnection } from '../peers/strongswan.ts';
import { LabError } from '../errors.ts';
import type { CellContext, CellSpec, PeerDriver, PeerFragments, PeerSa, Role } from './types.ts';

const KEY_DIR = { ecdsa: 'private', rsa: 'private', ed25519: 'private' } as const;

const versionCache = new Map<string, string>();

/** "strongSwan 5.9.8" from `charon --version` (it prints "Linux strongSwan 5.9.8"). */
export function strongswanVersion(build: StrongswanBuild = STRONGSWAN_5): string {
  const cached = versionCache.get(build.charon);
  if (cached) return cached;
  const r = spawnSync(build.charon, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const m = /strongSwan (\S+)/.exec(`${r.stdout}${r.stderr}`);
  const v = m ? `strongSwan ${m[1]}` : 'strongSwan (unknown version)';
  versionCache.set(build.charon, v);
  return v;
}

function swanConnection(ctx: CellContext): SwanConnection {
  const cert = ctx.creds.kind === 'cert';
  const c = ctx.cell;
  return {
    name: ctx.name,
    localAddrs: [ctx.local.address],
    remoteAddrs: [ctx.remote.address],
    localId: ctx.local.id,
    remoteId: ctx.remote.id,
    localAuth: cert ? 'pubkey' : 'psk',
    remoteAuth: cert ? 'pubkey' : 'psk',
    ...(cert && { localCerts: ['peer.pem'], remoteCaCerts: ['root.pem'] }),
    proposals: [c.ike],
    dpdDelay: `${ctx.dpdSeconds}s`,
    mobike: false,
    children: [
      {
        name: ctx.name,
        localTs: ctx.local.subnets,
        remoteTs: ctx.remote.subnets,
        espProposals: [c.esp],
        ...(c.protocol === 'ah' && { ahProposals: [c.esp] }),
        mode: c.mode,
        // The cell calls initiate() when charon is the initiator; only a restarted charon (liveness
        // cell) brings the tunnel back by itself, with start_action.
        startAction: ctx.role === 'responder' && ctx.restarted ? 'start' : 'none',
      },
    ],
  };
}

function files(ctx: CellContext): Record<string, string> {
  const cr = ctx.creds;
  if (cr.kind !== 'cert') return {};
  if (!cr.cert || !cr.key || !cr.root || !cr.keyType)
    throw new LabError('LAB_TOPOLOGY', 'strongSwan peer: cert credentials incomplete');
  const out: Record<string, string> = {
    'x509/peer.pem': readFileSync(cr.cert, 'utf8'),
    [`${KEY_DIR[cr.keyType]}/peer.pem`]: readFileSync(cr.key, 'utf8'),
    'x509ca/root.pem': readFileSync(cr.root, 'utf8'),
  };
  // Intermediates in x509ca/ are chain links: charon sends them after its end certificate.
  for (const im of cr.intermediates ?? []) out[`x509ca/${basename(im)}`] = readFileSync(im, 'utf8');
  return out;
}

const spi8 = (s: string | undefined) => (s ?? '').replace(/^0x/, '').padStart(8, '0').toLowerCase();
const spi16 = (s: string | undefined) => (s ?? '').replace(/^0x/, '').padStart(16, '0').toLowerCase();

export class StrongswanPeer implements PeerDriver {
  readonly kind: 'strongswan' | 'strongswan6';
  /** Which strongSwan: Debian's 5.9.8 (kind 'strongswan') or 6.0.6 with ML-KEM ('strongswan6'). */
  constructor(
    readonly build: StrongswanBuild = STRONGSWAN_5,
    readonly opts: { readonly libipsec?: boolean } = {},
  ) {
    this.kind = build === STRONGSWAN_5 ? 'strongswan' : 'strongswan6';
  }
  #charon: Charon | undefined;
  #ctx: CellContext | undefined;
  #logs: string[] = [];

  version(): string {
    return strongswanVersion(this.build);
  }

  unsupported(cell: CellSpec, _role: Role): string | undefined {
    if (this.opts.libipsec && cell.mode === 'transport')
      return 'IKE-only host run: charon keeps its SAs in kernel-libipsec, which has tunnel mode only (libipsec: "IPsec policy: unsupported mode"); the guest matrix runs this cell';
    return undefined;
  }

  async start(ctx: CellContext): Promise<void> {
    this.#ctx = ctx;
    this.#charon = await Charon.start({
      ns: ctx.ns,
      build: this.build,
      tag: `mx-${ctx.cell.id}`.slice(0, 20),
      libipsec: this.opts.libipsec ?? false,
      connections: [swanConnection(ctx)],
      ...(ctx.creds.kind === 'psk' && ctx.creds.psk
        ? { secrets: { psk: [{ secret: ctx.creds.psk, ids: [ctx.local.id, ctx.remote.id] }] } }
        : {}),
      files: files(ctx),
      // enc 1 for the fragmentation cell: charon's "splitting IKE message" and "received fragment"
      // lines (message structure only; key material is level 4 and never enabled).
      logLevels: {
        default: 1,
        ike: 1,
        cfg: 1,
        knl: 1,
        enc: ctx.cell.fragmentation || ctx.cell.ikeFragments ? 1 : 0,
        net: 1,
      },
      // The lab routes the other site's LANs already; charon's table-220 routes are not needed.
      extraCharonConf: '  install_routes = no\n  retransmit_timeout = 1.0\n  retransmit_tries = 4',
      startTimeoutMs: 60_000,
    });
    await this.#charon.loadAll();
  }

  async initiate(): Promise<void> {
    const ctx = this.#need();
    await this.#c().initiate(ctx.name, ctx.name, 30_000);
  }

  async status(): Promise<PeerSa | undefined> {
    const sas = await this.#c().listSas();
    const sa = sas.find((s) => s.fields.state === 'ESTABLISHED');
    if (!sa) return undefined;
    const children = sa.children
      .filter((c) => c.fields.state === 'INSTALLED')
      .map((c) => ({
        spiIn: spi8(c.fields['spi-in']),
        spiOut: spi8(c.fields['spi-out']),
        packetsIn: Number(c.fields['packets-in'] ?? 0),
        packetsOut: Number(c.fields['packets-out'] ?? 0),
      }));
    if (children.length === 0) return undefined;
    return {
      ikeSpiI: spi16(sa.fields['initiator-spi']),
      ikeSpiR: spi16(sa.fields['responder-spi']),
      children,
    };
  }

  async rekeyChild(): Promise<void> {
    await this.#c().rekey({ child: this.#need().name });
  }

  async rekeyIke(): Promise<void> {
    await this.#c().rekey({ ike: this.#need().name });
  }

  async stop(): Promise<void> {
    const c = this.#charon;
    this.#charon = undefined;
    if (!c) return;
    this.#logs.push(c.logText());
    await c.stop({ graceMs: 5_000 });
    this.#keepLog();
  }

  /** IKW_MATRIX_LOGDIR: charon's whole log of the cell is kept there (no key material: levels <= 2). */
  #keepLog(): void {
    const dir = process.env['IKW_MATRIX_LOGDIR'];
    const ctx = this.#ctx;
    if (!dir || !ctx) return;
    writeFileSync(join(dir, `${this.kind}-${ctx.role}-${ctx.cell.id}.log`), this.#logs.join(''));
  }

  async kill(): Promise<void> {
    const c = this.#charon;
    this.#charon = undefined;
    if (!c) return;
    await c.kill();
    this.#logs.push(c.logText());
    await c.stop();
  }

  log(): string {
    return [...this.#logs, this.#charon?.logText() ?? ''].join('');
  }

  /** charon (enc level 1) logs each fragmented message it sends and each fragment it receives. */
  fragments(): PeerFragments {
    const lines = this.log().split('\n');
    const split = lines.filter((l) => /splitting IKE message \(\d+ bytes\) into \d+ fragments/.test(l));
    const received = lines.filter((l) => /received fragment #\d+ of \d+/.test(l));
    const sent = split.reduce((n, l) => n + Number(/into (\d+) fragments/.exec(l)?.[1] ?? 0), 0);
    const show = (l: string | undefined) => (l ? [`charon: ${l.trim()}`] : []);
    return {
      sent,
      received: received.length,
      lines: [...show(split[split.length - 1]), ...show(received[received.length - 1])],
    };
  }

  #c(): Charon {
    if (!this.#charon) throw new LabError('LAB_TUNNEL', 'strongSwan peer is not running');
    return this.#charon;
  }
  #need(): CellContext {
    if (!this.#ctx) throw new LabError('LAB_TUNNEL', 'strongSwan peer was never started');
    return this.#ctx;
  }
}
