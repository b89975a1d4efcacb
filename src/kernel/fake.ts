// An in-memory Kernel for engine tests. It behaves like the real one where engines depend on it:
// EEXIST on duplicate adds, ESRCH/ENOENT on missing objects, unique SPIs within the range, batch
// results per operation, events delivered to subscribers. Tests can set counters, inject events
// and failures, and read every call made (`calls`), keys replaced by their length.
import { constants } from 'node:os';
import { KernelError } from './errors.ts';
import type {
  AllocSpiParams,
  IpProto,
  Kernel,
  KernelEvent,
  KernelOp,
  LifeCurrent,
  PolicyId,
  PolicyInfo,
  PolicyParams,
  SaAlgorithmInfo,
  SaId,
  SaInfo,
  SaParams,
  SaStats,
  Selector,
} from './types.ts';
import { formatAddr, formatCidr, parseAddr, parseCidr } from './xfrm/addr.ts';
import { buildPolicy, buildSa, describePolicy, describeSa } from './xfrm/codec.ts';

const { EEXIST, ESRCH, ENOENT } = constants.errno;

export interface FakeCall {
  method: string;
  /** The argument, with key bytes replaced by `{ keyLength }`. */
  arg: unknown;
}

// Canonical text of addresses and CIDRs, memoized: every SA and policy call parses them, and a
// daemon's calls repeat a handful of values (its own address, the peers', the subnets). Bounded.
const CANON_MAX = 4096;
const canonAddrs = new Map<string, string>();
const canonCidrs = new Map<string, string>();
function memo(m: Map<string, string>, k: string, make: (k: string) => string): string {
  let v = m.get(k);
  if (v === undefined) {
    v = make(k);
    if (m.size >= CANON_MAX) m.clear();
    m.set(k, v);
  }
  return v;
}
const canonAddr = (a: string): string =>
  memo(canonAddrs, a, (x) => {
    const p = parseAddr(x);
    return formatAddr(p.family, p.bytes);
  });
const canonCidr = (c: string): string =>
  memo(canonCidrs, c, (x) => {
    const p = parseCidr(x);
    return formatCidr(p.family, p.bytes, 0, p.prefix);
  });
const canonSel = (s: Selector): string =>
  `${canonCidr(s.src)}>${canonCidr(s.dst)}:${s.proto ?? 0}:${s.sport ?? 0}:${s.dport ?? 0}:${s.ifindex ?? 0}`;
const markKey = (m?: { value: number; mask: number }): string =>
  m ? `${m.value >>> 0}/${m.mask >>> 0}` : '0/0';
const saKey = (id: SaId): string => `${canonAddr(id.dst)}|${id.spi >>> 0}|${id.proto}|${markKey(id.mark)}`;
const polKey = (p: { selector: Selector; dir: string; mark?: PolicyId['mark']; ifId?: number }): string =>
  `${canonSel(p.selector)}|${p.dir}|${markKey(p.mark)}|${p.ifId ?? 0}`;

/**
 * A deep copy of plain parameter data (objects, arrays, bigints, strings, byte arrays): what
 * structuredClone did here, at a fraction of its cost (no serialization round trip).
 */
function copy<T>(x: T): T {
  if (x === null || typeof x !== 'object') return x;
  if (x instanceof Uint8Array) return x.slice() as T;
  if (Array.isArray(x)) return x.map(copy) as T;
  const out: Record<string, unknown> = {};
  for (const k in x) if (Object.hasOwn(x, k)) out[k] = copy((x as Record<string, unknown>)[k]);
  return out as T;
}

/**
 * The kernel's answer as a KernelError, without a stack trace: a missing or existing object is an
 * expected outcome here (a Child SA's uninstall finds policies another one replaced and removed),
 * and capturing a stack is most of an Error's cost. The real kernel's errors carry no JS stack either.
 */
function kernelError(...args: Parameters<typeof KernelError.fromErrno>): KernelError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return KernelError.fromErrno(...args);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** SA statistics of a stored SA (never changed here): one shared object per replay window size. */
const statsShared = new Map<number, Readonly<SaStats>>();
function statsOf(replayWindow: number): SaStats {
  let st = statsShared.get(replayWindow);
  if (!st) {
    st = Object.freeze({ replayWindow, replay: 0, integrityFailed: 0 });
    if (statsShared.size < CANON_MAX) statsShared.set(replayWindow, st);
  }
  return st;
}

/** The algorithm descriptions of stored SAs, one shared object per distinct value (memory). */
const algInfos = new Map<string, Readonly<SaAlgorithmInfo>>();
function algorithmInfo(p: SaParams): Readonly<SaAlgorithmInfo> {
  const { aead, crypt, auth } = p;
  const k = `${aead?.name}/${aead?.key.length}/${aead?.icvBits}|${crypt?.name}/${crypt?.key.length}|${auth?.name}/${auth?.key.length}/${auth?.truncBits}`;
  let info = algInfos.get(k);
  if (!info) {
    const a: SaAlgorithmInfo = {};
    if (aead) a.aead = { name: aead.name, keyBits: aead.key.length * 8, icvBits: aead.icvBits };
    if (crypt) a.crypt = { name: crypt.name, keyBits: crypt.key.length * 8 };
    if (auth) a.auth = { name: auth.name, keyBits: auth.key.length * 8, truncBits: auth.truncBits };
    info = Object.freeze(a);
    if (algInfos.size < CANON_MAX) algInfos.set(k, info);
  }
  return info;
}

