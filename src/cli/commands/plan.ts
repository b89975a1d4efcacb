// `ikeway plan FILE` (also `ikeway reload --dry-run FILE`): what a reload of the running daemon to
// FILE would do: connections, SAs torn down or negotiated, kernel policies and SAs added and
// removed. Changes nothing.
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { EXIT_BAD_INPUT, clientOptions, runClient, type ClientArgs } from '../../control/cli-common.ts';
import type { PlanReport } from '../../control/plan-types.ts';
import { renderPlan } from '../../control/render-introspect.ts';

export type PlanArgs = ClientArgs & { file: string };

/** Asks the daemon for the plan of a reload to `file` (a path of this shell, made absolute). */
export function runPlan(a: ClientArgs, file: string): Promise<void> {
  return runClient(a, 'plan', { file: resolve(file) }, (r) => renderPlan(r as PlanReport), {
    ERR_CONFIG: EXIT_BAD_INPUT,
    ERR_BAD_ARGS: EXIT_BAD_INPUT,
  });
}

export const planCommand: CommandModule<object, PlanArgs> = {
  command: 'plan <file>',
  describe: 'Show what a reload of the running daemon to FILE would do (changes nothing)',
  builder: (y: Argv) =>
    clientOptions(
      y.positional('file', { type: 'string', describe: 'The new policy file', demandOption: true }),
    ).example('$0 plan /etc/ikeway/ikeway.yaml.new', 'Review a change before applying it') as Argv<PlanArgs>,
  handler: (a) => runPlan(a, a.file),
};
