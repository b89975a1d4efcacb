// Libreswan 4.10 (pluto, Debian, unpacked next to strongSwan) as the interop peer: pluto with the
// REAL kernel XFRM stack (protostack=xfrm) in the peer router's namespace, its ipsec.conf and NSS
// database rendered from the cell (lab/peers/libreswan.ts does the running).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseXfrmStates } from '../two-site/checks.ts';
import {
  LIBRESWAN_VERSION,
  PLUTO_BIN,
  Pluto,
  parseChildSpis,
  parseIkeSpis,
  parseStates,
  parseTrafficStatus,
  type LswConnection,
} from '../peers/libreswan.ts';
import { LabError } from '../errors.ts';
import type { CellContext, CellSpec, PeerDriver, PeerFragments, PeerSa, Role } from './types.ts';

const ADDCONN = join(PLUTO_BIN, '..', 'addconn');

let versionCache: string | undefined;
/** "Libreswan 4.10" from `pluto --version`. */
export function libreswanVersion(): string {
  if (versionCache) return versionCache;
  const r = spawnSync(PLUTO_BIN, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const m = /Libreswan (\S+)/.exec(`${r.stdout}${r.stderr}`);
  versionCache = m ? `Libreswan ${m[1]}` : `Libreswan ${LIBRESWAN_VERSION} (version not read)`;
  return versionCache;
}

let eddsaCache: string | undefined;
/**
 * Libreswan 4.10 has no EdDSA authentication (RFC 8420). The evidence is its own config parser:
 * `addconn --checkconfig` on a connection with leftauth=eddsa, and the line it prints.
 */
export function eddsaEvidence(): string {
  if (eddsaCache) return eddsaCache;
  const dir = mkdtempSync(join(tmpdir(), 'ikw-lsw-eddsa-'));
  try {
    const conf = join(dir, 'ipsec.conf');
    writeFileSync(
      conf,
      'config setup\n\nconn probe\n\tikev2=insist\n\tleftauth=eddsa\n\trightauth=eddsa\n' +
        '\tleft=192.0.2.1\n\tright=192.0.2.2\n\tauto=add\n',
    );
    const r = spawnSync(ADDCONN, ['--config', conf, '--checkconfig'], { encoding: 'utf8', timeout: 10_000 });
    const line = `${r.stderr}${r.stdout}`
      .split('\n')
      .find((l) => /eddsa/i.test(l))
      ?.replace(dir, '<dir>');
    eddsaCache = line
      ? `Libreswan ${LIBRESWAN_VERSION} has no EdDSA (RFC 8420) authentication; addconn --checkconfig with leftauth=eddsa: "${line.trim()}" (exit ${r.status})`
      : `Libreswan ${LIBRESWAN_VERSION}: addconn accepted leftauth=eddsa (exit ${r.status}); cell should be tried`;
    return eddsaCache;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// strongSwan proposal tokens (the cells' spelling) -> Libreswan's (ipsec.conf ike=/esp=).
const ENCR: Record<string, string> = {
  aes128gcm16: 'aes_gcm128',
  aes256gcm16: 'aes_gcm256',
  aes128: 'aes128',
  aes256: 'aes256',
  chacha20poly1305: 'chacha20_poly1305',
};
const HASH: Record<string, string> = {
  sha1: 'sha1',
  sha256: 'sha2_256',
  sha384: 'sha2_384',
  sha512: 'sha2_512',
};
const DH: Record<string, string> = {
  x25519: 'dh31',
  curve25519: 'dh31',
  ecp256: 'dh19',
  ecp384: 'dh20',
  ecp521: 'dh21',
  modp2048: 'modp2048',
  modp3072: 'modp3072',
  modp4096: 'modp4096',
};

/**
 * Converts one strongSwan-style proposal ('aes256gcm16-prfsha256-x25519', 'aes256-sha256-modp2048')
 * to Libreswan syntax ('aes_gcm256-sha2_256;dh31', 'aes256-sha2_256;modp2048'). For IKE an AEAD
 * cipher takes the PRF in the second slot (RFC 7296 §3.3.2); for ESP the DH group means PFS.
 */
export function toLibreswanProposal(p: string, kind: 'ike' | 'esp'): string {
  let enc: string | undefined;
  let mid: string | undefined;
  let dh: string | undefined;
  for (const t of p.split('-')) {
    if (ENCR[t]) enc = ENCR[t];
    else if (t.startsWith('prf') && HASH[t.slice(3)]) mid = kind === 'ike' ? HASH[t.slice(3)] : mid;
    else if (HASH[t]) mid = HASH[t];
    else if (DH[t]) dh = DH[t];
    else if (t === 'noesn' || t === 'esn') continue;
    else throw new LabError('LAB_TOPOLOGY', `Libreswan peer: no mapping for proposal token ${t} in ${p}`);
  }
  if (!enc) throw new LabError('LAB_TOPOLOGY', `Libreswan peer: no cipher in proposal ${p}`);
  return `${enc}${mid ? `-${mid}` : ''}${dh ? `;${dh}` : ''}`;
}

/** The pluto connection for a cell: left is the peer (site b), right is ikeway. */
export function lswConnection(ctx: CellContext, restart: boolean): LswConnection {
  const c = ctx.cell;
  const cert = ctx.creds.kind === 'cert';
  const transport = c.mode === 'transport';
  const hasPfs = toLibreswanProposal(c.esp, 'esp').includes(';');
  return {
    name: ctx.name,
    left: ctx.local.address,
    right: ctx.remote.address,
    leftId: `@${ctx.local.id}`,
    rightId: `@${ctx.remote.id}`,
    auth: cert ? (ctx.creds.keyType === 'rsa' ? 'rsa' : 'ecdsa') : 'psk',
    ...(cert && { leftCert: 'peer' }),
    ...(!transport && { leftSubnets: ctx.local.subnets, rightSubnets: ctx.remote.subnets }),
    type: c.mode,
    ike: toLibreswanProposal(c.ike, 'ike'),
    esp: toLibreswanProposal(c.esp, 'esp'),
    pfs: hasPfs,
    encapsulation: 'auto',
    fragmentation: 'yes',
    dpdDelay: ctx.dpdSeconds,
    dpdTimeout: ctx.dpdSeconds * 4,
    dpdAction: ctx.role === 'responder' ? 'restart' : 'clear',
    retransmitTimeout: 30,
    // The peer initiates when ikeway is the responder: on its first start through initiate(),
    // after a restart (liveness cell) by itself (auto=start), like a rebooted site would.
    auto: ctx.role === 'responder' && restart ? 'start' : 'add',
  };
}

const norm8 = (s: string) => s.toLowerCase().replace(/^0x/, '').padStart(8, '0');

export class LibreswanPeer implements PeerDriver {
  readonly kind = 'libreswan' as const;
  #pluto: Pluto | undefined;
  #ctx: CellContext | undefined;
  #starts = 0;
  #logs: string[] = [];

  version(): string {
    return libreswanVersion();
  }

  unsupported(cell: CellSpec, _role: Role): string | undefined {
    if (cell.auth === 'ed25519') return eddsaEvidence();
    return undefined;
  }

  async start(ctx: CellContext): Promise<void> {
    this.#ctx = ctx;
    const cr = ctx.creds;
    const cert = cr.kind === 'cert';
    if (cert && (!cr.cert || !cr.key || !cr.root))
      throw new LabError('LAB_TOPOLOGY', 'Libreswan peer: cert credentials incomplete');
    this.#pluto = await Pluto.start({
      ns: ctx.ns,
      tag: `mx-${ctx.cell.id}`.slice(0, 16),
      listen: ctx.local.address,
      // 'base' makes pluto log the IKE SPIs (no status command shows them); never 'private'.
      debug: 'base',
      connections: [lswConnection(ctx, this.#starts++ > 0)],
      ...(cr.kind === 'psk' &&
        cr.psk && { secrets: { psk: [{ secret: cr.psk, ids: [`@${ctx.local.id}`, `@${ctx.remote.id}`] }] } }),
      ...(cert && {
        caPems: [readFileSync(cr.root!, 'utf8')],
        localCerts: [
          {
            nick: 'peer',
            certPem: readFileSync(cr.cert!, 'utf8'),
            keyPem: readFileSync(cr.key!, 'utf8'),
            chainPems: (cr.intermediates ?? []).map((f) => readFileSync(f, 'utf8')),
          },
        ],
      }),
      startTimeoutMs: 60_000,
    });
  }

  async initiate(): Promise<void> {
    await this.#p().up(this.#need().name, 60_000);
  }

  async status(): Promise<PeerSa | undefined> {
    const p = this.#p();
    const ctx = this.#need();
    const text = await p.status();
    const states = parseStates(text);
    const ikes = states.filter((s) => s.state === 'STATE_V2_ESTABLISHED_IKE_SA');
    const ike = ikes.find((s) => s.newest) ?? ikes[ikes.length - 1];
    if (!ike) return undefined;
    const spis = parseIkeSpis(p.logText()).get(ike.serial);
    if (!spis) return undefined;
    const traffic = parseTrafficStatus(await p.whack(['--trafficstatus']));
    const kernel = parseXfrmStates(ctx.ns.exec('ip', '-s', 'xfrm', 'state'));
    const packets = (spi: string) => kernel.find((k) => norm8(k.spi) === spi)?.packets ?? 0;
    const established = new Set(
      states.filter((s) => s.state === 'STATE_V2_ESTABLISHED_CHILD_SA').map((s) => s.serial),
    );
    const children = parseChildSpis(text)
      .filter((c) => established.has(c.serial))
      .map((c) => {
        const esp = c.spis.filter((x) => x.proto === 'esp');
        const spiIn = esp.find((x) => x.at === ctx.local.address)?.spi ?? '';
        const spiOut = esp.find((x) => x.at !== ctx.local.address)?.spi ?? '';
        const t = traffic.find((x) => x.serial === c.serial);
        // pluto counts bytes (from the kernel SA); the packet numbers are the same SAs' kernel counts,
        // reported only when pluto's own byte counters agree that traffic passed.
        return {
          spiIn,
          spiOut,
          packetsIn: t && t.inBytes > 0 ? packets(spiIn) : 0,
          packetsOut: t && t.outBytes > 0 ? packets(spiOut) : 0,
        };
      })
      .filter((c) => c.spiIn && c.spiOut);
    if (children.length === 0) return undefined;
    return { ikeSpiI: spis.spiI, ikeSpiR: spis.spiR, children };
  }

  /**
   * pluto re-initiates a connection it brought up (POLICY_UP) as soon as the peer deletes it
   * ("received a Delete/Notify but must remain up per local policy", its revival). The cell checks
   * that ikeway's Delete empties both sides, so revival is switched off first, with pluto's own
   * test switch; pluto logs "IMPAIR: skipping revival" when it would have come back.
   */
  async beforeDelete(): Promise<string> {
    if (this.#need().role !== 'responder') return '';
    await this.#p().whack(['--impair', 'revival']);
    return 'pluto revival off (whack --impair revival): it initiated, and would re-initiate after the Delete';
  }

  async rekeyChild(): Promise<void> {
    await this.#p().rekey(this.#need().name, 'ipsec');
  }

  async rekeyIke(): Promise<void> {
    await this.#p().rekey(this.#need().name, 'ike');
  }

  async stop(): Promise<void> {
    const p = this.#pluto;
    this.#pluto = undefined;
    if (!p) return;
    this.#logs.push(p.logText());
    await p.stop({ graceMs: 5_000 });
    this.#keepRawLog();
  }

  /** IKW_MATRIX_LOGDIR: pluto's whole log (with the `|` debug lines) is kept there per cell. */
  #keepRawLog(): void {
    const dir = process.env['IKW_MATRIX_LOGDIR'];
    const ctx = this.#ctx;
    if (!dir || !ctx) return;
    writeFileSync(join(dir, `pluto-${ctx.role}-${ctx.cell.id}.log`), this.#logs.join(''));
  }

  async kill(): Promise<void> {
    const p = this.#pluto;
    this.#pluto = undefined;
    if (!p) return;
    await p.kill();
    this.#logs.push(p.logText());
    await p.stop();
  }

  /**
   * pluto (plutodebug=base) logs every IKE fragment it encrypts for sending ("recording fragment N")
   * and every one it receives ("received IKE encrypted fragment number 'N', total number 'T'").
   */
  fragments(): PeerFragments {
    const lines = [...this.#logs, this.#pluto?.logText() ?? ''].join('').split('\n');
    const sent = lines.filter((l) => /\| recording fragment \d+/.test(l));
    const received = lines.filter((l) => /received IKE encrypted fragment number '\d+'/.test(l));
    const show = (l: string | undefined) => (l ? [`pluto: ${l.replace(/^.*?\| /, '').trim()}`] : []);
    return {
      sent: sent.length,
      received: received.length,
      lines: [...show(sent[sent.length - 1]), ...show(received[received.length - 1])],
    };
  }

  /** pluto's log without the `|` debug lines (kept only for the SPI lookup). */
  log(): string {
    return [...this.#logs, this.#pluto?.logText() ?? '']
      .join('')
      .split('\n')
      .filter((l) => !/^[^|]*?: \|/.test(l))
      .join('\n');
  }

  #p(): Pluto {
    if (!this.#pluto) throw new LabError('LAB_TUNNEL', 'Libreswan peer is not running');
    return this.#pluto;
  }
  #need(): CellContext {
    if (!this.#ctx) throw new LabError('LAB_TUNNEL', 'Libreswan peer was never started');
    return this.#ctx;
  }
}
