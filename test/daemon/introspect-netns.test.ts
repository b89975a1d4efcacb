// `explain` and `plan` against a running daemon on the host kernel's XFRM tables, in throwaway
// namespaces, each answer checked against what the kernel then does: a UDP datagram to a destination
// explain calls dropped by a fail-closed policy fails to leave (EPERM) and never reaches the far side;
// one to an address explain calls clear does; the policy changes plan reports are exactly what the
// kernel's table shows after the real reload. No ESP on the host kernel: no SA-carrying case here.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../../src/control/client.ts';
import type { Explanation } from '../../src/control/explain-types.ts';
import type { PlanReport, PlannedPolicy } from '../../src/control/plan-types.ts';
import { Lab, cli, configText, isRoot, nsExec, type ConnSpec } from './lab.ts';

const A = '192.0.2.1';
const B = '192.0.2.2';
const PORT = 9999;

/** "src X dst Y dir D" of every policy in `ip xfrm policy`, with its tmpl dst if any. */
function kernelPolicies(ns: string): Map<string, string> {
  const text = nsExec(ns, ['ip', 'xfrm', 'policy', 'list']);
  const m = new Map<string, string>();
  for (const block of text.split(/\n(?=src )/)) {
    const sel = /^src (\S+) dst (\S+)/.exec(block);
    const dir = /dir (\w+)/.exec(block)?.[1];
    if (!sel || !dir || /proto udp/.test(block.split('\n')[0]!)) continue; // skip the IKE bypass
    const action = /action (\w+)/.exec(block)?.[1] ?? 'allow';
    const tmpl = /tmpl src \S+ dst (\S+)/.exec(block)?.[1] ?? '-';
    m.set(`src ${sel[1]} dst ${sel[2]} dir ${dir}`, `${action} ${tmpl}`);
  }
  return m;
}
const key = (p: PlannedPolicy) => {
  const [s, d] = p.selector.split(' -> ');
  return `src ${s} dst ${d} dir ${p.dir}`;
};
const shape = (p: PlannedPolicy) => `${p.action} ${/->(\S+)/.exec(p.templates[0] ?? '')?.[1] ?? '-'}`;

/** Sends one UDP datagram from 10.1.0.1 in `ns`; resolves with the send error code or 'sent'. */
function sendUdp(ns: string, dst: string): string {
  const js =
    "const s=require('dgram').createSocket('udp4');s.bind(0,'10.1.0.1',()=>s.send('probe',+process.argv[2],process.argv[1],(e)=>{console.log(e?e.code:'sent');s.close();}))";
  return nsExec(ns, [process.execPath, '-e', js, dst, String(PORT)]).trim();
}

