// Daemons on the host kernel's XFRM tables, in throwaway namespaces. The host kernel has no ESP
// (docs KERNEL-LAB.md), so Child SAs fail there: the daemons must say so and stay up. What must hold
// regardless: fail-closed policies while running and after SIGKILL, a restart that re-installs them in
// place (never deleting them first) and reconciles the rest, and a SIGTERM that removes exactly our
// objects (a foreign policy survives).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { request } from '../../src/control/client.ts';
import type { StatusReport } from '../../src/control/status-types.ts';
import { Lab, configText, isRoot, nsExec, type Daemon } from './lab.ts';

const A = '192.0.2.1';
const B = '192.0.2.2';
const FOREIGN = [
  'src',
  '198.51.100.0/24',
  'dst',
  '203.0.113.0/24',
  'dir',
  'out',
  'priority',
  '5000',
  'action',
  'block',
];

const policies = (ns: string) => nsExec(ns, ['ip', 'xfrm', 'policy', 'list']);
const states = (ns: string) => nsExec(ns, ['ip', 'xfrm', 'state', 'list']);
/** The selector lines ("src X dst Y ...") of `ip xfrm policy`, with the dir of each. */
function selectors(text: string): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    if (!l.startsWith('src ')) return;
    const dir = /dir (\w+)/.exec(lines[i + 1] ?? '')?.[1] ?? '?';
    out.push(`${l.trim()} ${dir}`);
  });
  return out.sort();
}
const TRAPS = [
  'src 10.1.0.0/24 dst 10.2.0.0/24 out',
  'src 10.2.0.0/24 dst 10.1.0.0/24 fwd',
  'src 10.2.0.0/24 dst 10.1.0.0/24 in',
];

