// Entry points: text or file -> frozen Config, or ConfigErrors listing every problem with
// file:line:col. Relative paths inside the file resolve from the directory of the config file.
import { systemResolver, type Resolver } from './resolve.ts';
import { LineCounter, parseDocument } from 'yaml';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigErrors, type ConfigProblem } from './errors.ts';
import { CONFIG_SPEC } from './spec.ts';
import { Reporter, Walker, type Raw } from './walk.ts';
import { buildConfig } from './build.ts';
import type { Env } from './creds.ts';
import type { Config } from './types.ts';

/** Config files are small; refusing big ones bounds parse time and memory. */
export const MAX_CONFIG_BYTES = 1 << 20;

export interface LoadOptions {
  /** Where `psk: { env: NAME }` looks (default process.env). */
  readonly env?: Env;
  /** Clock for certificate validity warnings (default now). */
  readonly now?: Date;
  /** Directory relative paths resolve from (default: the config file's directory). */
  readonly baseDir?: string;
  /** Resolves peers' DNS names (default: the system resolver, /etc/hosts then DNS). */
  readonly resolve?: Resolver;
}

export interface LoadResult {
  readonly config: Config;
  /** Problems of severity 'warning' (weak algorithms, insecure inline secrets ...). */
  readonly warnings: readonly ConfigProblem[];
}

/** Read and validate a config file. Throws ConfigErrors (never anything else) on any error. */
export function loadConfig(file: string, opts: LoadOptions = {}): LoadResult {
  let text: string;
  try {
    const buf = readFileSync(file);
    if (buf.length > MAX_CONFIG_BYTES) throw Object.assign(new Error(), { code: 'EFBIG' });
    text = buf.toString('utf8');
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'unreadable';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EFBIG' ? 'larger than 1 MiB' : code;
    const hint = code === 'ENOENT' ? 'check the path; see examples/ for a starting point' : '';
    throw new ConfigErrors(file, [
      {
        code: 'E_FILE',
        severity: 'error',
        file,
        line: 1,
        col: 1,
        path: '',
        message: `cannot read: ${why}`,
        hint,
      },
    ]);
  }
  return parseConfig(text, file, { ...opts, baseDir: opts.baseDir ?? dirname(resolve(file)) });
}

/** Validate config text; `file` names it in messages. Throws ConfigErrors on any error. */
export function parseConfig(text: string, file: string, opts: LoadOptions = {}): LoadResult {
  const lines = new LineCounter();
  const r = new Reporter(file, lines);
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    schema: 'core',
  });
  for (const e of doc.errors) {
    const lp = lines.linePos(e.pos[0]);
    r.add('E_YAML', { line: lp.line, col: lp.col }, '', yamlMessage(e.message), 'fix the YAML syntax');
  }
  let config: Config | undefined;
  if (doc.errors.length === 0) {
    const walker = new Walker(r, opts.baseDir ?? process.cwd());
    const raw = walker.walk(CONFIG_SPEC, doc.contents ?? undefined, '', { line: 1, col: 1 }) as
      Raw | undefined;
    const ctx = {
      r,
      env: opts.env ?? process.env,
      now: opts.now ?? new Date(),
      file: resolve(file),
      resolve: opts.resolve ?? systemResolver,
    };
    if (raw !== undefined) config = buildConfig(ctx, raw);
  }
  const problems = [...r.problems].sort((a, b) => a.line - b.line || a.col - b.col);
  if (config === undefined || problems.some((p) => p.severity === 'error')) {
    if (!problems.some((p) => p.severity === 'error')) {
      problems.push({
        code: 'E_TYPE',
        severity: 'error',
        file,
        line: 1,
        col: 1,
        path: '',
        message: 'the file is empty',
        hint: 'see examples/',
      });
    }
    throw new ConfigErrors(file, problems);
  }
  return { config: deepFreeze(config), warnings: problems };
}

/** The first line of a yaml parser message, without its own position suffix. */
function yamlMessage(m: string): string {
  return (m.split('\n')[0] ?? m).replace(/ at line \d+, column \d+:?$/, '');
}

/** Freeze plain objects and arrays; leave class instances (Secret, X509Certificate, KeyObject) alone. */
export function deepFreeze<T>(v: T): T {
  if (Array.isArray(v)) {
    for (const x of v) deepFreeze(x);
    return Object.freeze(v);
  }
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) deepFreeze(x);
    return Object.freeze(v);
  }
  return v;
}
