// @guest-pass: boots the guest kernel (scripts/run-tests.mjs runs it in its guest pass).
// Several Child SAs under one IKE SA against strongSwan 5.9.8 with real kernel ESP, ONE guest boot,
// four labs side by side (lab/interop/children-lab.ts): ikeway's three children (two subnet pairs in
// one, one with its own ESP proposal, one in transport mode) in both roles, traffic through each
// counted by both kernels' SA counters, `rekey conn/child` and `down conn/child` acting on one child
// only; and `one-sa-per-subnet-pair` giving one SA pair per subnet pair with strongSwan in both roles
// (as responder: ikeway narrows strongSwan's two-pair proposal, then requests the other pair itself).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import { withEspKernel, type RunResult } from '../../lab/guest/guest.ts';
import { CHARON_BIN } from '../../lab/peers/strongswan.ts';
import { LAB_MODULES } from '../../lab/two-site/lab.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const skip =
  process.getuid?.() !== 0 ? 'needs root' : !existsSync(CHARON_BIN) ? 'strongSwan not installed' : false;

type Child = { name: string; spiIn: string; spiOut: string; l: string[]; r: string[] };
type Swan = { name: string; localTs: string[]; remoteTs: string[]; spiIn: string; spiOut: string };
type Traffic = {
  child: string;
  from: string;
  to: string;
  received: number;
  spiOut: string;
  delta: { aOut: number; aIn: number; bIn: number; bOut: number };
};

let run: RunResult | undefined;
let bootError: unknown;
before(async () => {
  if (skip) return;
  try {
    run = await withEspKernel({
      command: [process.execPath, '--import', 'tsx', 'lab/interop/children-lab.ts'],
      cwd: ROOT,
      env: await bundleEnv(),
      modules: [...LAB_MODULES],
      timeoutMs: 600_000,
    });
  } catch (e) {
    bootError = e;
  }
});

function result(scenario: string): Record<string, unknown> {
  if (bootError) throw bootError as Error;
  const r = run!;
  const tail = `\n--- stderr ---\n${r.stderr.slice(-3000)}\n--- console ---\n${r.console.slice(-1000)}`;
  const line = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('IKW-CHILDREN-RESULT '))
    .map((l) => JSON.parse(l.slice('IKW-CHILDREN-RESULT '.length)) as Record<string, unknown>)
    .find((o) => o.scenario === scenario);
  assert.ok(line, `no result for ${scenario}${tail}`);
  assert.equal(
    line.error,
    undefined,
    `${String(line.error)}\n${JSON.stringify(line, null, 1).slice(0, 4000)}`,
  );
  return line;
}

/** The pings got their answers and both kernels counted them on the SAs of the expected child:
 * every request on router-a's outbound and router-b's inbound SA, every answer the other way. */
function counted(t: Traffic, what: string): void {
  const d = t.delta;
  const show = `${what}: ${JSON.stringify(t)}`;
  assert.ok(t.received >= 4, `${t.received}/5 answers; ${show}`);
  for (const k of ['aOut', 'bIn'] as const) assert.ok(d[k] >= 5, `${k} counted ${d[k]}; ${show}`);
  for (const k of ['bOut', 'aIn'] as const) assert.ok(d[k] >= t.received, `${k} counted ${d[k]}; ${show}`);
}

const names = (cs: readonly { name: string }[]) => cs.map((c) => c.name).sort();

