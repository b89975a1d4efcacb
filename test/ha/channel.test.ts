// The HA sync channel refuses and counts bad input, and hands nothing of it on (the standby's state
// cannot change): wrong key, altered, truncated, replayed, oversize, foreign, and a flood.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SyncChannel, deriveSyncKey, seal, HEADER_LEN, MAX_DATAGRAM } from '../../src/ha/channel.ts';
import { memSocketPair } from './mem-socket.ts';

const KEY = new TextEncoder().encode('a sync key of at least sixteen bytes');
const enc = (s: string) => new TextEncoder().encode(s);
const A = '10.9.0.1';
const B = '10.9.0.2';

function setup(keyB = KEY) {
  let now = 1_000_000;
  const [sa, sb] = memSocketPair(A, B);
  const a = new SyncChannel({ socket: sa, syncKey: KEY, nodeId: 1, peerAddr: B, now: () => now });
  const b = new SyncChannel({
    socket: sb,
    syncKey: keyB,
    nodeId: 2,
    peerAddr: A,
    now: () => now,
    maxPerSecond: 100,
  });
  const got: string[] = [];
  b.onMessage((p, sender) => got.push(`${sender}:${new TextDecoder().decode(p)}`));
  return { a, b, sa, sb, got, tick: (ms: number) => (now += ms) };
}
const flush = () => new Promise<void>((r) => setImmediate(r));

test('a sealed message arrives once, with its sender id', async () => {
  const { a, b, got } = setup();
  a.send(enc('hello'));
  await flush();
  assert.deepEqual(got, ['1:hello']);
  assert.equal(b.counters.get('ha.rx_messages'), 1);
});

test('a node with the wrong key is refused and counted; nothing reaches the handler', async () => {
  const { a, b, got } = setup(enc('another key of at least sixteen b'));
  a.send(enc('state'));
  a.send(enc('more state'));
  await flush();
  assert.deepEqual(got, []);
  assert.equal(b.counters.get('ha.drop_auth_failed'), 2);
  assert.equal(b.counters.get('ha.rx_messages'), 0);
});

test('a replayed datagram is refused and counted (and does not move the window)', async () => {
  const { a, b, sa, sb, got } = setup();
  a.send(enc('one'));
  a.send(enc('two'));
  await flush();
  sb.deliver(sa.sent[0]!, A);
  sb.deliver(sa.sent[1]!, A);
  await flush();
  assert.deepEqual(got, ['1:one', '1:two']);
  assert.equal(b.counters.get('ha.drop_replay'), 2);
});

test('truncated, altered and oversize datagrams are refused, each under its own counter', async () => {
  const { a, b, sa, sb, got } = setup();
  a.send(enc('payload'));
  const good = sa.sent[0]!;
  sb.deliver(good.subarray(0, HEADER_LEN + 10), A); // too short
  sb.deliver(good.subarray(0, good.length - 1), A); // tag cut: auth fails
  const flipped = good.slice();
  flipped[HEADER_LEN] = flipped[HEADER_LEN]! ^ 1;
  sb.deliver(flipped, A);
  const hdr = good.slice();
  hdr[8] = hdr[8]! ^ 1; // the sender id is authenticated data
  sb.deliver(hdr, A);
  sb.deliver(new Uint8Array(MAX_DATAGRAM + 1), A);
  const badMagic = good.slice();
  badMagic[0] = 0;
  sb.deliver(badMagic, A);
  sb.deliver(good, '10.9.0.99'); // right bytes, wrong source
  assert.deepEqual(got, []);
  assert.equal(b.counters.get('ha.drop_too_short'), 1);
  assert.equal(b.counters.get('ha.drop_auth_failed'), 3);
  assert.equal(b.counters.get('ha.drop_too_long'), 1);
  assert.equal(b.counters.get('ha.drop_bad_magic'), 1);
  assert.equal(b.counters.get('ha.drop_foreign_source'), 1);
  // The good copy still opens afterwards: the refused ones left the replay window untouched.
  await flush();
  assert.deepEqual(got, ['1:payload']);
  assert.equal(a.send(new Uint8Array(MAX_DATAGRAM)), false);
  assert.equal(a.counters.get('ha.tx_too_long'), 1);
});

test('replay: a datagram after its window is too old; our own sender id is refused', async () => {
  const { a, b, sa, sb, got } = setup();
  for (let i = 0; i < 70; i++) a.send(enc(`m${i}`));
  await flush();
  assert.equal(got.length, 70);
  sb.deliver(sa.sent[0]!, A);
  assert.equal(b.counters.get('ha.drop_too_old'), 1);
  const own = seal(deriveSyncKey(KEY), 2, 1n << 60n, enc('x'));
  sb.deliver(own, A);
  assert.equal(b.counters.get('ha.drop_own_sender'), 1);
  assert.equal(got.length, 70);
});

test('a flood above the per-second budget is dropped before any decryption, and counted', async () => {
  const { a, b, sb, got, tick } = setup();
  const key = deriveSyncKey(enc('the attacker does not know the key!'));
  for (let i = 0; i < 500; i++) sb.deliver(seal(key, 7, BigInt(i + 1), enc('junk')), A);
  assert.equal(b.counters.get('ha.drop_auth_failed'), 100);
  assert.equal(b.counters.get('ha.drop_rate_limited'), 400);
  assert.deepEqual(got, []);
  tick(1000); // the next second has a fresh budget
  a.send(enc('after'));
  await flush();
  assert.deepEqual(got, ['1:after']);
});

test('a lost datagram is noticed at the next one (a gap), counted and reported', async () => {
  const { a, b, sa, sb, got } = setup();
  let gaps = 0;
  b.onGap(() => gaps++);
  a.send(enc('one'));
  a.send(enc('two')); // lost on the way
  a.send(enc('three'));
  sb.deliver(sa.sent[0]!, A);
  sb.deliver(sa.sent[2]!, A);
  assert.equal(gaps, 1);
  assert.equal(b.counters.get('ha.rx_gap'), 1);
  await flush();
  // The late copy still opens (inside the window) and is no new gap.
  assert.deepEqual(got.slice(0, 2), ['1:one', '1:three']);
});
