// Initiator side of RFC 8019 §7.1.2: a responder answered IKE_SA_INIT with COOKIE and PUZZLE; find
// the key to return in a Puzzle Solution payload with the COOKIE. The PRF must be one we proposed
// (§7.1.2: otherwise the puzzle is not for this negotiation), the difficulty at most our ceiling
// (options.puzzleMaxSolve) so a hostile responder cannot make us spin.
import { TransformType, decodePuzzleData } from '../codec/index.ts';
import { solvePuzzle } from '../crypto/index.ts';
import { IkeError } from './errors.ts';
import type { IkeSa } from './ike-sa.ts';

export function solveResponderPuzzle(sa: IkeSa, puzzleData: Uint8Array, cookie: Uint8Array): Uint8Array {
  const { prf, difficulty } = decodePuzzleData(puzzleData);
  const proposed = sa.config.ikeProposals.some((p) =>
    p.transforms.some((t) => t.type === TransformType.PRF && t.id === prf),
  );
  if (!proposed)
    throw new IkeError('ERR_INVALID_SYNTAX', `PUZZLE names PRF ${prf}, which we did not propose`);
  const max = sa.services.options.puzzleMaxSolve;
  if (difficulty > max)
    throw new IkeError('ERR_INVALID_SYNTAX', `PUZZLE difficulty ${difficulty} is above our ceiling ${max}`);
  const started = Date.now();
  const s = solvePuzzle(prf, difficulty, cookie, { randomBytes: (n) => sa.services.randomBytes(n) });
  if (!s) throw new IkeError('ERR_INVALID_SYNTAX', `PUZZLE with PRF ${prf} not solved`);
  sa.services.counters.inc('ike.puzzle_solved');
  sa.logger.log('info', 'responder posed a puzzle (RFC 8019), solved', {
    difficulty,
    tries: s.tries,
    ms: Date.now() - started,
  });
  return s.key;
}
