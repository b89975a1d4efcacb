// Public surface of the crypto layer (transforms, key schedule, key exchange, SK protection, AUTH).
export { CryptoError, type CryptoErrorCode } from './errors.ts';
export { wipe, KeyContainer, Secret } from './secret.ts';
export { prf, prfPlus, HASH_LEN, type HashName } from './prf.ts';
export * from './registry.ts';
export {
  skeyseed,
  rekeySkeyseed,
  deriveIkeSaKeys,
  deriveChildSaKeys,
  keyLengths,
  additionalKeyUpdate,
  rekeySkeyseedMulti,
  deriveChildSaKeysMulti,
  IkeSaKeys,
  ChildSaKeys,
  type KeyLengths,
} from './derive.ts';
export { createKeyExchange, importKeyExchange, type KeyExchange } from './ke.ts';
export {
  initiatorKeyShare,
  responderRespond,
  isKeMethodSupported,
  keMethodInfo,
  type KeInitiator,
  type KeFailure,
  type KeFailureCode,
  type KeResult,
  type KeRoleOptions,
} from './ke-roles.ts';
export { mlKemBackend, type MlKemBackend } from './mlkem.ts';
export { intAuthInput, intAuthStep, intAuthOctets, type IntermediateMessage } from './intauth.ts';
export { KeyExchangePool, type KeyExchangePoolOptions } from './pool.ts';
export { RandomPool, randomBytes } from './random.ts';
export { createSkCipher, type SkCipher, type SkTransforms, type SkKeys } from './sk.ts';
export { KEY_PAD, pskAuth, verifyPskAuth, signedOctets, type SignedOctetsInput } from './auth.ts';
export {
  signAuth,
  verifyAuth,
  signLegacy,
  verifyLegacy,
  algorithmIdentifier,
  parseAlgorithmIdentifier,
  type SignatureScheme,
  type VerifyOptions,
} from './signature.ts';
export {
  PUZZLE_PRFS,
  PUZZLE_KEYS,
  puzzleMaxKeyLen,
  trailingZeroBits,
  puzzleLevel,
  verifyPuzzle,
  solvePuzzle,
  type SolveOptions,
  type PuzzleSolution,
} from './puzzle.ts';
