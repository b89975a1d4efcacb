import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeClock } from '../../src/base/clock.ts';
import { TimerQueue } from '../../src/base/timers.ts';
import { Counters } from '../../src/base/counters.ts';
import { ExchangeRunner, type ExchangeRunnerOptions } from '../../src/ike/exchange/runner.ts';
import {
  DEFAULT_RETRANSMIT,
  resolveRetransmit,
  retransmitDelays,
  retransmitSchedule,
} from '../../src/ike/exchange/retransmit.ts';
import { MemoryNetwork, type Faults, type WireDatagram } from '../../src/net/memory.ts';
import { IKE_HEADER_LEN, reversePath, type PacketPath } from '../../src/net/transport.ts';

// A stand-in wire format with what the runner needs from the clear IKE header: message ID (octets
// 0-3), Response flag (4), fragment number (5), a tag naming the request (6).
const encode = (id: number, response: boolean, tag: number, frag = 0) => {
  const m = new Uint8Array(IKE_HEADER_LEN);
  new DataView(m.buffer).setUint32(0, id);
  m[4] = response ? 1 : 0;
  m[5] = frag;
  m[6] = tag;
  return m;
};
const decode = (m: Uint8Array) => ({
  id: new DataView(m.buffer, m.byteOffset).getUint32(0),
  response: m[4] === 1,
  frag: m[5]!,
  tag: m[6]!,
});
const isRequest = (d: WireDatagram, tag?: number) =>
  d.data[4] === 0 && (tag === undefined || d.data[6] === tag);
const isResponse = (d: WireDatagram) => d.data[4] === 1;

/** One IKE endpoint: a runner on a memory transport that answers every request it processes. */
function endpoint(
  net: MemoryNetwork,
  addr: string,
  path: PacketPath,
  opts: Partial<ExchangeRunnerOptions> = {},
) {
  const counters = new Counters();
  const t = net.createTransport({ addresses: [addr], counters });
  const log = { processed: [] as number[], completed: [] as number[], gaveUp: [] as number[] };
  const runner = new ExchangeRunner({
    timers: net.timers,
    counters,
    send: (pkts) => pkts.forEach((p) => void t.send(p, path)),
    onGiveUp: (id) => log.gaveUp.push(id),
    ...opts,
  });
  t.onReceive((pkt) => {
    const h = decode(pkt);
    if (h.response) {
      if (runner.checkResponse(h.id).action === 'process' && runner.completeRequest(h.id))
        log.completed.push(h.tag);
    } else if (runner.checkRequest(h.id).action === 'process') {
      runner.startRequest(h.id);
      log.processed.push(h.tag);
      runner.respond(h.id, [encode(h.id, true, h.tag)]);
    }
  });
  const request = (tag: number) =>
    runner.enqueue({ build: (id) => [encode(id, false, tag)], name: `req${tag}` });
  return { runner, counters, log, request };
}

function pair(faults: Faults = {}, seed = 1, opts: Partial<ExchangeRunnerOptions> = {}) {
  const clock = new FakeClock();
  const net = new MemoryNetwork(new TimerQueue(clock), { seed, faults });
  const ab: PacketPath = {
    localAddr: '192.0.2.1',
    localPort: 500,
    remoteAddr: '198.51.100.1',
    remotePort: 500,
  };
  const a = endpoint(net, '192.0.2.1', ab, opts);
  const b = endpoint(net, '198.51.100.1', reversePath(ab), opts);
  return { clock, net, a, b };
}

test('retransmission schedule: strongSwan defaults 4 s x 1.8^n, 5 tries, ~165 s to give up', () => {
  const d = retransmitDelays(DEFAULT_RETRANSMIT);
  assert.equal(d.length, 6);
  assert.deepEqual(
    d.map((x) => Math.round(x)),
    [4000, 7200, 12960, 23328, 41990, 75583],
  );
  assert.deepEqual(
    retransmitDelays(resolveRetransmit({ timeoutMs: 1000, base: 2, tries: 3, limitMs: 3000 })),
    [1000, 2000, 3000, 3000],
  );
  assert.throws(() => resolveRetransmit({ base: 0.5 }), RangeError);
  assert.throws(() => resolveRetransmit({ tries: 1.5 }), RangeError);
  assert.throws(() => resolveRetransmit({ jitter: 1 }), RangeError);
});

