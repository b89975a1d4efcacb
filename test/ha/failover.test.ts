// An HA pair in memory: active and standby on site A behind one shared address (VRRP modelled by
// MemoryNetwork.moveAddress), a peer on site B. The active dies; the standby promotes and carries the
// SAME IKE SA on: the peer's liveness check and a Child SA rekey succeed, no IKE_SA_INIT on the wire,
// the outbound sequence number jumped past what the dead node sent. Then the old node comes back as
// standby and resyncs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryWorld } from '../daemon/memory-world.ts';
import { connection, ADDR_A, ADDR_B } from '../exchange/harness.ts';
import { SyncChannel } from '../../src/ha/channel.ts';
import { HaNode } from '../../src/ha/node.ts';
import { MemoryLogger } from '../../src/base/logger.ts';
import { ExchangeType } from '../../src/codec/index.ts';
import type { Engine } from '../../src/ike/engine.ts';
import type { FakeKernel } from '../../src/kernel/fake.ts';
import type { MemoryTransport } from '../../src/net/memory.ts';
import { memLink } from './mem-socket.ts';

const VIP = ADDR_A;
const N1 = '10.0.0.1';
const N2 = '10.0.0.2';
const KEY = new TextEncoder().encode('pair sync key, sixteen bytes or more');
const SEQ = { maxPacketRate: 100_000, reportMs: 1000 };
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** IKE_SA_INIT requests on the wire since index `from` of the network log. */
function initsSince(log: readonly { data: Uint8Array }[], from: number): number {
  // RFC 7296 §3.1: the exchange type is octet 18 of the header (after a 4-octet non-ESP marker on 4500).
  return log.slice(from).filter((d) => d.data[18] === ExchangeType.IKE_SA_INIT).length;
}

function haNode(
  w: ReturnType<typeof memoryWorld>,
  engine: Engine,
  socket: ReturnType<ReturnType<typeof memLink>['open']>,
  o: { nodeId: number; priority: number; peer: string; role?: 'active' | 'standby' },
) {
  const channel = new SyncChannel({
    socket,
    syncKey: KEY,
    nodeId: o.nodeId,
    peerAddr: o.peer,
    now: () => w.timers.now(),
  });
  return new HaNode({
    engine,
    channel,
    timers: w.timers,
    logger: new MemoryLogger(),
    nodeId: o.nodeId,
    priority: o.priority,
    seq: SEQ,
    heartbeatMs: 500,
    ...(o.role ? { role: o.role } : {}),
  });
}

/**
 * The pair on site A and the peer on site B: active n1 (engine a1 on N1 and the shared address),
 * standby n2 (a2 on N2). `sync` acts on what n1 sends the standby: `dropNext` loses one datagram,
 * `cut` all of them from then on. `link` opens an end again (a node that comes back).
 */
function pair() {
  const w = memoryWorld();
  const opts = { retainChildKeys: true };
  const a1 = w.engine([N1, VIP], [connection('a')], opts);
  const a2 = w.engine([N2], [connection('a')], opts);
  const peer = w.engine(ADDR_B, [connection('b')]);
  const link = memLink(N1, N2);
  const sock = link.open('a');
  const sync = { dropNext: false, cut: false };
  const send = sock.send.bind(sock);
  sock.send = (d) => {
    if (sync.cut) return;
    if (sync.dropNext) {
      sync.dropNext = false;
      return;
    }
    send(d);
  };
  const n1 = haNode(w, a1, sock, { nodeId: 1, priority: 200, peer: N2, role: 'active' });
  const n2 = haNode(w, a2, link.open('b'), { nodeId: 2, priority: 100, peer: N1 });
  return { w, opts, a1, a2, peer, link, n1, n2, sync };
}

