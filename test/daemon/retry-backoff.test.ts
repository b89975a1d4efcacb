// Failure pacing of start: now connections (src/daemon/registry.ts): after a wrong PSK the attempts
// back off exponentially up to retry.max, with jitter, and stop after retry.attempts; the scheduled
// retry (reason, attempt, time) is what status shows. Two engines in one process on a FakeClock.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryLogger } from '../../src/base/logger.ts';
import { parseConfig } from '../../src/config/index.ts';
import { renderStatus } from '../../src/control/render.ts';
import { ConnectionRegistry, type RetryWait } from '../../src/daemon/registry.ts';
import { buildStatus } from '../../src/daemon/status.ts';
import { ConnEvents } from '../../src/daemon/conn-events.ts';
import { Metrics } from '../../src/daemon/metrics.ts';
import { ADDR_A, ADDR_B, pair } from '../exchange/harness.ts';
import { STATUS_DAEMON } from './status-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'ikeway-retry-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function siteConfig(retry: string) {
  writeFileSync(join(dir, 'psk'), 'a secret only the config test reads', { mode: 0o600 });
  const yaml =
    `local: { address: ${ADDR_A} }\nconnections:\n  site:\n    remote: ${ADDR_B}\n` +
    `    auth: { psk: { file: psk } }\n    start: now\n${retry}`;
  return parseConfig(yaml, join(dir, 'x.yaml'), { baseDir: dir }).config.connections[0]!;
}

test('config: retry defaults to 10s doubling up to 10m, forever', () => {
  assert.deepEqual(siteConfig('').retry, { initialMs: 10_000, maxMs: 600_000, attempts: 0 });
});

test('wrong PSK: retries back off 10s, 20s, 40s, 60s (cap), 60s with jitter, then give up', async (t) => {
  const h = pair({ b: { auth: { kind: 'psk', psk: new TextEncoder().encode('not the initiator PSK') } } });
  t.after(() => h.close());
  const log = new MemoryLogger();
  let r = 0;
  const reg = new ConnectionRegistry({
    spd: h.a.engine.spd,
    timers: h.timers,
    log,
    stopping: () => false,
    random: () => [0, 0.99, 0.5, 0.25, 0.75][r++ % 5]!,
  });
  reg.attach(h.a.engine);
  h.a.engine.onEvent((e) => reg.onEngineEvent(e));
  const s = await reg.add(siteConfig('    retry: { initial: 10s, max: 60s, attempts: 5 }\n'));
  const waits: RetryWait[] = [];
  reg.startAction(s);
  for (let i = 0; i < 200 && waits.length < 6; i++) {
    await h.settle(1_000, 1_000);
    const w = s.waiting;
    if (w && waits.at(-1) !== w) waits.push(w);
  }
  assert.deepEqual(
    waits.map((w) => w.baseMs),
    [10_000, 20_000, 40_000, 60_000, 60_000, 0],
  );
  for (const w of waits.slice(0, 5)) {
    assert.match(w.reason, /AUTHENTICATION_FAILED|auth/i);
    assert.ok(w.delayMs <= w.baseMs && w.delayMs >= 0.8 * w.baseMs, `jitter within 20 %: ${w.delayMs}`);
  }
  assert.deepEqual(
    waits.map((w) => w.attempt),
    [1, 2, 3, 4, 5, 6],
  );
  assert.equal(waits[5]!.atMs, undefined, 'gave up after 5 retries');
  // The log says the same: "will retry" with growing in_ms, then "giving up".
  const planned = log.entries.filter((e) => e.message === 'will retry').map((e) => e.fields['in_ms']);
  assert.deepEqual(
    planned,
    waits.slice(0, 5).map((w) => w.delayMs),
  );
  // From the log alone: retry n waits initial x 2^(n-1), capped at max, shortened by at most 20 %
  // jitter -- 10 s, 20 s, 40 s, then 60 s twice (retry: { initial: 10s, max: 60s, attempts: 5 }).
  const fromLog = log.entries
    .filter((e) => e.message === 'will retry')
    .map((e) => ({ attempt: Number(e.fields['attempt']), ms: Number(e.fields['in_ms']) }));
  assert.deepEqual(
    fromLog.map((r) => r.attempt),
    [1, 2, 3, 4, 5],
  );
  for (const { attempt, ms } of fromLog) {
    const base = Math.min(60_000, 10_000 * 2 ** (attempt - 1));
    assert.ok(ms <= base && ms >= 0.8 * base, `retry ${attempt}: ${ms} ms for a ${base} ms step`);
  }
  assert.ok(fromLog[2]!.ms > fromLog[0]!.ms * 2, 'the waits grow');
  assert.ok(log.entries.some((e) => e.level === 'warn' && e.message === 'giving up: retries used'));
  assert.ok(!log.text().includes('not the initiator PSK'), 'no secret in the log');
  // Six attempts (the first and five retries), no more: each one fails at the peer.
  assert.equal(h.a.events.filter((e) => e.type === 'ike-failed').length, 6);
});

test('status shows why a connection waits and for how long', async () => {
  const conn = siteConfig('');
  const h = pair();
  try {
    const wait: RetryWait = {
      reason: 'peer said AUTHENTICATION_FAILED',
      attempt: 2,
      baseMs: 20_000,
      delayMs: 18_000,
      atMs: 25_000,
    };
    const report = await buildStatus({
      daemon: STATUS_DAEMON,
      engine: h.a.engine,
      kernel: h.a.kernel,
      connections: [conn],
      failClosed: () => 0,
      times: { ike: new WeakMap(), child: new WeakMap() },
      now: 10_000,
      waiting: (n) => (n === 'site' ? wait : undefined),
    });
    assert.deepEqual(report.connections[0]!.retry, {
      reason: 'peer said AUTHENTICATION_FAILED',
      attempt: 2,
      gaveUp: false,
      inSeconds: 15,
    });
    assert.match(renderStatus(report), /retry 2 in 15s: peer said AUTHENTICATION_FAILED/);
    // /metrics says the same: the retry number by reason class, and when it initiates again.
    const metrics = new Metrics(
      {
        snapshot: async () => report,
        kernelSas: async () => [],
        events: new ConnEvents(() => 1_000_000),
        halfOpen: () => 0,
        cookieThreshold: () => 1,
        certificateExpiry: () => undefined,
        debugKeys: false,
        now: () => 1_000_000,
      },
      { processMetrics: false },
    );
    const page = await metrics.scrape();
    assert.match(page, /^ikeway_connection_retry_attempt\{connection="site",reason="auth"\} 2$/m);
    assert.match(page, /^ikeway_connection_next_retry_timestamp_seconds\{connection="site"\} 1015$/m);
    assert.doesNotMatch(page, /^ikeway_connection_retry_gave_up\{/m);
  } finally {
    await h.close();
  }
});