test('retransmitSchedule: one frozen schedule per policy object, resolved and checked like resolveRetransmit', () => {
  const policy = { timeoutMs: 1000, base: 2, tries: 3, limitMs: 3000, jitter: 0.25 };
  const s = retransmitSchedule(policy);
  assert.deepEqual(s, { delays: [1000, 2000, 3000, 3000], jitter: 0.25 });
  assert.equal(retransmitSchedule(policy), s, 'the same object: the same schedule, not a new array');
  assert.ok(Object.isFrozen(s.delays));
  assert.notEqual(retransmitSchedule({ ...policy }), s, 'another object is resolved on its own');
  assert.deepEqual(retransmitSchedule().delays, retransmitDelays(DEFAULT_RETRANSMIT));
  assert.equal(retransmitSchedule(), retransmitSchedule());
  assert.throws(() => retransmitSchedule({ base: 0.5 }), RangeError);
});

test('RFC 7296 §2.3 window size 1: queued requests go out one at a time with increasing message IDs', () => {
  const { clock, net, a, b } = pair({ delayMs: 10 });
  a.request(1);
  a.request(2);
  a.request(3);
  assert.equal(a.runner.queued, 2);
  assert.equal(net.log.filter((d) => isRequest(d)).length, 1, 'only one request on the wire');
  clock.advance(1000);
  assert.deepEqual(a.log.completed, [1, 2, 3]);
  assert.deepEqual(b.log.processed, [1, 2, 3]);
  const ids = net.log.filter((d) => isRequest(d)).map((d) => decode(d.data).id);
  assert.deepEqual(ids, [0, 1, 2]);
  // each request leaves only after the previous response arrived: 20 ms round trips
  assert.equal(clock.now(), 1000);
  assert.equal(a.runner.nextRequestId, 3);
  assert.equal(b.runner.expectedRequestId, 3);
  assert.deepEqual(a.counters.nonZero()['ike.retransmit_sent'], undefined);
});

test('RFC 7296 §2.1: a lost request is retransmitted with exponential backoff, the same bytes', () => {
  let lost = 0;
  const { clock, net, a, b } = pair({ drop: (d) => isRequest(d) && lost++ < 2 });
  a.request(7);
  clock.advance(3999);
  assert.equal(a.log.completed.length, 0);
  clock.advance(1); // t = 4000: first retransmission (lost)
  clock.advance(7199);
  assert.equal(a.counters.get('ike.retransmit_sent'), 1);
  clock.advance(1); // t = 11200: second retransmission, delivered
  assert.deepEqual(a.log.completed, [7]);
  assert.equal(a.counters.get('ike.retransmit_sent'), 2);
  const sends = net.log.filter((d) => isRequest(d));
  assert.equal(sends.length, 3);
  assert.ok(
    sends.every((s) => Buffer.compare(s.data, sends[0]!.data) === 0),
    'retransmits are identical',
  );
  assert.deepEqual(b.log.processed, [7]);
  clock.advance(1_000_000);
  assert.equal(a.counters.get('ike.retransmit_sent'), 2, 'no retransmission after the response');
});

test('RFC 7296 §2.1: a lost response makes the responder resend its cached response, not reprocess', () => {
  let lost = 0;
  const { clock, net, a, b } = pair({ drop: (d) => isResponse(d) && lost++ < 1 });
  a.request(4);
  clock.advance(4000);
  assert.deepEqual(a.log.completed, [4]);
  assert.deepEqual(b.log.processed, [4], 'processed exactly once');
  assert.equal(b.counters.get('ike.retransmit_answered'), 1);
  const responses = net.log.filter(isResponse);
  assert.equal(responses.length, 2);
  assert.deepEqual(responses[0]!.data, responses[1]!.data);
});

test('duplicated datagrams: duplicate requests answered from cache, duplicate responses dropped', () => {
  const { clock, a, b } = pair({ duplicate: 1, delayMs: 1 });
  a.request(1);
  a.request(2);
  clock.advance(100);
  assert.deepEqual(b.log.processed, [1, 2]);
  assert.deepEqual(a.log.completed, [1, 2]);
  assert.ok(b.counters.get('ike.retransmit_answered') >= 2);
  assert.ok(a.counters.get('ike.drop_unexpected_response') >= 2);
});

