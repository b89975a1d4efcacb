// `ikeway ha promote|demote|status`: this node of an HA pair (docs/ha.md). keepalived's notify hooks
// call promote (MASTER) and demote (BACKUP, FAULT, STOP).
import type { Argv, CommandModule } from 'yargs';
import { clientOptions, runClient, type ClientArgs } from '../../control/cli-common.ts';
import type { HaStatusReport } from '../../control/status-types.ts';

type HaArgs = ClientArgs & { action: string };

export const haCommand: CommandModule<object, HaArgs> = {
  command: 'ha <action>',
  describe: 'HA pair: promote this node to active, demote it to standby, or show its HA status',
  builder: (y: Argv) =>
    clientOptions(
      y.positional('action', {
        type: 'string',
        choices: ['promote', 'demote', 'status'],
        demandOption: true,
        describe: 'promote (take over the synced SAs), demote (drop them, no Delete), status',
      }),
    )
      .example('$0 ha promote', 'keepalived notify_master')
      .example('$0 ha demote', 'keepalived notify_backup / notify_fault') as Argv<HaArgs>,
  handler: (a) =>
    runClient(a, 'ha', { action: a.action }, (r) => {
      if (a.action === 'status') {
        const s = r as HaStatusReport;
        return `${s.role} (node ${s.nodeId}, priority ${s.priority}), peer ${s.peerRole ?? 'not heard'}, ${s.records} IKE SAs, ${s.synced ? 'synced' : 'not synced'}\n`;
      }
      const d = r as { role: string; sas: number };
      return `${d.role}: ${d.sas} IKE SA${d.sas === 1 ? '' : 's'} ${a.action === 'promote' ? 'taken over' : 'removed'}\n`;
    }),
};