function redact(x: unknown): unknown {
  if (x instanceof Uint8Array) return { keyLength: x.length };
  if (Array.isArray(x)) return x.map(redact);
  if (x && typeof x === 'object')
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, redact(v)]));
  return x;
}

export class FakeKernel implements Kernel {
  readonly calls: FakeCall[] = [];
  private readonly sas = new Map<string, SaInfo>();
  private readonly policies = new Map<string, PolicyInfo>();
  private readonly listeners = new Set<(e: KernelEvent) => void>();
  private readonly failures: { method: string; error: KernelError }[] = [];
  private nextIndex = 1;
  private closed = false;
  /** Clock for addTime (Unix seconds); tests may replace it. */
  now: () => number = () => Math.floor(Date.now() / 1000);
  /** Deterministic randomness for SPI choice; tests may replace it. */
  random: () => number = Math.random;

  /**
   * `recordCalls: false` keeps `calls` empty: the daemon's `--kernel memory` runs for days and
   * must not grow a log of every call (nor spend the time redacting each argument).
   */
  /**
   * `validate: false` skips encoding every SA and policy into a netlink message just to validate it
   * (the daemon's memory kernel: the engine's parameters are validated by its tests with the default).
   */
  constructor(private readonly opts: { readonly recordCalls?: boolean; readonly validate?: boolean } = {}) {}

  /** Makes the next call of `method` fail with `error` (e.g. a KernelError with ENOBUFS). */
  failNext(method: keyof Kernel, error: KernelError): void {
    this.failures.push({ method, error });
  }
  /** Delivers an event to every subscriber, as the kernel's multicast would. */
  emit(e: KernelEvent): void {
    for (const l of [...this.listeners]) l(e);
  }
  /** Sets an SA's current lifetime counters (bytes, packets, addTime, useTime). */
  setCounters(id: SaId, cur: Partial<LifeCurrent>): void {
    const sa = this.sas.get(saKey(id));
    if (!sa) throw kernelError(ESRCH, 'setCounters', describeSa(id));
    sa.current = { ...sa.current, ...cur };
  }
  /** Installed SAs and policies, for assertions. */
  get saCount(): number {
    return this.sas.size;
  }
  get policyCount(): number {
    return this.policies.size;
  }

  private enter(method: string, arg: unknown): void {
    if (this.opts.recordCalls !== false) this.calls.push({ method, arg: redact(arg) });
    if (this.closed) throw KernelError.closed(method, 'fake');
    const i = this.failures.findIndex((f) => f.method === method);
    if (i >= 0) throw this.failures.splice(i, 1)[0]!.error;
  }

  async allocSpi(p: AllocSpiParams): Promise<number> {
    this.enter('allocSpi', p);
    const min = p.min ?? 0xc0000000;
    const max = p.max ?? 0xcfffffff;
    if (min < 256 || max < min || max > 0xffffffff)
      throw KernelError.invalid('XFRM_MSG_ALLOCSPI', `${p.proto} ${p.src}->${p.dst}`, 'bad SPI range');
    for (let tries = 0; tries < 64; tries++) {
      const spi = min + Math.floor(this.random() * (max - min + 1));
      const id = { dst: p.dst, spi, proto: p.proto, ...(p.mark ? { mark: p.mark } : {}) };
      if (this.sas.has(saKey(id))) continue;
      this.sas.set(saKey(id), this.info({ ...id, src: p.src, mode: 'transport', reqid: p.reqid ?? 0 }));
      return spi;
    }
    throw kernelError(ENOENT, 'XFRM_MSG_ALLOCSPI', `${p.proto} ${p.src}->${p.dst}`, 'no free SPI');
  }

  /**
   * What is stored for an SA: its parameters without key bytes; copies are handed out (getSa). Nested
   * parameter objects (lifetime, encap, mark) are kept by reference, never modified here: the engine
   * builds them per Child SA and shares one lifetime between its two SAs (memory per SA).
   */
  private info(p: SaParams): SaInfo {
    const { aead: _a, crypt: _c, auth: _u, selector, ...rest } = p;
    return {
      ...rest,
      selector: selector ? { ...selector } : undefined,
      algorithms: algorithmInfo(p),
      current: { bytes: 0n, packets: 0n, addTime: this.now(), useTime: 0 },
      stats: statsOf(p.replayWindow ?? 0),
      ...(p.oseq !== undefined ? { replay: { oseq: p.oseq, seq: 0n } } : {}),
    };
  }

  /** Tests: the outbound SA `id` sent `n` more packets (its sequence counter moves on). */
  sendPackets(id: SaId, n: bigint): void {
    const sa = this.sas.get(saKey(id));
    if (!sa) throw kernelError(ESRCH, 'sendPackets', describeSa(id));
    const oseq = (sa.replay?.oseq ?? 0n) + n;
    this.sas.set(saKey(id), { ...sa, replay: { oseq, seq: sa.replay?.seq ?? 0n } });
  }

