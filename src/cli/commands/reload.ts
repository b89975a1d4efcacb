// `ikeway reload`: the daemon re-reads its policy file; a bad file is rejected with every problem and
// nothing changes; changed connections are re-established, unchanged ones are not touched.
import type { Argv, CommandModule } from 'yargs';
import { clientOptions, runClient, type ClientArgs } from '../../control/cli-common.ts';
import type { ReloadReport } from '../../daemon/daemon.ts';
import { runPlan } from './plan.ts';

type ReloadArgs = ClientArgs & { 'dry-run'?: string };

export const reloadCommand: CommandModule<object, ReloadArgs> = {
  command: 'reload',
  describe: 'Re-read the policy file of the running daemon (atomic: a bad file changes nothing)',
  builder: (y: Argv) =>
    clientOptions(
      y.option('dry-run', {
        type: 'string',
        requiresArg: true,
        describe: 'Only show what a reload to this file would do (same as: ikeway plan FILE)',
      }),
    )
      .example('$0 reload', 'Apply the edited /etc/ikeway/ikeway.yaml')
      .example(
        '$0 reload --dry-run /etc/ikeway/ikeway.yaml',
        'Show what it would do first',
      ) as Argv<ReloadArgs>,
  handler: (a) =>
    a['dry-run'] !== undefined
      ? runPlan(a, a['dry-run'])
      : runClient(a, 'reload', undefined, (r) => {
          const p = r as ReloadReport;
          const list = (xs: readonly string[]) => (xs.length > 0 ? xs.join(', ') : '-');
          const lines = [
            `reloaded ${p.file}`,
            `  added: ${list(p.added)}`,
            `  removed: ${list(p.removed)}`,
            `  changed (re-established): ${list(p.changed)}`,
            `  unchanged: ${list(p.unchanged)}`,
          ];
          if (p.needRestart.length > 0)
            lines.push(`  not applied until restart: ${p.needRestart.join(', ')}`);
          return `${lines.join('\n')}\n`;
        }),
};
