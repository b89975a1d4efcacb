// Netlink replies are input too (a kernel of another version, a bug, a hostile netlink peer): the XFRM
// codec parse functions and the channel's reply path must answer a malformed reply with KernelError
// 'protocol', never with a TypeError or an exception out of the socket callback (which would kill
// the daemon). Seeds: reply layouts as the kernel sends them (NEWSA/NEWPOLICY bodies are the same
// structs as the requests, <linux/xfrm.h>), events, NLMSG_ERROR with extended ACK, NLMSG_DONE.
import { KernelError } from '../../../src/kernel/errors.ts';
import { buildPolicy, buildSa, parseEvent, parsePolicy, parseSa } from '../../../src/kernel/xfrm/codec.ts';
import { NetlinkChannel, type Transport } from '../../../src/kernel/xfrm/channel.ts';
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_ACK_TLVS,
  NLM_F_MULTI,
  NLMSGERR_ATTR_MSG,
  XfrmMsg,
} from '../../../src/kernel/xfrm/constants.ts';
import { concat, encodeNlMsg, nla, parseNlError, parseNlMsgs } from '../../../src/kernel/xfrm/nlmsg.ts';
import { FuzzFinding, type FuzzSession, type FuzzTarget } from './runner.ts';

const saBody = (): Uint8Array =>
  buildSa({
    src: '192.0.2.1',
    dst: '198.51.100.1',
    spi: 0xc0000001,
    proto: 'esp',
    mode: 'tunnel',
    reqid: 7,
    aead: { name: 'rfc4106(gcm(aes))', key: new Uint8Array(36).fill(0x11), icvBits: 128 },
    replayWindow: 128,
    encap: { sport: 4500, dport: 4500 },
    mark: { value: 1, mask: 0xff },
    ifId: 3,
    selector: { src: '10.1.0.0/24', dst: '10.2.0.0/24' },
  }).payload;
const sa6Body = (): Uint8Array =>
  buildSa({
    src: '2001:db8::1',
    dst: '2001:db8::2',
    spi: 0xc0000002,
    proto: 'esp',
    mode: 'transport',
    reqid: 8,
    crypt: { name: 'cbc(aes)', key: new Uint8Array(32).fill(0x22) },
    auth: { name: 'hmac(sha256)', key: new Uint8Array(32).fill(0x33), truncBits: 128 },
  }).payload;
const policyBody = (): Uint8Array =>
  buildPolicy({
    selector: { src: '10.1.0.0/24', dst: '10.2.0.0/24', proto: 6, sport: 1, dport: 2 },
    dir: 'out',
    action: 'allow',
    priority: 1000,
    templates: [{ src: '192.0.2.1', dst: '198.51.100.1', proto: 'esp', mode: 'tunnel', reqid: 7 }],
    mark: { value: 1, mask: 0xff },
    ifId: 3,
  }).payload;

const errMsg = (errno: number, seq: number, text?: string): Uint8Array => {
  const orig = encodeNlMsg(XfrmMsg.NEWSA, 5, seq, new Uint8Array(0));
  const e = new Uint8Array(4);
  new DataView(e.buffer).setInt32(0, -errno, true);
  const tlv = text ? nla(NLMSGERR_ATTR_MSG, new TextEncoder().encode(`${text}\0`)) : new Uint8Array(0);
  return encodeNlMsg(NLMSG_ERROR, text ? NLM_F_ACK_TLVS : 0, seq, concat([e, orig, tlv]));
};

/** The XFRM parse functions: input [selector, ...payload]. */
const PARSERS: readonly ((p: Uint8Array) => unknown)[] = [
  (p) => parseSa(p),
  (p) => parsePolicy(p),
  (p) => parseEvent(XfrmMsg.ACQUIRE, p),
  (p) => parseEvent(XfrmMsg.EXPIRE, p),
  (p) => parseEvent(XfrmMsg.POLEXPIRE, p),
  (p) => parseEvent(XfrmMsg.MAPPING, p),
  (p) => parseNlMsgs(p).map((m) => (m.type === NLMSG_ERROR ? parseNlError(m) : m)),
];

