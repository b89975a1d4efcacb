// Interop matrix, Libreswan 4.10 (pluto) as the peer, ikeway initiating: every cell (lab/interop/
// cells.ts; IKW_MATRIX_CELLS selects some) in one guest boot with real kernel ESP on both
// routers; writes docs/interop/libreswan-initiator.jsonl and re-renders docs/interop.md.
import { test } from 'node:test';
import { libreswanUnavailable } from '../../lab/peers/libreswan.ts';
import { MATRIX_TEST_TIMEOUT_MS, matrixSpecs, runMatrixPart } from './matrix-harness.ts';

const specs = matrixSpecs('initiator');
const skip =
  libreswanUnavailable() || (specs.length === 0 && 'no initiator cells selected (IKW_MATRIX_CELLS)');

test('interop matrix: Libreswan, ikeway initiator', { skip, timeout: MATRIX_TEST_TIMEOUT_MS }, (t) =>
  runMatrixPart(t, { peer: 'libreswan', part: 'initiator', specs }),
);
