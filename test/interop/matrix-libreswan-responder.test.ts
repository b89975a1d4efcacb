// Interop matrix, Libreswan 4.10 (pluto) as the peer, pluto initiating (ikeway responds): every cell
// (lab/interop/cells.ts; IKW_MATRIX_CELLS selects some) in one guest boot with real kernel ESP on both
// routers; writes docs/interop/libreswan-responder.jsonl and re-renders docs/interop.md.
import { test } from 'node:test';
import { libreswanUnavailable } from '../../lab/peers/libreswan.ts';
import { MATRIX_TEST_TIMEOUT_MS, matrixSpecs, runMatrixPart } from './matrix-harness.ts';

const specs = matrixSpecs('responder');
const skip =
  libreswanUnavailable() || (specs.length === 0 && 'no responder cells selected (IKW_MATRIX_CELLS)');

test('interop matrix: Libreswan, ikeway responder', { skip, timeout: MATRIX_TEST_TIMEOUT_MS }, (t) =>
  runMatrixPart(t, { peer: 'libreswan', part: 'responder', specs }),
);
