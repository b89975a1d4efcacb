// `remote: <name>` resolved again before every (re)initiation (src/daemon/peer-resolve.ts): a move is
// logged and followed by the next IKE SA; a failed or hanging resolution is logged, counted and
// retried with the connection's backoff. Two engines in one process on a FakeClock, the resolver
// injected (a table the test edits, as an operator edits a DNS record).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryLogger } from '../../src/base/logger.ts';
import { Counters } from '../../src/base/counters.ts';
import { parseConfig } from '../../src/config/index.ts';
import type { AsyncResolver, Resolver } from '../../src/config/resolve.ts';
import { parseAddress, type IpAddress } from '../../src/config/values.ts';
import { PeerResolver } from '../../src/daemon/peer-resolve.ts';
import { ConnectionRegistry } from '../../src/daemon/registry.ts';
import { ADDR_A, ADDR_B, established, pair } from '../exchange/harness.ts';

const NAME = 'gw.example.net';
const OLD = '203.0.113.77'; // nobody answers there
const dir = mkdtempSync(join(tmpdir(), 'ikeway-peer-resolve-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const addr = (s: string): IpAddress => {
  const p = parseAddress(s);
  if (!p.ok) throw new Error(s);
  return p.value;
};

/** A record the test changes; `answer: false` makes the lookup hang (never settles). */
function dns(initial: string | undefined) {
  const rec = { to: initial, answer: true, asked: 0, v6only: false, reject: false };
  const sync: Resolver = () =>
    rec.to ? { addresses: [addr('2001:db8::9'), addr(rec.to)] } : { error: 'the name does not resolve' };
  const async: AsyncResolver = (name) => {
    rec.asked++;
    assert.equal(name, NAME);
    if (rec.reject) return Promise.reject(new Error('resolver broke'));
    if (rec.v6only) return Promise.resolve({ addresses: [addr('2001:db8::9')] });
    return rec.answer ? Promise.resolve(sync(name)) : new Promise(() => undefined);
  };
  return { rec, sync, async };
}

function namedConfig(resolve: Resolver, start = 'now') {
  writeFileSync(join(dir, 'psk'), 'a secret only the config test reads', { mode: 0o600 });
  const yaml =
    `local: { address: ${ADDR_A} }\nconnections:\n  site:\n    remote: ${NAME}\n` +
    `    auth: { psk: { file: psk } }\n    start: ${start}\n    retry: { initial: 10s, max: 40s, attempts: 0 }\n`;
  return parseConfig(yaml, join(dir, 'x.yaml'), { baseDir: dir, resolve }).config.connections[0]!;
}

/** A (initiator, named peer) and B; A's registry and peer resolver as the daemon wires them. */
async function setup(d: ReturnType<typeof dns>, timeoutMs = 3000) {
  const h = pair({ a: { remoteAddr: OLD, remoteName: NAME } });
  const log = new MemoryLogger();
  const counters = new Counters();
  const reg = new ConnectionRegistry({ spd: h.a.engine.spd, timers: h.timers, log, stopping: () => false });
  reg.attach(h.a.engine);
  h.a.engine.onEvent((e) => reg.onEngineEvent(e));
  const peers = new PeerResolver({
    resolve: d.async,
    log,
    counters,
    registry: reg,
    timeoutMs,
    after: (ms, fn) => h.timers.after(ms, fn),
  });
  peers.attach(h.a.engine);
  reg.setRefresh((n) => peers.refresh(n));
  const s = await reg.add(namedConfig(d.sync));
  assert.equal(s.ike.remoteAddr, OLD);
  return { h, log, counters, reg, peers, s };
}

test('the record moves while the peer is away: the next retry resolves, logs the move and comes up there', async (t) => {
  const d = dns(OLD);
  const { h, log, counters, reg, s } = await setup(d);
  t.after(() => h.close());
  reg.startAction(s); // to OLD: no answer, the IKE SA gives up, a retry is scheduled
  for (let i = 0; i < 400 && !s.waiting; i++) await h.settle(1_000, 1_000);
  assert.ok(s.waiting, 'a retry is scheduled after the silent peer');
  assert.equal(established(h.a).length, 0);
  d.rec.to = ADDR_B; // the operator updates the record: the peer is at B now
  for (let i = 0; i < 400 && established(h.a).length === 0; i++) await h.settle(1_000, 1_000);
  const up = established(h.a);
  assert.equal(up.length, 1, 'the IKE SA comes back on its own');
  assert.equal(up[0]!.path.remoteAddr, ADDR_B);
  assert.equal(h.a.engine.connection('site')?.remoteAddr, ADDR_B);
  assert.equal(s.ike.remoteAddr, ADDR_B);
  assert.deepEqual(s.conn.remote, addr(ADDR_B));
  const moved = log.entries.find((e) => e.message.startsWith('remote moved'));
  assert.equal(moved?.message, `remote moved from ${OLD} to ${ADDR_B}`);
  assert.equal(counters.get('peer.moved'), 1);
  assert.equal(counters.get('peer.resolve_failed'), 0);
  // The Child SA's kernel SAs name the new peer.
  const kernelSas = h.a.kernel.installed;
  assert.ok(kernelSas.length > 0 && kernelSas.every((x) => [x.src, x.dst].includes(ADDR_B)));
});

test('a name that stops resolving is logged, counted and retried with the backoff; then it comes up', async (t) => {
  const d = dns(OLD);
  const { h, log, counters, reg, s } = await setup(d);
  t.after(() => h.close());
  reg.startAction(s);
  for (let i = 0; i < 400 && !s.waiting; i++) await h.settle(1_000, 1_000);
  d.rec.to = undefined; // NXDOMAIN
  const waits: { attempt: number; baseMs: number }[] = [];
  for (let i = 0; i < 400 && waits.length < 3; i++) {
    await h.settle(1_000, 1_000);
    const w = s.waiting;
    if (w && w.reason.includes('does not resolve') && waits.at(-1)?.attempt !== w.attempt) waits.push(w);
  }
  assert.deepEqual(
    waits.map((w) => [w.attempt, w.baseMs]),
    [
      [2, 20_000],
      [3, 40_000],
      [4, 40_000],
    ],
    'the connection backoff, doubled up to retry.max',
  );
  assert.ok(counters.get('peer.resolve_failed') >= 3);
  const warn = log.entries.find((e) => e.message === 'cannot resolve remote');
  assert.equal(warn?.fields['error'], 'the name does not resolve');
  assert.equal(warn?.fields['keeping'], OLD);
  d.rec.to = ADDR_B;
  for (let i = 0; i < 400 && established(h.a).length === 0; i++) await h.settle(1_000, 1_000);
  assert.equal(established(h.a)[0]?.path.remoteAddr, ADDR_B);
});

test('a resolver that never answers is cut at the time limit, counted, and nothing is initiated', async (t) => {
  const d = dns(OLD);
  const { h, log, counters, peers } = await setup(d, 2000);
  t.after(() => h.close());
  d.rec.answer = false;
  const r = peers.refresh('site');
  let done: string | undefined;
  void r.then((x) => (done = x));
  await h.settle(1_000, 500);
  assert.equal(done, undefined, 'still within the limit');
  await h.settle(1_500, 500);
  assert.equal(done, 'failed');
  assert.equal(counters.get('peer.resolve_failed'), 1);
  assert.match(
    String(log.entries.find((e) => e.message === 'cannot resolve remote')?.fields['error']),
    /no answer within 2000 ms/,
  );
  assert.equal(h.a.engine.connection('site')?.remoteAddr, OLD, 'the last address stays');
  assert.equal(h.a.engine.sas().length, 0);
});

test('only an address of our family counts; a rejecting resolver is a failure, not a crash', async (t) => {
  const d = dns(OLD);
  const { h, log, counters, peers } = await setup(d);
  t.after(() => h.close());
  assert.equal(await peers.refresh('nope'), 'fixed', 'not a configured connection');
  assert.equal(await peers.refresh('site'), 'same');
  d.rec.v6only = true;
  assert.equal(await peers.refresh('site'), 'failed');
  const warn = log.entries.filter((e) => e.message === 'cannot resolve remote');
  assert.equal(warn.at(-1)?.fields['error'], 'no IPv4 address');
  d.rec.v6only = false;
  d.rec.reject = true;
  assert.equal(await peers.refresh('site'), 'failed');
  assert.equal(
    log.entries.filter((e) => e.message === 'cannot resolve remote').at(-1)?.fields['error'],
    'the resolver failed',
  );
  assert.equal(counters.get('peer.resolve_failed'), 2);
  assert.equal(counters.get('peer.moved'), 0);
  assert.equal(h.a.engine.connection('site')?.remoteAddr, OLD);
});

test('liveness restart and on-traffic starts go through initiateFresh: one resolution, concurrent calls coalesce', async (t) => {
  const h = pair({ a: { remoteAddr: OLD, remoteName: NAME } });
  t.after(() => h.close());
  let asked = 0;
  let release: () => void = () => undefined;
  h.a.engine.peerRefresh = (name) => {
    asked++;
    return new Promise<void>((r) => {
      release = () => {
        h.a.engine.setRemoteAddr(name, ADDR_B);
        r();
      };
    });
  };
  const first = h.a.engine.initiateFresh('site');
  const second = await h.a.engine.initiateFresh('site');
  assert.equal(second, undefined, 'a second start while resolving coalesces');
  release();
  const sa = await first;
  assert.equal(asked, 1);
  assert.equal(sa?.path.remoteAddr, ADDR_B);
  await h.settle(2_000);
  assert.equal(established(h.a)[0]?.path.remoteAddr, ADDR_B);
  // A connection with a fixed address does not ask.
  const fixed = pair();
  t.after(() => fixed.close());
  fixed.a.engine.peerRefresh = () => assert.fail('no lookup for an address');
  assert.ok(await fixed.a.engine.initiateFresh('site'));
});
