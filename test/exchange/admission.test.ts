// Admission under load (src/ike/admission.ts): RFC 7296 §2.5 UNSUPPORTED_CRITICAL_PAYLOAD, the
// per-source half-open limit, the room reserved for peers named by address with flooding sources
// aged out first, and RFC 8019 puzzles (an ikeway initiator solves them; a flooder that does not
// gets nowhere). Requests from "attackers" are crafted (src/lab/flood.ts) and injected.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import {
  CRITICAL_FLAG,
  NotifyType,
  decodeMessage,
  decodePuzzleData,
  encodeMessage,
  type IkeMessage,
  type Payload,
} from '../../src/codec/index.ts';
import { notify } from '../../src/ike/wire.ts';
import { floodTemplate, freshRequest } from '../../lab/robust/flood.ts';
import { ADDR_A, ADDR_B, connection, established, pair } from './harness.ts';

const tpl = floodTemplate('aes256gcm16-prfsha256-x25519');
const from = (addr: string) => ({ localAddr: ADDR_B, localPort: 500, remoteAddr: addr, remotePort: 500 });
const repliesTo = (h: ReturnType<typeof pair>, addr: string): IkeMessage[] =>
  h.net.log.filter((d) => d.dstAddr === addr && d.srcAddr === ADDR_B).map((d) => decodeMessage(d.data));
const notifyOf = (m: IkeMessage, type: number) =>
  m.payloads.find(
    (p): p is Extract<Payload, { kind: 'NOTIFY' }> => p.kind === 'NOTIFY' && p.notifyType === type,
  );
const anyConn = () => connection('b', { name: 'any', remoteAddr: undefined, remoteId: undefined });
const fromAddr = (h: ReturnType<typeof pair>, addr: string) =>
  h.b.engine.sas().filter((sa) => sa.path.remoteAddr === addr && sa.state !== 'destroyed');

test('RFC 7296 §2.5: IKE_SA_INIT with an unknown critical payload gets UNSUPPORTED_CRITICAL_PAYLOAD', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const base = decodeMessage(freshRequest(tpl));
  const bad = encodeMessage({
    header: base.header,
    payloads: [
      ...base.payloads,
      { kind: 'UNKNOWN', type: 200, flags: CRITICAL_FLAG, data: new Uint8Array(4) },
    ],
  });
  h.net.inject(bad, from(ADDR_A));
  await h.settle(0);
  const r = repliesTo(h, ADDR_A);
  assert.equal(r.length, 1);
  // "the notification data contains the one-octet payload type" (§3.10.1), answered statelessly.
  assert.deepEqual(notifyOf(r[0]!, NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD)?.data, Uint8Array.of(200));
  assert.deepEqual(r[0]!.header.spiI, base.header.spiI);
  assert.ok(r[0]!.header.spiR.every((b) => b === 0));
  assert.equal(h.b.counters.get('ike.unsupported_critical_sent'), 1);
  assert.equal(h.b.engine.sas().length, 0);
  // A non-critical unknown payload is skipped: the request is served.
  const ok = encodeMessage({
    header: { ...base.header, spiI: base.header.spiI.map((b) => b ^ 0xff) },
    payloads: [...base.payloads, { kind: 'UNKNOWN', type: 200, flags: 0, data: new Uint8Array(4) }],
  });
  h.net.inject(ok, from(ADDR_A));
  await h.settle(0);
  assert.equal(h.b.engine.sas().length, 1);
});

test('per-source limit: a source holds at most half-open-per-source half-open SAs, the rest dropped before DH', async (t) => {
  const h = pair({ optionsB: { halfOpenPerSource: 3, cookieThreshold: 1000 } });
  t.after(() => h.close());
  h.b.engine.addConnection(anyConn());
  const src = '198.51.100.9';
  for (let i = 0; i < 7; i++) h.net.inject(freshRequest(tpl), from(src));
  await h.settle(0);
  assert.equal(fromAddr(h, src).length, 3);
  assert.equal(h.b.counters.get('ike.drop_source_half_open'), 4);
  assert.equal(repliesTo(h, src).length, 3);
  const st = h.b.engine.admissionStatus();
  assert.equal(st.halfOpen, 3);
  assert.equal(st.maxPerSource, 3);
  assert.deepEqual(st.topSources, [{ addr: src, halfOpen: 3 }]);
});