test('failover keeps the IKE SA: same SPIs, no IKE_SA_INIT, liveness and rekey succeed; the old node resyncs', async () => {
  const { w, a1, a2, peer, n1, n2, opts, link } = pair();
  try {
    a1.initiate('site');
    await w.settle(3000);
    const [sa1] = a1.sas();
    const [psa] = peer.sas();
    assert.ok(sa1?.established && psa?.established, 'the tunnel is up');
    const child1 = sa1.children[0]!;
    // The standby holds exactly the active's IKE SA and Child SA, without installing anything.
    assert.equal(n2.status().synced, true);
    const [rec] = n2.records();
    assert.equal(rec?.spiI, hexOf(sa1.spiI));
    assert.equal(rec?.children[0]?.spiIn, child1.spiIn);
    assert.equal((await (a2.kernel as FakeKernel).dumpSas()).length, 0, 'the standby installs nothing');

    // Message IDs move (a liveness check from the peer) and the standby follows.
    peer.lifecycle.checkLiveness(psa);
    await w.settle(1000);
    assert.equal(n2.records()[0]?.expectedRequestId, sa1.runner.expectedRequestId);
    // The active's kernel sent packets; the next sequence report carries the counter.
    (a1.kernel as FakeKernel).sendPackets({ dst: ADDR_B, spi: child1.spiOut, proto: 'esp' }, 5000n);
    await w.settle(1500);
    const reported = BigInt(n2.records()[0]?.children[0]?.oseq?.value ?? '0');
    assert.equal(reported, 5000n);

    // The active dies outright; VRRP moves the shared address; keepalived promotes the standby.
    const logMark = w.net.log.length;
    await a1.transport.close();
    n1.close();
    w.net.moveAddress(VIP, a2.transport as MemoryTransport);
    assert.equal(await n2.promote(), 1);
    const [sa2] = a2.sas();
    assert.ok(sa2?.established);
    assert.deepEqual([hexOf(sa2.spiI), hexOf(sa2.spiR)], [hexOf(sa1.spiI), hexOf(sa1.spiR)]);
    const out = await (a2.kernel as FakeKernel).getSa({ dst: ADDR_B, spi: child1.spiOut, proto: 'esp' });
    assert.ok((out.replay?.oseq ?? 0n) > reported, 'outbound sequence numbers jump past the reported ones');

    // The peer's liveness check is answered by the new active with the right message ID.
    const before = a2.counters.get('ike.response_sent');
    peer.lifecycle.checkLiveness(psa);
    await w.settle(2000);
    assert.equal(a2.counters.get('ike.response_sent'), before + 1);
    assert.equal(psa.state, 'established');
    // Our own request (liveness) is answered by the peer too.
    a2.lifecycle.checkLiveness(sa2);
    await w.settle(2000);
    assert.equal(sa2.state, 'established');
    assert.equal(peer.counters.get('ike.drop_msgid_future') + peer.counters.get('ike.drop_msgid_old'), 0);
    // A rekey of the Child SA after the failover, started by the peer.
    peer.rekeyChild(psa, psa.children[0]!);
    await w.settle(8000);
    const live = sa2.children.filter((c) => c.state === 'installed');
    assert.equal(live.length, 1);
    assert.notEqual(live[0]!.spiIn, child1.spiIn, 'rekeyed');
    assert.deepEqual(peer.sas(), [psa], 'the peer still has its one IKE SA');
    assert.ok(initsSince(w.net.log, 0) >= 1, 'the counter sees the first IKE_SA_INIT');
    assert.equal(initsSince(w.net.log, logMark), 0, 'no IKE_SA_INIT after the failover');

    // The old node returns as standby (new process, new channel end) and resyncs.
    const a1b = w.engine([N1], [connection('a')], opts);
    const n1b = haNode(w, a1b, link.open('a'), { nodeId: 1, priority: 200, peer: N2 });
    await w.settle(3000);
    assert.equal(n1b.role, 'standby');
    assert.equal(n1b.status().synced, true);
    const [back] = n1b.records();
    assert.equal(back?.spiI, hexOf(sa1.spiI));
    assert.equal(back?.children[0]?.spiIn, live[0]!.spiIn);
    n1b.close();
  } finally {
    n2.close();
    await w.close();
  }
});

