// Every fuzz target by name (the test suite and `npm run fuzz` share this list).
import { ENGINE_TARGETS } from './engine-targets.ts';
import { PURE_TARGETS } from './pure-targets.ts';
import type { FuzzTarget } from './runner.ts';

export const TARGETS: readonly FuzzTarget[] = [...PURE_TARGETS, ...ENGINE_TARGETS];

export function targetByName(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}
