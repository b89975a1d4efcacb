// The real Kernel over NETLINK_XFRM. One socket for requests, a second one (opened on the first
// onEvent) joined to the ACQUIRE, EXPIRE, MAPPING and POLICY multicast groups, so events never
// mix with replies. A netlink socket belongs to the network namespace of the process opening it.
import { KernelError } from '../errors.ts';
import type {
  AllocSpiParams,
  IpProto,
  Kernel,
  KernelEvent,
  KernelOp,
  KernelOptions,
  PolicyId,
  PolicyInfo,
  PolicyParams,
  SaId,
  SaInfo,
  SaParams,
} from '../types.ts';
import { NETLINK_XFRM, XfrmGroup, XfrmMsg, xfrmMsgName } from './constants.ts';
import { NetlinkChannel, rawTransport, type ChannelRequest, type Transport } from './channel.ts';
import {
  buildAllocSpi,
  buildFlushPolicy,
  buildFlushSa,
  buildPolicy,
  buildPolicyId,
  buildSa,
  buildSaId,
  parseEvent,
  parsePolicy,
  parseSa,
  parseSaSpi,
  type Request,
} from './codec.ts';
import type { NlMsg } from './nlmsg.ts';

export interface XfrmKernelOptions extends KernelOptions {
  /** Replaces the netlink socket (tests); called once for requests and once for events. */
  transport?: (purpose: 'requests' | 'events') => Transport;
  /**
   * Socket errors of either netlink socket (ENOBUFS: replies or events were lost). Without it
   * they are dropped; a request whose reply was lost fails with its timeout either way.
   */
  onSocketError?: (purpose: 'requests' | 'events', e: Error) => void;
}

/** Opens the XFRM kernel backend in the current network namespace. */
export async function openXfrmKernel(opts: XfrmKernelOptions = {}): Promise<Kernel> {
  const make = opts.transport ?? (() => rawTransport(NETLINK_XFRM));
  return new XfrmKernel(make, opts.timeoutMs ?? 5000, opts.onSocketError);
}

const toReq = (r: Request): ChannelRequest => ({
  type: r.type,
  payload: r.payload,
  object: r.object,
  name: xfrmMsgName(r.type),
});

/** Encodes one batch operation; encoding errors are returned, not thrown. */
function encodeOp(op: KernelOp): ChannelRequest {
  switch (op.op) {
    case 'addSa':
      return toReq(buildSa(op.sa));
    case 'updateSa':
      return toReq(buildSa(op.sa, true));
    case 'deleteSa':
      return toReq(buildSaId(XfrmMsg.DELSA, op.id));
    case 'addPolicy':
      return toReq(buildPolicy(op.policy));
    case 'updatePolicy':
      return toReq(buildPolicy(op.policy, true));
    case 'deletePolicy':
      return toReq(buildPolicyId(XfrmMsg.DELPOLICY, op.id));
  }
}

