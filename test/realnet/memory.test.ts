// Real sockets: two ikeway engines in two network namespaces joined by veth, talking IKEv2 over real
// UDP port 500 (RFC 7296 §2.11), each with the in-memory kernel. The IKE SA and a complete Child SA
// come up on both sides, with SPIs that match crosswise (RFC 7296 §3.3.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, linkVeth } from '../../lab/netns/netns.ts';
import { PeerProcess, siteSpecs } from './peer-process.ts';

const skip = process.getuid?.() !== 0 ? 'needs root for namespaces' : false;

test(
  'two ikeway peers over real UDP: IKE SA and Child SA (in-memory kernel)',
  { skip, timeout: 30_000 },
  async (t) => {
    const na = Netns.create('rnm');
    const nb = Netns.create('rnm');
    const peers: PeerProcess[] = [];
    t.after(async () => {
      for (const p of peers) await p.stop();
      na.delete();
      nb.delete();
    });
    linkVeth(na, '192.0.2.1/24', nb, '192.0.2.2/24');
    const [ca, cb] = siteSpecs('192.0.2.1', '192.0.2.2');
    const b = PeerProcess.start(nb, 'b', { kernel: 'memory', addresses: ['192.0.2.2'], connections: [cb] });
    peers.push(b);
    await b.waitEvent('ready');
    const a = PeerProcess.start(na, 'a', {
      kernel: 'memory',
      addresses: ['192.0.2.1'],
      connections: [ca],
      initiate: ['site'],
    });
    peers.push(a);

    const ia = await a.waitEvent('child-installed');
    const ib = await b.waitEvent('child-installed');
    const ea = await a.waitEvent('ike-established');
    const eb = await b.waitEvent('ike-established');
    assert.equal(ea.initiator, true);
    assert.equal(eb.initiator, false);
    assert.equal(ea.spiI, eb.spiI);
    assert.equal(ea.spiR, eb.spiR);
    assert.equal(ea.proposal, 'aes256gcm16-prfsha256-x25519');
    assert.equal(ia.spiOut, ib.spiIn);
    assert.equal(ia.spiIn, ib.spiOut);
    assert.deepEqual(ia.localTs, ['10.1.0.0/24']);
    assert.deepEqual(ib.localTs, ['10.2.0.0/24']);
    assert.equal(ia.proposal, 'aes256gcm16-noesn');

    // The in-memory kernel was asked for exactly: allocSpi, inbound SA, outbound SA, then 3 policies.
    const calls = a.of('kernel').map((k) => k.method);
    assert.deepEqual(calls, [
      'allocSpi',
      'updateSa',
      'addSa',
      'updatePolicy',
      'updatePolicy',
      'updatePolicy',
    ]);

    // SIGTERM: the engine closes and removes its Child SA from the kernel (policies, then both SAs).
    assert.equal(await a.stop(), 0);
    const removed = a
      .of('kernel')
      .slice(calls.length)
      .map((k) => k.method);
    assert.deepEqual(removed, ['deletePolicy', 'deletePolicy', 'deletePolicy', 'deleteSa', 'deleteSa']);
    assert.ok(a.of('closed').length === 1);
  },
);
