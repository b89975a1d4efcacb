// @guest-pass (once it has passed in a guest: rename to ah-tfc.test.ts): boots the guest kernel.
// Issue 21 on real kernel SAs, in ONE guest boot: AH (RFC 4302) tunnel and transport mode and ESP TFC
// padding (RFC 4303 §2.7) against strongSwan 5.9.8 (`ah_proposals`) in both roles and against ikeway
// itself, including a peer that sends ESP_TFC_PADDING_NOT_SUPPORTED. The cells are
// lab/interop/cells.ts FEATURE_CELLS; what each proves on the wire is lab/interop/wire-checks.ts.
// Results are folded into out/interop/<peer>-<role>.jsonl (`npm run report:interop` publishes them).
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { CHARON_BIN } from '../../lab/peers/strongswan.ts';
import { runMatrixPart } from './matrix-harness.ts';

const STRONGSWAN = ['ah-tunnel', 'ah-transport', 'tfc'].flatMap((c) => [`initiator:${c}`, `responder:${c}`]);
const IKEWAY = ['ah-tunnel', 'ah-transport', 'tfc', 'tfc-refused'].map((c) => `ikeway/initiator:${c}`);
const TIMEOUT_MS = 600_000;

const skip =
  process.getuid?.() !== 0 ? 'needs root' : !existsSync(CHARON_BIN) ? 'strongSwan not installed' : false;

test(
  'AH and TFC padding on real kernel SAs: strongSwan both roles, ikeway <-> ikeway',
  // The guest run plus the longest wait for a guest slot outside the test runner (20 min).
  { skip, timeout: TIMEOUT_MS + 60_000 + 20 * 60_000 },
  (t) =>
    runMatrixPart(t, {
      peer: 'strongswan',
      specs: [...STRONGSWAN, ...IKEWAY],
      merge: true,
      concurrency: 4,
      timeoutMs: TIMEOUT_MS,
    }),
);
