// RFC 9370 §2.2.4: additional key exchanges on CREATE_CHILD_SA, two engines in one process. A Child SA
// rekey with PFS through X25519 + ML-KEM-768 (one IKE_FOLLOWUP_KE), with two additional exchanges (two
// follow-ups, the link of each taken from the previous response), and an IKE SA rekey with the hybrid
// (the new IKE SA lists both key exchanges and works). Bad input: a follow-up with an unknown link (or
// when the proposal had no additional exchange) is answered STATE_NOT_FOUND, a follow-up KE of the wrong
// method or length INVALID_SYNTAX; each is counted and leaves no new SA behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, ExchangeType, NotifyType, type Payload } from '../../src/codec/index.ts';
import { DhGroup } from '../../src/codec/iana.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import type { OutboundMessage } from '../../src/ike/task.ts';
import { CreateChildSa } from '../../src/ike/tasks/create-child-sa.ts';
import { established, pair } from './harness.ts';

const X25519 = DhGroup.CURVE25519;
const MLKEM768 = DhGroup.ML_KEM_768;
const HYBRID_IKE = 'aes256gcm16-prfsha256-x25519-ke1_mlkem768';
const conf = (ike: string, esp: string) => ({
  ikeProposals: parseProposals([ike], 'ike'),
  espProposals: parseProposals([esp], 'esp'),
});

const decoded = (h: ReturnType<typeof pair>) =>
  h.net.log.map((d) => ({ src: d.srcAddr, m: decodeMessage(d.data) }));
const later = (h: ReturnType<typeof pair>) =>
  decoded(h)
    .map((d) => d.m.header.exchangeType)
    .filter((x) => x === ExchangeType.CREATE_CHILD_SA || x === ExchangeType.IKE_FOLLOWUP_KE);
const keyHex = (s: { aead?: { key: Uint8Array } }) => Buffer.from(s.aead!.key).toString('hex');

interface Seen {
  readonly role: 'initiator' | 'responder';
  readonly dir: 'out' | 'in';
  readonly exchange: number;
  readonly notifies: number[];
  readonly link: string | undefined;
}

/**
 * Wraps CreateChildSa.build/process (the messages are encrypted on the wire): records every message a
 * task builds or processes, and lets `mutate` edit an IKE_FOLLOWUP_KE the initiating task built.
 */
function spy(t: { after(fn: () => void): void }, mutate?: (payloads: Payload[]) => void): Seen[] {
  const seen: Seen[] = [];
  const proto = CreateChildSa.prototype as unknown as {
    build(msg: OutboundMessage): Promise<void>;
    process(msg: { header: { exchangeType: number }; payloads: readonly Payload[] }): Promise<unknown>;
  };
  const note = (self: unknown, dir: 'out' | 'in', exchange: number, ps: readonly Payload[]) => {
    const n = ps.find((p) => p.kind === 'NOTIFY' && p.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE);
    seen.push({
      role: (self as { initiator: boolean }).initiator ? 'initiator' : 'responder',
      dir,
      exchange,
      notifies: ps.flatMap((p) => (p.kind === 'NOTIFY' ? [p.notifyType] : [])),
      link: n?.kind === 'NOTIFY' ? Buffer.from(n.data).toString('hex') : undefined,
    });
  };
  const [build, process] = [proto.build, proto.process];
  proto.build = async function (this: unknown, msg: OutboundMessage) {
    await build.call(this, msg);
    const initiator = (this as { initiator: boolean }).initiator;
    if (mutate && initiator && msg.exchangeType === ExchangeType.IKE_FOLLOWUP_KE) mutate(msg.payloads);
    note(this, 'out', msg.exchangeType, msg.payloads);
  };
  proto.process = async function (this: unknown, msg) {
    note(this, 'in', msg.header.exchangeType, msg.payloads);
    return process.call(this, msg);
  };
  t.after(() => {
    [proto.build, proto.process] = [build, process];
  });
  return seen;
}

/** What the initiating task received in IKE_FOLLOWUP_KE responses. */
const followupAnswers = (seen: Seen[]) =>
  seen.filter((s) => s.role === 'initiator' && s.dir === 'in' && s.exchange === ExchangeType.IKE_FOLLOWUP_KE);

async function upWith(esp: string, ike = HYBRID_IKE) {
  const c = conf(ike, esp);
  const h = pair({ a: c, b: c });
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  return { h, sa, peer: established(h.b)[0]! };
}

