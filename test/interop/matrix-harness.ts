// Host side of the interop matrix tests: one guest boot per test file runs a list of cells
// (scripts/matrix-run.ts), the results are saved to docs/interop/<peer>-<part>.jsonl and
// docs/interop.md is rendered again from every results file present (lab/interop/report.ts).
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import { withEspKernel } from '../../lab/guest/guest.ts';
import { CELLS, cellById } from '../../lab/interop/cells.ts';
import { mergeRun, renderReport, type MatrixRun } from '../../lab/interop/report.ts';
import { preparePkis } from '../../lab/interop/run-cell.ts';
import type { CellResult, Role } from '../../lab/interop/types.ts';
import { LAB_MODULES } from '../../lab/two-site/lab.ts';

const ROOT = join(import.meta.dirname, '..', '..');
export const DOCS = join(ROOT, 'docs');

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

/** Every saved run under docs/interop/, one JSON line each file. */
export function readRuns(dir = join(DOCS, 'interop')): MatrixRun[] {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl'))
      .sort();
  } catch {
    return [];
  }
  return files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as MatrixRun);
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.${process.pid}.tmp`, text);
  renameSync(`${file}.${process.pid}.tmp`, file);
}

/**
 * Saves this run and renders docs/interop.md from all runs. A run of selected cells (IKW_MATRIX_CELLS,
 * or IKW_MATRIX_MERGE=1) is folded into the saved run of the same peer and part (report.ts mergeRun).
 */
export function saveRun(run: MatrixRun): void {
  mkdirSync(join(DOCS, 'interop'), { recursive: true });
  const file = join(DOCS, 'interop', `${run.peer}-${run.part}.jsonl`);
  const saved =
    (process.env['IKW_MATRIX_MERGE'] === '1' || process.env['IKW_MATRIX_CELLS']) && existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as MatrixRun)
      : undefined;
  writeAtomic(file, `${JSON.stringify(mergeRun(saved, run))}\n`);
  writeAtomic(join(DOCS, 'interop.md'), renderReport(readRuns()));
}

/** One guest run (840 s) plus the longest wait for a guest slot (lab/guest/guest-slots.ts: 20 min):
 * the two matrix files may be scheduled together and then one queues behind the other's guest. */
export const MATRIX_TEST_TIMEOUT_MS = 900_000 + 20 * 60_000;

/**
 * The `ROLE:CELL` specs of one matrix part: every cell, or with IKW_MATRIX_CELLS=ROLE:CELL,...
 * only the listed ones of this role (their results are folded into the saved ones, see saveRun).
 */
export function matrixSpecs(role: Role): string[] {
  const listed = process.env['IKW_MATRIX_CELLS'];
  if (listed) return listed.split(',').filter((s) => s.startsWith(`${role}:`));
  return CELLS.map((c) => `${role}:${c.id}`);
}

export interface MatrixPart {
  readonly peer: string;
  readonly part: string;
  /** `ROLE:CELL` specs. */
  readonly specs: readonly string[];
  readonly concurrency?: number;
  readonly timeoutMs?: number;
}

/** Boots once, runs the cells, saves the report, then one subtest per cell. */
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
      IKW_MATRIX_DEADLINE_MS: String((p.timeoutMs ?? 840_000) - 300_000),
    },
    modules: [...LAB_MODULES],
    timeoutMs: p.timeoutMs ?? 840_000,
  });
  t.diagnostic(`ran in ${run.where}: boot ${run.bootMs} ms, wall ${run.wallMs} ms, exit ${run.status}`);
  const { kernel, results } = parseRunnerOutput(run.stdout);
  if (results.length > 0)
    saveRun({
      peer: p.peer,
      part: p.part,
      generatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      where: run.where,
      kernel,
      // Guest time only: the wait for a free guest slot (other test files) is not this run's.
      wallSeconds: Math.round((run.wallMs - run.queuedMs) / 1000),
      command: `matrix-run.ts ${p.peer} ${p.specs.join(' ')}`,
      results,
    });
  const tail = `\n--- runner stderr (tail) ---\n${run.stderr.slice(-4000)}`;
  for (const spec of p.specs)
    await t.test(spec, () => {
      const [role, cell] = spec.split(':');
      const r = results.find((x) => x.role === role && x.cell === cell);
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
