import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeClock } from '../../src/base/clock.ts';
import { TimerQueue } from '../../src/base/timers.ts';
import { Counters } from '../../src/base/counters.ts';
import { MemoryNetwork } from '../../src/net/memory.ts';
import { seededRandom } from '../../src/net/prng.ts';
import {
  IKE_HEADER_LEN,
  classify,
  frame,
  reversePath,
  formatPath,
  type PacketPath,
} from '../../src/net/transport.ts';

/** A stand-in for an IKE message: at least a header long, first octet tags it. */
const msg = (tag: number, len = IKE_HEADER_LEN) => {
  const m = new Uint8Array(len);
  m[0] = tag;
  return m;
};

test('RFC 3948 §2.2: frame adds the four-octet non-ESP marker on the NAT-T port only', () => {
  const m = msg(7);
  assert.equal(frame(m, false), m);
  const wire = frame(m, true);
  assert.deepEqual([...wire.subarray(0, 4)], [0, 0, 0, 0]);
  assert.deepEqual(wire.subarray(4), m);
});

test('classify: keepalive, ESP, runts and IKE on both ports', () => {
  assert.deepEqual(classify(Uint8Array.of(0xff), true), { kind: 'keepalive' });
  assert.deepEqual(classify(Uint8Array.of(0xff), false), { kind: 'short' }, 'no keepalives on port 500');
  const esp = msg(1, 40); // first four octets = non-zero SPI
  assert.deepEqual(classify(esp, true), { kind: 'esp' });
  assert.deepEqual(classify(Uint8Array.of(0, 0, 0), true), { kind: 'short' });
  assert.deepEqual(classify(new Uint8Array(4 + IKE_HEADER_LEN - 1), true), { kind: 'short' });
  assert.deepEqual(classify(new Uint8Array(IKE_HEADER_LEN - 1), false), { kind: 'short' });
  const c = classify(frame(msg(9), true), true);
  assert.equal(c.kind, 'ike');
  assert.equal(c.kind === 'ike' && c.packet[0], 9);
});

test('property: classify(frame(m)) gives back m for every IKE-sized message', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: IKE_HEADER_LEN, maxLength: 300 }), fc.boolean(), (m, natt) => {
      const c = classify(frame(m, natt), natt);
      assert.equal(c.kind, 'ike');
      assert.deepEqual(c.kind === 'ike' ? c.packet : undefined, m);
    }),
  );
});

test('paths reverse and format', () => {
  const p: PacketPath = {
    localAddr: '2001:db8::1',
    localPort: 4500,
    remoteAddr: '192.0.2.1',
    remotePort: 500,
  };
  assert.deepEqual(reversePath(reversePath(p)), p);
  assert.equal(formatPath(p), '[2001:db8::1]:4500 <-> 192.0.2.1:500');
});

function twoHosts(opts: ConstructorParameters<typeof MemoryNetwork>[1] = {}) {
  const clock = new FakeClock();
  const timers = new TimerQueue(clock);
  const net = new MemoryNetwork(timers, opts);
  const ca = new Counters();
  const cb = new Counters();
  const a = net.createTransport({ addresses: ['192.0.2.1', '2001:db8::1'], counters: ca });
  const b = net.createTransport({ addresses: ['198.51.100.1', '2001:db8::2'], counters: cb });
  const gotB: { tag: number; path: PacketPath }[] = [];
  b.onReceive((p, path) => gotB.push({ tag: p[0]!, path }));
  const aToB: PacketPath = {
    localAddr: '192.0.2.1',
    localPort: 500,
    remoteAddr: '198.51.100.1',
    remotePort: 500,
  };
  return { clock, net, a, b, ca, cb, gotB, aToB };
}

test('memory network delivers after the configured delay with the receiver-side path', async () => {
  const { clock, net, a, gotB, aToB } = twoHosts({ faults: { delayMs: 10 } });
  await a.send(msg(1), aToB);
  clock.advance(9);
  assert.equal(gotB.length, 0);
  clock.advance(1);
  assert.deepEqual(gotB, [{ tag: 1, path: reversePath(aToB) }]);
  assert.equal(net.stats.delivered, 1);
});

