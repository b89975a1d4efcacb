// Shared by the CLI commands that talk to the daemon: the --socket / -c options and error output.
import type { Argv } from 'yargs';
import { request } from './client.ts';
import { ControlError, type ControlCommand, type ControlErrorCode } from './protocol.ts';
import { socketPath } from './socket-path.ts';

export interface ClientArgs {
  socket?: string;
  config?: string;
  json: boolean;
}

export function clientOptions<T>(y: Argv<T>): Argv<T & ClientArgs> {
  return y
    .option('socket', {
      alias: 's',
      type: 'string',
      describe:
        'Control socket of the daemon (default: control-socket of -c FILE, $IKEWAY_SOCKET, /run/ikeway/ikeway.sock)',
    })
    .option('config', { alias: 'c', type: 'string', describe: 'Policy file whose control-socket to use' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the result as JSON' }) as Argv<
    T & ClientArgs
  >;
}

/** Exit status for a request the daemon refused as bad input (sysexits EX_USAGE). */
export const EXIT_BAD_INPUT = 64;

/**
 * Sends `cmd`, prints via `print` (or JSON); on errors prints what to do and sets exit status 1
 * (or the one `exitCodes` gives for the error's code).
 */
export async function runClient(
  args: ClientArgs,
  cmd: ControlCommand,
  cmdArgs: Record<string, unknown> | undefined,
  print: (result: unknown) => string,
  exitCodes: Partial<Record<ControlErrorCode, number>> = {},
): Promise<void> {
  try {
    const result = await request(socketPath(args), cmd, cmdArgs);
    process.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : print(result));
  } catch (e) {
    if (!(e instanceof ControlError)) throw e;
    if (args.json) process.stdout.write(`${JSON.stringify({ error: e.toBody() }, null, 2)}\n`);
    else process.stderr.write(`ikeway ${cmd}: ${e.message}\n`);
    process.exitCode = exitCodes[e.code] ?? 1;
  }
}
