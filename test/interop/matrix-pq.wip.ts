// WIP (not in the suite): on 2026-12-07 under load 17-23 the guest pass took 19 min and most cells timed out
// starting their daemons; see the pq branch report. @guest-pass when it is green:
// Post-quantum interop cells in one guest boot with real kernel ESP on both routers (lab/interop,
// PQ_CELLS): strongSwan 6.0.6 (ML-KEM, /opt/strongswan-6.0.6, unpacked from /work/shared/peers when
// missing) for X25519 + ML-KEM-768, ECP-384 + ML-KEM-1024 (IKE_INTERMEDIATE in RFC 7383 fragments),
// ML-KEM-768 alone, a Child SA with PFS through X25519 + ML-KEM-768 with Child and IKE rekeys (each
// with an IKE_FOLLOWUP_KE), and ikeway's default proposal (hybrid chosen); strongSwan 5.9.8 for the default
// proposal against a classic peer (classic chosen). Both ikeway roles. Each cell checks up, the key
// exchanges ikeway ran, traffic both ways counted by both kernels, and a clean delete. Results are
// not written to docs/interop.md (that report is the common matrix's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import { withEspKernel } from '../../lab/guest/guest.ts';
import { STRONGSWAN_5, STRONGSWAN_6 } from '../../lab/peers/strongswan.ts';
import { LAB_MODULES } from '../../lab/two-site/lab.ts';
import { parseRunnerOutput } from './matrix-harness.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const TARBALL = '/work/shared/peers/strongswan-6.0.6-debian12-amd64.tar.xz';
const isRoot = process.getuid?.() === 0;
if (isRoot && !existsSync(STRONGSWAN_6.charon) && existsSync(TARBALL))
  execFileSync('tar', ['-C', '/opt', '-xJf', TARBALL]);

const skip = !isRoot
  ? 'needs root'
  : !existsSync(STRONGSWAN_6.charon)
    ? 'strongSwan 6.0.6 not available'
    : !existsSync(STRONGSWAN_5.charon) && 'strongSwan 5.9.8 not installed';

const CELLS = [
  'pq-x25519-mlkem768',
  'pq-ecp384-mlkem1024',
  'pq-mlkem768',
  'pq-pfs-rekeys',
  'pq-default-hybrid',
];
const SPECS = (['initiator', 'responder'] as const).flatMap((role) => [
  ...CELLS.map((c) => `${role}:${c}`),
  `${role}:pq-default-classic@strongswan`,
]);
const TIMEOUT_MS = 1_200_000;

test(
  'post-quantum interop cells, strongSwan 6.0.6 and 5.9.8, real ESP',
  { skip, timeout: 3 * TIMEOUT_MS /* also covers the wait for the machine-wide guest slot */ },
  async (t) => {
    const run = await withEspKernel({
      command: [
        process.execPath,
        '--import',
        'tsx',
        'test/interop/scripts/matrix-run.ts',
        'strongswan6',
        '-',
        ...SPECS,
      ],
      cwd: ROOT,
      env: {
        ...(await bundleEnv()),
        IKW_MATRIX_CONCURRENCY: '4',
        IKW_MATRIX_DEADLINE_MS: String(TIMEOUT_MS - 300_000),
      },
      modules: [...LAB_MODULES],
      timeoutMs: TIMEOUT_MS,
    });
    t.diagnostic(`ran in ${run.where}: boot ${run.bootMs} ms, wall ${run.wallMs} ms, exit ${run.status}`);
    const { kernel, results } = parseRunnerOutput(run.stdout);
    t.diagnostic(`guest kernel ${kernel}`);
    const tail = `\n--- runner stderr (tail) ---\n${run.stderr.slice(-4000)}`;
    for (const spec of SPECS)
      await t.test(spec, () => {
        const [role, cell] = spec.split('@')[0]!.split(':');
        const r = results.find((x) => x.role === role && x.cell === cell);
        assert.ok(r, `no result for ${spec}${tail}`);
        t.diagnostic(
          `${spec}: ${r.result} (${r.peerVersion}) ${r.steps.map((s) => `${s.step}: ${s.detail}`).join(' | ')}`,
        );
        assert.equal(r.result, 'pass', `${r.why}\n${r.evidence.join('\n')}`);
        for (const step of ['up', 'key exchanges (RFC 9370)', 'traffic', 'delete'])
          assert.ok(
            r.steps.some((s) => s.step === step && s.ok),
            `step ${step} missing`,
          );
        if (cell === 'pq-pfs-rekeys')
          for (const step of ['traffic after child rekey', 'traffic after IKE rekey'])
            assert.ok(
              r.steps.some((s) => s.step === step && s.ok),
              `step ${step} missing`,
            );
        if (cell === 'pq-ecp384-mlkem1024')
          assert.ok(r.steps.some((s) => s.step === 'IKE fragments both ways (RFC 7383)' && s.ok));
      });
  },
);
