// Issue 21 in memory: AH Child SAs (RFC 4302; RFC 7296 §3.3.1 protocol ID 2 in SA, Delete and REKEY_SA
// payloads), protocol mismatches (NO_PROPOSAL_CHOSEN, the IKE SA stays, §1.2), and TFC padding
// (RFC 4303 §2.7) with ESP_TFC_PADDING_NOT_SUPPORTED (RFC 7296 §3.10.1) in IKE_AUTH and CREATE_CHILD_SA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotifyType, ProtocolId, decodeMessage, type Payload } from '../../src/codec/index.ts';
import { openProtected } from '../../src/codec/protect.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import type { IkeSa } from '../../src/ike/ike-sa.ts';
import { ADDR_A, established, pair, type Peer } from './harness.ts';

const AH = { childProtocol: 'ah' as const, espProposals: parseProposals(['sha512', 'sha256'], 'ah') };

/** The inner payloads of every protected message `from` sent after `sa` (at the receiver) was keyed. */
function sentPayloads(h: ReturnType<typeof pair>, fromAddr: string, receiver: IkeSa): Payload[][] {
  const out: Payload[][] = [];
  for (const d of h.net.log) {
    if (d.srcAddr !== fromAddr) continue;
    const bytes =
      d.data[0] === 0 && d.data[1] === 0 && d.data[2] === 0 && d.data[3] === 0 ? d.data.subarray(4) : d.data;
    const msg = decodeMessage(bytes);
    if (!msg.payloads.some((p) => p.kind === 'SK')) continue;
    try {
      out.push(openProtected(bytes, msg, receiver.keymat!.inbound));
    } catch {
      // another IKE SA's message (before or after a rekey): not ours to read
    }
  }
  return out;
}

for (const initiatorIsA of [true, false]) {
  const who = initiatorIsA ? 'A' : 'B';
  test(`AH Child SA: protocol 2 on the wire, kernel SAs proto ah with auth only, AH templates (${who} initiates)`, async (t) => {
    const h = pair({ a: AH, b: AH });
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    ini.engine.initiate('site');
    await h.settle(0);
    const sa = established(ini)[0]!;
    const rsa = established(res)[0]!;
    const child = sa.children[0]!;
    const peer = rsa.children[0]!;
    assert.equal(child.protocol, 'ah');
    assert.equal(peer.protocol, 'ah');
    assert.equal(child.state, 'installed');
    // RFC 7296 §3.3.1: "Protocol ID ... AH 2"; the responder picked the first acceptable (sha512).
    assert.equal(child.proposal!.protocol, ProtocolId.AH);
    assert.deepEqual(
      child.proposal!.transforms.filter((x) => x.type === 3).map((x) => x.id),
      [14],
    );
    const req = sentPayloads(h, ini.conn.localAddr, rsa).find((ps) => ps.some((p) => p.kind === 'SA'))!;
    const saP = req.find((p) => p.kind === 'SA');
    assert.ok(
      saP?.kind === 'SA' && saP.proposals.every((p) => p.protocolId === ProtocolId.AH && p.spi.length === 4),
    );
    for (const p of [ini, res]) {
      assert.equal(p.kernel.installed.length, 2);
      for (const x of p.kernel.installed) {
        // RFC 4302: no encryption; Linux AH takes XFRMA_ALG_AUTH(_TRUNC) alone.
        assert.equal(x.proto, 'ah');
        assert.equal(x.crypt, undefined);
        assert.equal(x.aead, undefined);
        assert.equal(x.auth?.name, 'hmac(sha512)');
        assert.equal(x.auth?.truncBits, 256);
        assert.equal(x.auth?.key.length, 64);
        assert.equal(x.tfcPad, undefined);
      }
      const pols = await p.kernel.dumpPolicies();
      assert.ok(pols.length > 0);
      assert.ok(pols.every((x) => x.templates.every((tm) => tm.proto === 'ah')));
    }
    // RFC 7296 §2.17: the same integrity key at both ends of each direction.
    const key = (p: Peer, spi: number) => p.kernel.installed.find((x) => x.spi === spi)!.auth!.key;
    assert.deepEqual(key(ini, child.spiOut), key(res, child.spiOut));
    assert.deepEqual(key(ini, child.spiIn), key(res, child.spiIn));
    assert.notDeepEqual(key(ini, child.spiOut), key(ini, child.spiIn));
  });
}

test('AH rekey names the old SA with REKEY_SA protocol 2, the Delete of the old pair is protocol 2', async (t) => {
  const h = pair({ a: AH, b: AH });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const sa = established(h.a)[0]!;
  const rsa = established(h.b)[0]!;
  const old = sa.children[0]!;
  const oldPeer = rsa.children[0]!;
  h.a.engine.rekeyChild(sa, old);
  await h.settle(5_000);
  const child = sa.children.find((c) => c !== old)!;
  assert.ok(child, 'the rekey made a new Child SA');
  assert.equal(child.protocol, 'ah');
  assert.equal(child.reqid, old.reqid);
  assert.equal(old.state, 'destroyed');
  assert.equal(oldPeer.state, 'destroyed');
  const msgs = sentPayloads(h, ADDR_A, rsa);
  const rekey = msgs.flat().find((p) => p.kind === 'NOTIFY' && p.notifyType === NotifyType.REKEY_SA);
  // §3.10: "Protocol ID ... the type of SA" and the SPI is the one A receives on.
  assert.ok(rekey?.kind === 'NOTIFY');
  assert.equal(rekey.protocolId, ProtocolId.AH);
  assert.deepEqual([...rekey.spi], [...new Uint8Array(new Uint32Array([old.spiIn]).buffer)].reverse());
  const del = msgs.flat().find((p) => p.kind === 'DELETE');
  assert.ok(del?.kind === 'DELETE');
  assert.equal(del.protocolId, ProtocolId.AH);
  for (const p of [h.a, h.b]) {
    assert.equal(p.kernel.saCount, 2);
    assert.ok((await p.kernel.dumpSas()).every((x) => x.proto === 'ah'));
  }
});

