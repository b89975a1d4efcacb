// The operator channels of a running daemon (memory kernel, loopback only): the sd_notify datagrams
// read from a real AF_UNIX datagram socket, the /metrics page over HTTP, and a metrics port that is
// already taken (precise error, the daemon serves on).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'ikeway.js');

// A real AF_UNIX datagram socket, bound by python3 (Node cannot create one), with SO_PASSCRED so
// each datagram comes with the sender's pid as the kernel saw it (what NotifyAccess=main checks).
const LISTENER = `
import socket, struct, sys, json
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.settimeout(float(sys.argv[2]))
print("bound", flush=True)
try:
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = [struct.unpack("iII", d)[0] for l, t, d in anc if t == socket.SCM_CREDENTIALS]
        print(json.dumps({"pid": pid[0] if pid else None, "msg": msg.decode()}), flush=True)
except socket.timeout:
    pass
`;

interface NotifyListener {
  msgs: string[];
  pids: (number | null)[];
  close(): void;
}

async function listen(path: string): Promise<NotifyListener> {
  const py = spawn('python3', ['-c', LISTENER, path, '120'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const l: NotifyListener = { msgs: [], pids: [], close: () => py.kill() };
  let buf = '';
  let bound!: () => void;
  const ready = new Promise<void>((r) => (bound = r));
  py.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === 'bound') bound();
      else {
        const m = JSON.parse(line) as { pid: number | null; msg: string };
        l.msgs.push(m.msg);
        l.pids.push(m.pid);
      }
    }
  });
  const t = setTimeout(() => py.kill(), 60_000);
  await Promise.race([ready, new Promise((r) => py.once('exit', r))]);
  clearTimeout(t);
  assert.equal(py.exitCode, null, 'python3 listener did not start');
  return l;
}

function config(dir: string, port: number, extra: string): string {
  const file = join(dir, 'ikeway.yaml');
  writeFileSync(join(dir, 'psk'), 'ops-test-psk-9f2c1a7b', { mode: 0o600 });
  writeFileSync(
    file,
    `control-socket: ./ctl.sock\nlocal: { address: 127.0.0.1 }\nports: { ike: ${port}, nat-t: ${port + 1} }\n` +
      `connections:\n  hq:\n    remote: 127.0.0.2\n    start: wait\n    auth: { psk: { file: psk } }\n` +
      `    local-subnets: [10.1.0.0/24]\n    remote-subnets: [10.2.0.0/24]\n${extra}`,
  );
  return file;
}

/** A free TCP port on loopback (bound, then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return p;
}

/** Waits (bounded) until `pred` holds over the received datagrams. */
async function until(msgs: string[], pred: (m: string[]) => boolean, what: string, ms = 60_000) {
  for (let t = 0; t < ms && !pred(msgs); t += 50) await new Promise((r) => setTimeout(r, 50));
  assert.ok(pred(msgs), `${what}; got ${JSON.stringify(msgs)}`);
}

