// Kernel install rate (issue 7, item 4): bench/xfrm-install.ts in a throwaway namespace on the host
// (policies only: the host kernel has no ESP) or, with --guest, inside the guest kernel (SAs too).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface InstallResult {
  readonly where: 'host' | 'guest';
  readonly objects: number;
  readonly sas: number;
  readonly policies: number;
  /** Objects per second. */
  readonly batched: number;
  readonly oneByOne: number;
  readonly ipBatch: number;
}

export class InstallBenchError extends Error {
  override readonly name = 'InstallBenchError';
  readonly code = 'ERR_BENCH_INSTALL';
}

const SCRIPT = join(import.meta.dirname, '..', 'xfrm-install.ts');

export function parseInstallOutput(where: 'host' | 'guest', out: string): InstallResult {
  const line = out.split('\n').find((l) => l.startsWith('BENCH-JSON '));
  if (!line) throw new InstallBenchError(`xfrm-install printed no result: ${out.slice(-1500)}`);
  return { where, ...(JSON.parse(line.slice('BENCH-JSON '.length)) as Omit<InstallResult, 'where'>) };
}

/** Host run: policies only (no ESP in the host kernel), median of `runs` runs by batched rate. */
export function installOnHost(count: number, runs: number): InstallResult {
  const results: InstallResult[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', SCRIPT, '--count', String(count), '--policies-only', '--json'],
      { encoding: 'utf8', timeout: 300_000 },
    );
    if (r.status !== 0) throw new InstallBenchError(`xfrm-install exited ${r.status}: ${r.stderr}`);
    results.push(parseInstallOutput('host', r.stdout));
  }
  results.sort((a, b) => a.batched - b.batched);
  return results[Math.floor(results.length / 2)]!;
}
