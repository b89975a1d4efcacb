// Hook programs driven by a real engine pair in memory (test/exchange/harness.ts) and real child
// processes: what they are told, that they never run twice at once for a Child SA, and that a hook
// that hangs or fails changes nothing for the tunnel (event order and counters, no timing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counters } from '../../src/base/counters.ts';
import { MemoryLogger } from '../../src/base/logger.ts';
import type { Hook, HookEvent } from '../../src/config/types.ts';
import { HookRunner, hookEnv, factsOf } from '../../src/daemon/hooks.ts';
import { pair } from '../exchange/harness.ts';

const ALL: HookEvent[] = [
  'child-up',
  'child-down',
  'child-rekeyed',
  'ike-up',
  'ike-down',
  'ike-rekeyed',
  'liveness-failure',
];

function setup(t: { after(fn: () => unknown): void }, body: string, timeoutMs = 5000) {
  const dir = mkdtempSync(join(tmpdir(), 'ikeway-hooks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const program = join(dir, 'hook.sh');
  writeFileSync(program, `#!/bin/sh\nOUT=${dir}/out\n${body}\n`);
  chmodSync(program, 0o755);
  const hook: Hook = { program, timeoutMs, events: ALL };
  const counters = new Counters();
  const log = new MemoryLogger();
  const runner = new HookRunner({ log, counters, hookOf: (n) => (n === 'site' ? hook : undefined) });
  const out = () => (existsSync(join(dir, 'out')) ? readFileSync(join(dir, 'out'), 'utf8') : '');
  return { dir, hook, counters, log, runner, out };
}

test('child and IKE events run the hook with the facts in env and stdin, and never a key', async (t) => {
  const s = setup(
    t,
    'echo "$1 $IKEWAY_EVENT $IKEWAY_CONNECTION $IKEWAY_CHILD $IKEWAY_SPI_IN $IKEWAY_SPI_OUT ' +
      '$IKEWAY_LOCAL_ADDR $IKEWAY_REMOTE_ADDR $IKEWAY_REMOTE_ID [$IKEWAY_LOCAL_TS] [$IKEWAY_REMOTE_TS] ' +
      '$IKEWAY_MODE $IKEWAY_ESP_ALGORITHMS HOME=${HOME:-none}" >> $OUT\ncat >> $OUT.json',
  );
  const h = pair();
  t.after(() => h.close());
  h.a.engine.onEvent((e) => s.runner.onEvent(e));
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  const child = sa.children[0]!;
  await s.runner.idle();
  const spi = (n: number) => n.toString(16).padStart(8, '0');
  const upLine =
    `child-up child-up site ${child.name} ${spi(child.spiIn)} ${spi(child.spiOut)} 203.0.113.1 203.0.113.2 ` +
    '@b.example [192.0.2.0/25] [198.51.100.0/24] tunnel aes256gcm16-noesn HOME=none';
  assert.deepEqual(
    s.out().trim().replace(/ +/g, ' ').split('\n').sort(),
    [upLine, 'ike-up ike-up site 203.0.113.1 203.0.113.2 @b.example [] [] HOME=none'].sort(),
  );

  // A rekey: one "rekeyed", no second "up" and no "down" for the SA it replaced.
  h.a.engine.rekeyChild(sa, child);
  await h.settle(30_000);
  const fresh = sa.children[0]!;
  assert.notEqual(fresh.spiIn, child.spiIn);
  await s.runner.idle();
  await h.close();
  await s.runner.idle();
  const events = s
    .out()
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[0]);
  assert.deepEqual(events.slice(0, 2).sort(), ['child-up', 'ike-up']);
  assert.deepEqual(events.slice(2, 3), ['child-rekeyed']);
  assert.deepEqual(events.slice(3).sort(), ['child-down', 'ike-down']);
  assert.match(s.out(), new RegExp(`child-rekeyed .* ${spi(fresh.spiIn)} ${spi(fresh.spiOut)} `));

  const json = readFileSync(join(s.dir, 'out.json'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const up = json.find((j) => j.event === 'child-up')!;
  assert.equal(up.spiIn, spi(child.spiIn));
  assert.deepEqual(up.remoteTs, ['198.51.100.0/24']);
  assert.equal(up.localId, '@a.example');
  assert.equal(up.remoteId, '@b.example');
  // No key bytes anywhere: neither the ESP keys nor the IKE SA's.
  const all = readFileSync(join(s.dir, 'out.json'), 'utf8') + s.out();
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const keys = [...Object.values(sa.keymat!.keys), ...Object.values(child.keys ?? {})].filter(
    (v): v is Uint8Array => v instanceof Uint8Array && v.length >= 8,
  );
  assert.ok(keys.length >= 4, 'the test looks for some keys');
  for (const k of keys) assert.ok(!all.includes(hex(k)), 'a key reached the hook');
  assert.equal(s.counters.get('hook.failed'), 0);
  assert.equal(s.counters.get('hook.started'), 5);
});

test('a hook that hangs or exits 1 does not hold the tunnel: it is up while the hook still runs', async (t) => {
  // Hangs on up (killed at 2 s), exits 1 on anything else.
  const s = setup(t, 'case "$1" in *-up) sleep 60;; esac\nexit 1', 2000);
  const h = pair();
  t.after(() => h.close());
  const order: string[] = [];
  h.a.engine.onEvent((e) => {
    s.runner.onEvent(e);
    order.push(e.type);
  });
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  // The engine went through IKE_AUTH and the install while both "up" hooks hang.
  assert.equal(sa.state, 'established');
  assert.equal(sa.children.length, 1);
  assert.deepEqual([...order], ['ike-established', 'child-installed']);
  assert.equal(s.runner.running, 2, 'ike-up and child-up hooks still running');
  // A rekey completes too, its hook queued behind the hanging child-up of the same Child SA.
  const old = sa.children[0]!;
  h.a.engine.rekeyChild(sa, old);
  await h.settle(30_000);
  assert.deepEqual(
    [...order],
    ['ike-established', 'child-installed', 'child-installed', 'child-rekeyed', 'child-destroyed'],
  );
  assert.equal(sa.children.length, 1);
  assert.notEqual(sa.children[0], old);
  assert.equal(s.counters.get('hook.started'), 2, 'child-rekeyed waits for child-up, the tunnel does not');
  await s.runner.idle();
  assert.equal(s.counters.get('hook.started'), 3);
  assert.equal(s.counters.get('hook.failed'), 3, 'two killed, one exit 1');
  assert.equal(s.counters.get('hook.timed_out'), 2);
  assert.match(s.log.text(), /hook failed: killed after 2000 ms/);
  assert.match(s.log.text(), /hook failed: exit status 1/);
});

test('never twice at once for one Child SA; events queued meanwhile merge', async (t) => {
  const s = setup(
    t,
    'mkdir $OUT.lock 2>/dev/null || echo OVERLAP >> $OUT\necho "$1 $IKEWAY_SPI_OUT" >> $OUT\nsleep 0.2\nrmdir $OUT.lock',
  );
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const child = sa.children[0]!;
  // Real event objects, fed straight in: up, then five rekeys in a row while the first hook runs.
  s.runner.onEvent({ type: 'child-installed', sa, child });
  for (let i = 0; i < 5; i++) s.runner.onEvent({ type: 'child-rekeyed', sa, child, old: child });
  s.runner.onEvent({ type: 'child-destroyed', sa, child });
  await s.runner.idle();
  const lines = s.out().trim().split('\n');
  assert.ok(!s.out().includes('OVERLAP'), s.out());
  assert.deepEqual(
    lines.map((l) => l.split(' ')[0]),
    ['child-up', 'child-rekeyed', 'child-down'],
  );
  assert.equal(s.counters.get('hook.coalesced'), 4);
});

test('env names and a spawn failure', async () => {
  const h = pair();
  try {
    const sa = h.a.engine.initiate('site');
    await h.settle(0);
    const env = hookEnv(factsOf('child-up', sa, sa.children[0]!));
    assert.equal(env.IKEWAY_EVENT, 'child-up');
    assert.equal(env.IKEWAY_IKE_SPI_I, Buffer.from(sa.spiI).toString('hex'));
    assert.equal(env.PATH?.includes('/usr/sbin'), true);
    assert.equal(
      Object.keys(env).some((k) => !k.startsWith('IKEWAY_') && k !== 'PATH'),
      false,
    );
    const counters = new Counters();
    const log = new MemoryLogger();
    const hook: Hook = { program: '/nonexistent/hook', timeoutMs: 1000, events: ALL };
    const r = new HookRunner({ log, counters, hookOf: () => hook });
    r.onEvent({ type: 'ike-established', sa });
    await r.idle();
    assert.equal(counters.get('hook.failed'), 1);
    assert.match(log.text(), /hook failed: cannot spawn: .*ENOENT/);
  } finally {
    await h.close();
  }
});
