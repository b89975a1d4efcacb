// What a standby needs to take over one IKE SA and its Child SAs, as a plain record (the state codec
// of the sync channel): SPIs, role, path and NAT state, the negotiated proposal and the seven keys of
// RFC 7296 §2.14, the message-ID window with the cached last response (§2.1, §2.2) and the request in
// flight, and per Child SA its selectors, ESP SPIs, reqid, proposal, keys, the kernel lifetimes with
// the time they started, and the last outbound sequence number reported (RFC 4303 §3.3.3).
//
// Key bytes are hex strings inside this record only. The record is JSON sealed by the sync channel
// (channel.ts); it is never logged (`describeRecord` gives a key-free line for logs).
import type { IkeSa } from '../ike/ike-sa.ts';
import type { ChildSa } from '../ike/child-sa.ts';
import type { InstallContext } from '../ike/kernel-install.ts';
import type { Proposal } from '../ike/proposals.ts';
import type { TrafficSelector } from '../ike/traffic-selectors.ts';
import type { PacketPath } from '../net/transport.ts';

export const RECORD_VERSION = 1;

export interface ChildRecord {
  readonly name: string;
  readonly reqid: number;
  readonly spiIn: number;
  readonly spiOut: number;
  readonly protocol: 'esp' | 'ah';
  readonly mode: 'tunnel' | 'transport';
  readonly initiator: boolean;
  readonly esn: boolean;
  readonly proposal: ProposalRecord;
  readonly localTs: readonly TsRecord[];
  readonly remoteTs: readonly TsRecord[];
  /** encrI, integI, encrR, integR (hex). */
  readonly keys: readonly [string, string, string, string];
  readonly tfcPad?: number;
  /** What it was installed with: lifetimes, marks, if_ids, encap (no keys in it). */
  readonly ctx: InstallContextRecord;
  /** Clock time (ms) the kernel lifetimes started (install on the active). */
  readonly installedAt: number;
  /** Last outbound ESP sequence number read from the active's kernel, and when (ms). */
  readonly oseq?: { readonly value: string; readonly at: number };
}

export interface IkeRecord {
  readonly v: typeof RECORD_VERSION;
  readonly conn: string;
  readonly initiator: boolean;
  readonly spiI: string;
  readonly spiR: string;
  readonly path: PacketPath;
  readonly proposal: ProposalRecord;
  /** SK_d, SK_ai, SK_ar, SK_ei, SK_er, SK_pi, SK_pr (hex; integrity keys empty with an AEAD). */
  readonly keys: readonly string[];
  readonly nextRequestId: number;
  readonly expectedRequestId: number;
  readonly lastResponse?: readonly string[];
  /** Our request in flight when the record was made (re-sent by the node that takes over). */
  readonly outstanding?: { readonly messageId: number; readonly packets: readonly string[] };
  readonly natLocal: boolean;
  readonly natRemote: boolean;
  readonly fragmentation: boolean;
  readonly peerId?: { readonly type: number; readonly data: string };
  readonly children: readonly ChildRecord[];
  /** Clock time (ms) the record was made on the active. */
  readonly at: number;
}

interface ProposalRecord {
  readonly number: number;
  readonly protocol: number;
  readonly spi: string;
  readonly transforms: readonly { type: number; id: number; keyLength?: number }[];
}
type TsRecord = Omit<TrafficSelector, 'start' | 'end'> & { readonly start: string; readonly end: string };
type InstallContextRecord = Omit<InstallContext, 'lifetime'> & { readonly lifetime?: unknown };

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

const proposalRecord = (p: Proposal): ProposalRecord => ({
  number: p.number,
  protocol: p.protocol,
  spi: hex(p.spi),
  transforms: p.transforms.map((t) => ({
    type: t.type,
    id: t.id,
    ...(t.keyLength ? { keyLength: t.keyLength } : {}),
  })),
});
export const proposalOf = (r: ProposalRecord): Proposal =>
  ({ number: r.number, protocol: r.protocol, spi: unhex(r.spi), transforms: r.transforms }) as Proposal;

const tsRecord = (t: TrafficSelector): TsRecord => ({
  ...t,
  start: t.start.toString(),
  end: t.end.toString(),
});
export const tsOf = (t: TsRecord): TrafficSelector => ({ ...t, start: BigInt(t.start), end: BigInt(t.end) });