class XfrmKernel implements Kernel {
  private readonly ch: NetlinkChannel;
  private events: NetlinkChannel | undefined;
  private readonly listeners = new Set<(e: KernelEvent) => void>();
  /** The kernel runs one dump per netlink socket at a time (a second one fails with EBUSY). */
  private dumps: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly make: (purpose: 'requests' | 'events') => Transport,
    private readonly timeoutMs: number,
    private readonly onSocketError?: (purpose: 'requests' | 'events', e: Error) => void,
  ) {
    this.ch = new NetlinkChannel(make('requests'), timeoutMs);
    this.ch.onSocketError = (e) => this.onSocketError?.('requests', e);
  }

  private async one(r: ChannelRequest): Promise<NlMsg[]> {
    return this.ch.request(r);
  }

  /** A dump request, after any dump still running on the socket (callers may ask concurrently). */
  private dump(r: ChannelRequest): Promise<NlMsg[]> {
    const p = this.dumps.then(
      () => this.one(r),
      () => this.one(r),
    );
    this.dumps = p.catch(() => undefined);
    return p;
  }

  private first(msgs: NlMsg[], type: number, r: ChannelRequest): NlMsg {
    const m = msgs.find((x) => x.type === type);
    if (!m) throw new KernelError('protocol', 0, r.name, r.object, `no ${xfrmMsgName(type)} in reply`);
    return m;
  }

  async allocSpi(p: AllocSpiParams): Promise<number> {
    const r = toReq(buildAllocSpi(p));
    const reply = this.first(await this.one(r), XfrmMsg.NEWSA, r);
    return parseSaSpi(reply.payload);
  }
  async addSa(p: SaParams): Promise<void> {
    await this.one(toReq(buildSa(p)));
  }
  async updateSa(p: SaParams): Promise<void> {
    await this.one(toReq(buildSa(p, true)));
  }
  async getSa(id: SaId): Promise<SaInfo> {
    const r = toReq(buildSaId(XfrmMsg.GETSA, id));
    return parseSa(this.first(await this.one(r), XfrmMsg.NEWSA, r).payload);
  }
  async deleteSa(id: SaId): Promise<void> {
    await this.one(toReq(buildSaId(XfrmMsg.DELSA, id)));
  }
  async dumpSas(): Promise<SaInfo[]> {
    const r: ChannelRequest = {
      type: XfrmMsg.GETSA,
      payload: new Uint8Array(0),
      name: 'XFRM_MSG_GETSA',
      object: 'dump',
      dump: true,
    };
    return (await this.dump(r)).filter((m) => m.type === XfrmMsg.NEWSA).map((m) => parseSa(m.payload));
  }
  async flushSas(proto?: IpProto): Promise<void> {
    await this.one(toReq(buildFlushSa(proto)));
  }
  async addPolicy(p: PolicyParams): Promise<void> {
    await this.one(toReq(buildPolicy(p)));
  }
  async updatePolicy(p: PolicyParams): Promise<void> {
    await this.one(toReq(buildPolicy(p, true)));
  }
  async getPolicy(id: PolicyId): Promise<PolicyInfo> {
    const r = toReq(buildPolicyId(XfrmMsg.GETPOLICY, id));
    return parsePolicy(this.first(await this.one(r), XfrmMsg.NEWPOLICY, r).payload);
  }
  async deletePolicy(id: PolicyId): Promise<void> {
    await this.one(toReq(buildPolicyId(XfrmMsg.DELPOLICY, id)));
  }
  async dumpPolicies(): Promise<PolicyInfo[]> {
    const r: ChannelRequest = {
      type: XfrmMsg.GETPOLICY,
      payload: new Uint8Array(0),
      name: 'XFRM_MSG_GETPOLICY',
      object: 'dump',
      dump: true,
    };
    return (await this.dump(r))
      .filter((m) => m.type === XfrmMsg.NEWPOLICY)
      .map((m) => parsePolicy(m.payload));
  }
  async flushPolicies(): Promise<void> {
    await this.one(toReq(buildFlushPolicy()));
  }

  async batch(ops: readonly KernelOp[]): Promise<(KernelError | null)[]> {
    const results: (KernelError | null)[] = new Array<KernelError | null>(ops.length).fill(null);
    const reqs: ChannelRequest[] = [];
    const at: number[] = [];
    ops.forEach((op, i) => {
      try {
        reqs.push(encodeOp(op));
        at.push(i);
      } catch (e) {
        results[i] = e instanceof KernelError ? e : KernelError.invalid(op.op, 'batch', String(e));
      }
    });
    const settled = await Promise.allSettled(this.ch.pipeline(reqs));
    settled.forEach((s, j) => {
      if (s.status === 'rejected')
        results[at[j]!] =
          s.reason instanceof KernelError ? s.reason : KernelError.invalid('batch', 'op', String(s.reason));
    });
    return results;
  }

  onEvent(listener: (e: KernelEvent) => void): () => void {
    if (!this.events) {
      const ch = new NetlinkChannel(this.make('events'), this.timeoutMs);
      for (const g of [XfrmGroup.ACQUIRE, XfrmGroup.EXPIRE, XfrmGroup.MAPPING]) ch.joinGroup(g);
      ch.onUnsolicited = (m) => this.dispatch(m);
      ch.onSocketError = (e) => this.onSocketError?.('events', e);
      this.events = ch;
    }
    this.listeners.add(listener);
    this.events.holdOpen(true);
    return () => {
      this.listeners.delete(listener);
      this.events?.holdOpen(this.listeners.size > 0);
    };
  }

  private dispatch(m: NlMsg): void {
    let e: KernelEvent | undefined;
    try {
      e = parseEvent(m.type, m.payload);
    } catch {
      return; // a truncated event is dropped; nothing to answer
    }
    if (e) for (const l of [...this.listeners]) l(e);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.events?.close();
    this.ch.close();
  }
}
