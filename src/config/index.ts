// Public surface of the config layer (see README "Configuration" and examples/README.md).
export { loadConfig, parseConfig, MAX_CONFIG_BYTES, type LoadOptions, type LoadResult } from './load.ts';
export {
  ConfigErrors,
  formatProblem,
  type ConfigProblem,
  type ConfigErrorCode,
  type Severity,
} from './errors.ts';
export { Secret } from '../crypto/secret.ts';
export { checkProposal, PROPOSAL_TOKENS } from './proposals-tokens.ts';
export { buildJsonSchema } from './json-schema.ts';
export { EXPIRY_WARN_DAYS } from './creds.ts';
export type * from './types.ts';
