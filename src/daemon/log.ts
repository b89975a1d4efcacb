// The daemon's structured log: one line per entry on a stream (stderr by default, which systemd's
// journal captures), as text or JSON, filtered by level. It implements the engine's Logger interface,
// so the engine, the kernel glue and the daemon share one sink. Fields are primitives chosen by the
// callers (SPIs, addresses, names); secrets never reach it (ARCHITECTURE principle 8).
//
// text: 2026-11-22T10:00:00.000Z info ike: hq: IKE SA established spi=0a1b... peer=192.0.2.2
// json: {"time":"2026-11-22T10:00:00.000Z","level":"info","component":"ike","msg":"IKE SA established",...}
import type { LogFields, LogLevel, Logger } from '../base/logger.ts';

export type LogFormat = 'text' | 'json';

const RANK: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug', 'trace'];

export interface LogSink {
  write(line: string): unknown;
}

export interface DaemonLoggerOptions {
  readonly level?: LogLevel;
  readonly format?: LogFormat;
  readonly sink?: LogSink;
  /** Wall clock for timestamps (log lines are for humans and journals, never for timing). */
  readonly now?: () => Date;
}

/** Field values are quoted in text form when they contain spaces, quotes or '='. */
function textValue(v: string | number | boolean): string {
  const s = String(v);
  return /[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s;
}

export class DaemonLogger implements Logger {
  level: LogLevel;
  format: LogFormat;
  readonly #sink: LogSink;
  readonly #now: () => Date;

  constructor(opts: DaemonLoggerOptions = {}) {
    this.level = opts.level ?? 'info';
    this.format = opts.format ?? 'text';
    this.#sink = opts.sink ?? process.stderr;
    this.#now = opts.now ?? (() => new Date());
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] <= RANK[this.level];
  }

  log(level: LogLevel, message: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    this.#sink.write(`${this.line(level, message, fields)}\n`);
  }

  /** One entry as a line, without its newline. */
  line(level: LogLevel, message: string, fields: LogFields): string {
    const time = this.#now().toISOString();
    const { component, conn, sa, ...rest } = fields;
    if (this.format === 'json') {
      const entry: Record<string, unknown> = { time, level, component: component ?? 'ike' };
      if (conn !== undefined) entry.conn = conn;
      if (sa !== undefined) entry.sa = sa;
      entry.msg = message;
      for (const [k, v] of Object.entries(rest)) if (v !== undefined) entry[k] = v;
      return JSON.stringify(entry);
    }
    const who = sa ?? conn;
    const kv = Object.entries(rest)
      .filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${textValue(v)}`);
    const head = `${time} ${level} ${String(component ?? 'ike')}: ${who !== undefined ? `${String(who)}: ` : ''}`;
    return `${head}${message}${kv.length > 0 ? ` ${kv.join(' ')}` : ''}`;
  }
}

/** A logger that tags every entry with a component ("daemon", "control", "kernel", "ike"). */
export function component(base: Logger, name: string): Logger {
  return { log: (level, message, fields) => base.log(level, message, { component: name, ...fields }) };
}
