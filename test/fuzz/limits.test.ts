// Admission limits of the responder (RFC 7296 §2.6 resource exhaustion): limits.half-open and
// limits.ike-sas-per-peer act before any DH, count every drop, and log one line per burst.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMessage, encodeMessage } from '../../src/codec/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { MemoryLogger } from '../../src/base/logger.ts';
import { ADDR_A, ADDR_B, established, pair } from '../exchange/harness.ts';

const toB = { localAddr: ADDR_B, localPort: 500, remoteAddr: ADDR_A, remotePort: 500 };
const lines = (l: MemoryLogger, text: string) => l.entries.filter((e) => e.message.includes(text));

test('ike-sas-per-peer: the peer gets its limit of IKE SAs, the next IKE_SA_INIT is dropped, counted, logged once', async (t) => {
  // Two IKE SAs of one peer identity on purpose: no uniqueness rule (src/ike/uniqueness.ts).
  const h = pair({ optionsB: { ikeSasPerPeer: 2 }, a: { unique: 'no' }, b: { unique: 'no' } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(established(h.b).length, 2);
  assert.equal(h.b.engine.ikeSasOf(ADDR_A), 2);
  const third = h.a.engine.initiate('site');
  await h.settle(9_000); // A retransmits its IKE_SA_INIT within 9 s: every copy dropped, one line
  assert.notEqual(third.state, 'established');
  assert.equal(established(h.b).length, 2);
  const drops = h.b.counters.get('ike.drop_peer_limit');
  assert.ok(drops >= 2, `${drops} drops`);
  assert.equal(h.b.counters.get('ike.drop_half_open_limit'), 0);
  const logged = lines(h.b.logger, 'per-peer limit');
  assert.equal(logged.length, 1, 'one line per burst, not per packet');
  assert.equal(logged[0]!.level, 'warn');
  assert.equal(logged[0]!.fields.limit, 2);
  assert.equal(logged[0]!.fields.peer, ADDR_A);
  // One SA gone: the peer is admitted again.
  await established(h.b)[0]!.destroy();
  assert.equal(h.b.engine.ikeSasOf(ADDR_A), 1);
  const again = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(again.state, 'established');
});

test('half-open limit: a burst of IKE_SA_INIT is dropped before any state, counted, one log line per burst', async (t) => {
  const h = pair({ optionsB: { halfOpenLimit: 2, cookieThreshold: 100, ikeSasPerPeer: 1000 } });
  t.after(() => h.close());
  h.net.faults = { drop: (d) => d.srcAddr === ADDR_B }; // B's answers never arrive: SAs stay half-open
  h.a.engine.initiate('site');
  await h.settle(0);
  const init = decodeMessage(h.net.log[0]!.data);
  const flood = (n: number, from: number) => {
    for (let i = 0; i < n; i++) {
      const spiI = new Uint8Array(8);
      new DataView(spiI.buffer).setUint32(4, from + i);
      h.net.inject(encodeMessage({ header: { ...init.header, spiI }, payloads: init.payloads }), toB);
    }
  };
  flood(20, 1000);
  await h.settle(0);
  assert.equal(h.b.engine.halfOpenCount, 2);
  assert.equal(h.b.engine.sas().length, 2);
  assert.equal(h.b.counters.get('ike.drop_half_open_limit'), 19);
  assert.equal(lines(h.b.logger, 'half-open limit reached').length, 1);
  // Still inside the burst 5 s later: no new line. After a quiet interval: a new burst, a new line.
  await h.settle(5_000);
  flood(5, 2000);
  await h.settle(0);
  assert.equal(lines(h.b.logger, 'half-open limit reached').length, 1);
  await h.settle(11_000);
  flood(5, 3000);
  await h.settle(0);
  assert.equal(lines(h.b.logger, 'half-open limit reached').length, 2);
  assert.ok(h.b.counters.get('ike.drop_half_open_limit') >= 19 + 5 + 5 - 2);
});

test('a flood that lasts gets a summary line per quiet interval with the number dropped', async (t) => {
  const h = pair({ optionsB: { halfOpenLimit: 1, cookieThreshold: 100 } });
  t.after(() => h.close());
  h.net.faults = { drop: (d) => d.srcAddr === ADDR_B };
  h.a.engine.initiate('site');
  await h.settle(0);
  const init = decodeMessage(h.net.log[0]!.data);
  for (let s = 0; s < 25; s++) {
    const spiI = new Uint8Array(8).fill(s + 1);
    h.net.inject(encodeMessage({ header: { ...init.header, spiI }, payloads: init.payloads }), toB);
    await h.settle(1_000); // one drop a second for 25 s: one burst
  }
  assert.equal(lines(h.b.logger, 'half-open limit reached').length, 1);
  const summaries = lines(h.b.logger, 'half-open limit still acting');
  assert.ok(summaries.length >= 1 && summaries.length <= 3, `${summaries.length} summaries`);
  assert.ok(Number(summaries[0]!.fields.dropped) >= 5);
});

test('limits from YAML reach the engine: limits.half-open and limits.ike-sas-per-peer (daemon mapping)', async (t) => {
  const text = `local:
  address: 127.0.0.1
connections:
  hq:
    remote: 127.0.0.2
    auth: { psk: { env: PSK } }
    local-subnets: [10.1.0.0/24]
    remote-subnets: [10.2.0.0/24]
ports: { ike: ${20000 + (process.pid % 20000)}, nat-t: ${40000 + (process.pid % 20000)} }
limits: { half-open: 77, ike-sas-per-peer: 3, half-open-per-source: 4, puzzles: { enabled: true, above: 500 } }
cookie-threshold: 10
`;
  const env = { PSK: 'correct-horse-battery-staple-0123456789' };
  const { config } = parseConfig(text, 'limits.yaml', { env });
  assert.deepEqual(config.limits, {
    halfOpen: 77,
    ikeSasPerPeer: 3,
    halfOpenPerSource: 4,
    halfOpenReserved: 64, // default
    puzzles: { enabled: true, above: 500, difficulty: 8, maxDifficulty: 16 },
  });
  const dir = mkdtempSync(join(tmpdir(), `ikeway-limits-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ikeway.yaml');
  writeFileSync(file, text, { mode: 0o600 });
  const d = await Daemon.start({ configFile: file, kernel: 'memory', logger: new MemoryLogger(), env });
  t.after(() => d.stop());
  assert.equal(d.engine.options.halfOpenLimit, 77);
  assert.equal(d.engine.options.ikeSasPerPeer, 3);
  assert.equal(d.engine.options.cookieThreshold, 10);
  assert.equal(d.engine.options.halfOpenPerSource, 4);
  assert.equal(d.engine.options.puzzles.enabled, true);
  assert.equal(d.engine.options.puzzles.above, 500);
});
