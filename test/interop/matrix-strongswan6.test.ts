// @guest-pass: boots the guest kernel when asked to (IKW_MATRIX_SS6=1); skipped otherwise.
// Interop matrix, strongSwan 6.0.6 (../shared/peers, unpacked by ensureStrongswan6) as a third
// peer beside 5.9.8 and Libreswan 4.10: every cell (lab/interop/cells.ts; IKW_MATRIX_CELLS selects
// some) with ikeway initiating and responding, in ONE guest boot with real kernel ESP on both
// routers; results go to out/interop/strongswan6-{initiator,responder}.jsonl.
// Opt-in: it takes about 5 minutes of guest time, which the suite's budget (README) does not have.
// The suite runs the same cells against 6.0.6 at the IKE level on the host
// (matrix-strongswan6-host.test.ts) and the post-quantum cells with real ESP (matrix-pq.test.ts).
// Run: IKW_MATRIX_SS6=1 node scripts/run-tests.mjs --guest-only matrix-strongswan6.test
import { test } from 'node:test';
import { ensureStrongswan6 } from '../../lab/peers/strongswan.ts';
import { MATRIX_TEST_TIMEOUT_MS, matrixSpecs, runMatrixPart } from './matrix-harness.ts';

const specs = matrixSpecs();
const skip =
  process.env['IKW_MATRIX_SS6'] !== '1'
    ? 'opt-in (IKW_MATRIX_SS6=1): ~5 min of guest time; the host pass runs these cells IKE-only'
    : process.getuid?.() !== 0
      ? 'needs root'
      : (ensureStrongswan6() ?? (specs.length === 0 && 'no cells selected (IKW_MATRIX_CELLS)'));

test(
  'interop matrix: strongSwan 6.0.6, ikeway initiator and responder',
  { skip, timeout: MATRIX_TEST_TIMEOUT_MS },
  (t) => runMatrixPart(t, { peer: 'strongswan6', specs }),
);