for (const role of ['initiator', 'responder'] as const)
  test(
    `three children with strongSwan, ikeway ${role}: traffic per child, per-child rekey and down`,
    { skip },
    (t) => {
      t.diagnostic(`ran in ${run?.where}: boot ${run?.bootMs} ms, wall ${run?.wallMs} ms (all four labs)`);
      const o = result(`children-${role}`);
      t.diagnostic(JSON.stringify({ steps: o.steps, seconds: o.seconds }));
      // One IKE SA, three children on both sides, each with its own selectors.
      assert.equal(o.ikeSas, 1);
      const up = o.up as Child[];
      assert.deepEqual(names(up), ['host', 'lan', 'voice']);
      assert.deepEqual(up.find((c) => c.name === 'lan')!.l, ['10.1.0.0/24', '10.3.0.0/24']);
      assert.deepEqual(names(o.swanUp as Swan[]), ['host', 'lan', 'voice']);
      for (const c of up)
        assert.ok(
          (o.swanUp as Swan[]).some((s) => s.name === c.name && s.spiIn === c.spiOut && s.spiOut === c.spiIn),
          `strongSwan holds ${c.name} with the crossed SPIs`,
        );
      // Traffic through each child (both of lan's pairs), on that child's SAs in both kernels.
      const tr = o.traffic1 as Traffic[];
      assert.equal(tr.length, 4);
      for (const x of tr) {
        assert.equal(x.spiOut, up.find((c) => c.name === x.child)!.spiOut);
        counted(x, `${x.child} ${x.from} -> ${x.to}`);
      }
      // rekey interop/voice: voice has new SPIs, lan and host kept theirs.
      const rk = o.rekey as { before: Child[]; after: Child[] };
      const spis = (cs: Child[], n: string) =>
        cs.filter((c) => c.name === n).map((c) => `${c.spiIn}/${c.spiOut}`);
      assert.notDeepEqual(spis(rk.after, 'voice'), spis(rk.before, 'voice'));
      assert.equal(spis(rk.after, 'voice').length, 1);
      for (const n of ['lan', 'host'])
        assert.deepEqual(spis(rk.after, n), spis(rk.before, n), `${n} untouched`);
      const afterRekey = o.trafficAfterRekey as Traffic;
      assert.equal(afterRekey.spiOut, rk.after.find((c) => c.name === 'voice')!.spiOut);
      counted(afterRekey, 'voice after its rekey');
      // down interop/lan: lan gone from ikeway, strongSwan and both kernels; voice and host carry on.
      const dn = o.afterDown as {
        ikeway: Child[];
        swan: Swan[];
        ikeSas: number;
        kernelA: number[];
        kernelB: number[];
      };
      assert.deepEqual(names(dn.ikeway), ['host', 'voice']);
      assert.deepEqual(names(dn.swan), ['host', 'voice']);
      assert.equal(dn.ikeSas, 1, 'the IKE SA stays');
      assert.deepEqual(dn.kernelA, [-1, -1], 'no lan SA left in router-a');
      assert.deepEqual(dn.kernelB, [-1, -1], 'no lan SA left in router-b');
      const afterDown = o.trafficAfterDown as Traffic[];
      assert.deepEqual(
        afterDown.map((x) => x.child),
        ['voice', 'host'],
      );
      for (const x of afterDown) counted(x, `${x.child} after lan down`);
    },
  );

for (const role of ['initiator', 'responder'] as const)
  test(
    `one-sa-per-subnet-pair with strongSwan, ikeway ${role}: one SA pair per subnet pair`,
    { skip },
    (t) => {
      const o = result(`split-${role}`);
      t.diagnostic(JSON.stringify({ steps: o.steps, seconds: o.seconds, afterInitiate: o.afterInitiate }));
      const up = o.up as Child[];
      assert.deepEqual(names(up), ['lan#1', 'lan#2']);
      assert.deepEqual(up.map((c) => `${c.l.join(',')}=${c.r.join(',')}`).sort(), [
        '10.1.0.0/24=10.2.0.0/24',
        '10.3.0.0/24=10.2.0.0/24',
      ]);
      // strongSwan: two Child SAs of its one lan child, each narrowed to one pair, paired with ours.
      const swan = o.swanUp as Swan[];
      assert.deepEqual(names(swan), ['lan', 'lan']);
      for (const c of up)
        assert.ok(
          swan.some(
            (s) =>
              s.spiIn === c.spiOut && s.remoteTs.join() === c.l.join() && s.localTs.join() === c.r.join(),
          ),
          `strongSwan has ${c.name}'s pair with the crossed SPIs: ${JSON.stringify(swan)}`,
        );
      // Each pair's traffic on its own SAs, in both kernels.
      const tr = o.traffic1 as Traffic[];
      assert.deepEqual(
        tr.map((x) => x.child),
        ['lan#1', 'lan#2'],
      );
      for (const x of tr) {
        assert.equal(x.spiOut, up.find((c) => c.name === x.child)!.spiOut);
        counted(x, `${x.child} ${x.from} -> ${x.to}`);
      }
    },
  );
