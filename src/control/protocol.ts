// The control protocol between `ikeway` CLI commands and the running daemon: one JSON object per
// line over a Unix stream socket. A request {id, cmd, args?} gets exactly one response {id, ok,
// result} or {id, ok: false, error: {code, message}}; messages say what to do next.

export const CONTROL_COMMANDS = [
  'status',
  'up',
  'down',
  'rekey',
  'reload',
  'counters',
  'version',
  'explain',
  'plan',
  'ha',
] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

export interface ControlRequest {
  readonly id: number;
  readonly cmd: ControlCommand;
  readonly args?: Readonly<Record<string, unknown>>;
}

export type ControlErrorCode =
  | 'ERR_NOT_RUNNING'
  | 'ERR_PERMISSION'
  | 'ERR_TIMEOUT'
  | 'ERR_PROTOCOL'
  | 'ERR_UNKNOWN_COMMAND'
  | 'ERR_BAD_ARGS'
  | 'ERR_NO_CONNECTION'
  | 'ERR_CONFIG'
  | 'ERR_BUSY'
  | 'ERR_INTERNAL';

export interface ControlErrorBody {
  readonly code: ControlErrorCode;
  readonly message: string;
  /** Extra structured detail (e.g. the config problems of a rejected reload). */
  readonly details?: unknown;
}

export type ControlResponse =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: ControlErrorBody };

export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(
    readonly code: ControlErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
  toBody(): ControlErrorBody {
    return {
      code: this.code,
      message: this.message,
      ...(this.details !== undefined ? { details: this.details } : {}),
    };
  }
}

/** Longest request line the daemon accepts (any command fits; a flood does not). */
export const MAX_LINE = 16 * 1024 * 1024;
/**
 * Longest response the CLI accepts from the daemon (root's own socket): `status --json` of 100,000
 * tunnels is ~100 MB (docs/benchmarks.md). Below V8's longest string (2^29 - 24 characters).
 */
export const MAX_RESPONSE = 512 * 1024 * 1024 - 1024;

/** Parses and checks one request line; throws ControlError naming what is wrong. */
export function parseRequest(line: string): ControlRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new ControlError('ERR_PROTOCOL', 'request is not JSON; send one JSON object per line');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new ControlError('ERR_PROTOCOL', 'request must be a JSON object {id, cmd, args}');
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'number' || !Number.isSafeInteger(r.id))
    throw new ControlError('ERR_PROTOCOL', 'request.id must be an integer');
  if (typeof r.cmd !== 'string' || !(CONTROL_COMMANDS as readonly string[]).includes(r.cmd))
    throw new ControlError(
      'ERR_UNKNOWN_COMMAND',
      `unknown command ${JSON.stringify(r.cmd)}; known: ${CONTROL_COMMANDS.join(', ')}`,
    );
  if (r.args !== undefined && (r.args === null || typeof r.args !== 'object' || Array.isArray(r.args)))
    throw new ControlError('ERR_BAD_ARGS', 'request.args must be an object');
  return {
    id: r.id,
    cmd: r.cmd as ControlCommand,
    ...(r.args !== undefined ? { args: r.args as Record<string, unknown> } : {}),
  };
}

/** The string argument `name` of a request, or a precise error. */
export function stringArg(req: ControlRequest, name: string): string {
  const v = req.args?.[name];
  if (typeof v !== 'string' || v === '')
    throw new ControlError('ERR_BAD_ARGS', `${req.cmd} needs the argument "${name}" (a non-empty string)`);
  return v;
}