function startDaemon(file: string, env: NodeJS.ProcessEnv): { child: ChildProcess; log: () => string } {
  let log = '';
  const child = spawn(process.execPath, [BIN, 'daemon', '-c', file, '--kernel', 'memory'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  return { child, log: () => log };
}

async function exited(child: ChildProcess, ms = 20_000): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const t = setTimeout(() => child.kill('SIGKILL'), ms);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(t);
  return code;
}

test('sd_notify: READY=1 with STATUS, WATCHDOG=1, RELOADING=1 + MONOTONIC_USEC then READY=1, STOPPING=1; metrics served', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikeway-ops-'));
  const sockPath = join(dir, 'notify.sock');
  const sock = await listen(sockPath);
  const msgs = sock.msgs;
  const mport = await freePort();
  const ike = 30000 + (process.pid % 10000) * 2;
  const file = config(dir, ike, `metrics: { address: 127.0.0.1, port: ${mport} }\n`);
  const d = startDaemon(file, { NOTIFY_SOCKET: sockPath, WATCHDOG_USEC: '200000' });
  t.after(() => {
    d.child.kill('SIGKILL');
    sock.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await until(msgs, (m) => m.some((x) => x.startsWith('READY=1')), `READY=1 (log: ${d.log()})`);
  const ready = msgs.find((x) => x.startsWith('READY=1'))!;
  assert.match(ready, /^STATUS=0\/1 connections up, 0 IKE SAs, 0 Child SAs$/m);
  assert.match(ready, new RegExp(`^MAINPID=${d.child.pid}$`, 'm'));
  // Sent by the main process itself (SCM_CREDENTIALS), as NotifyAccess=main requires.
  assert.equal(sock.pids[msgs.indexOf(ready)], d.child.pid);
  // WATCHDOG_USEC 200 ms: a ping every 100 ms from the daemon's event loop.
  await until(msgs, (m) => m.filter((x) => x === 'WATCHDOG=1').length >= 2, 'two WATCHDOG=1');

  const res = await fetch(`http://127.0.0.1:${mport}/metrics`);
  assert.equal(res.status, 200);
  const page = await res.text();
  assert.match(page, /^ikeway_connection_up\{connection="hq"\} 0$/m);
  assert.match(page, /^ikeway_drops_total\{layer="ike",reason="unknown_spi"\} 0$/m);
  assert.match(page, /^ikeway_cookie_mode 0$/m);
  assert.match(page, /^process_resident_memory_bytes \d+/m);
  assert.ok(!page.includes('ops-test-psk-9f2c1a7b'), 'no PSK on the metrics page');
  assert.equal((await fetch(`http://127.0.0.1:${mport}/other`)).status, 404);

  const before = msgs.length;
  d.child.kill('SIGHUP');
  await until(msgs, (m) => m.slice(before).some((x) => x.startsWith('READY=1')), 'READY=1 after the reload');
  const reloading = msgs.slice(before).find((x) => x.startsWith('RELOADING=1'));
  assert.ok(reloading, `RELOADING=1 before READY=1: ${JSON.stringify(msgs.slice(before))}`);
  const usec = /^MONOTONIC_USEC=(\d+)$/m.exec(reloading)?.[1];
  assert.ok(usec !== undefined && BigInt(usec) > 0n, reloading);
  assert.ok(
    msgs.slice(before).findIndex((x) => x.startsWith('RELOADING=1')) <
      msgs.slice(before).findIndex((x) => x.startsWith('READY=1')),
  );
  d.child.kill('SIGTERM');
  await until(msgs, (m) => m.some((x) => x.startsWith('STOPPING=1')), 'STOPPING=1');
  assert.equal(await exited(d.child), 0, d.log());
  assert.ok(
    sock.pids.every((p) => p === d.child.pid),
    `every datagram from the main pid: ${sock.pids.join(',')}`,
  );
});

test('a metrics port already in use: precise error in the log, the daemon runs and notifies READY', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikeway-ops-'));
  const busy: Server = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  const sockPath = join(dir, 'notify.sock');
  const sock = await listen(sockPath);
  const msgs = sock.msgs;
  const ike = 30000 + (process.pid % 10000) * 2 + 4;
  const d = startDaemon(config(dir, ike, `metrics: { port: ${port} }\n`), { NOTIFY_SOCKET: sockPath });
  t.after(() => {
    d.child.kill('SIGKILL');
    sock.close();
    busy.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await until(msgs, (m) => m.some((x) => x.startsWith('READY=1')), `READY=1 (log: ${d.log()})`);
  assert.match(d.log(), new RegExp(`metrics: 127\\.0\\.0\\.1:${port} is already in use by another process`));
  assert.equal(d.child.exitCode, null, 'still running');
  d.child.kill('SIGTERM');
  assert.equal(await exited(d.child), 0, d.log());
});

test('a debug-keys path that cannot be written: precise error in the log, the daemon runs without writing keys', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikeway-ops-'));
  const sockPath = join(dir, 'notify.sock');
  const sock = await listen(sockPath);
  const ike = 30000 + (process.pid % 10000) * 2 + 6;
  const keys = join(dir, 'no-such-dir', 'keys');
  const d = startDaemon(config(dir, ike, `debug-keys: ${keys}\n`), { NOTIFY_SOCKET: sockPath });
  t.after(() => {
    d.child.kill('SIGKILL');
    sock.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await until(sock.msgs, (m) => m.some((x) => x.startsWith('READY=1')), `READY=1 (log: ${d.log()})`);
  assert.match(
    d.log(),
    new RegExp(`debug-keys: cannot create ${keys}: ENOENT[^\\n]*; no keys will be written`),
  );
  assert.doesNotMatch(d.log(), /debug-keys is ON/, 'no warning about keys that are not written');
  assert.equal(d.child.exitCode, null, 'still running');
  d.child.kill('SIGTERM');
  assert.equal(await exited(d.child), 0, d.log());
});
