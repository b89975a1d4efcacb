// RFC 7296 §2.21.4: "If a node receives a message on UDP port 500 or 4500 outside the context of an
// IKE SA known to it ... If the message is marked as a request, the node ... MAY send a response ...
// The response MUST NOT be cryptographically protected and MUST contain an INVALID_IKE_SPI Notify
// payload." A restarted peer answers our request on the stale IKE SA that way. The answer is only a
// hint (anyone can forge it): it makes us check quickly -- the request is sent again on a short
// bounded schedule -- instead of waiting out the whole retransmission schedule; a live peer's
// protected answer ends the check and nothing changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage, ExchangeType, HeaderFlag, NotifyType } from '../../src/codec/index.ts';
import { notify } from '../../src/ike/wire.ts';
import type { WireDatagram } from '../../src/net/memory.ts';
import { ADDR_A, ADDR_B, established, pair } from './harness.ts';

const PROBE = [1_000, 1_000, 2_000]; // the default restartProbeMs: gives up 4 s after the hint

/** The unprotected INVALID_IKE_SPI answer a node without the IKE SA sends to request `d`. */
function invalidSpiAnswer(d: WireDatagram, flags: number): Uint8Array {
  const v = new DataView(d.data.buffer, d.data.byteOffset, d.data.length);
  return encodeMessage({
    header: {
      spiI: d.data.slice(0, 8),
      spiR: d.data.slice(8, 16),
      exchangeType: d.data[18]!,
      flags,
      messageId: v.getUint32(20),
    },
    payloads: [notify(NotifyType.INVALID_IKE_SPI)],
  });
}

const isRequest = (d: WireDatagram) => (d.data[19]! & HeaderFlag.RESPONSE) === 0;
const sameSpi = (d: WireDatagram, spiI: Uint8Array) => Buffer.from(d.data.subarray(0, 8)).equals(spiI);

for (const [label, flags] of [
  ['R flag only (the responder role)', HeaderFlag.RESPONSE],
  ['I and R flags (a node that kept no role)', HeaderFlag.RESPONSE | HeaderFlag.INITIATOR],
] as const)
  test(`restarted peer, answer with ${label}: the IKE SA fails within the probe time, then comes back`, async (t) => {
    // Default retransmissions (4 s, base 1.8, 5 tries: ~165 s before giving up without the hint).
    const h = pair({ a: { dpdDelayMs: 10_000, dpdAction: 'restart' } });
    t.after(() => h.close());
    const stale = h.a.engine.initiate('site');
    await h.settle(0);
    assert.equal(stale.state, 'established');
    // B "restarts": it no longer knows the IKE SA. Every request of A on it is answered with the
    // unprotected INVALID_IKE_SPI; a new IKE_SA_INIT still gets through (the restarted daemon is up).
    let hints = 0;
    let firstHintAt = -1;
    h.net.faults = {
      drop: (d) => {
        if (d.srcAddr !== ADDR_A || d.data[18] === ExchangeType.IKE_SA_INIT || !isRequest(d)) return false;
        if (!sameSpi(d, stale.spiI)) return false;
        hints++;
        if (firstHintAt < 0) firstHintAt = h.clock.now();
        const answer = invalidSpiAnswer(d, flags);
        h.timers.after(1, () =>
          h.net.inject(answer, {
            localAddr: ADDR_A,
            localPort: d.srcPort,
            remoteAddr: ADDR_B,
            remotePort: d.dstPort,
          }),
        );
        return true;
      },
    };
    await h.settle(10_000, 100); // the liveness check goes out after 10 s of silence
    await h.settle(100, 10); // and its answer arrives
    assert.ok(firstHintAt >= 0, 'the liveness check was answered with INVALID_IKE_SPI');
    assert.ok(h.a.counters.get('ike.restart_hint') >= 1, 'the hint was counted');
    await h.settle(PROBE.reduce((a, b) => a + b) - 200, 100);
    assert.notEqual(stale.state, 'destroyed', 'still checking: a live peer could answer yet');
    await h.settle(400, 100);
    // Failed after the short schedule: the request went out 1 + PROBE.length times after the hint.
    assert.equal(stale.state, 'destroyed', 'given up 4 s after the hint, not after ~165 s');
    assert.ok(h.a.events.some((e) => e.type === 'ike-failed' && e.sa === stale));
    assert.equal(h.a.counters.get('ike.give_up'), 1);
    assert.ok(hints >= 1 + PROBE.length, `the check was sent ${hints} times`);
    // dpdAction restart: a new IKE SA with new SPIs, and a fresh Child SA pair in A's kernel.
    await h.settle(5_000, 100);
    const back = established(h.a);
    assert.equal(back.length, 1);
    assert.notDeepEqual(back[0]!.spiI, stale.spiI);
    assert.equal(back[0]!.children.length, 1);
    assert.equal(h.a.kernel.saCount, 2);
    // One check per request: the answers to its retransmissions neither restart nor stretch it.
    const logged = h.a.logger.entries.filter((e) => /INVALID_IKE_SPI/.test(e.message));
    assert.deepEqual(
      logged.map((e) => e.level),
      ['info'],
    );
  });

