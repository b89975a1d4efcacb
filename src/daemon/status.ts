// `ikeway status`: a snapshot of connections, IKE SAs and Child SAs with their algorithms, ages,
// time to rekey and the kernel's traffic counters. Plain JSON-able data (no secrets, no keys: the
// kernel never returns key bytes and the engine's keys are not read here).
import { EXPIRY_WARN_DAYS, type Connection } from '../config/index.ts';
import { formatId } from '../creds/index.ts';
import type { ChildSa } from '../ike/child-sa.ts';
import type { Engine } from '../ike/engine.ts';
import type { IkeSa } from '../ike/ike-sa.ts';
import { formatKeMethod, formatProposal } from '../ike/proposal-string.ts';
import { formatTs } from '../ike/traffic-selectors.ts';
import { hex } from '../ike/wire.ts';
import type { Kernel, SaId } from '../kernel/types.ts';
import type {
  ChildStatus,
  CertificateExpiry,
  ConnectionStatus,
  DaemonStatus,
  IkeSaStatus,
  InterfaceStatus,
  LoadStatus,
  RetryStatus,
  StatusReport,
} from '../control/status-types.ts';
import type { RetryWait } from './registry.ts';
import { markOnly } from '../ike/xfrm-ids.ts';

/** Times the daemon recorded from engine events (monotonic ms), keyed by the SA objects. */
export interface SaTimes {
  readonly ike: WeakMap<IkeSa, number>;
  readonly child: WeakMap<ChildSa, number>;
}

const host = (a: string) => (a.includes(':') ? `[${a}]` : a);
const spi32 = (n: number) => n.toString(16).padStart(8, '0');
const secs = (ms: number) => Math.max(0, Math.round(ms / 1000));

/** The Child SA's key exchange methods (transform types 4 and 6..12, RFC 9370), NONE left out. */
const childKes = (c: ChildSa): number[] =>
  (c.proposal?.transforms ?? []).filter((t) => (t.type === 4 || t.type >= 6) && t.id !== 0).map((t) => t.id);

async function childStatus(
  kernel: Kernel,
  sa: IkeSa,
  c: ChildSa,
  times: SaTimes,
  now: number,
  kernelCounters = true,
): Promise<ChildStatus> {
  const installedAt = times.child.get(c);
  const rekeyMs = c.config.childRekeyMs;
  const base: ChildStatus = {
    id: c.id,
    name: c.name,
    state: c.state,
    mode: c.mode,
    protocol: c.protocol,
    ...(c.tfcPad !== undefined ? { tfcPadding: c.tfcPad } : {}),
    ...(c.peerRefusesTfc ? { peerRefusesTfc: true } : {}),
    spiIn: spi32(c.spiIn),
    spiOut: spi32(c.spiOut),
    reqid: c.reqid,
    localTs: c.localTs.map(formatTs),
    remoteTs: c.remoteTs.map(formatTs),
    algorithms: c.proposal ? formatProposal(c.proposal) : '',
    ...(childKes(c).length > 0 ? { keyExchanges: childKes(c).map(formatKeMethod) } : {}),
    ...(installedAt !== undefined ? { installedSeconds: secs(now - installedAt) } : {}),
    ...(installedAt !== undefined && rekeyMs !== undefined
      ? { rekeySeconds: secs(installedAt + rekeyMs - now) }
      : {}),
  };
  if (!kernelCounters || (c.state !== 'installed' && c.state !== 'rekeying')) return base;
  const ctx = c.installed;
  if (!ctx) return base;
  const inId: SaId = { dst: ctx.localAddr, spi: c.spiIn, proto: c.protocol, ...markOnly(sa.config, 'in') };
  const outId: SaId = {
    dst: ctx.remoteAddr,
    spi: c.spiOut,
    proto: c.protocol,
    ...markOnly(sa.config, 'out'),
  };
  try {
    const [i, o] = await Promise.all([kernel.getSa(inId), kernel.getSa(outId)]);
    return {
      ...base,
      bytesIn: Number(i.current.bytes),
      packetsIn: Number(i.current.packets),
      bytesOut: Number(o.current.bytes),
      packetsOut: Number(o.current.packets),
    };
  } catch (e) {
    return { ...base, countersError: e instanceof Error ? e.message : String(e) };
  }
}

async function ikeStatus(
  kernel: Kernel,
  sa: IkeSa,
  times: SaTimes,
  now: number,
  kernelCounters?: boolean,
): Promise<IkeSaStatus> {
  const at = times.ike.get(sa);
  const p = sa.path;
  const children = await Promise.all(
    sa.children.map((c) => childStatus(kernel, sa, c, times, now, kernelCounters)),
  );
  return {
    id: sa.id,
    name: sa.name,
    state: sa.state,
    initiator: sa.initiator,
    spiI: hex(sa.spiI),
    spiR: hex(sa.spiR),
    local: `${host(p.localAddr)}:${p.localPort}`,
    remote: `${host(p.remoteAddr)}:${p.remotePort}`,
    localId: formatId(sa.config.localId),
    ...(sa.peerId ? { remoteId: formatId(sa.peerId) } : {}),
    ...(sa.proposal ? { algorithms: formatProposal(sa.proposal) } : {}),
    // RFC 9370: the first key exchange and every additional one that ran, in order.
    ...(sa.keMethods.length > 0 ? { keyExchanges: sa.keMethods.map(formatKeMethod) } : {}),
    nat: { local: sa.natLocal, remote: sa.natRemote },
    ...(at !== undefined ? { establishedSeconds: secs(now - at) } : {}),
    ...(at !== undefined && sa.config.ikeRekeyMs !== undefined
      ? { rekeySeconds: secs(at + sa.config.ikeRekeyMs - now) }
      : {}),
    children,
  };
}

