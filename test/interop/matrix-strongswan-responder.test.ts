// Interop matrix, strongSwan as the peer, ikeway responding: every cell (lab/interop/cells.ts)
// in one guest boot with real kernel ESP on both routers; writes docs/interop.md.
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { CHARON_BIN } from '../../lab/peers/strongswan.ts';
import { MATRIX_TEST_TIMEOUT_MS, matrixSpecs, runMatrixPart } from './matrix-harness.ts';

const specs = matrixSpecs('responder');
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync(CHARON_BIN)
      ? 'strongSwan not installed'
      : specs.length === 0 && 'no responder cells selected (IKW_MATRIX_CELLS)';

test('interop matrix: strongSwan, ikeway responder', { skip, timeout: MATRIX_TEST_TIMEOUT_MS }, (t) =>
  runMatrixPart(t, {
    peer: 'strongswan',
    part: 'responder',
    specs,
  }),
);
