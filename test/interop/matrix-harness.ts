// Host side of the interop matrix tests: one guest boot per test file (peer) runs a list of
// `ROLE:CELL` specs, both roles (scripts/matrix-run.ts); each role's results are saved as one run
// in out/interop/<peer>-<role>.jsonl (lab/interop/results.ts). Tracked files are never written:
// `npm run report:interop` refreshes docs/interop.md from them on purpose.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import { withEspKernel } from '../../lab/guest/guest.ts';
import { CELLS, cellById } from '../../lab/interop/cells.ts';
import { saveRun } from '../../lab/interop/results.ts';
import { preparePkis } from '../../lab/interop/run-cell.ts';
import type { CellResult } from '../../lab/interop/types.ts';
import { LAB_MODULES } from '../../lab/two-site/lab.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Parses the runner's stdout: the kernel release and one result per cell. */
export function parseRunnerOutput(stdout: string): { kernel: string; results: CellResult[] } {
  let kernel = 'unknown';
  const results: CellResult[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('IKW-MATRIX-KERNEL ')) kernel = line.slice('IKW-MATRIX-KERNEL '.length).trim();
    if (line.startsWith('IKW-MATRIX-RESULT '))
      results.push(JSON.parse(line.slice('IKW-MATRIX-RESULT '.length)) as CellResult);
  }
  return { kernel, results };
}

/** One guest run of both roles (1,680 s: the 840 s a role had alone, twice) plus the longest wait
 * for a guest slot outside the test runner (guest-slots.ts: 20 min; the runner's guest pass has none). */
export const MATRIX_TEST_TIMEOUT_MS = 1_680_000 + 60_000 + 20 * 60_000;

/**
 * The `ROLE:CELL` specs of the matrix: every cell in both roles, or with IKW_MATRIX_CELLS=ROLE:CELL,...
 * only the listed ones (their results are folded into the saved ones, see saveRun).
 */
export function matrixSpecs(): string[] {
  const listed = process.env['IKW_MATRIX_CELLS'];
  if (listed) return listed.split(',').filter((s) => /^(initiator|responder):/.test(s));
  return (['initiator', 'responder'] as const).flatMap((role) => CELLS.map((c) => `${role}:${c.id}`));
}

export interface MatrixPart {
  readonly peer: string;
  /** `ROLE:CELL` specs, of one or both roles; `PEER/ROLE:CELL` runs one against another peer kind. */
  readonly specs: readonly string[];
  /** Fold the results into the saved ones (default: only when IKW_MATRIX_CELLS/IKW_MATRIX_MERGE say so). */
  readonly merge?: boolean;
  readonly concurrency?: number;
  readonly timeoutMs?: number;
}

/** The part of the cells' total time that `some` took (1 when none took any). */
function share(some: readonly CellResult[], all: readonly CellResult[]): number {
  const sum = (rs: readonly CellResult[]) => rs.reduce((n, r) => n + r.seconds, 0);
  return sum(all) > 0 ? sum(some) / sum(all) : 1;
}

/** Boots once, runs the cells, saves one run per role, then one subtest per cell. */
export async function runMatrixPart(t: TestContext, p: MatrixPart): Promise<void> {
  const pki = mkdtempSync(join(tmpdir(), `ikw-mxpki-${process.pid}-`));
  t.after(() => rmSync(pki, { recursive: true, force: true }));
  preparePkis(pki, [...new Set(p.specs.map((s) => s.split(':')[1]!))].map(cellById));
  const command = [
    process.execPath,
    '--import',
    'tsx',
    'test/interop/scripts/matrix-run.ts',
    p.peer,
    pki,
    ...p.specs,
  ];
  // IKW_MATRIX_LOGDIR: the guest's output and the peers' whole logs (drivers that keep them) stay there.
  const logDir = process.env['IKW_MATRIX_LOGDIR'];
  const run = await withEspKernel({
    command,
    cwd: ROOT,
    ...(logDir && { outputDir: logDir }),
    env: {
      ...(await bundleEnv()),
      ...(logDir && { IKW_MATRIX_LOGDIR: logDir }),
      IKW_MATRIX_CONCURRENCY: String(p.concurrency ?? 4),
      // Cells still queued after this are reported as not run; a started cell ends within ~4 min.
      IKW_MATRIX_DEADLINE_MS: String((p.timeoutMs ?? 1_680_000) - 300_000),
    },
    modules: [...LAB_MODULES],
    timeoutMs: p.timeoutMs ?? 1_680_000,
  });
  t.diagnostic(`ran in ${run.where}: boot ${run.bootMs} ms, wall ${run.wallMs} ms, exit ${run.status}`);
  const { kernel, results } = parseRunnerOutput(run.stdout);
  const merge =
    p.merge ?? (process.env['IKW_MATRIX_MERGE'] === '1' || Boolean(process.env['IKW_MATRIX_CELLS']));
  const finished = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const peers = [...new Set([p.peer, ...results.map((r) => r.peer)])];
  for (const [peer, role] of peers.flatMap((x) =>
    (['initiator', 'responder'] as const).map((r) => [x, r] as const),
  )) {
    const mine = results.filter((r) => r.role === role && r.peer === peer);
    if (mine.length === 0) continue;
    const file = saveRun(
      {
        peer,
        part: role,
        generatedAt: finished,
        where: run.where,
        kernel,
        // Guest time only, shared by the roles in proportion to their cells' time.
        wallSeconds: Math.round(((run.wallMs - run.queuedMs) / 1000) * share(mine, results)),
        command: `matrix-run.ts ${peer} ${mine.map((r) => `${role}:${r.cell}`).join(' ')}`,
        results: mine,
      },
      { merge },
    );
    t.diagnostic(`${peer} ${role} results: ${file}`);
  }
  const tail = `\n--- runner stderr (tail) ---\n${run.stderr.slice(-4000)}`;
  for (const spec of p.specs)
    await t.test(spec, () => {
      const [head, cell] = spec.split(':') as [string, string];
      const [peer, role] = head.includes('/') ? head.split('/') : [p.peer, head];
      const r = results.find((x) => x.peer === peer && x.role === role && x.cell === cell);
      assert.ok(r, `no result for ${spec}${tail}`);
      if (r.result === 'unsupported') {
        assert.ok(r.why.length > 0, 'an unsupported cell must say why');
        return;
      }
      assert.equal(r.result, 'pass', `${r.why}\n${r.evidence.join('\n')}`);
      // Evidence, not just a verdict: the steps that prove the cell.
      for (const step of ['up', 'traffic', 'delete'])
        assert.ok(
          r.steps.some((s) => s.step === step && s.ok),
          `step ${step} missing`,
        );
    });
}