test('split brain: both active, the lower priority demotes itself on the other heartbeat', async () => {
  const w = memoryWorld();
  const a1 = w.engine([N1], [], { retainChildKeys: true });
  const a2 = w.engine([N2], [], { retainChildKeys: true });
  const link = memLink(N1, N2);
  const n1 = haNode(w, a1, link.open('a'), { nodeId: 1, priority: 100, peer: N2, role: 'active' });
  const n2 = haNode(w, a2, link.open('b'), { nodeId: 2, priority: 200, peer: N1, role: 'active' });
  try {
    await w.settle(2000);
    assert.equal(n1.role, 'standby');
    assert.equal(n2.role, 'active');
    assert.ok(n1.status().splitBrains >= 1);
  } finally {
    n1.close();
    n2.close();
    await w.close();
  }
});

test('an IKE SA rekey before the failover: the standby holds the new IKE SA only and carries it on', async () => {
  const { w, a1, a2, peer, n1, n2 } = pair();
  try {
    peer.initiate('site');
    await w.settle(3000);
    const [old] = peer.sas();
    assert.ok(old?.established);
    peer.lifecycle.rekeyIke(old);
    await w.settle(8000);
    const [psa] = peer.sas();
    assert.ok(psa && psa !== old && psa.established, 'the peer rekeyed its IKE SA');
    const recs = n2.records();
    assert.equal(recs.length, 1, 'the old IKE SA was deleted from the standby');
    assert.equal(recs[0]?.spiI, hexOf(psa.spiI));
    await a1.transport.close();
    n1.close();
    w.net.moveAddress(VIP, a2.transport as MemoryTransport);
    assert.equal(await n2.promote(), 1);
    peer.lifecycle.checkLiveness(psa);
    await w.settle(2000);
    assert.equal(psa.state, 'established');
    assert.equal(a2.counters.get('ike.response_sent'), 1);
  } finally {
    n2.close();
    await w.close();
  }
});

test('an authenticated message that is not a valid record is counted; the standby keeps its state', async () => {
  const w = memoryWorld();
  const a2 = w.engine([N2], [], { retainChildKeys: true });
  const link = memLink(N1, N2);
  const sock = link.open('a');
  const forger = new SyncChannel({
    socket: sock,
    syncKey: KEY,
    nodeId: 1,
    peerAddr: N2,
    now: () => w.timers.now(),
  });
  const n2 = haNode(w, a2, link.open('b'), { nodeId: 2, priority: 100, peer: N1 });
  try {
    const send = (m: unknown) => forger.send(new TextEncoder().encode(JSON.stringify(m)));
    send({ t: 'resync-begin' });
    send({ t: 'sa', rec: { v: 1, conn: 'site', spiI: 'zz', spiR: '00' } });
    send({ t: 'sa', rec: { v: 2 } });
    send({ t: 'nonsense' });
    forger.send(new Uint8Array([0xff, 0xfe]));
    send({ t: 'resync-end', count: 0 });
    await w.settle(0);
    assert.equal(n2.status().counters['ha.rx_bad_record'], 4);
    assert.deepEqual(n2.records(), []);
  } finally {
    n2.close();
    forger.close();
    await w.close();
  }
});

test('a lost update: the standby sees the gap, asks for a full resync and is right again', async () => {
  const { w, a1, peer, n1, n2, sync } = pair();
  try {
    a1.initiate('site');
    await w.settle(3000);
    const [psa] = peer.sas();
    const [sa1] = a1.sas();
    assert.ok(psa && sa1);
    sync.dropNext = true; // the record of the next exchange is lost
    peer.lifecycle.checkLiveness(psa);
    await w.settle(100);
    assert.equal(sync.dropNext, false, 'one datagram was dropped');
    await w.settle(2000);
    assert.ok(n2.status().counters['ha.rx_gap']! >= 1);
    assert.equal(n2.status().synced, true);
    assert.equal(n2.records()[0]?.expectedRequestId, sa1.runner.expectedRequestId);
  } finally {
    n1.close();
    n2.close();
    await w.close();
  }
});

