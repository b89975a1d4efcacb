// Promotion: an IKE SA record (record.ts) becomes a live IKE SA of this node's engine, with the same
// SPIs, keys and message-ID window, and its Child SAs go into the kernel with their policies. The peer
// sees nothing: its next request carries the message ID we expect (or is the retransmission we answer
// from the cached response, RFC 7296 §2.1), and our next request carries the ID it expects.
//
// Outbound ESP sequence numbers (RFC 4303 §3.3.3: never reuse one under the same key): the active
// reports the last one its kernel used at most `reportMs` before it died; in that time and since, it
// sent at most `maxPacketRate` packets a second. The outbound SA starts at
//   reported + maxPacketRate × (now − reportedAt + reportMs) / 1000
// (without any report: maxPacketRate × time since install), see docs/ha.md.
import { IkeSaKeys, ChildSaKeys } from '../crypto/index.ts';
import { childNamed } from '../ike/child-config.ts';
import { ChildSa } from '../ike/child-sa.ts';
import type { Engine } from '../ike/engine.ts';
import { IkeSa } from '../ike/ike-sa.ts';
import { IkeKeymat, resolveEsp, resolveIke } from '../ike/keymat.ts';
import { saParams, type InstallContext } from '../ike/kernel-install.ts';
import { markOnly } from '../ike/xfrm-ids.ts';
import { ctxOf, proposalOf, tsOf, unhex, type ChildRecord, type IkeRecord } from './record.ts';

export interface SeqPolicy {
  /** Packets per second one outbound SA may carry at most (the jump's rate). */
  readonly maxPacketRate: number;
  /** How often the active reports sequence numbers (ms). */
  readonly reportMs: number;
}

/** The first outbound sequence number the new active may use (see the file comment). */
export function seqStart(c: ChildRecord, now: number, p: SeqPolicy): bigint {
  const rate = BigInt(Math.ceil(p.maxPacketRate));
  if (c.oseq) {
    const age = BigInt(Math.max(0, Math.ceil(now - c.oseq.at + p.reportMs)));
    return BigInt(c.oseq.value) + (rate * age) / 1000n + 1n;
  }
  return (rate * BigInt(Math.max(0, Math.ceil(now - c.installedAt + p.reportMs)))) / 1000n + 1n;
}

/** RFC 4303 §2.2: without ESN the counter is 32 bits; closer than this to the end we rekey at once. */
const NO_ESN_LIMIT = 0xf000_0000n;

/** Remaining kernel lifetimes: the active's, less the time since they started. */
function remaining(ctx: InstallContext, elapsedMs: number): InstallContext {
  const lt = ctx.lifetime;
  if (!lt) return ctx;
  const less = (s: number | undefined) =>
    s === undefined ? undefined : Math.max(1, s - Math.floor(elapsedMs / 1000));
  const side = (x: typeof lt.soft) => {
    const seconds = less(x?.seconds);
    return { ...x, ...(seconds !== undefined ? { seconds } : {}) };
  };
  return { ...ctx, lifetime: { soft: side(lt.soft), hard: side(lt.hard) } };
}

async function restoreChild(engine: Engine, sa: IkeSa, r: ChildRecord, now: number, seq: SeqPolicy) {
  const config = childNamed(sa.config, r.name);
  if (!config) throw new Error(`connection ${sa.config.name} has no child ${r.name}`);
  engine.reserveReqid(r.reqid);
  const child = new ChildSa({
    id: engine.nextChildId(),
    name: r.name,
    config,
    reqid: r.reqid,
    spiIn: r.spiIn,
    localAddr: sa.path.localAddr,
    ...markOnly(config, 'in'),
    logger: sa.logger,
    protocol: r.protocol,
  });
  child.initiator = r.initiator;
  child.spiOut = r.spiOut;
  child.mode = r.mode;
  child.proposal = proposalOf(r.proposal);
  const algs = resolveEsp(child.proposal);
  child.encr = algs.encr;
  child.integ = algs.integ;
  child.esn = r.esn;
  child.localTs = r.localTs.map(tsOf);
  child.remoteTs = r.remoteTs.map(tsOf);
  child.tfcPad = r.tfcPad;
  child.keys = new ChildSaKeys(...(r.keys.map(unhex) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array]));
  child.retainKeys = engine.options.retainChildKeys;
  const ctx = remaining(ctxOf(r.ctx), now - r.installedAt);
  sa.addChild(child);
  // Inbound SA and policies first; the outbound SA then, with its sequence number moved on.
  await child.install(engine.kernel, ctx, true);
  const oseq = seqStart(r, now, seq);
  const exhausted = !r.esn && oseq >= NO_ESN_LIMIT;
  child.outboundPending = false;
  // Exhausted (no ESN): the counter stands at its end, so the kernel sends nothing on these keys
  // (it refuses to wrap, RFC 4303 §3.3.3) until the rekey queued below replaces the Child SA.
  await engine.kernel.addSa({ ...saParams(child, ctx, false), oseq: exhausted ? 0xffff_ffffn : oseq });
  child.releaseKeys();
  engine.emit({ type: 'child-installed', sa, child });
  return { child, rekeyNow: exhausted };
}

/** Builds the IKE SA of `r` in `engine`, installs its Child SAs, and arms its timers. */
export async function restoreIkeSa(
  engine: Engine,
  r: IkeRecord,
  now: number,
  seq: SeqPolicy,
): Promise<IkeSa> {
  const config = engine.connection(r.conn);
  if (!config) throw new Error(`no connection ${r.conn} on this node`);
  const sa = new IkeSa({
    services: engine,
    config,
    initiator: r.initiator,
    path: { ...r.path },
    spiI: unhex(r.spiI),
    spiR: unhex(r.spiR),
  });
  sa.proposal = proposalOf(r.proposal);
  sa.algorithms = resolveIke(sa.proposal);
  const k = r.keys.map(unhex) as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  const none = new Uint8Array(0);
  sa.keymat = new IkeKeymat(sa.algorithms, new IkeSaKeys(...k), none, none, sa.spiI, sa.spiR, r.initiator);
  sa.natLocal = r.natLocal;
  sa.natRemote = r.natRemote;
  sa.fragmentation = r.fragmentation;
  if (r.peerId) sa.peerId = { type: r.peerId.type, data: unhex(r.peerId.data) } as IkeSa['peerId'];
  sa.lastInbound = now;
  // RFC 7296 §2.1/§2.2: a request of ours in flight goes out again with its message ID (same bytes:
  // the peer answers it, or answers it from its cache); its answer is dropped as unexpected.
  const out = r.outstanding;
  sa.runner.resume({
    nextRequestId: out ? out.messageId + 1 : r.nextRequestId,
    expectedRequestId: r.expectedRequestId,
    ...(r.lastResponse ? { lastResponse: r.lastResponse.map(unhex) } : {}),
  });
  sa.setState('connecting');
  sa.setState('established');
  sa.wasEstablished = true;
  engine.indexSa(sa);
  const rekey: ChildSa[] = [];
  for (const c of r.children) {
    const { child, rekeyNow } = await restoreChild(engine, sa, c, now, seq);
    if (rekeyNow) rekey.push(child);
  }
  if (out) for (const p of out.packets) engine.send(unhex(p), sa.path);
  engine.emit({ type: 'ike-established', sa });
  for (const c of rekey) sa.queueChildRekey(c);
  return sa;
}
