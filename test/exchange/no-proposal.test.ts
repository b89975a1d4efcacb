// RFC 7296 §2.7 NO_PROPOSAL_CHOSEN: for IKE in IKE_SA_INIT (no IKE SA), for ESP in IKE_AUTH (IKE SA stays).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotifyType } from '../../src/codec/index.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import { established, pair } from './harness.ts';

for (const initiatorIsA of [true, false]) {
  const who = initiatorIsA ? 'A' : 'B';
  test(`no acceptable IKE proposal: nothing is established (${who} initiates)`, async (t) => {
    const other = { ikeProposals: parseProposals('aes128-sha256-modp2048', 'ike') };
    const h = pair(initiatorIsA ? { b: other } : { a: other });
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = ini.engine.initiate('site');
    await h.settle(0);
    // "If none of the proposals are acceptable, the responder MUST return NO_PROPOSAL_CHOSEN"
    assert.equal(sa.state, 'destroyed');
    const failed = ini.events.find((e) => e.type === 'ike-failed');
    assert.match(
      failed?.type === 'ike-failed' ? failed.reason : '',
      new RegExp(`notify ${NotifyType.NO_PROPOSAL_CHOSEN}`),
    );
    assert.equal(res.engine.sas().length, 0);
    assert.equal(res.counters.get('ike.error_notify_sent'), 1);
    assert.equal(h.net.stats.sent, 2);
  });

  test(`no acceptable ESP proposal: IKE SA up, no Child SA (${who} initiates)`, async (t) => {
    const other = { espProposals: parseProposals('aes128-sha256', 'esp') };
    const h = pair(initiatorIsA ? { b: other } : { a: other });
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = ini.engine.initiate('site');
    await h.settle(0);
    // RFC 7296 §1.2: "If the failure is related to creating the Child SA, the IKE SA is still created"
    assert.equal(sa.state, 'established');
    assert.equal(established(res).length, 1);
    const failed = ini.events.find((e) => e.type === 'child-failed');
    assert.equal(failed?.type === 'child-failed' && failed.notify, NotifyType.NO_PROPOSAL_CHOSEN);
    assert.equal(ini.kernel.saCount + res.kernel.saCount, 0);
  });
}

test('ESN is negotiated and reaches the kernel', async (t) => {
  const esn = { espProposals: parseProposals('aes256gcm16-esn', 'esp') };
  const h = pair({ a: esn, b: esn });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(h.a.kernel.installed.length, 2);
  assert.ok([...h.a.kernel.installed, ...h.b.kernel.installed].every((p) => p.esn === true));
});

test('CBC + HMAC ESP maps to crypt and auth algorithms with crosswise keys', async (t) => {
  const cbc = {
    ikeProposals: parseProposals('aes256-sha256-modp2048', 'ike'),
    espProposals: parseProposals('aes128-sha256-noesn', 'esp'),
  };
  const h = pair({ a: cbc, b: cbc });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  const [aIn, aOut] = h.a.kernel.installed;
  const [bIn, bOut] = h.b.kernel.installed;
  assert.equal(aOut?.crypt?.name, 'cbc(aes)');
  assert.equal(aOut?.auth?.name, 'hmac(sha256)');
  assert.equal(aOut?.auth?.truncBits, 128);
  assert.deepEqual(aOut?.crypt?.key, bIn?.crypt?.key);
  assert.deepEqual(aOut?.auth?.key, bIn?.auth?.key);
  assert.deepEqual(bOut?.auth?.key, aIn?.auth?.key);
  assert.equal(aOut?.esn, false);
});