for (const rekeyer of ['a', 'b'] as const) {
  test(`Child SA rekey with PFS X25519 + ML-KEM-768: one IKE_FOLLOWUP_KE, keys agree (${rekeyer} rekeys)`, async (t) => {
    const { h, sa, peer } = await upWith('aes256gcm16-x25519-ke1_mlkem768');
    t.after(() => h.close());
    const seen = spy(t);
    const [side, ikeSa] = rekeyer === 'a' ? [h.a, sa] : [h.b, peer];
    const old = ikeSa.children[0]!;
    side.engine.rekeyChild(ikeSa, old);
    await h.settle(0);
    assert.deepEqual(later(h), [
      ExchangeType.CREATE_CHILD_SA,
      ExchangeType.CREATE_CHILD_SA,
      ExchangeType.IKE_FOLLOWUP_KE,
      ExchangeType.IKE_FOLLOWUP_KE,
    ]);
    const fresh = ikeSa.children.find((c) => c !== old && c.state === 'installed');
    assert.ok(fresh, 'rekeyed Child SA installed');
    assert.deepEqual(
      fresh.proposal!.transforms.filter((x) => x.type === 4 || x.type >= 6).map((x) => x.id),
      [X25519, MLKEM768],
    );
    // Each side installs the new inbound and outbound SA; the keys are pairwise equal.
    const ka = h.a.kernel.installed.slice(2).map(keyHex).sort();
    const kb = h.b.kernel.installed.slice(2).map(keyHex).sort();
    assert.equal(ka.length, 2);
    assert.deepEqual(ka, kb);
    // The link notify is in the CREATE_CHILD_SA response and the IKE_FOLLOWUP_KE request, not after.
    const sent = seen.filter((x) => x.dir === 'out').map((x) => [x.role, x.exchange, x.link !== undefined]);
    assert.deepEqual(sent, [
      ['initiator', ExchangeType.CREATE_CHILD_SA, false],
      ['responder', ExchangeType.CREATE_CHILD_SA, true],
      ['initiator', ExchangeType.IKE_FOLLOWUP_KE, true],
      ['responder', ExchangeType.IKE_FOLLOWUP_KE, false],
    ]);
    const outs = seen.filter((x) => x.dir === 'out');
    assert.equal(outs[1]!.link, outs[2]!.link, 'the follow-up carries the link the responder chose');
    assert.equal(h.a.engine.sas()[0]!.followups.size + h.b.engine.sas()[0]!.followups.size, 0);
  });
}

test('two additional key exchanges on a Child SA rekey: two IKE_FOLLOWUP_KE, each with its own link', async (t) => {
  const { h, sa } = await upWith('aes256gcm16-x25519-ke1_mlkem768-ke2_ecp256');
  t.after(() => h.close());
  const seen = spy(t);
  const old = sa.children[0]!;
  h.a.engine.rekeyChild(sa, old);
  await h.settle(0);
  assert.equal(later(h).filter((x) => x === ExchangeType.IKE_FOLLOWUP_KE).length, 4);
  const links = seen
    .filter((x) => x.role === 'initiator' && x.dir === 'out' && x.exchange === ExchangeType.IKE_FOLLOWUP_KE)
    .map((x) => x.link);
  assert.equal(links.length, 2);
  assert.ok(links[0] && links[1] && links[0] !== links[1], 'a fresh link for each follow-up');
  assert.ok(sa.children.some((c) => c !== old && c.state === 'installed'));
  assert.deepEqual(
    h.a.kernel.installed.slice(2).map(keyHex).sort(),
    h.b.kernel.installed.slice(2).map(keyHex).sort(),
  );
});

test('IKE SA rekey with X25519 + ML-KEM-768: IKE_FOLLOWUP_KE, the new IKE SA lists both and works', async (t) => {
  const { h, sa } = await upWith('aes256gcm16');
  t.after(() => h.close());
  h.a.engine.rekeyIke(sa);
  await h.settle(0);
  const [na] = established(h.a);
  const [nb] = established(h.b);
  assert.ok(na && nb && na !== sa, 'new IKE SA on both sides');
  assert.deepEqual(na.keMethods, [X25519, MLKEM768]);
  assert.deepEqual(nb.keMethods, [X25519, MLKEM768]);
  assert.ok(later(h).includes(ExchangeType.IKE_FOLLOWUP_KE));
  // The new IKE SA's keys agree: a Child SA rekey over it succeeds.
  const child = na.children[0]!;
  h.a.engine.rekeyChild(na, child);
  await h.settle(0);
  assert.ok(
    na.children.some((c) => c !== child && c.state === 'installed'),
    'Child SA rekeyed over the new IKE SA',
  );
});

test('IKE_FOLLOWUP_KE with an unknown link: STATE_NOT_FOUND, counted, no new Child SA', async (t) => {
  const seen = spy(t, (ps) => {
    const i = ps.findIndex((p) => p.kind === 'NOTIFY' && p.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE);
    ps[i] = { ...(ps[i] as Payload & { kind: 'NOTIFY' }), data: new Uint8Array(8).fill(7) };
  });
  const { h, sa, peer } = await upWith('aes256gcm16-x25519-ke1_mlkem768');
  t.after(() => h.close());
  const old = sa.children[0]!;
  h.a.engine.rekeyChild(sa, old);
  await h.settle(0);
  assert.equal(h.b.counters.get('ike.followup_unexpected'), 1);
  assert.deepEqual(
    followupAnswers(seen).map((x) => x.notifies),
    [[NotifyType.STATE_NOT_FOUND]],
  );
  assert.equal(h.b.kernel.installed.length, 2, 'the responder installed nothing new');
  assert.equal(peer.children.filter((c) => c.state === 'installed').length, 1);
  assert.equal(old.state, 'installed', 'the old Child SA carries on');
});