/** A UDP listener in `ns` on PORT; `got()` says what it has received so far. */
async function listen(ns: string) {
  const js =
    "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>console.log('got '+r.address));s.bind(+process.argv[1],'0.0.0.0',()=>console.log('ready'))";
  const p = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', js, String(PORT)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  p.stdout.on('data', (c: Buffer) => (out += c.toString()));
  for (let i = 0; i < 100 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(out, /ready/, 'listener started');
  return { got: () => out, close: () => p.kill('SIGKILL') };
}

const explainReq = (socket: string, dst: string) =>
  request(socket, 'explain', {
    src: '10.1.0.1',
    dst,
    proto: 'udp',
    port: String(PORT),
  }) as Promise<Explanation>;

test(
  'explain and plan against the kernel: fail-closed drop, clear, bad input, and a plan the reload then matches',
  { skip: !isRoot && 'needs root (network namespaces, XFRM)' },
  async (t) => {
    const lab = new Lab([A, B]);
    t.after(() => lab.close());
    const [na, nb] = [lab.side(0).ns, lab.side(1).ns];
    // road: remote any, so its fail-closed policies discard; site: a peer nobody answers for.
    const road: ConnSpec = {
      name: 'road',
      remote: 'any',
      local: '10.1.0.0/24',
      remoteNet: '10.9.0.0/24',
      start: 'wait',
    };
    const site: ConnSpec = {
      name: 'site',
      remote: '192.0.2.3',
      local: '10.1.0.0/24',
      remoteNet: '10.2.0.0/24',
    };
    lab.writeConfig(0, configText(A, [road, site]));
    const a = await lab.startDaemon(0, 'xfrm');
    t.after(() => a.proc.kill('SIGTERM'));
    const sock = a.side.socket;
    nsExec(na, ['ip', 'addr', 'add', '10.1.0.1/24', 'dev', 'lo']);
    for (const net of ['10.9.0.0/24', '10.2.0.0/24', '10.50.0.0/24'])
      nsExec(na, ['ip', 'route', 'add', net, 'via', B, 'src', '10.1.0.1']);
    for (const addr of ['10.9.0.5/32', '10.2.0.5/32', '10.50.0.5/32'])
      nsExec(nb, ['ip', 'addr', 'add', addr, 'dev', 'lo']);
    const far = await listen(nb);
    t.after(() => far.close());

    // (a) road's fail-closed block policy drops it; its tunnel is down (never up: since the start).
    const drop = await explainReq(sock, '10.9.0.5');
    assert.equal(drop.verdict, 'dropped', drop.summary);
    assert.equal(drop.policy?.action, 'block');
    assert.deepEqual(drop.owner, { kind: 'fail-closed', connection: 'road' });
    assert.equal(drop.connection?.up, false);
    assert.ok(drop.connection?.downSince, 'down since');
    assert.match(
      drop.summary,
      /block policy #\d+ \(fail-closed policy of connection road\).*tunnel of road is down, since/,
    );
    // ... and the kernel does drop it: the send fails, nothing reaches the far side.
    assert.equal(sendUdp(na, '10.9.0.5'), 'EPERM');

    // (b) an unrelated destination: clear, and the kernel sends it: the far side sees it.
    const clear = await explainReq(sock, '10.50.0.5');
    assert.equal(clear.verdict, 'clear', clear.summary);
    assert.equal(clear.policy, undefined);
    assert.equal(sendUdp(na, '10.50.0.5'), 'sent');
    for (let i = 0; i < 100 && !far.got().includes('got 10.1.0.1'); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.match(far.got(), /got 10\.1\.0\.1/, 'the clear datagram arrived');

    // (c) site's trap, its peer silent: after the failure explain names it; the packet never arrives.
    let trap: Explanation | undefined;
    for (let i = 0; i < 100; i++) {
      trap = await explainReq(sock, '10.2.0.5');
      if (trap.connection?.lastFailure) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(trap?.verdict, 'dropped', trap?.summary);
    assert.deepEqual(trap?.sas, [null]);
    assert.equal(trap?.owner?.connection, 'site');
    assert.ok(trap?.connection?.lastFailure, `a failure recorded: ${trap?.summary}`);
    assert.match(trap!.summary, /requires an ESP SA .*ACQUIRE.*last failure/);
    const before = far.got();
    sendUdp(na, '10.2.0.5');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      far
        .got()
        .split('\n')
        .filter((l) => l.includes('got')).length,
      before.split('\n').filter((l) => l.includes('got')).length,
      'nothing of the trapped datagram arrived',
    );

    // Bad input: precise error, exit status 64, counted, the daemon keeps running.
    const bad = cli(['explain', '10.1.0.300', '10.9.0.5', '-s', sock]);
    assert.equal(bad.code, 64, bad.stderr);
    assert.match(bad.stderr, /explain: source address "10\.1\.0\.300": not an IPv4 or IPv6 address/);
    const badPort = cli(['explain', '10.1.0.1', '10.9.0.5', 'udp', '99999', '-s', sock, '--json']);
    assert.equal(badPort.code, 64);
    assert.match(badPort.stdout, /"code": "ERR_BAD_ARGS"/);
    const counters = (await request(sock, 'counters')) as Record<string, number>;
    assert.equal(counters['control.bad_request'], 2);
    assert.equal(a.proc.exitCode, null);
    const viaCli = cli(['explain', '10.1.0.1', '10.9.0.5', 'udp', String(PORT), '-s', sock]);
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.match(viaCli.stdout, /DROPPED/);

    // plan: road's subnet widened, site removed, lab added. Nothing changes until the reload.
    const lab2: ConnSpec = {
      name: 'lab',
      remote: '192.0.2.4',
      local: '10.1.0.0/24',
      remoteNet: '10.4.0.0/24',
      start: 'wait',
    };
    const nextFile = join(lab.side(0).dir, 'next.yaml');
    const nextText = configText(A, [{ ...road, remoteNet: '10.9.0.0/16' }, lab2]);
    writeFileSync(nextFile, nextText, { mode: 0o600 });
    const k0 = kernelPolicies(na);
    const out = cli(['plan', nextFile, '-s', sock, '--json']);
    assert.equal(out.code, 0, out.stderr);
    const plan = JSON.parse(out.stdout) as PlanReport;
    const dry = cli(['reload', '--dry-run', nextFile, '-s', sock, '--json']);
    // site keeps retrying its silent peer, so its connecting IKE SA may differ between the two calls.
    const steady = (p: PlanReport) => ({ ...p, ikeSas: { ...p.ikeSas, teardown: [] } });
    assert.deepEqual(steady(JSON.parse(dry.stdout) as PlanReport), steady(plan), 'reload --dry-run is plan');
    assert.deepEqual(kernelPolicies(na), k0, 'plan changed nothing');
    assert.deepEqual(plan.connections.added, ['lab']);
    assert.deepEqual(plan.connections.removed, ['site']);
    assert.deepEqual(plan.connections.changed, [{ name: 'road', fields: ['remoteSubnets'] }]);
    assert.ok(plan.policies.add.length > 0 && plan.policies.remove.length > 0);
    // The real reload, then the kernel's table must be exactly the old one with the plan applied.
    writeFileSync(lab.side(0).config, nextText, { mode: 0o600 });
    await request(sock, 'reload');
    const k1 = kernelPolicies(na);
    const expected = new Map(k0);
    for (const p of plan.policies.remove) {
      assert.ok(expected.has(key(p)), `plan removes ${key(p)}, which the kernel had`);
      expected.delete(key(p));
    }
    for (const r of plan.policies.replace) expected.set(key(r.to), shape(r.to));
    for (const p of plan.policies.add) {
      assert.ok(!expected.has(key(p)), `plan adds ${key(p)}, which the kernel had already`);
      expected.set(key(p), shape(p));
    }
    assert.deepEqual([...k1].sort(), [...expected].sort());
    // A bad file: plan says precisely why, exit 64, nothing changes.
    writeFileSync(nextFile, 'connections: [', { mode: 0o600 });
    const badPlan = cli(['plan', nextFile, '-s', sock]);
    assert.equal(badPlan.code, 64);
    assert.match(badPlan.stderr, /next\.yaml is invalid/);
    assert.deepEqual(kernelPolicies(na), k1);
    assert.equal(a.proc.exitCode, null);
  },
);
