// `ikeway up NAME`: initiate a connection now and wait (bounded) for its first Child SA.
import type { Argv, CommandModule } from 'yargs';
import { clientOptions, runClient, type ClientArgs } from '../../control/cli-common.ts';
import type { UpResult } from '../../daemon/daemon.ts';

type UpArgs = ClientArgs & { name: string };

export const upCommand: CommandModule<object, UpArgs> = {
  command: 'up <name>',
  describe: 'Bring a connection up now (initiate IKE and its Child SA)',
  builder: (y: Argv) =>
    clientOptions(
      y.positional('name', { type: 'string', demandOption: true, describe: 'Connection name' }),
    ).example('$0 up hq', 'Initiate the connection "hq"') as Argv<UpArgs>,
  handler: (a) =>
    runClient(a, 'up', { name: a.name }, (r) => {
      const u = r as UpResult;
      return `${u.name}: ${u.sa} ${u.state}, ${u.children} Child SA${u.children === 1 ? '' : 's'}${u.note ? ` (${u.note})` : ''}\n`;
    }),
};
