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
import { createRequire } from 'node:module';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'ikeway.js');
const { DgramSocket } = createRequire(import.meta.url)('node-unix-socket') as {
  DgramSocket: new () => {
    bind(p: string): void;
    on(ev: 'data', fn: (b: Buffer) => void): void;
    close(): void;
  };
};

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
  const sock = new DgramSocket();
  sock.bind(sockPath);
  const msgs: string[] = [];
  sock.on('data', (b) => msgs.push(b.toString()));
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
});

test('a metrics port already in use: precise error in the log, the daemon runs and notifies READY', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikeway-ops-'));
  const busy: Server = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  const sockPath = join(dir, 'notify.sock');
  const sock = new DgramSocket();
  sock.bind(sockPath);
  const msgs: string[] = [];
  sock.on('data', (b) => msgs.push(b.toString()));
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
