// Configuration problems as data: every problem carries the file, 1-based line:col of the offending
// key or value, the dotted path inside the document, what is wrong and how to fix it. The loader
// collects all of them and throws one ConfigErrors at the end, so a user fixes a file in one pass.

/** Stable codes, one per kind of problem (tests and tools match on these, not on wording). */
export type ConfigErrorCode =
  | 'E_FILE' // the config file cannot be read
  | 'E_YAML' // the text is not well-formed YAML
  | 'E_UNKNOWN_KEY'
  | 'E_MISSING_KEY'
  | 'E_TYPE' // wrong YAML type (list where a map belongs, number where a string belongs ...)
  | 'E_VALUE' // right type, bad value (prefix length 33, unknown enum word ...)
  | 'E_ALIAS' // YAML anchors/aliases are refused
  | 'E_CONFLICT' // two settings that cannot hold together
  | 'E_PROPOSAL'
  | 'E_SECRET' // secret missing, unreadable, inline, or readable by others
  | 'E_CREDENTIAL' // certificate or private key missing or unparsable
  | 'E_RESOLVE' // a peer's DNS name does not resolve (to an address of our family)
  | 'E_HOOK' // hook program missing, not executable, or writable by others
  | 'W_WEAK' // warning: weak algorithm or short key
  | 'W_OVERLAP' // warning: overlapping subnets
  | 'W_INSECURE' // warning: an insecure escape hatch is in use
  | 'W_CLEARTEXT' // warning: traffic protected without encryption (AH, RFC 4302)
  | 'W_CERT'; // warning: certificate expired or not yet valid

export type Severity = 'error' | 'warning';

export interface ConfigProblem {
  readonly code: ConfigErrorCode;
  readonly severity: Severity;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Dotted path inside the document, e.g. `connections.hq.remote-subnets[1]`; '' for the root. */
  readonly path: string;
  /** What is wrong. */
  readonly message: string;
  /** How to fix it (may be empty when the message already says it). */
  readonly hint: string;
}

/** `file:line:col: path: message; hint` (the form editors and compilers use). */
export function formatProblem(p: ConfigProblem): string {
  const where = `${p.file}:${p.line}:${p.col}`;
  const tag = p.severity === 'warning' ? 'warning: ' : '';
  const path = p.path === '' ? '' : `${p.path}: `;
  const hint = p.hint === '' ? '' : `; ${p.hint}`;
  return `${where}: ${tag}${path}${p.message}${hint}`;
}

/** Thrown by the loader when at least one problem has severity 'error'. */
export class ConfigErrors extends Error {
  readonly code = 'E_CONFIG';
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    const errors = problems.filter((p) => p.severity === 'error');
    super(`${file}: ${errors.length} configuration error(s)\n${errors.map(formatProblem).join('\n')}`);
    this.name = 'ConfigErrors';
  }

  get errors(): readonly ConfigProblem[] {
    return this.problems.filter((p) => p.severity === 'error');
  }

  get warnings(): readonly ConfigProblem[] {
    return this.problems.filter((p) => p.severity === 'warning');
  }
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The closest candidate within a distance that scales with the word, or undefined. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD && d <= limit) {
      best = c;
      bestD = d;
    }
  }
  return best;
}
