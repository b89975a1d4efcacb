// One interop cell from start to end: the lab (ikeway on router-a, the peer on router-b), up as both
// sides report it, traffic both ways counted on both kernels' SAs, rekeys, liveness, a clean delete.
// Every step is timed and recorded; the first failing step ends the cell with its evidence.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCli } from '../guest/bundle.ts';
import { readSaCounters, type SaCounter } from '../two-site/checks.ts';
import { buildLab, type Lab } from '../two-site/lab.ts';
import { peerAsSeenBy, siteOf, type SiteName } from '../two-site/topology.ts';
import { cellTopology, LIVENESS } from './cells.ts';
import { IkewayDaemon, sleep, writeIkewayConfig } from './ikeway-side.ts';
import { makeCellPki, type CellPki, type KeyType } from './pki.ts';
import { traffic, waitUp, type UpState } from './probes.ts';
import { ahOnWire, tfcOnWire } from './wire-checks.ts';
import type {
  CellContext,
  CellResult,
  CellSpec,
  PeerCredentials,
  PeerDriver,
  Role,
  StepResult,
} from './types.ts';

export const IKEWAY_ID = 'ikeway.interop.example';
export const PEER_ID = 'peer.interop.example';
export const CONN = 'interop';

export interface RunCellOptions {
  readonly peer: PeerDriver;
  readonly cell: CellSpec;
  readonly role: Role;
  /** A directory of PKIs made beforehand by preparePkis() (openssl RSA is slow under TCG). */
  readonly pkiRoot?: string;
  readonly log?: (line: string) => void;
  /**
   * IKE only, for a host kernel without ESP: ikeway runs its in-memory kernel (the peer driver must
   * not need kernel ESP either, e.g. charon with kernel-libipsec); the steps that read kernel SAs or
   * send traffic are left out, everything the two daemons report is still checked.
   */
  readonly ikeOnly?: boolean;
}

/** The PKI directory name per cell: key type, and a chain for the fragmentation cell. */
export function pkiName(cell: CellSpec): string | undefined {
  if (cell.auth === 'psk') return undefined;
  return cell.fragmentation ? `${cell.auth}-chain` : cell.auth;
}

/** Makes every PKI the cells need under `root` (run on the host before booting the guest). */
export function preparePkis(root: string, cells: readonly CellSpec[]): void {
  for (const c of cells) {
    const name = pkiName(c);
    if (name) makeCellPki(join(root, name), c.auth as KeyType, [IKEWAY_ID, PEER_ID], c.fragmentation ? 1 : 0);
  }
}

function loadPki(cell: CellSpec, dir: string, pkiRoot: string | undefined): CellPki | undefined {
  const name = pkiName(cell);
  if (!name) return undefined;
  const at = join(dir, 'pki');
  if (pkiRoot) cpSync(join(pkiRoot, name), at, { recursive: true });
  return makeOrRead(cell, at, pkiRoot !== undefined);
}

function makeOrRead(cell: CellSpec, at: string, copied: boolean): CellPki {
  const chain = cell.fragmentation ? 1 : 0;
  if (!copied) return makeCellPki(at, cell.auth as KeyType, [IKEWAY_ID, PEER_ID], chain);
  const end = (f: string) => ({ cert: join(at, `${f}.pem`), key: join(at, `${f}.key`) });
  return {
    root: join(at, 'root.pem'),
    intermediates: chain ? [join(at, 'inter1.pem')] : [],
    ends: { [IKEWAY_ID]: end(IKEWAY_ID), [PEER_ID]: end(PEER_ID) },
  };
}

const hostBits = (a: string) => (a.includes(':') ? 128 : 32);

