// Which control socket a CLI command talks to: --socket, else the `control-socket` of the config
// given with -c (read without loading secrets, so `status` works where the PSK env is not set), else
// $IKEWAY_SOCKET, else the default.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_SOCKET } from './client.ts';
import { ControlError } from './protocol.ts';

export function socketPath(opts: { socket?: string | undefined; config?: string | undefined }): string {
  if (opts.socket) return opts.socket;
  if (opts.config) {
    let doc: unknown;
    try {
      doc = parse(readFileSync(opts.config, 'utf8'));
    } catch (e) {
      throw new ControlError(
        'ERR_BAD_ARGS',
        `cannot read ${opts.config}: ${e instanceof Error ? e.message : String(e)}; check it with ikeway check ${opts.config}`,
      );
    }
    const v =
      doc !== null && typeof doc === 'object'
        ? (doc as Record<string, unknown>)['control-socket']
        : undefined;
    return typeof v === 'string' ? resolve(dirname(resolve(opts.config)), v) : DEFAULT_SOCKET;
  }
  return process.env.IKEWAY_SOCKET || DEFAULT_SOCKET;
}