async function waitStatus(d: Daemon, pred: (s: StatusReport) => boolean, ms = 10_000): Promise<StatusReport> {
  const end = Date.now() + ms;
  for (let i = 0; i < 200; i++) {
    const s = (await request(d.side.socket, 'status')) as StatusReport;
    if (pred(s)) return s;
    if (Date.now() > end) assert.fail(`condition not met: ${JSON.stringify(s.connections)}\n${d.log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('unreachable');
}
const established = (s: StatusReport) => s.connections[0]?.ikeSas[0]?.state === 'established';

test(
  'XFRM kernel: fail-closed, SIGKILL leaves them, restart replaces in place, SIGTERM removes only ours',
  { skip: !isRoot && 'needs root (network namespaces, XFRM)' },
  async (t) => {
    const lab = new Lab([A, B]);
    t.after(() => lab.close());
    const [na, nb] = [lab.side(0).ns, lab.side(1).ns];
    nsExec(na, ['ip', 'xfrm', 'policy', 'add', ...FOREIGN]);
    lab.writeConfig(
      0,
      configText(A, [{ name: 'site', remote: B, local: '10.1.0.0/24', remoteNet: '10.2.0.0/24' }]),
    );
    lab.writeConfig(
      1,
      configText(B, [
        { name: 'site', remote: A, local: '10.2.0.0/24', remoteNet: '10.1.0.0/24', start: 'wait' },
      ]),
    );
    const b = await lab.startDaemon(1, 'xfrm');
    const a = await lab.startDaemon(0, 'xfrm');

    // IKE comes up; the Child SA cannot (no ESP in this kernel): said clearly, the daemons stay up.
    const s = await waitStatus(a, established);
    assert.equal(s.daemon.kernel, 'xfrm');
    assert.equal(s.daemon.kernelWarning, undefined);
    await a.waitFor(/CHILD SA failed/, 10_000);
    await b.waitFor(/CHILD SA failed|Child SA failed/, 10_000);
    assert.equal(a.proc.exitCode, null);
    assert.equal(b.proc.exitCode, null);
    assert.equal(s.connections[0]!.failClosedPolicies, 3);

    const running = selectors(policies(na));
    for (const p of TRAPS)
      assert.ok(running.includes(p), `missing fail-closed policy ${p}: ${running.join('; ')}`);
    assert.ok(
      running.some((p) => p.includes('proto udp dport 500')),
      'IKE bypass installed',
    );
    assert.match(policies(na), /tmpl src 192\.0\.2\.1 dst 192\.0\.2\.2\s+proto esp reqid \d+ mode tunnel/);

    // Killed outright: every policy stays, so protected traffic is dropped, never sent in clear.
    a.proc.kill('SIGKILL');
    await a.exited;
    assert.deepEqual(selectors(policies(na)), running);

    // Restart: watch the kernel's policy events; the traps must never be deleted on the way.
    const mon = spawn('ip', ['netns', 'exec', na, 'ip', 'xfrm', 'monitor', 'policy'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    t.after(() => mon.kill('SIGKILL'));
    let events = '';
    mon.stdout.on('data', (c: Buffer) => (events += c.toString()));
    await new Promise((r) => setTimeout(r, 200));
    const a2 = await lab.startDaemon(0, 'xfrm');
    await waitStatus(a2, established);
    mon.kill('SIGKILL');
    const deleted = events
      .split(/\n(?=\S)/)
      .filter((e) => e.startsWith('Deleted') && /10\.[12]\.0\.0\/24/.test(e));
    assert.match(events, /10\.1\.0\.0\/24/, 'the monitor saw the traps being re-installed');
    assert.deepEqual(deleted, [], `a fail-closed policy was deleted during restart:\n${events}`);
    assert.deepEqual(selectors(policies(na)), running, 'same policies after the restart');

    // Clean stop: exit 0, only the foreign policy left, no SA of ours.
    a2.proc.kill('SIGTERM');
    assert.equal(await a2.exited, 0, a2.log);
    assert.deepEqual(selectors(policies(na)), ['src 198.51.100.0/24 dst 203.0.113.0/24 out']);
    assert.equal(states(na).trim(), '');
    b.proc.kill('SIGTERM');
    assert.equal(await b.exited, 0, b.log);
    assert.equal(policies(nb).trim(), '');
  },
);

test(
  'XFRM kernel: start: on-traffic, a packet hitting the trap (ACQUIRE) brings the IKE SA up',
  { skip: !isRoot && 'needs root (network namespaces, XFRM)' },
  async (t) => {
    const lab = new Lab([A, B]);
    t.after(() => lab.close());
    const na = lab.side(0).ns;
    lab.writeConfig(
      0,
      configText(A, [
        { name: 'site', remote: B, local: '10.1.0.0/24', remoteNet: '10.2.0.0/24', start: 'on-traffic' },
      ]),
    );
    lab.writeConfig(
      1,
      configText(B, [
        { name: 'site', remote: A, local: '10.2.0.0/24', remoteNet: '10.1.0.0/24', start: 'wait' },
      ]),
    );
    const b = await lab.startDaemon(1, 'xfrm');
    const a = await lab.startDaemon(0, 'xfrm');
    t.after(() => {
      a.proc.kill('SIGTERM');
      b.proc.kill('SIGTERM');
    });
    const before = (await request(a.side.socket, 'status')) as StatusReport;
    assert.equal(before.connections[0]!.ikeSas.length, 0, 'nothing before traffic');
    nsExec(na, ['ip', 'addr', 'add', '10.1.0.1/24', 'dev', 'lo']);
    nsExec(na, ['ip', 'route', 'add', '10.2.0.0/24', 'via', B, 'src', '10.1.0.1']);
    // One datagram from the protected subnet: the trap drops it and the kernel sends an ACQUIRE.
    nsExec(na, [
      process.execPath,
      '-e',
      "require('dgram').createSocket('udp4').bind(0, '10.1.0.1', function () { this.send('x', 9, '10.2.0.5', () => this.close()); })",
    ]);
    await waitStatus(a, established);
    assert.match(a.log, /IKE SA established/);
  },
);