  /** Parameter validation with the real netlink encoder (skipped with `validate: false`). */
  private check(build: () => unknown): void {
    if (this.opts.validate !== false) build();
  }

  async addSa(p: SaParams): Promise<void> {
    this.enter('addSa', p);
    this.check(() => buildSa(p)); // same validation as the real encoder
    if (this.sas.has(saKey(p))) throw kernelError(EEXIST, 'XFRM_MSG_NEWSA', describeSa(p));
    this.sas.set(saKey(p), this.info(p));
  }
  async updateSa(p: SaParams): Promise<void> {
    this.enter('updateSa', p);
    this.check(() => buildSa(p, true));
    const old = this.sas.get(saKey(p));
    if (!old) throw kernelError(ESRCH, 'XFRM_MSG_UPDSA', describeSa(p));
    this.sas.set(saKey(p), { ...this.info(p), current: old.current });
  }
  async getSa(id: SaId): Promise<SaInfo> {
    this.enter('getSa', id);
    const sa = this.sas.get(saKey(id));
    if (!sa) throw kernelError(ESRCH, 'XFRM_MSG_GETSA', describeSa(id));
    return copy(sa);
  }
  async deleteSa(id: SaId): Promise<void> {
    this.enter('deleteSa', id);
    if (!this.sas.delete(saKey(id))) throw kernelError(ESRCH, 'XFRM_MSG_DELSA', describeSa(id));
  }
  async dumpSas(): Promise<SaInfo[]> {
    this.enter('dumpSas', undefined);
    return [...this.sas.values()].map((s) => copy(s));
  }
  async flushSas(proto?: IpProto): Promise<void> {
    this.enter('flushSas', proto);
    for (const [k, v] of this.sas) if (!proto || v.proto === proto) this.sas.delete(k);
  }

  async addPolicy(p: PolicyParams): Promise<void> {
    this.enter('addPolicy', p);
    this.check(() => buildPolicy(p));
    if (this.policies.has(polKey(p))) throw kernelError(EEXIST, 'XFRM_MSG_NEWPOLICY', describePolicy(p));
    this.storePolicy(p);
  }
  async updatePolicy(p: PolicyParams): Promise<void> {
    this.enter('updatePolicy', p);
    this.check(() => buildPolicy(p, true));
    this.storePolicy(p); // UPDPOLICY creates the policy if missing, like the kernel
  }
  private storePolicy(p: PolicyParams): void {
    const key = polKey(p);
    const old = this.policies.get(key);
    const index = p.index || old?.index || this.nextIndex++ * 8 + ['in', 'out', 'fwd'].indexOf(p.dir);
    const current = old?.current ?? { bytes: 0n, packets: 0n, addTime: this.now(), useTime: 0 };
    this.policies.set(key, { ...copy(p), index, current });
  }
  private findPolicy(id: PolicyId): [string, PolicyInfo] | undefined {
    if (id.index) return [...this.policies].find(([, v]) => v.index === id.index);
    const k = polKey(id);
    const v = this.policies.get(k);
    return v ? [k, v] : undefined;
  }
  async getPolicy(id: PolicyId): Promise<PolicyInfo> {
    this.enter('getPolicy', id);
    const f = this.findPolicy(id);
    if (!f) throw kernelError(ENOENT, 'XFRM_MSG_GETPOLICY', describePolicy(id));
    return copy(f[1]);
  }
  async deletePolicy(id: PolicyId): Promise<void> {
    this.enter('deletePolicy', id);
    const f = this.findPolicy(id);
    if (!f) throw kernelError(ENOENT, 'XFRM_MSG_DELPOLICY', describePolicy(id));
    this.policies.delete(f[0]);
  }
  async dumpPolicies(): Promise<PolicyInfo[]> {
    this.enter('dumpPolicies', undefined);
    return [...this.policies.values()].map((p) => copy(p));
  }
  async flushPolicies(): Promise<void> {
    this.enter('flushPolicies', undefined);
    this.policies.clear();
  }

  async batch(ops: readonly KernelOp[]): Promise<(KernelError | null)[]> {
    this.enter('batch', { count: ops.length });
    const run = (op: KernelOp): Promise<void> => {
      switch (op.op) {
        case 'addSa':
          return this.addSa(op.sa);
        case 'updateSa':
          return this.updateSa(op.sa);
        case 'deleteSa':
          return this.deleteSa(op.id);
        case 'addPolicy':
          return this.addPolicy(op.policy);
        case 'updatePolicy':
          return this.updatePolicy(op.policy);
        case 'deletePolicy':
          return this.deletePolicy(op.id);
      }
    };
    const out: (KernelError | null)[] = [];
    for (const op of ops) {
      try {
        await run(op);
        out.push(null);
      } catch (e) {
        out.push(e instanceof KernelError ? e : KernelError.invalid(op.op, 'batch', String(e)));
      }
    }
    return out;
  }

  onEvent(listener: (e: KernelEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }
}
