// RFC 7296 §1.2 / §2.9: when the responder installed a Child SA that the initiator cannot install (a
// kernel error) or refuses (selectors it never proposed), "the initiator ... MUST delete" it: an
// INFORMATIONAL Delete for it, and the IKE SA stays. Both roles, in IKE_AUTH, CREATE_CHILD_SA and a rekey.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, ExchangeType, HeaderFlag } from '../../src/codec/index.ts';
import { KernelError } from '../../src/kernel/errors.ts';
import { tsFromCidr } from '../../src/ike/traffic-selectors.ts';
import { established, pair, type Peer } from './harness.ts';

const enobufs = () => KernelError.fromErrno(105, 'XFRM_MSG_NEWSA', 'outbound');
const informationalRequests = (h: ReturnType<typeof pair>, from: Peer) =>
  h.net.log.filter((d) => {
    const m = decodeMessage(d.data);
    return (
      d.srcAddr === from.conn.localAddr &&
      m.header.exchangeType === ExchangeType.INFORMATIONAL &&
      (m.header.flags & HeaderFlag.RESPONSE) === 0
    );
  }).length;

for (const initiatorIsA of [true, false]) {
  const who = initiatorIsA ? 'A' : 'B';

  test(`IKE_AUTH: the initiator's install fails -> the responder's Child SA is deleted (${who} initiates)`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    ini.kernel.failNext('addSa', enobufs());
    const sa = ini.engine.initiate('site');
    await h.settle(0);
    assert.equal(sa.state, 'established', 'the IKE SA stays (§1.2)');
    assert.equal(established(res).length, 1);
    assert.ok(ini.events.some((e) => e.type === 'child-failed'));
    assert.equal(informationalRequests(h, ini), 1);
    assert.ok(res.events.some((e) => e.type === 'child-destroyed'));
    assert.equal(established(res)[0]!.children.length, 0);
    for (const p of [ini, res]) assert.deepEqual([p.kernel.saCount, p.kernel.policyCount], [0, 0], p.name);
  });

  test(`IKE_AUTH: selectors the initiator never proposed -> deleted at the responder (${who} initiates)`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    // A misbehaving responder: once its Child SA is installed, it answers with TSi = 0.0.0.0/0, wider
    // than the initiator proposed (§2.9 allows only narrowing).
    res.engine.onEvent((e) => {
      if (e.type !== 'child-installed') return;
      const real = e.child.remoteTs;
      e.child.remoteTs = [tsFromCidr('0.0.0.0/0')];
      setImmediate(() => (e.child.remoteTs = real)); // after the response was encoded
    });
    const sa = ini.engine.initiate('site');
    await h.settle(0);
    assert.equal(sa.state, 'established');
    assert.equal(sa.children.length, 0);
    assert.ok(ini.events.some((e) => e.type === 'child-failed' && /wider/.test(e.reason)));
    assert.equal(informationalRequests(h, ini), 1);
    for (const p of [ini, res]) assert.deepEqual([p.kernel.saCount, p.kernel.policyCount], [0, 0], p.name);
  });

  test(`CREATE_CHILD_SA: the initiator's install fails -> deleted at the responder (${who} initiates)`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    h.a.engine.initiate('site');
    await h.settle(0);
    assert.equal(res.kernel.saCount, 2);
    ini.kernel.failNext('addSa', enobufs());
    ini.engine.createChild('site');
    await h.settle(0);
    assert.equal(established(ini).length, 1);
    assert.equal(informationalRequests(h, ini), 1);
    for (const p of [ini, res]) {
      assert.equal(p.kernel.saCount, 2, `${p.name}: only the first Child SA's pair`);
      assert.equal(established(p)[0]!.children.length, 1);
    }
  });

  test(`Child rekey: the initiator's install fails -> the new SA deleted, the old one rekeyable (${who} rekeys)`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    h.a.engine.initiate('site');
    await h.settle(0);
    const sa = established(ini)[0]!;
    const rsa = established(res)[0]!;
    const old = sa.children[0]!;
    const oldPeer = rsa.children[0]!;
    ini.kernel.failNext('addSa', enobufs());
    ini.engine.rekeyChild(sa, old);
    await h.settle(0);
    assert.equal(old.state, 'installed');
    assert.equal(oldPeer.state, 'installed', 'the responder takes the old SA back');
    assert.deepEqual(rsa.children, [oldPeer]);
    for (const p of [ini, res]) assert.equal(p.kernel.saCount, 2, p.name);
    // The next rekey goes through (the responder would answer TEMPORARY_FAILURE to a 'rekeyed' SA).
    ini.engine.rekeyChild(sa, old);
    await h.settle(10_000);
    assert.equal(old.state, 'destroyed');
    assert.equal(sa.children.length, 1);
    assert.equal(rsa.children.length, 1);
    assert.equal(rsa.children[0]!.spiIn, sa.children[0]!.spiOut);
    for (const p of [ini, res]) assert.equal(p.kernel.saCount, 2, p.name);
  });
}
