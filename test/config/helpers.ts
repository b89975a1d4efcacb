// Shared helpers for the config tests: temp directories with secret files, and a way to get the
// problem list out of parseConfig.
import { mkdtempSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  ConfigErrors,
  parseConfig,
  type ConfigProblem,
  type LoadOptions,
  type LoadResult,
} from '../../src/config/index.ts';

export const PSK_TEXT = 'correct-horse-battery-staple-0123456789';

export interface TempDir {
  readonly dir: string;
  write(rel: string, content: string, mode?: number): string;
  cleanup(): void;
}

export function tempDir(): TempDir {
  const dir = mkdtempSync(join(tmpdir(), `ikeway-config-${process.pid}-`));
  return {
    dir,
    write(rel, content, mode = 0o600) {
      const p = join(dir, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
      chmodSync(p, mode);
      return p;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Parse and expect failure: the problems (errors and warnings). */
export function problems(text: string, opts: LoadOptions = {}): ConfigProblem[] {
  try {
    parseConfig(text, 'test.yaml', opts);
  } catch (e) {
    if (e instanceof ConfigErrors) return [...e.problems];
    throw e;
  }
  throw new Error('expected configuration errors, got none');
}

/** Parse and expect success. */
export function ok(text: string, opts: LoadOptions = {}): LoadResult {
  try {
    return parseConfig(text, 'test.yaml', opts);
  } catch (e) {
    if (e instanceof ConfigErrors) throw new Error(`unexpected problems:\n${e.message}`, { cause: e });
    throw e;
  }
}

/** `line:col code path` of each problem, compact for assertions. */
export const where = (ps: readonly ConfigProblem[]) =>
  ps.map((p) => `${p.line}:${p.col} ${p.code} ${p.path}`);

/** A minimal valid document with an env PSK; `extra` lines are appended to the connection. */
export function doc(extra = '', head = ''): string {
  return `${head}local:
  address: 192.0.2.1
connections:
  hq:
    remote: 192.0.2.2
    auth: { psk: { env: PSK } }
${extra}`;
}

export const ENV = { PSK: PSK_TEXT };
