// Where the interop matrix keeps its results. A test run writes out/interop/<peer>-<part>.jsonl
// (ignored by git; IKW_INTEROP_OUT moves it) and never touches a tracked file. The committed
// docs/interop/*.jsonl and docs/interop.md change only on purpose: `npm run report:interop`
// (scripts/report-interop.ts) copies the latest run's results there and renders the page again.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { mergeRun, renderReport, type MatrixRun } from './report.ts';

const ROOT = join(import.meta.dirname, '..', '..');
/** The committed results and page: docs/interop/*.jsonl, docs/interop.md. */
export const DOCS_DIR = join(ROOT, 'docs');

/** The test run's results folder: IKW_INTEROP_OUT, else out/interop/ of the checkout. */
export function outDir(): string {
  return process.env['IKW_INTEROP_OUT'] || join(ROOT, 'out', 'interop');
}

const runFile = (dir: string, peer: string, part: string) => join(dir, `${peer}-${part}.jsonl`);

/** Every saved run in `dir`, one JSON line per file, in file name order. */
export function readRuns(dir: string): MatrixRun[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as MatrixRun);
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.${process.pid}.tmp`, text);
  renameSync(`${file}.${process.pid}.tmp`, file);
}

export interface SaveOptions {
  /** Fold a partial run into the saved one of its peer and part (report.ts mergeRun). */
  readonly merge: boolean;
  readonly out?: string;
  /** Where the saved run comes from when `out` has none yet (default: the committed results). */
  readonly committed?: string;
}

/** Saves one run into the results folder; returns the file written. */
export function saveRun(run: MatrixRun, opts: SaveOptions): string {
  const out = opts.out ?? outDir();
  mkdirSync(out, { recursive: true });
  const file = runFile(out, run.peer, run.part);
  const base = [file, runFile(opts.committed ?? join(DOCS_DIR, 'interop'), run.peer, run.part)].find((f) =>
    existsSync(f),
  );
  const saved =
    opts.merge && base !== undefined ? (JSON.parse(readFileSync(base, 'utf8')) as MatrixRun) : undefined;
  writeAtomic(file, `${JSON.stringify(mergeRun(saved, run))}\n`);
  return file;
}

/**
 * Copies every result of the test run (`out`) over the committed one and renders interop.md from
 * all committed results; parts the run did not cover keep their committed results.
 */
export function publishRuns(out = outDir(), docs = DOCS_DIR): { copied: string[]; kept: string[] } {
  const dir = join(docs, 'interop');
  mkdirSync(dir, { recursive: true });
  const copied = existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('.jsonl')) : [];
  for (const f of copied) copyFileSync(join(out, f), join(dir, f));
  const kept = readdirSync(dir).filter((f) => f.endsWith('.jsonl') && !copied.includes(f));
  writeAtomic(join(docs, 'interop.md'), renderReport(readRuns(dir)));
  return { copied: copied.sort(), kept: kept.sort() };
}