for (const [what, mutate, counter] of [
  [
    'of a method not negotiated',
    (ke: { group: number; data: Uint8Array }) => ({ ...ke, group: DhGroup.ML_KEM_512 }),
    'ike.followup_bad_ke',
  ],
  [
    'of the wrong length',
    (ke: { group: number; data: Uint8Array }) => ({ ...ke, data: ke.data.subarray(0, 1000) }),
    'ike.followup_bad_ke',
  ],
] as const) {
  test(`IKE_FOLLOWUP_KE with a KE ${what}: INVALID_SYNTAX, counted, the pending Child SA dropped`, async (t) => {
    const seen = spy(t, (ps) => {
      const i = ps.findIndex((p) => p.kind === 'KE');
      ps[i] = { ...(ps[i] as Payload & { kind: 'KE' }), ...mutate(ps[i] as Payload & { kind: 'KE' }) };
    });
    const { h, sa, peer } = await upWith('aes256gcm16-x25519-ke1_mlkem768');
    t.after(() => h.close());
    h.a.engine.rekeyChild(sa, sa.children[0]!);
    await h.settle(0);
    assert.equal(h.b.counters.get(counter), 1);
    assert.deepEqual(
      followupAnswers(seen).map((x) => x.notifies),
      [[NotifyType.INVALID_SYNTAX]],
    );
    assert.equal(h.b.kernel.installed.length, 2, 'nothing new installed');
    assert.equal(peer.followups.size, 0, 'no pending exchange kept');
    assert.equal(peer.children.filter((c) => c.state === 'installed').length, 1);
  });
}

test('an IKE_FOLLOWUP_KE after a CREATE_CHILD_SA without additional exchanges: STATE_NOT_FOUND', async (t) => {
  const { h, sa, peer } = await upWith('aes256gcm16-x25519');
  t.after(() => h.close());
  // A follow-up the proposal did not include: sent by hand on the established IKE SA.
  const task = {
    name: 'rogue-followup',
    exchange: ExchangeType.IKE_FOLLOWUP_KE,
    build(msg: OutboundMessage) {
      msg.add(
        {
          kind: 'NOTIFY',
          protocolId: 0,
          spi: new Uint8Array(0),
          notifyType: NotifyType.ADDITIONAL_KEY_EXCHANGE,
          data: new Uint8Array(8),
        },
        { kind: 'KE', group: MLKEM768, data: new Uint8Array(1184) },
      );
    },
    process() {},
  };
  sa.tasks.queue(task);
  await sa.tasks.initiate();
  await h.settle(0);
  assert.equal(h.b.counters.get('ike.followup_unexpected'), 1);
  assert.equal(peer.state, 'established', 'the IKE SA is not harmed');
  assert.equal(h.b.kernel.installed.length, 2);
});

test('CREATE_CHILD_SA with an ML-KEM KE of the wrong length: INVALID_SYNTAX, counted, nothing installed', async (t) => {
  const seen = spy(t);
  const proto = CreateChildSa.prototype as unknown as { build(msg: OutboundMessage): Promise<void> };
  const build = proto.build;
  proto.build = async function (this: unknown, msg: OutboundMessage) {
    await build.call(this, msg);
    const i = msg.payloads.findIndex((p) => p.kind === 'KE');
    if ((this as { initiator: boolean }).initiator && i >= 0) {
      const ke = msg.payloads[i] as Payload & { kind: 'KE' };
      msg.payloads[i] = { ...ke, data: ke.data.subarray(0, ke.data.length - 1) };
    }
  };
  t.after(() => {
    proto.build = build;
  });
  const { h, sa, peer } = await upWith('aes256gcm16-mlkem768');
  t.after(() => h.close());
  const old = sa.children[0]!;
  h.a.engine.rekeyChild(sa, old);
  await h.settle(0);
  assert.equal(h.b.counters.get('ike.bad_ke'), 1);
  const answers = seen.filter((x) => x.role === 'initiator' && x.dir === 'in');
  assert.deepEqual(
    answers.map((x) => x.notifies),
    [[NotifyType.INVALID_SYNTAX]],
  );
  assert.equal(h.b.kernel.installed.length, 2, 'nothing new installed');
  assert.equal(peer.children.filter((c) => c.state === 'installed').length, 1);
  assert.equal(old.state, 'installed', 'the old Child SA carries on');
});
