// Initiator side of RFC 8019 §7.1.2: a responder answered IKE_SA_INIT with COOKIE and PUZZLE; find
// the four keys to return in a Puzzle Solution payload with the COOKIE (§7.1.3: S is the COOKIE
// notification data). The PRF must be one we proposed (§7.1.1.2: the responder picks it from our SA
// payload), the difficulty at most our ceiling (options.puzzleMaxSolve) so a hostile responder cannot
// make us spin. Otherwise we decline: §7.1.2 "The Initiator MAY ignore the PUZZLE notification if it
// is not willing to spend resources to solve the puzzle", and retry with the COOKIE alone (§2.6).
import { TransformType, decodePuzzleData } from '../codec/index.ts';
import { solvePuzzle } from '../crypto/index.ts';
import type { IkeSa } from './ike-sa.ts';

/**
 * §7.1.1.1: difficulty 0 asks for "as much power ... as it can afford"; we then aim for 8 zero bits
 * (the lowest non-zero level §4.4 suggests), about 1,000 PRF calls, so we do not stall.
 */
const OWN_LEVEL = 8;

/** The Puzzle Solution Data to send, or undefined when we decline the puzzle (counted, logged). */
export function solveResponderPuzzle(
  sa: IkeSa,
  puzzleData: Uint8Array,
  cookie: Uint8Array,
): Uint8Array | undefined {
  const { prf, difficulty } = decodePuzzleData(puzzleData);
  const proposed = sa.config.ikeProposals.some((p) =>
    p.transforms.some((t) => t.type === TransformType.PRF && t.id === prf),
  );
  const max = sa.services.options.puzzleMaxSolve;
  const decline = (why: string): undefined => {
    sa.services.counters.inc('ike.puzzle_ignored');
    sa.logger.log('info', `responder posed a puzzle (RFC 8019) we do not solve: ${why}`, { prf, difficulty });
    return undefined;
  };
  if (!proposed) return decline(`PRF ${prf} was not proposed`);
  if (difficulty > max) return decline(`difficulty above our ceiling ${max}`);
  const started = Date.now();
  const s = solvePuzzle(prf, difficulty === 0 ? Math.min(OWN_LEVEL, max) : difficulty, cookie);
  if (!s) return decline('no solution found');
  sa.services.counters.inc('ike.puzzle_solved');
  sa.logger.log('info', 'responder posed a puzzle (RFC 8019), solved', {
    difficulty,
    level: s.level,
    tries: s.tries,
    ms: Date.now() - started,
  });
  return s.data;
}