export interface StatusInput {
  readonly daemon: DaemonStatus;
  readonly engine: Engine;
  readonly kernel: Kernel;
  readonly connections: readonly Connection[];
  readonly failClosed: (name: string) => number;
  readonly iface?: (c: Connection) => Promise<InterfaceStatus | undefined>;
  readonly times: SaTimes;
  /** Monotonic now (same clock as `times`). */
  readonly now: number;
  /** A start: now connection's scheduled retry after a failure (registry.ts), on the clock of `now`. */
  readonly waiting?: (name: string) => RetryWait | undefined;
  /** Only this connection (ikeway status NAME). */
  readonly only?: string;
  /** false: no per-SA kernel queries (the metrics page reads one SA dump instead). */
  readonly kernelCounters?: boolean;
  readonly rcvbufDrops?: number;
  /** Wall clock for certificate expiry (default: now). */
  readonly wallClock?: () => Date;
}

const DAY_MS = 86_400_000;

/** The connection's certificates that expire within 30 days, soonest first. */
export function expiringCertificates(c: Connection, now: Date): CertificateExpiry[] {
  if (c.auth.kind !== 'cert') return [];
  const a = c.auth;
  const all = [
    { role: 'local' as const, cert: a.cert },
    ...a.chain.map((cert) => ({ role: 'chain' as const, cert })),
    ...a.ca.map((cert) => ({ role: 'ca' as const, cert })),
  ];
  return all
    .map(({ role, cert }) => {
      const end = Date.parse(cert.validTo);
      return { role, subject: cert.subject.replace(/\n/g, ', '), notAfter: new Date(end).toISOString(), end };
    })
    .filter((x) => x.end - now.getTime() < EXPIRY_WARN_DAYS * DAY_MS)
    .sort((x, y) => x.end - y.end)
    .map(({ end, ...x }) => ({ ...x, days: Math.floor((end - now.getTime()) / DAY_MS) }));
}

/**
 * The live IKE SAs of every connection, in one pass over the engine's SAs (engine.sasOf(name) scans
 * all of them: per connection that made a snapshot of N tunnels cost N^2).
 */
export function sasByConnection(engine: Pick<Engine, 'sas'>): ReadonlyMap<string, readonly IkeSa[]> {
  const m = new Map<string, IkeSa[]>();
  for (const sa of engine.sas()) {
    const l = m.get(sa.config.name);
    if (l) l.push(sa);
    else m.set(sa.config.name, [sa]);
  }
  return m;
}

export async function buildStatus(inp: StatusInput): Promise<StatusReport> {
  const conns = inp.connections.filter((c) => inp.only === undefined || c.name === inp.only);
  const sas = sasByConnection(inp.engine);
  const connections = await Promise.all(
    conns.map(async (c): Promise<ConnectionStatus> => ({
      name: c.name,
      local: c.localAddress.address,
      remote: c.remote === 'any' ? 'any' : c.remote.address,
      mode: c.mode,
      start: c.start,
      localSubnets: c.localSubnets.map((p) => p.text),
      remoteSubnets: c.remoteSubnets.map((p) => p.text),
      ikeProposals: c.ikeProposals,
      espProposals: c.espProposals,
      ...(c.protocol === 'ah' ? { protocol: 'ah' as const, ahProposals: c.ahProposals } : {}),
      failClosedPolicies: inp.failClosed(c.name),
      ...(await ifaceOf(inp, c)),
      ikeSas: await Promise.all(
        (sas.get(c.name) ?? []).map((sa) =>
          ikeStatus(inp.kernel, sa, inp.times, inp.now, inp.kernelCounters),
        ),
      ),
      ...retryStatus(inp.waiting?.(c.name), inp.now),
      ...expiringOf(c, inp.wallClock?.() ?? new Date()),
    })),
  );
  const load: LoadStatus = {
    ...inp.engine.admissionStatus(),
    ...(inp.rcvbufDrops !== undefined ? { rcvbufDrops: inp.rcvbufDrops } : {}),
  };
  return { daemon: inp.daemon, load, connections, counters: inp.engine.counters.nonZero() };
}

function expiringOf(c: Connection, now: Date): { expiring?: CertificateExpiry[] } {
  const e = expiringCertificates(c, now);
  return e.length > 0 ? { expiring: e } : {};
}

async function ifaceOf(inp: StatusInput, c: Connection): Promise<{ interface?: InterfaceStatus }> {
  const i = c.interface && inp.iface ? await inp.iface(c) : undefined;
  return i ? { interface: i } : {};
}
function retryStatus(w: RetryWait | undefined, now: number): { retry?: RetryStatus } {
  if (!w) return {};
  const gaveUp = w.atMs === undefined;
  return {
    retry: {
      reason: w.reason,
      attempt: w.attempt,
      gaveUp,
      ...(gaveUp ? {} : { inSeconds: secs(w.atMs! - now) }),
    },
  };
}
