// `ikeway lab demo`: bring up the two-site lab and prove the tunnel with kernel counters.
// `ikeway lab compose`: print docker/compose.yaml for the same topology.
import type { Argv, CommandModule } from 'yargs';
import { removeAllLabNamespaces } from '../netns/lab-ns.ts';
import { DEMO_CONFIG, runDemo } from '../two-site/demo.ts';
import { renderCompose } from '../two-site/compose.ts';

interface DemoArgs {
  config: string;
  driver: 'daemon' | 'static';
  place: 'auto' | 'host' | 'guest';
  pings: number;
}

const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'Two sites in network namespaces, a tunnel between them, traffic, and the kernel SA counters',
  builder: (y: Argv) =>
    y
      .option('config', {
        type: 'string',
        default: DEMO_CONFIG,
        describe: 'Example config for site a (site b mirrors it)',
      })
      .option('driver', {
        choices: ['daemon', 'static'] as const,
        default: 'daemon' as const,
        describe: 'daemon: two ikeway daemons negotiate; static: ip xfrm SAs without IKE',
      })
      .option('place', {
        choices: ['auto', 'host', 'guest'] as const,
        default: 'auto' as const,
        describe: 'Where the kernel with ESP is: auto probes the host kernel, else boots the guest',
      })
      .option('pings', { type: 'number', default: 5, describe: 'Echo requests per LAN pair (1-100)' })
      .check((a) => {
        if (!Number.isInteger(a.pings) || a.pings < 1 || a.pings > 100)
          throw new Error('--pings must be 1..100');
        return true;
      }) as Argv<DemoArgs>,
  handler: async (a) => {
    // Always tear down, also when interrupted.
    const stop = () => {
      removeAllLabNamespaces();
      process.exit(130);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.exitCode = await runDemo({ ...a, print: (l) => console.log(l) });
  },
};

const composeCommand: CommandModule = {
  command: 'compose',
  describe: 'Print the Docker compose file of the two-site lab (docker/compose.yaml is this output)',
  handler: () => {
    process.stdout.write(renderCompose());
  },
};

export const labCommand: CommandModule = {
  command: 'lab <command>',
  describe: 'Network-namespace labs: a two-site tunnel proven by kernel counters',
  builder: (y: Argv) => y.command(demoCommand).command(composeCommand).demandCommand(1),
  handler: () => undefined,
};