function codecSeeds(): Uint8Array[] {
  const expire = new Uint8Array(232);
  expire.set(saBody().subarray(0, 224));
  expire[224] = 1;
  const acquire = new Uint8Array(280);
  acquire.set(policyBody().subarray(0, 168), 96);
  const polexpire = new Uint8Array(176);
  polexpire.set(policyBody().subarray(0, 168));
  const mapping = new Uint8Array(64);
  mapping.set([198, 51, 100, 1], 0);
  mapping.set([2, 0, 50], 20);
  const frames = concat([encodeNlMsg(XfrmMsg.NEWSA, NLM_F_MULTI, 9, saBody()), errMsg(22, 9, 'bad key')]);
  return [
    Uint8Array.of(0, ...saBody()),
    Uint8Array.of(0, ...sa6Body()),
    Uint8Array.of(1, ...policyBody()),
    Uint8Array.of(2, ...acquire),
    Uint8Array.of(3, ...expire),
    Uint8Array.of(4, ...polexpire),
    Uint8Array.of(5, ...mapping),
    Uint8Array.of(6, ...frames),
  ];
}

const xfrmCodec: FuzzTarget = {
  name: 'netlink-codec',
  description: 'XFRM parse functions (SA, policy, ACQUIRE/EXPIRE/POLEXPIRE/MAPPING) and nlmsg framing',
  open: async (): Promise<FuzzSession> => ({
    corpus: codecSeeds(),
    run(input) {
      if (input.length === 0) return;
      const parse = PARSERS[input[0]! % PARSERS.length]!;
      try {
        parse(input.subarray(1));
      } catch (e) {
        if (!(e instanceof KernelError))
          throw new FuzzFinding(`untyped: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, input);
      }
    },
    close: () => undefined,
  }),
};

/** A netlink socket stand-in: the test delivers datagrams; the last sent header's seq is visible. */
class FakeNetlink implements Transport {
  deliver: (data: Uint8Array) => void = () => undefined;
  lastSeq = 0;
  send(data: Uint8Array, cb: (err?: Error) => void): void {
    this.lastSeq = new DataView(data.buffer, data.byteOffset).getUint32(8, true);
    cb();
  }
  onMessage(fn: (data: Uint8Array) => void): void {
    this.deliver = fn;
  }
  addMembership(): void {}
  ref(): void {}
  close(): void {}
}

/**
 * The channel's reply path with a request pending: each input is a reply datagram whose first
 * message's seq is set to the pending request's. Nothing may throw out of the socket callback; the
 * request settles with messages or a KernelError, or stays pending (then close() rejects it).
 */
const channel: FuzzTarget = {
  name: 'netlink-channel',
  description: 'NetlinkChannel reply parsing (replies matched by seq, NLMSG_ERROR/DONE/OVERRUN)',
  async open(): Promise<FuzzSession> {
    const corpus = [
      errMsg(0, 1),
      errMsg(17, 1, 'SA exists'),
      concat([
        encodeNlMsg(XfrmMsg.NEWSA, NLM_F_MULTI, 1, saBody()),
        encodeNlMsg(NLMSG_DONE, NLM_F_MULTI, 1, new Uint8Array(4)),
      ]),
      concat([encodeNlMsg(XfrmMsg.NEWPOLICY, 0, 1, policyBody()), errMsg(0, 1)]),
    ];
    let settled = 0;
    return {
      corpus,
      async run(input) {
        const t = new FakeNetlink();
        const ch = new NetlinkChannel(t, 60_000);
        let outcome: unknown = 'pending';
        const p = ch.request({
          type: XfrmMsg.GETSA,
          payload: new Uint8Array(0),
          name: 'GETSA',
          object: 'fuzz',
        });
        p.then(
          (v) => (outcome = v),
          (e: unknown) => (outcome = e),
        );
        const m = input.slice();
        if (m.length >= 12) new DataView(m.buffer).setUint32(8, t.lastSeq, true);
        try {
          t.deliver(m);
        } catch (e) {
          ch.close();
          await p.catch(() => undefined);
          throw new FuzzFinding(
            `exception out of the netlink receive callback: ${(e as Error).stack ?? String(e)}`,
            input,
          );
        }
        ch.close();
        await p.catch(() => undefined);
        if (outcome !== 'pending' && !Array.isArray(outcome) && !(outcome instanceof KernelError))
          throw new FuzzFinding(`request settled with ${String(outcome)}`, input);
        settled++;
      },
      stats: () => ({ settled }),
      close: () => undefined,
    };
  },
};

export const NETLINK_TARGETS: readonly FuzzTarget[] = [xfrmCodec, channel];