/** JSON with bigint lifetimes (bytes) as strings tagged "n:". */
const bigToJson = (_k: string, v: unknown) => (typeof v === 'bigint' ? `n:${v}` : v);
const jsonToBig = (_k: string, v: unknown) =>
  typeof v === 'string' && /^n:\d+$/.test(v) ? BigInt(v.slice(2)) : v;
export const ctxOf = (c: InstallContextRecord): InstallContext =>
  JSON.parse(JSON.stringify(c), jsonToBig) as InstallContext;

/** The Child SAs worth taking over: installed (or mid-rekey) with keys and both SAs in the kernel. */
function childRecord(c: ChildSa, installedAt: number, oseq?: ChildRecord['oseq']): ChildRecord | undefined {
  const k = c.keys;
  const ctx = c.installed;
  if (!k || k.destroyed || !ctx || !c.proposal || c.outboundPending) return undefined;
  if (c.state !== 'installed' && c.state !== 'rekeying') return undefined;
  return {
    name: c.config.name,
    reqid: c.reqid,
    spiIn: c.spiIn,
    spiOut: c.spiOut,
    protocol: c.protocol,
    mode: c.mode,
    initiator: c.initiator,
    esn: c.esn,
    proposal: proposalRecord(c.proposal),
    localTs: c.localTs.map(tsRecord),
    remoteTs: c.remoteTs.map(tsRecord),
    keys: [hex(k.encrI), hex(k.integI), hex(k.encrR), hex(k.integR)],
    ...(c.tfcPad !== undefined ? { tfcPad: c.tfcPad } : {}),
    ctx: JSON.parse(JSON.stringify(ctx, bigToJson)) as InstallContextRecord,
    installedAt,
    ...(oseq ? { oseq } : {}),
  };
}

export interface ChildMeta {
  installedAt(c: ChildSa): number;
  oseq(c: ChildSa): ChildRecord['oseq'];
}

/** The record of an established IKE SA, or undefined when it is not one a standby can take over. */
export function ikeRecord(sa: IkeSa, now: number, meta: ChildMeta): IkeRecord | undefined {
  const km = sa.keymat;
  if (!sa.established || !km || km.destroyed || !sa.proposal) return undefined;
  const k = km.keys;
  const out = sa.runner.outstanding;
  const packets = out && outstandingPackets(sa);
  return {
    v: RECORD_VERSION,
    conn: sa.config.name,
    initiator: sa.initiator,
    spiI: hex(sa.spiI),
    spiR: hex(sa.spiR),
    path: { ...sa.path },
    proposal: proposalRecord(sa.proposal),
    keys: [k.skD, k.skAi, k.skAr, k.skEi, k.skEr, k.skPi, k.skPr].map(hex),
    nextRequestId: sa.runner.nextRequestId,
    expectedRequestId: sa.runner.expectedRequestId,
    ...(sa.runner.lastResponse ? { lastResponse: sa.runner.lastResponse.map(hex) } : {}),
    ...(out && packets ? { outstanding: { messageId: out.messageId, packets: packets.map(hex) } } : {}),
    natLocal: sa.natLocal,
    natRemote: sa.natRemote,
    fragmentation: sa.fragmentation,
    ...(sa.peerId ? { peerId: { type: sa.peerId.type, data: hex(sa.peerId.data) } } : {}),
    children: sa.children.flatMap((c) => childRecord(c, meta.installedAt(c), meta.oseq(c)) ?? []),
    at: now,
  };
}

/** The encoded packets of the request in flight (the runner keeps them for retransmission). */
function outstandingPackets(sa: IkeSa): readonly Uint8Array[] | undefined {
  return sa.runner.outstandingPackets;
}

/** A key-free line for logs: SPIs, message IDs, Child SA SPIs. */
export function describeRecord(r: IkeRecord): string {
  const kids = r.children.map((c) => `${c.spiIn.toString(16)}/${c.spiOut.toString(16)}`).join(',');
  return `${r.conn} ${r.spiI}_i ${r.spiR}_r mid ${r.nextRequestId}/${r.expectedRequestId} children [${kids}]`;
}
