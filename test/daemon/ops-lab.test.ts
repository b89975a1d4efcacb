// @guest-pass
// The operator's tools against a real ESP kernel, one guest boot (lab/ops/scenario.ts): Debian's
// Prometheus scraping both routers' /metrics (tunnel up, then down after the peer is killed; per-SA
// byte counters equal to `ip -s xfrm state`), `explain` and `plan` (the control requests the CLI
// sends) checked against what the kernel
// then did, and the WAN capture of router A (debug-keys on) decrypted on the host by real tshark
// (IKE_AUTH payloads, the inner ICMP of the ESP packets) and by `ikeway decode --keys`.
// systemd is not PID 1 in the guest (a busybox init switch_roots into the host's /), so
// `systemd-run -p Type=notify` cannot run there; test/daemon/ops.test.ts proves the protocol on a
// real unix datagram socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withEspKernel } from '../../lab/guest/guest.ts';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import { LAB_MODULES } from '../../lab/two-site/lab.ts';
import type { Explanation } from '../../src/control/explain-types.ts';
import type { PlanReport } from '../../src/control/plan-types.ts';

const ROOT = join(import.meta.dirname, '..', '..');
type Ping = { sent: number; received: number };
type Sa = { src: string; dst: string; spi: string; bytes: number; packets: number };
type Prom = { instance: string; spi: string; direction: string; value: number };
const spiHex = (s: string) => parseInt(s, 16);

