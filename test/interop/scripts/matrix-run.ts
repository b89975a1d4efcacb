// Guest-side runner of the interop matrix (test/interop/matrix-*.test.ts): runs the `ROLE:CELL`
// specs against peer KIND in this one boot, IKW_MATRIX_CONCURRENCY (default 3) at a time (each
// cell has its own namespaces, daemons and directories), and prints one `IKW-MATRIX-RESULT <json>`
// line per cell as it ends, plus `IKW-MATRIX-KERNEL <release>`. Never throws past a cell.
// usage: node matrix-run.ts KIND PKI_DIR|- [PEER/]ROLE:CELL[@PEER] ...  (PEER: another peer kind
// than KIND for that spec, so one boot can hold several peers)
import { release } from 'node:os';
import { cellById } from '../../../lab/interop/cells.ts';
import { peerDriver } from '../../../lab/interop/peers.ts';
import { runCell } from '../../../lab/interop/run-cell.ts';
import type { CellResult, Role } from '../../../lab/interop/types.ts';

const [kind, pkiDir, ...specs] = process.argv.slice(2);
const concurrency = Math.max(1, Math.min(8, Number(process.env['IKW_MATRIX_CONCURRENCY'] ?? 3) || 3));
// No cell starts after this (default 10 min): the guest must end, and report, before its host kills it.
const deadline = Date.now() + (Number(process.env['IKW_MATRIX_DEADLINE_MS'] ?? 600_000) || 600_000);
process.stdout.write(`IKW-MATRIX-KERNEL ${release()}\n`);

async function one(spec: string): Promise<CellResult> {
  const [main, at] = spec.split('@') as [string, string | undefined];
  const [head, id] = main.split(':') as [string, string];
  const [prefixed, role] = (head.includes('/') ? head.split('/') : [kind!, head]) as [string, Role];
  const peerKind = at ?? prefixed;
  const started = Date.now();
  try {
    if (started > deadline) throw new Error('not run: the time budget of this boot was used up');
    return await runCell({
      peer: peerDriver(peerKind),
      cell: cellById(id),
      role,
      ...(pkiDir && pkiDir !== '-' && { pkiRoot: pkiDir }),
      log: (l) => process.stderr.write(`[${peerKind} ${spec}] ${l}\n`),
    });
  } catch (e) {
    return {
      peer: peerKind as CellResult['peer'],
      peerVersion: '',
      role,
      cell: id,
      title: id,
      result: 'fail',
      seconds: Math.round((Date.now() - started) / 100) / 10,
      steps: [],
      why: `runner: ${String((e as Error).message ?? e)}`,
      evidence: [],
    };
  }
}

// IKW_MATRIX_STAGGER_MS: slot k starts its first cell k times this later, so that the parallel cells'
// daemon starts (the most CPU-hungry step under TCG) do not all fall together on the guest's 2 vCPUs.
const stagger = Math.max(0, Math.min(60_000, Number(process.env['IKW_MATRIX_STAGGER_MS'] ?? 0) || 0));
const queue = [...specs];
await Promise.all(
  Array.from({ length: Math.min(concurrency, queue.length) }, async (_, k) => {
    await new Promise((r) => setTimeout(r, k * stagger));
    for (let s = queue.shift(); s !== undefined; s = queue.shift())
      process.stdout.write(`IKW-MATRIX-RESULT ${JSON.stringify(await one(s))}\n`);
  }),
);