test('per-source limit: a peer named by address is exempt (spoofed requests cannot use up its quota)', async (t) => {
  const h = pair({ optionsB: { halfOpenPerSource: 3, cookieThreshold: 1000 } });
  t.after(() => h.close());
  for (let i = 0; i < 5; i++) h.net.inject(freshRequest(tpl), from(ADDR_A));
  await h.settle(0);
  assert.equal(fromAddr(h, ADDR_A).length, 5);
  assert.equal(h.b.counters.get('ike.drop_source_half_open'), 0);
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
});

test('a full table: the peer named by address uses the reserved room; a remote-any peer ages out the heaviest source', async (t) => {
  const h = pair({
    optionsB: { halfOpenLimit: 8, halfOpenReserved: 2, halfOpenPerSource: 3, cookieThreshold: 1000 },
  });
  t.after(() => h.close());
  h.b.engine.addConnection(anyConn());
  const flooders = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];
  for (let round = 0; round < 3; round++) for (const f of flooders) h.net.inject(freshRequest(tpl), from(f));
  await h.settle(0);
  // 9 requests, 6 of unreserved room: the third source's requests could only push out its equals.
  assert.equal(h.b.engine.admissionStatus().halfOpen, 6);
  assert.ok(h.b.counters.get('ike.drop_half_open_limit') > 0);
  // The configured peer (A, named by address) gets the reserved room and its tunnel.
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  // A remote-any peer with no half-open SA: the heaviest flooder's oldest half-open SA goes.
  const legit = '192.0.2.77';
  const evictedBefore = h.b.counters.get('ike.evict_half_open');
  h.net.inject(freshRequest(tpl), from(legit));
  await h.settle(0);
  assert.equal(h.b.counters.get('ike.evict_half_open'), evictedBefore + 1);
  assert.equal(fromAddr(h, legit).length, 1);
  assert.ok(h.b.engine.admissionStatus().halfOpen <= 8);
});