test('give-up after the last retransmission times out (RFC 7296 §2.4); the runner is closed', () => {
  const { clock, net, a } = pair({ loss: 1 });
  a.request(1);
  a.request(2);
  const total = retransmitDelays(DEFAULT_RETRANSMIT).reduce((x, y) => x + y, 0);
  clock.advance(total - 1);
  assert.deepEqual(a.log.gaveUp, []);
  clock.advance(1);
  assert.deepEqual(a.log.gaveUp, [0]);
  assert.equal(net.log.filter((d) => isRequest(d)).length, 6, 'first send and 5 retransmissions');
  assert.equal(a.counters.get('ike.give_up'), 1);
  assert.equal(a.runner.closed, true);
  assert.equal(a.runner.queued, 0, 'queued requests are discarded');
  assert.throws(() => a.request(3), { code: 'ERR_CLOSED' });
  assert.deepEqual(a.runner.checkRequest(0), { action: 'drop', reason: 'closed' });
});

test('message-ID window checks: old, future, in progress and unexpected responses are counted drops', () => {
  const clock = new FakeClock();
  const counters = new Counters();
  const sent: Uint8Array[][] = [];
  const r = new ExchangeRunner({
    timers: new TimerQueue(clock),
    counters,
    send: (p) => sent.push([...p]),
    onGiveUp: () => {},
    firstExpectedId: 5,
  });
  assert.deepEqual(r.checkRequest(4), { action: 'drop', reason: 'msgid_old' });
  assert.deepEqual(r.checkRequest(6), { action: 'drop', reason: 'msgid_future' });
  assert.deepEqual(r.checkRequest(5), { action: 'process' });
  assert.deepEqual(r.checkRequest(5), { action: 'process' }, 'not authenticated yet: still processable');
  r.startRequest(5);
  assert.deepEqual(r.checkRequest(5), { action: 'drop', reason: 'request_in_progress' });
  assert.throws(() => r.respond(6, []), { code: 'ERR_NOT_EXPECTED' });
  r.respond(5, [encode(5, true, 0, 1), encode(5, true, 0, 2), encode(5, true, 0, 3)]);
  // RFC 7383 §2.6.1: only fragment 1 of a retransmitted request triggers all fragments again.
  assert.deepEqual(r.checkRequest(5, 2), { action: 'drop', reason: 'retransmit_fragment' });
  assert.equal(sent.length, 1);
  assert.deepEqual(r.checkRequest(5, 1), { action: 'drop', reason: 'retransmit_answered' });
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[1], sent[0]);
  assert.equal(sent[1]?.length, 3);
  assert.deepEqual(r.checkRequest(4), { action: 'drop', reason: 'msgid_old' });
  assert.deepEqual(r.checkResponse(0), { action: 'drop', reason: 'unexpected_response' });
  assert.equal(r.completeRequest(0), false);
  assert.deepEqual(counters.nonZero(), {
    'ike.drop_msgid_old': 2,
    'ike.drop_msgid_future': 1,
    'ike.drop_request_in_progress': 1,
    'ike.drop_retransmit_fragment': 1,
    'ike.retransmit_answered': 1,
    'ike.drop_unexpected_response': 1,
    'ike.response_sent': 1,
  });
});

test('restart keeps message ID 0 for a retried IKE_SA_INIT (RFC 7296 §2.6) and resets the backoff', () => {
  const clock = new FakeClock();
  const sent: { id: number; tag: number }[] = [];
  const r = new ExchangeRunner({
    timers: new TimerQueue(clock),
    send: (p) => p.forEach((m) => sent.push(decode(m))),
    onGiveUp: () => {},
  });
  r.enqueue({ build: (id) => [encode(id, false, 1)] });
  clock.advance(4000);
  assert.equal(r.outstanding?.sends, 2);
  r.restart({ build: (id) => [encode(id, false, 2)] });
  assert.deepEqual(r.outstanding?.sends, 1);
  clock.advance(3999);
  assert.deepEqual(
    sent.map((s) => [s.id, s.tag]),
    [
      [0, 1],
      [0, 1],
      [0, 2],
    ],
  );
  assert.deepEqual(r.checkResponse(0).action, 'process');
  assert.equal(r.completeRequest(0), true);
  assert.equal(r.nextRequestId, 1);
});