/** Both sides' endpoints; transport mode protects the two routers' own addresses. */
export function endpoints(lab: Lab, cell: CellSpec) {
  const t = lab.topology;
  const subnets = (s: SiteName) =>
    cell.mode === 'transport'
      ? [`${siteOf(t, s).wan}/${hostBits(siteOf(t, s).wan)}`]
      : siteOf(t, s).lans.map((l) => l.prefix);
  return {
    ikeway: { address: siteOf(t, 'a').wan, id: IKEWAY_ID, subnets: subnets('a') },
    ikewayRemote: { address: peerAsSeenBy(t, 'a'), id: PEER_ID, subnets: subnets('b') },
    peer: { address: siteOf(t, 'b').wan, id: PEER_ID, subnets: subnets('b') },
    peerRemote: { address: peerAsSeenBy(t, 'b'), id: IKEWAY_ID, subnets: subnets('a') },
  };
}

/** What a peer driver is started with: router b's namespace and endpoints, the peer's credentials. */
export function peerContext(
  l: Lab,
  cell: CellSpec,
  role: Role,
  dir: string,
  creds: PeerCredentials,
): CellContext {
  const ep = endpoints(l, cell);
  return {
    cell,
    role,
    topology: l.topology,
    ns: l.b.router,
    dir: join(dir, 'peer'),
    name: CONN,
    local: ep.peer,
    remote: ep.peerRemote,
    creds,
    dpdSeconds: 30,
  };
}

/** Small MTU on the WAN and IP fragments dropped there: only RFC 7383 IKE fragments pass. */
function constrainWan(lab: Lab): void {
  for (const ns of [lab.a.router, lab.b.router]) {
    ns.ip('link', 'set', 'wan', 'mtu', '1400');
    ns.exec(
      'nft',
      'add table ip ikwfrag; add chain ip ikwfrag out { type filter hook output priority 0; }; ' +
        'add rule ip ikwfrag out oifname "wan" ip frag-off & 0x3fff != 0 counter drop',
    );
  }
}

class Recorder {
  readonly steps: StepResult[] = [];
  constructor(private readonly log: (l: string) => void) {}
  async step<T>(name: string, fn: () => Promise<T>, detail: (v: T) => string = () => ''): Promise<T> {
    const t0 = Date.now();
    try {
      const v = await fn();
      const d = detail(v);
      this.steps.push({ step: name, ok: true, ms: Date.now() - t0, detail: d });
      this.log(`  ok   ${name} (${Date.now() - t0} ms) ${d}`);
      return v;
    } catch (e) {
      const d = String((e as Error).message ?? e);
      this.steps.push({ step: name, ok: false, ms: Date.now() - t0, detail: d });
      this.log(`  FAIL ${name} (${Date.now() - t0} ms) ${d}`);
      throw e;
    }
  }
}

const EVIDENCE =
  /error|errno|fail|invalid|unacceptable|no_proposal|no proposal|not supported|unsupported|no matching|no trusted|refus|cannot|exited with status/i;

function evidence(peer: PeerDriver, ikeway: IkewayDaemon | undefined): string[] {
  const peerLines = peer
    .log()
    .split('\n')
    .filter((l) => EVIDENCE.test(l))
    .slice(-8)
    .map((l) => `${peer.kind}: ${l.trim()}`);
  const ikw = (ikeway?.lines ?? [])
    .filter((l) => /\b(warn|error|fail\w*)\b/i.test(l) && !/Deprecation|trace-deprecation/.test(l))
    .slice(-8)
    .map((l) => `ikeway: ${l.trim()}`);
  return [...peerLines, ...ikw];
}

