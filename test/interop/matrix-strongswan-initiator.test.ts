// Interop matrix, strongSwan as the peer, ikeway initiating: every cell (src/lab/interop/cells.ts)
// in one guest boot with real kernel ESP on both routers; writes docs/interop.md.
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { CELLS } from '../../src/lab/interop/cells.ts';
import { CHARON_BIN } from '../../src/lab/strongswan.ts';
import { MATRIX_TEST_TIMEOUT_MS, runMatrixPart } from './matrix-harness.ts';

const skip =
  process.getuid?.() !== 0 ? 'needs root' : !existsSync(CHARON_BIN) ? 'strongSwan not installed' : false;

test('interop matrix: strongSwan, ikeway initiator', { skip, timeout: MATRIX_TEST_TIMEOUT_MS }, (t) =>
  runMatrixPart(t, {
    peer: 'strongswan',
    part: 'initiator',
    specs: CELLS.map((c) => `initiator:${c.id}`),
  }),
);