test('queue bound and message-ID exhaustion are typed errors', () => {
  const clock = new FakeClock();
  const counters = new Counters();
  const opts = { timers: new TimerQueue(clock), send: () => {}, onGiveUp: () => {}, counters };
  const r = new ExchangeRunner({ ...opts, maxQueued: 2 });
  const req = { build: () => [] };
  r.enqueue(req);
  r.enqueue(req);
  r.enqueue(req);
  assert.throws(() => r.enqueue(req), { code: 'ERR_QUEUE_FULL' });
  assert.equal(counters.get('ike.drop_queue_full'), 1);
  const last = new ExchangeRunner({ ...opts, firstRequestId: 0xffffffff });
  last.enqueue(req);
  assert.throws(() => last.enqueue(req), { code: 'ERR_MSGID_EXHAUSTED' });
  r.close();
  last.close();
});

test('jitter shortens timeouts by at most the configured fraction', () => {
  const clock = new FakeClock();
  const times: number[] = [];
  const r = new ExchangeRunner({
    timers: new TimerQueue(clock),
    send: () => times.push(clock.now()),
    onGiveUp: () => {},
    retransmit: { jitter: 0.5, tries: 1 },
    random: () => 0.5,
  });
  r.enqueue({ build: () => [new Uint8Array(1)] });
  clock.advance(10_000);
  assert.deepEqual(times, [0, 3000]);
});

test('property: under seeded loss, duplication and reordering every request is processed once, in order', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 31 }),
      fc.double({ min: 0, max: 0.4, noNaN: true }),
      fc.double({ min: 0, max: 0.5, noNaN: true }),
      fc.integer({ min: 1, max: 6 }),
      (seed, loss, duplicate, n) => {
        const faults = { loss, duplicate, delayMs: 5, jitterMs: 3000, reorder: 0.2, reorderDelayMs: 5000 };
        const { clock, a, b } = pair(faults, seed);
        const tags = Array.from({ length: n }, (_, i) => i + 1);
        tags.forEach((t) => a.request(t));
        clock.advance(2_000_000);
        const done = a.log.completed.length;
        // Whatever the faults, B never processes a request twice or out of order, and A never
        // completes one B has not processed.
        assert.deepEqual(b.log.processed, tags.slice(0, b.log.processed.length));
        assert.deepEqual(a.log.completed, tags.slice(0, done));
        assert.ok(done <= b.log.processed.length);
        if (a.log.gaveUp.length === 0) assert.equal(done, n, 'without a give-up every request completes');
        else assert.deepEqual(a.log.gaveUp, [done]);
      },
    ),
    { numRuns: 150 },
  );
});

test('probe (RFC 7296 §2.21.4 hint): resend now, then the short schedule, give up after it; once per request', () => {
  const clock = new FakeClock(0);
  const timers = new TimerQueue(clock);
  const sends: number[] = [];
  const gaveUp: number[] = [];
  const runner = new ExchangeRunner({
    timers,
    send: () => sends.push(clock.now()),
    onGiveUp: (id) => gaveUp.push(id),
    retransmit: { timeoutMs: 4000, base: 1.8, tries: 5 }, // ~165 s without the probe
  });
  runner.enqueue({ build: () => [new Uint8Array(1)] });
  clock.advance(500);
  timers.runDue();
  assert.equal(runner.probe(1, [1000, 1000, 2000]), false, 'not the outstanding message ID');
  assert.equal(runner.probe(0, [1000, 1000, 2000]), true);
  assert.equal(runner.probe(0, [10, 10]), false, 'a second hint neither restarts nor shortens it');
  for (let t = 0; t < 10_000; t += 100) {
    clock.advance(100);
    timers.runDue();
  }
  // First send at 0, probe sends at 500 (now), 1500, 2500; gives up at 4500 -- not after 165 s.
  assert.deepEqual(sends, [0, 500, 1500, 2500]);
  assert.deepEqual(gaveUp, [0]);
  assert.equal(runner.closed, true);
});

test('probe: a response within the short schedule completes the request as usual', () => {
  const clock = new FakeClock(0);
  const timers = new TimerQueue(clock);
  const gaveUp: number[] = [];
  const runner = new ExchangeRunner({ timers, send: () => undefined, onGiveUp: (id) => gaveUp.push(id) });
  runner.enqueue({ build: () => [new Uint8Array(1)] });
  assert.equal(runner.probe(0, [1000, 1000, 2000]), true);
  clock.advance(1500);
  timers.runDue();
  assert.equal(runner.checkResponse(0).action, 'process');
  assert.equal(runner.completeRequest(0), true);
  clock.advance(10_000);
  timers.runDue();
  assert.deepEqual(gaveUp, []);
  assert.equal(runner.closed, false);
});