test('deleting an AH Child SA: Delete with protocol 2 removes both pairs; an ESP Delete of the same SPI does not', async (t) => {
  const h = pair({ a: AH, b: AH });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const sa = established(h.a)[0]!;
  const rsa = established(h.b)[0]!;
  const child = sa.children[0]!;
  h.a.engine.terminateChild(sa, child);
  await h.settle(0);
  assert.equal(child.state, 'destroyed');
  assert.equal(rsa.children.length, 0);
  assert.equal(h.a.kernel.saCount, 0);
  assert.equal(h.b.kernel.saCount, 0);
  const del = sentPayloads(h, ADDR_A, rsa)
    .flat()
    .find((p) => p.kind === 'DELETE');
  assert.ok(del?.kind === 'DELETE' && del.protocolId === ProtocolId.AH);
});

for (const [label, a, b] of [
  ['initiator AH, responder ESP', AH, {}],
  ['initiator ESP, responder AH', {}, AH],
] as const) {
  test(`protocol mismatch (${label}): NO_PROPOSAL_CHOSEN, the IKE SA stays, no SA in either kernel`, async (t) => {
    const h = pair({ a, b });
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    await h.settle(0);
    // RFC 7296 §1.2: "If the failure is related to creating the Child SA, the IKE SA is still created"
    assert.equal(sa.state, 'established');
    const failed = h.a.events.find((e) => e.type === 'child-failed');
    assert.equal(failed?.type === 'child-failed' && failed.notify, NotifyType.NO_PROPOSAL_CHOSEN);
    assert.equal(h.a.kernel.saCount, 0);
    assert.equal(h.b.kernel.saCount, 0);
  });
}

test('TFC padding: our outbound SA gets XFRMA_TFCPAD, the inbound one and the peer without it none', async (t) => {
  const h = pair({ a: { tfcPadding: 1400 } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const child = established(h.a)[0]!.children[0]!;
  assert.equal(child.tfcPad, 1400);
  const out = h.a.kernel.installed.find((x) => x.spi === child.spiOut)!;
  const inb = h.a.kernel.installed.find((x) => x.spi === child.spiIn)!;
  assert.equal(out.tfcPad, 1400);
  assert.equal(inb.tfcPad, undefined, 'the receiving SA never pads');
  assert.ok(h.b.kernel.installed.every((x) => x.tfcPad === undefined));
  assert.equal(h.a.counters.get('ike.tfc_refused_by_peer'), 0);
});

for (const initiatorIsA of [true, false]) {
  const who = initiatorIsA ? 'A' : 'B';
  test(`ESP_TFC_PADDING_NOT_SUPPORTED from the peer: no padding towards it, in IKE_AUTH and on rekeys (${who} initiates)`, async (t) => {
    const h = pair({ a: { tfcPadding: 1400 }, b: { acceptTfcPadding: false } });
    t.after(() => h.close());
    (initiatorIsA ? h.a : h.b).engine.initiate('site');
    await h.settle(0);
    const sa = established(h.a)[0]!;
    const child = sa.children[0]!;
    assert.equal(child.peerRefusesTfc, true);
    assert.equal(child.tfcPad, undefined);
    assert.ok(h.a.kernel.installed.every((x) => x.tfcPad === undefined));
    assert.equal(h.a.counters.get('ike.tfc_refused_by_peer'), 1);
    // B's message carrying its Child SA had the notify (RFC 7296 §3.10.1: scope is the Child SA).
    const fromB = sentPayloads(h, h.b.conn.localAddr, sa).flat();
    assert.ok(
      fromB.some((p) => p.kind === 'NOTIFY' && p.notifyType === NotifyType.ESP_TFC_PADDING_NOT_SUPPORTED),
    );
    // CREATE_CHILD_SA (rekey by A): the notify comes again and is honoured again.
    h.a.engine.rekeyChild(sa, child);
    await h.settle(5_000);
    const next = sa.children.find((c) => c !== child)!;
    assert.ok(next && next.state === 'installed');
    assert.equal(next.tfcPad, undefined);
    assert.ok(h.a.kernel.installed.every((x) => x.tfcPad === undefined));
    assert.equal(h.a.counters.get('ike.tfc_refused_by_peer'), 2);
  });
}

test('TFC padding configured with transport mode negotiated: none (RFC 4303 §2.7 needs an inner length)', async (t) => {
  const hostA = { mode: 'transport' as const, tfcPadding: 1400 };
  const h = pair({ a: hostA, b: { mode: 'transport' as const } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const child = established(h.a)[0]!.children[0]!;
  assert.equal(child.mode, 'transport');
  assert.equal(child.tfcPad, undefined);
  assert.ok(h.a.kernel.installed.every((x) => x.tfcPad === undefined));
});