test(
  'ops lab: Prometheus scrapes both routers, explain/plan match the kernel, tshark and decode --keys decrypt the capture',
  { skip: process.getuid?.() !== 0 && 'needs root' },
  async (t) => {
    const share = mkdtempSync(join(tmpdir(), 'ikw-ops-share-'));
    t.after(() => rmSync(share, { recursive: true, force: true }));
    // The results share is kept (outputDir): the scenario's progress log survives a guest timeout.
    const progress = () => {
      const f = join(share, 'stderr');
      return existsSync(f) ? readFileSync(f, 'utf8').slice(-4000) : '(no stderr)';
    };
    const run = await withEspKernel({
      command: [process.execPath, '--import', 'tsx', 'lab/ops/scenario.ts'],
      cwd: ROOT,
      env: { ...(await bundleEnv()), IKW_OPS_OUT: share },
      modules: LAB_MODULES,
      outputDir: share,
      timeoutMs: 360_000,
      slotWaitMs: 45 * 60_000, // the one guest slot is shared machine-wide
    }).catch((e: unknown) => {
      throw new Error(`${String(e)}\n--- scenario progress ---\n${progress()}`);
    });
    t.diagnostic(`ran in ${run.where}: boot ${run.bootMs} ms, wall ${run.wallMs} ms`);
    const line = run.stdout.split('\n').find((l) => l.startsWith('IKW-OPS-RESULT '));
    const tail = `\n--- stderr ---\n${run.stderr.slice(-4000)}\n--- console ---\n${run.console.slice(-1500)}`;
    assert.ok(line, `no result line${tail}`);
    const o = JSON.parse(line.slice('IKW-OPS-RESULT '.length)) as Record<string, unknown>;
    t.diagnostic(JSON.stringify(o, null, 1).slice(0, 8000));
    assert.equal(o.error, undefined, `${String(o.error)}${tail}`);

    // 1. Prometheus: the tunnel up on both routers' targets.
    const up = o.promUp as { instance: string; value: number }[];
    assert.deepEqual(
      up.map((x) => x.value),
      [1, 1],
      JSON.stringify(up),
    );
    // explain named the SA, and the ping was counted by exactly that SA.
    const ex1 = o.explainUp as Explanation;
    assert.equal(ex1.verdict, 'protected', JSON.stringify(ex1));
    assert.equal(ex1.owner?.kind, 'child-sa');
    const carrier = ex1.sas?.[0];
    assert.ok(carrier, 'explain names the SA');
    const ping1 = o.ping1 as Ping;
    assert.ok(ping1.received >= 5, JSON.stringify(ping1));
    const { before, after } = o.sasAfterPing1 as { before: Sa[]; after: Sa[] };
    const pk = (l: Sa[]) => l.find((s) => spiHex(s.spi) === spiHex(carrier.spi))?.packets ?? -1;
    assert.ok(pk(before) >= 0, `the SA explain named (${carrier.spi}) is in the kernel`);
    assert.ok(
      pk(after) - pk(before) >= ping1.sent,
      `counted by ${carrier.spi}: ${pk(before)} -> ${pk(after)}`,
    );
    // Prometheus's byte/packet counters per SA equal ip -s xfrm state of that router.
    const prom = o.promBytes as Prom[];
    for (const [router, inst] of [
      ['kernelA', '198.51.100.1:9814'],
      ['kernelB', '198.51.100.5:9814'],
    ] as const) {
      const kernel = o[router] as Sa[];
      assert.equal(kernel.length, 2, JSON.stringify(kernel));
      for (const sa of kernel) {
        const p = prom.filter((x) => x.instance === inst && spiHex(x.spi) === spiHex(sa.spi));
        assert.equal(p.length, 1, `${inst} ${sa.spi}: ${JSON.stringify(prom)}`);
        assert.equal(p[0]!.value, sa.bytes, `${inst} ${sa.spi} bytes`);
        assert.ok(sa.bytes > 0);
      }
    }

    // 2. plan, then reload: the kernel holds every policy the plan adds; the SAs it keeps stay.
    const plan = o.plan as PlanReport;
    assert.deepEqual(plan.connections.added, ['extra'], JSON.stringify(plan));
    assert.deepEqual(plan.connections.unchanged, ['site']);
    assert.deepEqual(plan.ikeSas.teardown, []);
    assert.deepEqual(plan.sas.remove, []);
    assert.ok(plan.policies.add.length >= 2, JSON.stringify(plan.policies));
    const pBefore = String(o.policiesBeforeReload);
    const pAfter = String(o.policiesAfterReload);
    assert.equal((o.reload as { ok: boolean }).ok, true, JSON.stringify(o.reload));
    for (const p of plan.policies.add) {
      const [src, dst] = p.selector.split(' -> ');
      const re = new RegExp(`src ${src} dst ${dst}[^\\n]*\\n\\s+dir ${p.dir} priority ${p.priority}`);
      assert.doesNotMatch(pBefore, re, `not there before: ${p.selector} ${p.dir}`);
      assert.match(pAfter, re, `added by the reload as planned: ${p.selector} ${p.dir}\n${pAfter}`);
    }
    const spis = o.spis as { before: string[]; after: string[] };
    assert.deepEqual(spis.after, spis.before, 'no SA torn down, as planned');

    // 3. the peer killed: Prometheus sees B's target down and A's tunnel down.
    const down = o.promDown as {
      up: { instance: string; value: number }[];
      connectionUp: { instance: string; connection: string; value: number }[];
    };
    assert.equal(down.up.find((x) => x.instance === '198.51.100.5:9814')?.value, 0);
    assert.equal(down.up.find((x) => x.instance === '198.51.100.1:9814')?.value, 1);
    assert.equal(
      down.connectionUp.find((x) => x.instance === '198.51.100.1:9814' && x.connection === 'site')?.value,
      0,
    );
    // explain: the fail-closed policy of 'site' drops it; the kernel did drop it.
    const ex2 = o.explainDown as Explanation;
    assert.equal(ex2.verdict, 'dropped', JSON.stringify(ex2));
    assert.equal(ex2.owner?.kind, 'fail-closed');
    assert.equal(ex2.connection?.name, 'site');
    assert.equal(ex2.connection?.up, false);
    assert.ok(ex2.connection?.lastFailure, 'the last failure is named');
    assert.equal((o.ping2 as Ping).received, 0);
    const cap2 = o.capture2 as { cleartext: number; leaks: string[] };
    assert.equal(cap2.cleartext, 0, cap2.leaks.join('\n'));
    assert.ok((o.noStatesDelta as number) >= 1, `XfrmOutNoStates +${String(o.noStatesDelta)}`);
    // bad input: precise error, the daemon keeps running.
    const bad = o.explainBad as { ok: boolean; error: { code: string; message: string } };
    assert.equal(bad.ok, false);
    assert.equal(bad.error.code, 'ERR_BAD_ARGS');
    assert.match(bad.error.message, /"10\.1\.0\.300": not an IPv4 or IPv6 address/);
    assert.equal(o.aAlive, true);

    // 4. the capture, decrypted with the debug-keys files.
    const cap = join(share, 'wan.pcap');
    const keys = join(share, 'keys');
    assert.ok(existsSync(cap) && existsSync(keys) && existsSync(`${keys}.esp`), 'capture and key files');
    const ikeLines = readFileSync(keys, 'utf8').trim().split('\n');
    const espLines = readFileSync(`${keys}.esp`, 'utf8').trim().split('\n');
    const decode = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bin', 'ikeway.js'), 'decode', '--pcap', cap, '--keys', keys],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(decode.status, 0, decode.stderr);
    assert.match(decode.stdout, /IDi|IDr/, 'decode --keys shows the identities inside SK');
    assert.match(decode.stdout, /\bAUTH\b/);
    const have = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
    if (have.status !== 0) {
      t.diagnostic('tshark not installed (scripts/install-deps.sh): tshark decryption not checked');
      return;
    }
    const tshark = (opts: string[]) =>
      spawnSync('tshark', ['-n', '-r', cap, '-V', ...opts], { encoding: 'utf8', timeout: 120_000 });
    const plain = tshark([]);
    assert.equal(plain.status, 0, plain.stderr);
    assert.doesNotMatch(plain.stdout, /Payload: Authentication/);
    // ICMPv4 only: the WAN links also carry the kernel's own ICMPv6 router solicitations in clear.
    assert.doesNotMatch(plain.stdout, /^\s*Internet Control Message Protocol$/m);
    const dec = tshark([
      ...ikeLines.flatMap((l) => ['-o', `uat:ikev2_decryption_table:${l}`]),
      '-o',
      'esp.enable_encryption_decode:TRUE',
      ...espLines.flatMap((l) => ['-o', `uat:esp_sa:${l}`]),
    ]);
    assert.equal(dec.status, 0, dec.stderr);
    assert.match(dec.stdout, /Payload: Identification - (Initiator|Responder)/);
    assert.match(dec.stdout, /Payload: Authentication/);
    assert.match(dec.stdout, /^\s*Internet Control Message Protocol$/m);
    assert.match(dec.stdout, /Source Address: 10\.1\.0\.2/, 'the inner packet of the ESP');
  },
);
