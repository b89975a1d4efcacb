// The injected structured logger of the engine: (level, message, fields). Quiet by default; nothing
// secret is ever passed as a field (ARCHITECTURE principle 8): SPIs and addresses yes, keys and PSKs no.
export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
  /** Whether `level` is written now (lets hot paths skip building trace lines). */
  enabled?(level: LogLevel): boolean;
}

/** Drops everything (the default in tests and library use). */
export const nullLogger: Logger = { log: () => undefined };

/** Keeps entries in memory, for tests that assert on logs (e.g. "no secret in any log line"). */
export class MemoryLogger implements Logger {
  readonly entries: { level: LogLevel; message: string; fields: LogFields }[] = [];
  constructor(readonly limit = 10_000) {}
  log(level: LogLevel, message: string, fields: LogFields = {}): void {
    this.entries.push({ level, message, fields });
    if (this.entries.length > this.limit) this.entries.shift();
  }
  /** Every entry as one line of text, for substring assertions. */
  text(): string {
    return this.entries.map((e) => `${e.level} ${e.message} ${JSON.stringify(e.fields)}`).join('\n');
  }
}

/** A logger that prefixes every entry with fixed fields (e.g. the IKE SA's name and unique id). */
export function withFields(base: Logger, fixed: LogFields): Logger {
  return {
    log: (level, message, fields) => base.log(level, message, { ...fixed, ...fields }),
    ...(base.enabled ? { enabled: (level: LogLevel) => base.enabled!(level) } : {}),
  };
}
