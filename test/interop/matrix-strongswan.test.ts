// @guest-pass: boots the guest kernel (scripts/run-tests.mjs runs it in its guest pass).
// Interop matrix, strongSwan as the peer: every cell (lab/interop/cells.ts; IKW_MATRIX_CELLS
// selects some) with ikeway initiating and responding, in ONE guest boot with real kernel ESP on
// both routers; results go to out/interop/strongswan-{initiator,responder}.jsonl.
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { CHARON_BIN } from '../../lab/peers/strongswan.ts';
import { MATRIX_TEST_TIMEOUT_MS, matrixSpecs, runMatrixPart } from './matrix-harness.ts';

const specs = matrixSpecs();
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync(CHARON_BIN)
      ? 'strongSwan not installed'
      : specs.length === 0 && 'no cells selected (IKW_MATRIX_CELLS)';

test(
  'interop matrix: strongSwan, ikeway initiator and responder',
  { skip, timeout: MATRIX_TEST_TIMEOUT_MS },
  (t) => runMatrixPart(t, { peer: 'strongswan', specs }),
);
