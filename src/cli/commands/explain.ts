// `ikeway explain SRC DST [PROTO [PORT]]`: what the kernel would do with that packet right now and
// why (the policy matched in the kernel's SPD, the SA that carries it, or the fail-closed policy that
// drops it and why its tunnel is down, or that it goes in clear).
import type { Argv, CommandModule } from 'yargs';
import { EXIT_BAD_INPUT, clientOptions, runClient, type ClientArgs } from '../../control/cli-common.ts';
import type { Explanation } from '../../control/explain-types.ts';
import { renderExplanation } from '../../control/render-introspect.ts';

type ExplainArgs = ClientArgs & {
  src: string;
  dst: string;
  proto?: string;
  port?: string;
  sport?: string;
  dir: string;
  mark?: number;
  'if-id'?: number;
};

export const explainCommand: CommandModule<object, ExplainArgs> = {
  command: 'explain <src> <dst> [proto] [port]',
  describe:
    'Explain what the kernel does with a packet now: protected by which SA, dropped by which policy and why, or clear',
  builder: (y: Argv) =>
    clientOptions(
      y
        .positional('src', { type: 'string', describe: 'Source address of the packet', demandOption: true })
        .positional('dst', { type: 'string', describe: 'Destination address', demandOption: true })
        .positional('proto', { type: 'string', describe: 'tcp, udp, icmp, icmpv6, sctp, gre or a number' })
        .positional('port', { type: 'string', describe: 'Destination port (ICMP: code)' })
        .option('sport', { type: 'string', describe: 'Source port (ICMP: type)' })
        .option('dir', {
          type: 'string',
          default: 'out',
          choices: ['out', 'in', 'fwd'],
          describe: 'Policy direction (out: sent or forwarded by this host)',
        })
        .option('mark', { type: 'number', describe: "The packet's firewall mark" })
        .option('if-id', { type: 'number', describe: 'XFRM interface id the packet is routed to' }),
    )
      .example(
        '$0 explain 10.1.0.5 10.2.0.7 tcp 443',
        'Which tunnel carries this HTTPS flow, or why it is dropped',
      )
      .example('$0 explain 10.1.0.5 198.51.100.1 --json', 'As JSON') as Argv<ExplainArgs>,
  handler: (a) =>
    runClient(
      a,
      'explain',
      {
        src: a.src,
        dst: a.dst,
        dir: a.dir,
        ...(a.proto !== undefined ? { proto: a.proto } : {}),
        ...(a.port !== undefined ? { port: a.port } : {}),
        ...(a.sport !== undefined ? { sport: a.sport } : {}),
        ...(a.mark !== undefined ? { mark: a.mark } : {}),
        ...(a['if-id'] !== undefined ? { ifId: a['if-id'] } : {}),
      },
      (r) => renderExplanation(r as Explanation),
      { ERR_BAD_ARGS: EXIT_BAD_INPUT },
    ),
};
