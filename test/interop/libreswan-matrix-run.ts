// Guest-side runner of the Libreswan cells (test/interop/libreswan-matrix.test.ts): runs each
// `ROLE:CELL` against Libreswan 4.10, one after the other in this one boot, and prints one
// `IKW-MATRIX-RESULT <json>` line per cell (the CellResult shape of src/lab/interop/types.ts), the
// same protocol as the framework's matrix-run.ts. Never throws past a cell.
// usage: node --import tsx libreswan-matrix-run.ts PKI_DIR|- ROLE:CELL ...
import { cellById } from '../../src/lab/interop/cells.ts';
import { LibreswanPeer } from '../../src/lab/interop/libreswan-peer.ts';
import { runCell } from '../../src/lab/interop/run-cell.ts';
import type { CellResult, Role } from '../../src/lab/interop/types.ts';

const [pkiDir, ...specs] = process.argv.slice(2);
for (const spec of specs) {
  const [role, id] = spec.split(':') as [Role, string];
  const started = Date.now();
  let result: CellResult;
  const peer = new LibreswanPeer();
  try {
    result = await runCell({
      peer,
      cell: cellById(id),
      role,
      ...(pkiDir && pkiDir !== '-' && { pkiRoot: pkiDir }),
      log: (l) => process.stderr.write(`[libreswan ${spec}] ${l}\n`),
    });
  } catch (e) {
    result = {
      peer: 'libreswan',
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
  if (result.result === 'fail')
    process.stderr.write(
      `[libreswan ${spec}] pluto log tail:\n${peer.log().split('\n').slice(-80).join('\n')}\n`,
    );
  process.stdout.write(`IKW-MATRIX-RESULT ${JSON.stringify(result)}\n`);
}