test('RFC 8019: above the rate, a remote-any responder poses puzzles; ikeway solves them, a flooder gets nowhere', async (t) => {
  const puzzles = { enabled: true, above: 2, difficulty: 6, maxDifficulty: 8, holdMs: 60_000 };
  const h = pair({ optionsB: { cookieThreshold: 0, puzzles } });
  t.after(() => h.close());
  h.b.engine.removeConnection('site');
  h.b.engine.addConnection({ ...anyConn(), name: 'site' });
  const F = '198.51.100.9';
  for (let i = 0; i < 10; i++) h.net.inject(freshRequest(tpl), from(F));
  await h.settle(1100);
  // The flooder answers its COOKIE without solving anything.
  const req = decodeMessage(h.net.log.find((d) => d.srcAddr === F)!.data);
  const cookie = notifyOf(
    repliesTo(h, F).find((m) => m.header.spiI.every((b, i) => b === req.header.spiI[i]))!,
    NotifyType.COOKIE,
  )!;
  h.net.inject(
    encodeMessage({
      header: req.header,
      payloads: [notify(NotifyType.COOKIE, cookie.data), ...req.payloads],
    }),
    from(F),
  );
  await h.settle(0);
  // 10 requests in 1.1 s = 9/s at above 2/s: 6 + floor(log2(4.5)) = 8 bits.
  assert.equal(h.b.engine.admissionStatus().puzzleDifficulty, 8);
  assert.equal(h.b.counters.get('ike.drop_puzzle_missing'), 1);
  assert.equal(fromAddr(h, F).length, 0);
  const last = repliesTo(h, F).at(-1)!;
  assert.deepEqual(decodePuzzleData(notifyOf(last, NotifyType.PUZZLE)!.data), { prf: 5, difficulty: 8 });
  // A wrong solution is refused the same way.
  const ck2 = notifyOf(last, NotifyType.COOKIE)!.data;
  h.net.inject(
    encodeMessage({
      header: req.header,
      payloads: [
        notify(NotifyType.COOKIE, ck2),
        { kind: 'PS', data: new Uint8Array(32).fill(1) },
        ...req.payloads,
      ],
    }),
    from(F),
  );
  await h.settle(0);
  assert.equal(fromAddr(h, F).length, 0);
  // ikeway as initiator: COOKIE + PUZZLE, solved, then the IKE SA and its Child SA.
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  assert.equal(h.a.counters.get('ike.puzzle_solved'), 1);
  assert.ok(h.b.counters.get('ike.puzzle_sent') >= 2);
  assert.equal(established(h.b).length, 1);
  assert.equal(sa.children.length, 1);
  // RFC 8019 §7.1.2: "HDR, N(COOKIE), [PS,] SA, KE, Ni" - the PS right after the COOKIE, and
  // (§7.1.3) four different equal-sized keys, each HMAC-SHA256(Ki, cookie) with >= 8 zero bits,
  // checked here with node:crypto directly.
  const retried = h.net.log
    .filter((d) => d.srcAddr === ADDR_A)
    .map((d) => decodeMessage(d.data))
    .find((m) => m.payloads.some((p) => p.kind === 'PS'))!;
  assert.deepEqual(
    retried.payloads.slice(0, 3).map((p) => (p.kind === 'NOTIFY' ? p.notifyType : p.kind)),
    [NotifyType.COOKIE, 'PS', 'SA'],
  );
  const psData = (retried.payloads[1] as Extract<Payload, { kind: 'PS' }>).data;
  const ck = notifyOf(retried, NotifyType.COOKIE)!.data;
  assert.equal(psData.length % 4, 0);
  const len = psData.length / 4;
  const keys = [0, 1, 2, 3].map((i) => Buffer.from(psData.subarray(i * len, (i + 1) * len)).toString('hex'));
  assert.equal(new Set(keys).size, 4);
  for (const k of keys) {
    const out = createHmac('sha256', Buffer.from(k, 'hex')).update(ck).digest();
    assert.equal(out.at(-1), 0, `key ${k}: PRF output ends in 8 zero bits`);
  }
});

test('RFC 8019 §7.1.1.2: puzzles on and no PRF we can pose one with: NO_PROPOSAL_CHOSEN, statelessly', async (t) => {
  const puzzles = { enabled: true, above: 1, difficulty: 8, maxDifficulty: 8, holdMs: 60_000 };
  const h = pair({ optionsB: { cookieThreshold: 0, puzzles } });
  t.after(() => h.close());
  h.b.engine.removeConnection('site');
  h.b.engine.addConnection({ ...anyConn(), name: 'site' });
  const F = '198.51.100.10';
  for (let i = 0; i < 4; i++) h.net.inject(freshRequest(tpl), from(F));
  await h.settle(1100);
  assert.equal(h.b.engine.admissionStatus().puzzleDifficulty, 8);
  // The same request, its PRF swapped for PRF_HMAC_SHA1 (2), which we do not support.
  const req = decodeMessage(freshRequest(tpl));
  const payloads = req.payloads.map((p) =>
    p.kind === 'SA'
      ? {
          ...p,
          proposals: p.proposals.map((pr) => ({
            ...pr,
            transforms: pr.transforms.map((x) => (x.type === 2 ? { ...x, id: 2 } : x)),
          })),
        }
      : p,
  );
  h.net.inject(encodeMessage({ header: req.header, payloads }), from(F));
  await h.settle(0);
  const last = repliesTo(h, F).at(-1)!;
  assert.deepEqual(last.header.spiI, req.header.spiI);
  assert.ok(notifyOf(last, NotifyType.NO_PROPOSAL_CHOSEN));
  assert.equal(notifyOf(last, NotifyType.PUZZLE), undefined);
  assert.equal(h.b.counters.get('ike.puzzle_no_prf'), 1);
  assert.equal(fromAddr(h, F).length, 0);
});
