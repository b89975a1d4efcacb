// The control socket: framing, typed errors that say what to do, mode 0600, stale and busy sockets.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../../src/control/client.ts';
import { ControlError, parseRequest, stringArg } from '../../src/control/protocol.ts';
import { ControlServer } from '../../src/control/server.ts';
import { socketPath } from '../../src/control/socket-path.ts';
import { MemoryLogger } from '../../src/base/logger.ts';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ikeway-control-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ControlError, `not a ControlError: ${String(e)}`);
    return { code: e.code, message: e.message };
  }
  assert.fail('expected a ControlError');
};

test('parseRequest names what is wrong', () => {
  assert.deepEqual(parseRequest('{"id":3,"cmd":"up","args":{"name":"hq"}}'), {
    id: 3,
    cmd: 'up',
    args: { name: 'hq' },
  });
  const bad = (line: string, code: string, re: RegExp) =>
    assert.throws(
      () => parseRequest(line),
      (e: unknown) => e instanceof ControlError && e.code === code && re.test(e.message),
    );
  bad('nope', 'ERR_PROTOCOL', /not JSON/);
  bad('[1]', 'ERR_PROTOCOL', /JSON object/);
  bad('{"id":"1","cmd":"status"}', 'ERR_PROTOCOL', /id must be an integer/);
  bad('{"id":1,"cmd":"explode"}', 'ERR_UNKNOWN_COMMAND', /known: status, up, down/);
  bad('{"id":1,"cmd":"up","args":[]}', 'ERR_BAD_ARGS', /args must be an object/);
  assert.throws(() => stringArg({ id: 1, cmd: 'up' }, 'name'), /up needs the argument "name"/);
});

test('server and client: round trip, errors, socket mode 0600, one response per request', async (t) => {
  const dir = tmp(t);
  const path = join(dir, 'run', 'ctl.sock');
  const log = new MemoryLogger();
  const server = await ControlServer.listen(
    path,
    async (req) => {
      if (req.cmd === 'down')
        throw new ControlError('ERR_NO_CONNECTION', 'no connection named "x"; known: a, b');
      if (req.cmd === 'reload') throw new Error('boom');
      return { echo: req.cmd, args: req.args ?? null, big: 2n ** 40n };
    },
    log,
  );
  t.after(() => server.close());
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'run')).mode & 0o777, 0o700);
  assert.deepEqual(await request(path, 'status', { name: 'a' }), {
    echo: 'status',
    args: { name: 'a' },
    big: 2 ** 40,
  });
  const e = await codeOf(request(path, 'down', { name: 'x' }));
  assert.equal(e.code, 'ERR_NO_CONNECTION');
  assert.match(e.message, /known: a, b/);
  const internal = await codeOf(request(path, 'reload'));
  assert.equal(internal.code, 'ERR_INTERNAL');
  assert.match(log.text(), /control request failed.*boom/);
  // Concurrent clients each get their own answer.
  const many = await Promise.all(
    Array.from({ length: 20 }, (_, i) => request(path, 'status', { name: `c${i}` })),
  );
  assert.deepEqual(
    many.map((r) => (r as { args: { name: string } }).args.name),
    Array.from({ length: 20 }, (_, i) => `c${i}`),
  );
  await server.close();
  assert.throws(() => statSync(path), /ENOENT/, 'close() removes the socket file');
});

test('client errors say what to do: not running, stale socket, timeout', async (t) => {
  const dir = tmp(t);
  const missing = await codeOf(request(join(dir, 'none.sock'), 'status'));
  assert.equal(missing.code, 'ERR_NOT_RUNNING');
  assert.match(missing.message, /is the daemon running\? start it with: ikeway daemon -c/);

  // A stale socket file (nobody listening): the client says so, a new server replaces it.
  const stale = join(dir, 'stale.sock');
  const s = createServer();
  await new Promise<void>((r) => s.listen(stale, r));
  await new Promise<void>((r) => s.close(() => r()));
  const srv = await ControlServer.listen(stale, async () => 'ok', new MemoryLogger());
  t.after(() => srv.close());
  assert.equal(await request(stale, 'version'), 'ok');

  // A live one: a second server refuses to start.
  const busy = await codeOf(ControlServer.listen(stale, async () => 'second', new MemoryLogger()));
  assert.equal(busy.code, 'ERR_BUSY');
  assert.match(busy.message, /another ikeway daemon is listening/);

  // A server that never answers: bounded by the timeout.
  const mute = join(dir, 'mute.sock');
  const m = createServer(() => undefined);
  await new Promise<void>((r) => m.listen(mute, r));
  t.after(() => m.close());
  const late = await codeOf(request(mute, 'status', undefined, { timeoutMs: 200 }));
  assert.equal(late.code, 'ERR_TIMEOUT');
});

test('socketPath: --socket, then the config file, then $IKEWAY_SOCKET, then the default', (t) => {
  const dir = tmp(t);
  const cfg = join(dir, 'ikeway.yaml');
  writeFileSync(cfg, 'control-socket: run/x.sock\nlocal: { address: 192.0.2.1 }\n');
  assert.equal(socketPath({ socket: '/a.sock', config: cfg }), '/a.sock');
  assert.equal(socketPath({ config: cfg }), join(dir, 'run/x.sock'));
  writeFileSync(cfg, 'local: { address: 192.0.2.1 }\n');
  assert.equal(socketPath({ config: cfg }), '/run/ikeway/ikeway.sock');
  assert.throws(() => socketPath({ config: join(dir, 'missing.yaml') }), /cannot read .*ikeway check/);
});

test('a response larger than a request may be (status of 100k tunnels) arrives whole', async (t) => {
  const dir = tmp(t);
  const path = join(dir, 'big.sock');
  // ~40 MB in 200,000 entries: more than MAX_LINE (16 MiB), the old limit of both directions.
  const entries = Array.from({ length: 200_000 }, (_, i) => ({ name: `t${i}`, note: 'x'.repeat(180) }));
  const srv = await ControlServer.listen(path, async () => entries, new MemoryLogger());
  t.after(() => srv.close());
  const got = (await request(path, 'status', undefined, { timeoutMs: 60_000 })) as typeof entries;
  assert.equal(got.length, entries.length);
  assert.deepEqual(got[123_456], entries[123_456]);

  // A daemon that sends garbage without end is cut off at the response limit, not read forever.
  const flood = join(dir, 'flood.sock');
  const f = createServer((s) => {
    const chunk = 'x'.repeat(1 << 20);
    const pump = (): void => {
      while (!s.destroyed && s.write(chunk));
      if (!s.destroyed) s.once('drain', pump);
    };
    s.on('error', () => undefined);
    pump();
  });
  await new Promise<void>((r) => f.listen(flood, r));
  t.after(() => f.close());
  const e = await codeOf(request(flood, 'status', undefined, { timeoutMs: 60_000 }));
  assert.equal(e.code, 'ERR_PROTOCOL');
  assert.match(e.message, /response too long/);
});
