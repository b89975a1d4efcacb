// A connection's hook program: the loader checks what the daemon would run as root before it runs,
// and every refusal is an E_HOOK at the program's file:line:col.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ok, problems, PSK_TEXT, tempDir, where } from './helpers.ts';

const doc = (program: string, extra = '') => `local:
  address: 192.0.2.1
connections:
  hq:
    remote: 192.0.2.2
    auth: { psk: { env: PSK } }
    hook:
      program: ${JSON.stringify(program)}${extra}
`;
const env = { PSK: PSK_TEXT };

test('a hook program that exists, is executable and writable only by its owner is taken with defaults', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const prog = tmp.write('hooks/up.sh', '#!/bin/sh\nexit 0\n', 0o755);
  const { config } = ok(doc('hooks/up.sh'), { baseDir: tmp.dir, env });
  const hook = config.connections[0]!.hook;
  assert.equal(hook?.program, prog);
  assert.equal(hook?.timeoutMs, 10_000);
  assert.deepEqual(hook?.events, [
    'child-up',
    'child-down',
    'child-rekeyed',
    'ike-up',
    'ike-down',
    'ike-rekeyed',
    'liveness-failure',
  ]);
  const { config: c2 } = ok(doc(prog, '\n      timeout: 2s\n      events: [child-up, child-down]'), { env });
  assert.equal(c2.connections[0]!.hook?.timeoutMs, 2000);
  assert.deepEqual(c2.connections[0]!.hook?.events, ['child-up', 'child-down']);
});

test('no hook: the connection has none', () => {
  const { config } = ok(doc('x').replace(/ {4}hook:\n.*\n/, ''), { env });
  assert.equal(config.connections[0]!.hook, undefined);
});

test('a missing, non-executable or world-writable program is refused at file:line:col', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const cases: [string, RegExp][] = [
    [join(tmp.dir, 'nope.sh'), /nope\.sh cannot be read \(ENOENT\)/],
    [tmp.write('plain.sh', '#!/bin/sh\n', 0o644), /plain\.sh is not executable.*chmod 755/],
    [tmp.write('open.sh', '#!/bin/sh\n', 0o777), /open\.sh is writable by everyone/],
    [tmp.dir, /is not a regular file/],
  ];
  for (const [prog, re] of cases) {
    const ps = problems(doc(prog), { env });
    assert.deepEqual(where(ps), ['8:16 E_HOOK connections.hq.hook.program'], prog);
    assert.match(`${ps[0]!.message}; ${ps[0]!.hint}`, re);
  }
});

test('a program in a world-writable directory without the sticky bit is refused; with it, taken', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const prog = tmp.write('drop/up.sh', '#!/bin/sh\n', 0o755);
  const drop = join(tmp.dir, 'drop');
  chmodSync(drop, 0o777);
  const ps = problems(doc(prog), { env });
  assert.deepEqual(where(ps), ['8:16 E_HOOK connections.hq.hook.program']);
  assert.match(ps[0]!.message, /lies in .*drop, which everyone may write without the sticky bit/);
  chmodSync(drop, 0o1777);
  assert.equal(ok(doc(prog), { env }).config.connections[0]!.hook?.program, prog);
});

test('hook: a plain path, an unknown event or a too short timeout are precise errors', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const prog = tmp.write('up.sh', '#!/bin/sh\n', 0o755);
  const scalar = doc(prog).replace(/ {4}hook:\n.*\n/, `    hook: ${prog}\n`);
  assert.deepEqual(where(problems(scalar, { env })), ['7:11 E_TYPE connections.hq.hook']);
  const badEvent = problems(doc(prog, '\n      events: [child-upp]'), { env });
  assert.deepEqual(where(badEvent), ['9:16 E_VALUE connections.hq.hook.events[0]']);
  assert.match(badEvent[0]!.hint, /child-up/);
  const short = problems(doc(prog, '\n      timeout: 10ms'), { env });
  assert.deepEqual(where(short), ['9:16 E_VALUE connections.hq.hook.timeout']);
});
