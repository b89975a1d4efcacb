// @guest-pass: boots the guest kernel (scripts/run-tests.mjs runs it in its guest pass).
// Every example brought up in the lab by two ikeway daemons, in ONE guest-kernel boot when the host
// kernel has no ESP (directly in namespaces otherwise), plus a no-tunnel control that must fail:
// it shows the checks see cleartext and missing SAs. Each case is a subtest with its report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { withEspKernel } from '../../lab/guest/guest.ts';
import { LAB_MODULES } from '../../lab/two-site/lab.ts';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import type { ExampleReport } from '../../lab/two-site/suite.ts';

const isRoot = process.getuid?.() === 0;
const ROOT = join(import.meta.dirname, '..', '..');
const examples = readdirSync(join(ROOT, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => `examples/${f}`);
const CONTROL = 'none:examples/site-to-site-psk.yaml';

interface CaseResult {
  spec: string;
  error: { code: string; message: string } | null;
  report: ExampleReport | null;
}

test(
  'every example comes up in the lab; kernel and daemon counters prove ESP',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    const cases = [...examples.map((f) => `daemon:${f}`), CONTROL];
    const run = await withEspKernel({
      command: [process.execPath, '--import', 'tsx', 'test/lab/scripts/example-labs.ts', ...cases],
      cwd: ROOT,
      env: await bundleEnv(),
      modules: [...LAB_MODULES],
      timeoutMs: 540_000,
    });
    t.diagnostic(`ran in ${run.where}: boot ${run.bootMs} ms, wall ${run.wallMs} ms`);
    const results = new Map<string, CaseResult>();
    for (const line of run.stdout.split('\n'))
      if (line.startsWith('IKW-LAB-RESULT ')) {
        const r = JSON.parse(line.slice('IKW-LAB-RESULT '.length)) as CaseResult;
        results.set(r.spec, r);
      }
    const tail = `\n--- runner stderr ---\n${run.stderr.slice(-3000)}${run.where === 'guest' && run.status !== 0 ? `\n${run.console.slice(-2000)}` : ''}`;
    for (const spec of cases)
      await t.test(spec, () => {
        const r = results.get(spec);
        assert.ok(r, `no result for ${spec}${tail}`);
        assert.equal(r.error, null, `${r.error?.code}: ${r.error?.message}`);
        const rep = r.report!;
        const why = `${rep.problems.join('\n')}\n${rep.diagnostics.join('\n')}`;
        if (spec === CONTROL) {
          assert.equal(rep.ok, false, 'the control without a tunnel must fail');
          assert.ok(rep.capture!.cleartext > 0, 'the control must see cleartext on the WAN');
          assert.equal(rep.sas.length, 0);
          return;
        }
        assert.equal(rep.ok, true, why);
        for (const router of ['a', 'b'] as const)
          for (const dir of ['in', 'out'] as const)
            assert.ok(
              rep.sas.some((s) => s.router === router && s.direction === dir && s.packets > 0),
              `${router} ${dir}: ${why}`,
            );
        assert.ok(rep.pings.every((p) => p.received > 0));
        assert.equal(rep.capture!.cleartext, 0);
        assert.ok(rep.capture!.esp + rep.capture!.espInUdp > 0);
        if (spec.includes('nat-traversal')) {
          assert.ok(rep.capture!.espInUdp > 0 && rep.capture!.esp === 0, 'NAT-T: ESP in UDP 4500 only');
          // router-b's inbound SA comes from the NAT's outside address: the masquerade rewrote it.
          const viaNat = (s: (typeof rep.sas)[number]) =>
            s.router === 'b' && s.direction === 'in' && s.src === '198.51.100.254' && s.udpEncap;
          assert.ok(rep.sas.some(viaNat), 'router-b sees site a at the NAT address');
        }
        const d = rep.daemonCounters ?? [];
        assert.ok(
          ['a', 'b'].every((x) => d.some((c) => c.router === x && c.packetsIn > 0 && c.packetsOut > 0)),
          'ikeway status counters',
        );
      });
  },
);