test('memory network: NAT-T port framing, keepalives and ESP are counted, not delivered', async () => {
  const { clock, net, a, cb, gotB } = twoHosts();
  const natt: PacketPath = {
    localAddr: '2001:db8::1',
    localPort: 4500,
    remoteAddr: '2001:db8::2',
    remotePort: 4500,
  };
  await a.send(msg(5), natt);
  await a.sendKeepalive(natt);
  net.inject(msg(0xaa, 60), reversePath(natt)); // an ESP packet: SPI 0xaa000000
  clock.advance(0);
  assert.equal(net.log[0]?.data.length, 4 + IKE_HEADER_LEN, 'the marker is on the wire');
  assert.deepEqual(
    gotB.map((g) => g.tag),
    [5],
  );
  assert.equal(cb.get('net.drop_natt_keepalive'), 1);
  assert.equal(cb.get('net.drop_esp_on_natt'), 1);
  assert.equal(cb.get('net.rx_packets'), 3);
  await assert.rejects(a.sendKeepalive({ ...natt, localPort: 500 }), { code: 'ERR_NO_SOCKET' });
});

test('memory network: a drop predicate loses exactly the chosen datagrams', async () => {
  const { clock, net, a, gotB, aToB } = twoHosts({ faults: { drop: (d) => d.data[0] === 2 } });
  for (const t of [1, 2, 3]) await a.send(msg(t), aToB);
  clock.advance(1);
  assert.deepEqual(
    gotB.map((g) => g.tag),
    [1, 3],
  );
  assert.equal(net.stats.dropped, 1);
});

test('memory network: seeded loss is deterministic and close to the configured rate', async () => {
  const run = async (seed: number) => {
    const { clock, a, gotB, aToB } = twoHosts({ seed, faults: { loss: 0.3 } });
    for (let i = 0; i < 1000; i++) await a.send(msg(i & 0xff), aToB);
    clock.advance(1);
    return gotB.length;
  };
  const first = await run(42);
  assert.equal(await run(42), first, 'same seed, same losses');
  assert.ok(first > 600 && first < 800, `delivered ${first} of 1000 at 30% loss`);
});

test('memory network: duplication and reordering', async () => {
  const dup = twoHosts({ faults: { duplicate: (d) => d.data[0] === 1 } });
  await dup.a.send(msg(1), dup.aToB);
  await dup.a.send(msg(2), dup.aToB);
  dup.clock.advance(0);
  assert.deepEqual(
    dup.gotB.map((g) => g.tag),
    [1, 1, 2],
  );
  const re = twoHosts({ faults: { delayMs: 1, reorder: (d) => d.data[0] === 1, reorderDelayMs: 5 } });
  await re.a.send(msg(1), re.aToB);
  await re.a.send(msg(2), re.aToB);
  re.clock.advance(10);
  assert.deepEqual(
    re.gotB.map((g) => g.tag),
    [2, 1],
  );
});

test('memory network: unknown destination, closed host and foreign source address', async () => {
  const { clock, net, a, b, aToB } = twoHosts();
  await a.send(msg(1), { ...aToB, remoteAddr: '203.0.113.9' });
  await b.close();
  await a.send(msg(2), aToB);
  clock.advance(0);
  assert.equal(net.stats.undeliverable, 2);
  await assert.rejects(a.send(msg(3), { ...aToB, localAddr: '203.0.113.1' }), { code: 'ERR_NO_SOCKET' });
  await assert.rejects(b.send(msg(3), reversePath(aToB)), { code: 'ERR_CLOSED' });
  assert.throws(() => net.createTransport({ addresses: ['192.0.2.1'] }), { code: 'ERR_BAD_ADDRESS' });
});

test('seededRandom is reproducible and in [0, 1)', () => {
  const r1 = seededRandom(7);
  const r2 = seededRandom(7);
  const xs = Array.from({ length: 100 }, () => r1());
  assert.deepEqual(
    xs,
    Array.from({ length: 100 }, () => r2()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(xs, Array.from({ length: 100 }, seededRandom(8)));
});
