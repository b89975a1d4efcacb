// Interop matrix, Libreswan 4.10 (pluto) as the peer, ikeway initiating: the cells of
// LIBRESWAN_CI_CELLS (IKW_LSW_ALL=1: every cell) in one guest boot with real kernel ESP on both
// routers; writes docs/interop/libreswan-initiator.jsonl and re-renders docs/interop.md.
import { test } from 'node:test';
import { libreswanUnavailable } from '../../src/lab/libreswan.ts';
import { MATRIX_TEST_TIMEOUT_MS, libreswanSpecs, runMatrixPart } from './matrix-harness.ts';

const specs = libreswanSpecs('initiator');
const skip = libreswanUnavailable() || (specs.length === 0 && 'no initiator cells selected (IKW_LSW_CELLS)');

test('interop matrix: Libreswan, ikeway initiator', { skip, timeout: MATRIX_TEST_TIMEOUT_MS }, (t) =>
  runMatrixPart(t, { peer: 'libreswan', part: 'initiator', specs }),
);