export async function runCell(o: RunCellOptions): Promise<CellResult> {
  const { peer, cell, role } = o;
  const log = o.log ?? (() => undefined);
  const t0 = Date.now();
  const base = { peer: peer.kind, peerVersion: peer.version(), role, cell: cell.id, title: cell.title };
  const why = peer.unsupported(cell, role);
  if (why) return { ...base, result: 'unsupported', seconds: 0, steps: [], why, evidence: [] };
  const rec = new Recorder(log);
  const dir = mkdtempSync(join(tmpdir(), `ikw-mx-${cell.id}-`));
  let lab: Lab | undefined;
  let ikeway: IkewayDaemon | undefined;
  try {
    lab = await rec.step('lab', async () => {
      const l = buildLab(cellTopology(cell, role), { tag: 'mx' });
      if (cell.fragmentation) constrainWan(l);
      return l;
    });
    const l = lab;
    const ep = endpoints(l, cell);
    const pki = loadPki(cell, dir, o.pkiRoot);
    const psk = pki ? undefined : `0x${randomBytes(32).toString('hex')}`;
    const creds: PeerCredentials = pki
      ? {
          kind: 'cert',
          cert: pki.ends[PEER_ID]!.cert,
          key: pki.ends[PEER_ID]!.key,
          keyType: cell.auth as KeyType,
          intermediates: pki.intermediates,
          root: pki.root,
        }
      : { kind: 'psk', psk: psk! };
    const ctx = peerContext(l, cell, role, dir, creds);
    await rec.step('peer start', () => peer.start(ctx));
    const config = writeIkewayConfig({
      cell,
      role,
      dir: join(dir, 'ikeway'),
      name: CONN,
      local: ep.ikeway,
      remote: ep.ikewayRemote,
      ...(psk !== undefined && { psk }),
      ...(pki && {
        cert: {
          cert: pki.ends[IKEWAY_ID]!.cert,
          key: pki.ends[IKEWAY_ID]!.key,
          ca: [pki.root, ...pki.intermediates],
        },
      }),
    });
    const bin = await bundledCli();
    const args = o.ikeOnly ? ['--kernel', 'memory'] : [];
    ikeway = await rec.step('ikeway start', () =>
      IkewayDaemon.start(l.a.router, bin, config, CONN, undefined, args),
    );
    const ikw = ikeway;
    if (role === 'responder') await rec.step('peer initiates', () => peer.initiate());
    let up = await rec.step('up', () => waitUp(ikw, peer, 60_000), describeUp);
    if (cell.keyExchanges) {
      const want = cell.keyExchanges.join(' + ');
      await rec.step(
        'key exchanges (RFC 9370)',
        async () => {
          const r = await ikw.status();
          const sa = r.connections.flatMap((c) => c.ikeSas).find((x) => x.state === 'established');
          const got = (sa?.keyExchanges ?? []).join(' + ');
          if (got !== want) throw new Error(`ikeway ran ${got || 'none'}, expected ${want}`);
          return `ikeway status: ${got}`;
        },
        (x) => x,
      );
    }
    if (cell.fragmentation || cell.ikeFragments)
      await rec.step(
        'IKE fragments both ways (RFC 7383)',
        () => fragmentsSeen(ikw, peer),
        (s) => s,
      );
    const ikeOnly = o.ikeOnly === true;
    if (!ikeOnly)
      await rec.step(
        'traffic',
        () => traffic(l, cell, ikw, peer, up),
        (s) => s,
      );
    if (cell.protocol === 'ah' && !ikeOnly)
      await rec.step(
        'AH on the wire (protocol 51, inner packet in clear)',
        () => ahOnWire(l, cell),
        (s) => s,
      );
    if (cell.tfcPadding !== undefined && !ikeOnly)
      await rec.step(
        cell.peerRefusesTfc ? 'no TFC padding towards a peer that refused it' : 'TFC padding: one ESP length',
        () => tfcOnWire(l, cell),
        (s) => s,
      );
    if (cell.rekeys) up = await rekeys(rec, l, cell, role, ikw, peer, up, ikeOnly);
    if (cell.liveness) up = await liveness(rec, l, cell, role, ikw, peer, ctx, ikeOnly);
    await rec.step(
      'delete',
      () => cleanDelete(l, ikw, peer, ikeOnly),
      (s) => s,
    );
    return { ...base, result: 'pass', seconds: secs(t0), steps: rec.steps, why: '', evidence: [] };
  } catch (e) {
    const failed = rec.steps.find((s) => !s.ok);
    return {
      ...base,
      result: 'fail',
      seconds: secs(t0),
      steps: rec.steps,
      why: failed ? `${failed.step}: ${failed.detail}` : String((e as Error).message ?? e),
      evidence: evidence(peer, ikeway),
    };
  } finally {
    await ikeway?.stop().catch(() => undefined);
    keepIkewayLog(ikeway, cell, role);
    await peer.stop().catch(() => undefined);
    lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** IKW_MATRIX_LOGDIR: ikeway's last log lines of the cell are kept there (it never logs keys). */
function keepIkewayLog(ikeway: IkewayDaemon | undefined, cell: CellSpec, role: Role): void {
  const dir = process.env['IKW_MATRIX_LOGDIR'];
  if (dir && ikeway)
    writeFileSync(join(dir, `ikeway-${role}-${cell.id}.log`), `${ikeway.lines.join('\n')}\n`);
}

const secs = (t0: number) => Math.round((Date.now() - t0) / 100) / 10;

function describeUp(u: UpState): string {
  return `IKE ${u.ikeSpiI}/${u.ikeSpiR}, ESP in ${u.spiIn} out ${u.spiOut}`;
}

async function rekeys(
  rec: Recorder,
  l: Lab,
  cell: CellSpec,
  role: Role,
  ikw: IkewayDaemon,
  peer: PeerDriver,
  before: UpState,
  ikeOnly: boolean,
): Promise<UpState> {
  // ikeway starts the rekeys in the cells where it initiated, the peer in the others: both
  // directions of each exchange are covered across the matrix.
  const by = role === 'initiator' ? 'ikeway' : peer.kind;
  const child = await rec.step(
    `child rekey by ${by}`,
    async () => {
      await (role === 'initiator' ? ikw.rekey('child') : peer.rekeyChild());
      return waitUp(ikw, peer, 60_000, (u) => u.spiIn !== before.spiIn && u.spiOut !== before.spiOut);
    },
    (u) => `ESP ${before.spiIn}/${before.spiOut} -> ${u.spiIn}/${u.spiOut}`,
  );
  if (!ikeOnly)
    await rec.step(
      'traffic after child rekey',
      () => traffic(l, cell, ikw, peer, child),
      (s) => s,
    );
  const ike = await rec.step(
    `IKE rekey by ${by}`,
    async () => {
      await (role === 'initiator' ? ikw.rekey('ike') : peer.rekeyIke());
      return waitUp(ikw, peer, 60_000, (u) => u.ikeSpiI !== child.ikeSpiI && u.ikeSpiR !== child.ikeSpiR);
    },
    (u) => `IKE ${child.ikeSpiI}/${child.ikeSpiR} -> ${u.ikeSpiI}/${u.ikeSpiR}`,
  );
  if (!ikeOnly)
    await rec.step(
      'traffic after IKE rekey',
      () => traffic(l, cell, ikw, peer, ike),
      (s) => s,
    );
  if (cell.keyExchanges)
    await rec.step(
      'key exchanges after rekeys (RFC 9370 IKE_FOLLOWUP_KE)',
      () => rekeyedKeyExchanges(ikw, cell),
      (s) => s,
    );
  return ike;
}

/**
 * After the rekeys the new IKE SA must have run every key exchange of the cell again, and so must the
 * rekeyed Child SA when the ESP proposal names key exchanges (PFS, RFC 7296 §1.3.1; the additional
 * ones through IKE_FOLLOWUP_KE, RFC 9370 §2.2.4), as ikeway's status lists them.
 */
async function rekeyedKeyExchanges(ikw: IkewayDaemon, cell: CellSpec): Promise<string> {
  const want = (cell.keyExchanges ?? []).join(' + ');
  const [sa] = await ikw.ikeSas();
  const ikeGot = (sa?.keyExchanges ?? []).join(' + ');
  const child = sa?.children.find((c) => c.state === 'installed');
  const childGot = (child?.keyExchanges ?? []).join(' + ');
  const pfs = /-(x25519|ecp\d+|modp\d+|mlkem\d+)/.test(cell.esp);
  if (ikeGot !== want || (pfs && childGot !== want))
    throw new Error(
      `after the rekeys ikeway ran IKE ${ikeGot || 'none'}, Child ${childGot || 'none'}; expected ${want}`,
    );
  return `ikeway status: IKE SA ${ikeGot}${pfs ? `, Child SA ${childGot}` : ''}`;
}

/** ESP states of the tunnel in a router's kernel. */
export function espStates(l: Lab, site: SiteName): SaCounter[] {
  return readSaCounters(l.site(site).router);
}

async function liveness(
  rec: Recorder,
  l: Lab,
  cell: CellSpec,
  role: Role,
  ikw: IkewayDaemon,
  peer: PeerDriver,
  ctx: CellContext,
  ikeOnly: boolean,
): Promise<UpState> {
  const limitS = LIVENESS.interval + LIVENESS.timeout;
  await rec.step(
    'peer killed: ikeway clears',
    async () => {
      await peer.kill();
      const t = Date.now();
      // Generous bound (TCG scheduling): the configured time plus 15 s.
      while (Date.now() - t < (limitS + 15) * 1000) {
        if ((ikeOnly || espStates(l, 'a').length === 0) && (await ikw.ikeSas()).length === 0)
          return (Date.now() - t) / 1000;
        await sleep(250);
      }
      throw new Error(
        `router-a still has ${ikeOnly ? 'an IKE SA' : 'ESP states'} ${limitS + 15} s after the peer died (liveness ${limitS} s)`,
      );
    },
    (s) =>
      `${ikeOnly ? 'IKE SA' : 'kernel state'} cleared ${s.toFixed(1)} s after the kill (liveness interval ${LIVENESS.interval} s + timeout ${LIVENESS.timeout} s)`,
  );
  // The peer's host "reboots": its kernel forgets the SAs and policies charon left behind.
  if (!ikeOnly) {
    l.b.router.exec('ip', 'xfrm', 'state', 'flush');
    l.b.router.exec('ip', 'xfrm', 'policy', 'flush');
  }
  await rec.step('peer restarted', () => peer.start({ ...ctx, restarted: true }));
  const back = await rec.step(
    `tunnel returns by itself (${role === 'initiator' ? 'ikeway restarts' : `${peer.kind} start action`})`,
    () => waitUp(ikw, peer, 90_000),
    describeUp,
  );
  if (!ikeOnly)
    await rec.step(
      'traffic after restart',
      () => traffic(l, cell, ikw, peer, back),
      (s) => s,
    );
  return back;
}

/**
 * The fragmentation cell only proves RFC 7383 if fragments really went both ways: ikeway's own
 * counters (control socket status) and the peer's log must each show fragments sent and received.
 */
async function fragmentsSeen(ikw: IkewayDaemon, peer: PeerDriver): Promise<string> {
  const c = (await ikw.status()).counters;
  const [sent, received] = [c['ike.fragments_sent'] ?? 0, c['ike.fragments_received'] ?? 0];
  const p = peer.fragments?.();
  const shown = [`ikeway counters: ${sent} sent, ${received} received`];
  if (p) shown.push(`${peer.kind} log: ${p.sent} sent, ${p.received} received`, ...p.lines);
  const problems: string[] = [];
  if (!(sent > 0 && received > 0)) problems.push('ikeway did not both send and receive IKE fragments');
  if (p && !(p.sent > 0 && p.received > 0))
    problems.push(`${peer.kind} did not both send and receive IKE fragments`);
  if (problems.length) throw new Error(`${problems.join('; ')} (${shown.join('; ')})`);
  return shown.join('; ');
}

async function cleanDelete(l: Lab, ikw: IkewayDaemon, peer: PeerDriver, ikeOnly: boolean): Promise<string> {
  const note = (await peer.beforeDelete?.()) ?? '';
  await ikw.down();
  for (let i = 0; i < 200; i++) {
    const a = ikeOnly ? 0 : espStates(l, 'a').length;
    const b = ikeOnly ? 0 : espStates(l, 'b').length;
    const p = await peer.status();
    if (a === 0 && b === 0 && p === undefined && (await ikw.ikeSas()).length === 0)
      return `${ikeOnly ? '' : 'no ESP state on either router, '}no IKE SA on either side${note ? ` (${note})` : ''}`;
    await sleep(100);
  }
  throw new Error(
    `after ikeway down: router-a ${espStates(l, 'a').length} ESP states, router-b ${espStates(l, 'b').length}, peer SA ${JSON.stringify(await peer.status())}`,
  );
}
