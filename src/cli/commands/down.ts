// `ikeway down NAME`: delete a connection's IKE SAs (and Child SAs); it stays configured, its
// fail-closed policies stay, and it is not restarted until `ikeway up NAME` or a reload.
import type { Argv, CommandModule } from 'yargs';
import { clientOptions, runClient, type ClientArgs } from '../../control/cli-common.ts';

type DownArgs = ClientArgs & { name: string };

export const downCommand: CommandModule<object, DownArgs> = {
  command: 'down <name>',
  describe:
    'Take a connection down (delete its IKE and Child SAs; traffic stays blocked), or one child: <connection>/<child>',
  builder: (y: Argv) =>
    clientOptions(
      y.positional('name', {
        type: 'string',
        demandOption: true,
        describe: 'Connection name, or <connection>/<child> for one child',
      }),
    ).example('$0 down hq', 'Delete the SAs of "hq"') as Argv<DownArgs>,
  handler: (a) =>
    runClient(a, 'down', { name: a.name }, (r) => {
      const d = r as { name: string; deleted: number };
      return `${d.name}: ${d.deleted} IKE SA${d.deleted === 1 ? '' : 's'} deleted\n`;
    }),
};
