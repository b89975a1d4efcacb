// Two daemons with the in-memory kernel in two network namespaces (veth, 192.0.2.0/24): the IKE SA
// comes up as `ikeway status --json` shows on both; reload rejects a bad file without touching the
// tunnels and re-establishes only a changed connection; down/up; SIGTERM exits 0; secrets never in
// logs or status output; the control socket is 0600.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import type { StatusReport } from '../../src/control/status-types.ts';
import { request } from '../../src/control/client.ts';
import { Lab, PSK, cli, configText, isRoot, type ConnSpec } from './lab.ts';

const A = '192.0.2.1';
const B = '192.0.2.2';
const C = '192.0.2.3';
/** A reaches B ("site") and C ("other"); B and C only answer. */
const aConns = (otherExtra = ''): ConnSpec[] => [
  { name: 'site', remote: B, local: '10.1.0.0/24', remoteNet: '10.2.0.0/24' },
  { name: 'other', remote: C, local: '10.1.8.0/24', remoteNet: '10.3.8.0/24', extra: otherExtra },
];
const bConns: ConnSpec[] = [
  { name: 'site', remote: A, local: '10.2.0.0/24', remoteNet: '10.1.0.0/24', start: 'wait' },
];
const cConns: ConnSpec[] = [
  { name: 'other', remote: A, local: '10.3.8.0/24', remoteNet: '10.1.8.0/24', start: 'wait' },
];

/** In-process control client (the CLI itself is exercised below, but each run costs a node start). */
async function status(socket: string): Promise<StatusReport> {
  return (await request(socket, 'status')) as StatusReport;
}
const child = (s: StatusReport, name: string) =>
  s.connections.find((c) => c.name === name)?.ikeSas[0]?.children[0];

/** Polls until every connection of `socket` has an installed Child SA (bounded). */
async function allUp(socket: string, names: string[], ms = 10_000): Promise<StatusReport> {
  const end = Date.now() + ms;
  for (let i = 0; i < 200; i++) {
    const s = await status(socket);
    if (names.every((n) => child(s, n)?.state === 'installed')) return s;
    if (Date.now() > end)
      assert.fail(
        `not all up: ${JSON.stringify(s.connections.map((c) => [c.name, c.ikeSas.map((x) => [x.state, x.children.map((k) => k.state)])]))}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('unreachable');
}

test(
  'two daemons, in-memory kernel: status, reload (bad / changed), down/up, SIGTERM, no secrets',
  { skip: !isRoot && 'needs root (network namespaces)' },
  async (t) => {
    const lab = new Lab([A, B, C]);
    t.after(() => lab.close());
    lab.writeConfig(0, configText(A, aConns()));
    lab.writeConfig(1, configText(B, bConns));
    lab.writeConfig(2, configText(C, cConns));
    const [b, c] = await Promise.all([lab.startDaemon(1, 'memory'), lab.startDaemon(2, 'memory')]);
    const a = await lab.startDaemon(0, 'memory');
    const [sa, sb] = [lab.side(0).socket, lab.side(1).socket];
    assert.equal(statSync(sa).mode & 0o777, 0o600, 'control socket is root-only');

    const s1 = await allUp(sa, ['site', 'other']);
    const b1 = await allUp(sb, ['site']);
    await allUp(lab.side(2).socket, ['other']);
    assert.equal(s1.daemon.kernel, 'memory');
    assert.match(a.log, /warn kernel: IN-MEMORY KERNEL/);
    const ikeA = s1.connections[0]!.ikeSas[0]!;
    const ikeB = b1.connections[0]!.ikeSas[0]!;
    assert.equal(ikeA.state, 'established');
    assert.equal(ikeB.state, 'established');
    assert.deepEqual([ikeA.spiI, ikeA.spiR], [ikeB.spiI, ikeB.spiR], 'both sides report the same IKE SA');
    // The default IKE proposal is the X25519 + ML-KEM-768 hybrid (RFC 9370): both key exchanges ran.
    assert.deepEqual(ikeA.keyExchanges, ['x25519', 'mlkem768']);
    assert.deepEqual(ikeB.keyExchanges, ['x25519', 'mlkem768']);
    assert.equal(child(s1, 'site')!.spiIn, child(b1, 'site')!.spiOut, 'our inbound SPI is their outbound');
    assert.match(
      cli(['status', '-s', sa]).stdout,
      /WARNING: IN-MEMORY KERNEL[^]*IKE_SA site\[\d+\] established[^]*key exchanges: x25519 \+ mlkem768/,
    );

    // A bad file: rejected with file:line:col, the running tunnels keep their SPIs.
    const good = readFileSync(lab.side(0).config, 'utf8');
    lab.writeConfig(0, `${good}    bogus-key: 1\n`);
    const mark = a.log.length;
    a.proc.kill('SIGHUP');
    await a.waitFor(/reload rejected/, 10_000, mark);
    assert.match(a.log.slice(mark), /ikeway\.yaml:\d+:\d+/);
    const viaCli = cli(['reload', '-s', sa]);
    assert.equal(viaCli.code, 1);
    assert.match(viaCli.stderr, /reload rejected, nothing changed/);
    const s2 = await status(sa);
    assert.equal(child(s2, 'site')!.spiIn, child(s1, 'site')!.spiIn);
    assert.equal(child(s2, 'other')!.spiIn, child(s1, 'other')!.spiIn);

    // A changed connection is re-established; the unchanged one is not disturbed.
    lab.writeConfig(0, configText(A, aConns('    esp-proposals: [aes128gcm16, aes256gcm16]\n')));
    const rl = cli(['reload', '-s', sa, '--json']);
    assert.equal(rl.code, 0, rl.stderr);
    assert.deepEqual(JSON.parse(rl.stdout), {
      file: lab.side(0).config,
      added: [],
      removed: [],
      changed: ['other'],
      unchanged: ['site'],
      needRestart: [],
    });
    const s3 = await allUp(sa, ['site', 'other']);
    assert.equal(child(s3, 'site')!.spiIn, child(s1, 'site')!.spiIn, 'unchanged: same Child SA');
    assert.notEqual(child(s3, 'other')!.spiIn, child(s1, 'other')!.spiIn, 'changed: a new Child SA');

    // down / up.
    const down = cli(['down', 'site', '-s', sa]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /site: 1 IKE SA deleted/);
    assert.equal((await status(sa)).connections.find((c) => c.name === 'site')!.ikeSas.length, 0);
    const nope = cli(['up', 'nosuch', '-s', sa]);
    assert.equal(nope.code, 1);
    assert.match(nope.stderr, /no connection named "nosuch"; known: site, other/);
    const up = cli(['up', 'site', '-s', sa]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /site: site\[\d+\] established, 1 Child SA/);

    // Secrets: neither logs nor any status output carry the PSK.
    const outputs = [
      a.log,
      b.log,
      c.log,
      cli(['status', '-s', sa, '--json']).stdout,
      cli(['status', '-s', sb]).stdout,
    ];
    for (const o of outputs) assert.ok(!o.includes(PSK), 'the PSK leaked');

    a.proc.kill('SIGTERM');
    b.proc.kill('SIGTERM');
    c.proc.kill('SIGTERM');
    assert.equal(await a.exited, 0, a.log);
    assert.equal(await b.exited, 0, b.log);
    assert.equal(await c.exited, 0, c.log);
    assert.throws(() => statSync(sa), /ENOENT/, 'the socket file is removed on stop');
    assert.match(cli(['status', '-s', sa]).stderr, /is the daemon running\?/);
  },
);