test('a spoofed INVALID_IKE_SPI towards a healthy tunnel changes nothing', async (t) => {
  const h = pair({ a: { dpdDelayMs: 10_000, dpdAction: 'restart' } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const child = sa.children[0]!;
  const kernelBefore = (await h.a.kernel.dumpSas()).map((s) => s.spi).sort();
  // An attacker on the path sees every request of A and races the peer with forged answers (three
  // copies each); the request itself still reaches B, which answers it protected.
  let forged = 0;
  h.net.faults = {
    drop: (d) => {
      if (d.srcAddr !== ADDR_A || !isRequest(d) || !sameSpi(d, sa.spiI)) return false;
      const answer = invalidSpiAnswer(d, HeaderFlag.RESPONSE);
      for (let i = 0; i < 3; i++)
        h.timers.after(0, () => {
          forged++;
          h.net.inject(answer, {
            localAddr: ADDR_A,
            localPort: d.srcPort,
            remoteAddr: ADDR_B,
            remotePort: d.dstPort,
          });
        });
      return false;
    },
  };
  await h.settle(65_000, 500); // six liveness checks, each met by forged answers
  assert.ok(forged >= 6 * 3, `forged answers: ${forged}`);
  assert.ok(h.a.counters.get('ike.restart_hint') >= 6, 'the hints were seen');
  assert.equal(sa.state, 'established', 'the IKE SA stands');
  assert.deepEqual(sa.children, [child], 'its Child SA too');
  assert.equal(child.state, 'installed');
  assert.deepEqual((await h.a.kernel.dumpSas()).map((s) => s.spi).sort(), kernelBefore, 'kernel untouched');
  assert.equal(h.a.counters.get('ike.give_up'), 0);
  assert.ok(!h.a.events.some((e) => e.type === 'ike-failed'));
  assert.equal(established(h.a).length, 1, 'no second IKE SA');
});

test('an INVALID_IKE_SPI hint for no outstanding request, or before IKE_AUTH, is dropped', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  // Message ID 7 is not outstanding: the runner's cheap check drops it before anything else.
  const answer = encodeMessage({
    header: {
      spiI: sa.spiI,
      spiR: sa.spiR,
      exchangeType: ExchangeType.INFORMATIONAL,
      flags: HeaderFlag.RESPONSE,
      messageId: 7,
    },
    payloads: [notify(NotifyType.INVALID_IKE_SPI)],
  });
  h.net.inject(answer, { localAddr: ADDR_A, localPort: 500, remoteAddr: ADDR_B, remotePort: 500 });
  await h.settle(1_000);
  assert.equal(h.a.counters.get('ike.restart_hint'), 0);
  assert.ok(h.a.counters.get('ike.drop_unexpected_response') >= 1);
  assert.equal(sa.state, 'established');
});
