// `ikeway status [NAME]`: connections, IKE and Child SAs, algorithms, counters, time to rekey.
import type { Argv, CommandModule } from 'yargs';
import { clientOptions, runClient, type ClientArgs } from '../../control/cli-common.ts';
import { renderStatus } from '../../control/render.ts';
import type { StatusReport } from '../../control/status-types.ts';

type StatusArgs = ClientArgs & { name?: string };

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status [name]',
  describe: 'Show connections, IKE and Child SAs, algorithms, traffic counters and time to rekey',
  builder: (y: Argv) =>
    clientOptions(y.positional('name', { type: 'string', describe: 'Only this connection' }))
      .example('$0 status', 'Everything, as a table')
      .example('$0 status hq --json', 'One connection, as JSON') as Argv<StatusArgs>,
  handler: (a) =>
    runClient(a, 'status', a.name !== undefined ? { name: a.name } : undefined, (r) =>
      renderStatus(r as StatusReport),
    ),
};