test('our request in flight when the active dies: the new active sends it again and moves on', async () => {
  const { w, a1, a2, peer, n1, n2 } = pair();
  try {
    a1.initiate('site');
    await w.settle(3000);
    const [sa1] = a1.sas();
    const [psa] = peer.sas();
    assert.ok(sa1 && psa);
    // The active's liveness request reaches the peer, whose answer finds the active dead.
    a1.lifecycle.checkLiveness(sa1);
    await a1.idle();
    await new Promise<void>((r) => setImmediate(r));
    const inFlight = n2.records()[0]?.outstanding;
    assert.ok(inFlight, 'the request in flight was synced');
    await a1.transport.close();
    n1.close();
    await w.settle(500);
    w.net.moveAddress(VIP, a2.transport as MemoryTransport);
    const answeredBefore = peer.counters.get('ike.retransmit_answered');
    assert.equal(await n2.promote(), 1);
    await w.settle(500);
    assert.equal(
      peer.counters.get('ike.retransmit_answered'),
      answeredBefore + 1,
      'the peer answered from its cache',
    );
    const [sa2] = a2.sas();
    assert.equal(sa2?.runner.nextRequestId, inFlight.messageId + 1);
    a2.lifecycle.checkLiveness(sa2);
    await w.settle(2000);
    assert.equal(sa2.state, 'established');
    assert.equal(peer.counters.get('ike.drop_msgid_old') + peer.counters.get('ike.drop_msgid_future'), 0);
  } finally {
    n2.close();
    await w.close();
  }
});

test("the active answered a request and died before its sync left: the new active takes the peer's next request", async () => {
  const { w, a1, a2, peer, n1, n2, sync } = pair();
  try {
    a1.initiate('site');
    await w.settle(3000);
    const [psa] = peer.sas();
    const [sa1] = a1.sas();
    assert.ok(psa && sa1);
    const synced = n2.records()[0]!.expectedRequestId;
    sync.cut = true; // from here on nothing of the active reaches the standby
    // The peer's liveness check: answered by the active, never synced.
    peer.lifecycle.checkLiveness(psa);
    await w.settle(1000);
    assert.equal(sa1.runner.expectedRequestId, synced + 1, 'the active answered it');
    assert.equal(n2.records()[0]!.expectedRequestId, synced, 'the standby did not hear of it');
    await a1.transport.close();
    n1.close();
    w.net.moveAddress(VIP, a2.transport as MemoryTransport);
    assert.equal(await n2.promote(), 1);
    const [sa2] = a2.sas();
    assert.ok(sa2);
    // The peer's next request carries synced + 1: taken once, answered, the window moves on.
    const before = a2.counters.get('ike.response_sent');
    peer.lifecycle.checkLiveness(psa);
    await w.settle(2000);
    assert.equal(a2.counters.get('ike.response_sent'), before + 1);
    assert.equal(a2.counters.get('ike.msgid_resume_skip'), 1);
    assert.equal(sa2.runner.expectedRequestId, synced + 2);
    assert.equal(psa.state, 'established');
    assert.equal(peer.counters.get('ike.give_up'), 0);
    // Only once: after that the window is the normal one (a request two ahead is still refused).
    peer.lifecycle.checkLiveness(psa);
    await w.settle(2000);
    assert.equal(a2.counters.get('ike.msgid_resume_skip'), 1);
    assert.equal(a2.counters.get('ike.response_sent'), before + 2);
    assert.equal(a2.counters.get('ike.drop_msgid_future'), 0);
  } finally {
    n2.close();
    await w.close();
  }
});
