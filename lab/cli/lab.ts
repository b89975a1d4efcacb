// `ikeway lab demo`: bring up the two-site lab and prove the tunnel with kernel counters.
// `ikeway lab compose`: print docker/compose.yaml for the same topology.
// `ikeway lab docker-base`: the Docker lab's base image as a tar, for machines without a registry.
import type { Argv, CommandModule } from 'yargs';
import { removeAllLabNamespaces } from '../netns/lab-ns.ts';
import { DEMO_CONFIG, runDemo } from '../two-site/demo.ts';
import { renderCompose } from '../two-site/compose.ts';
import { buildBaseRootfs } from '../docker/base-rootfs.ts';
import { IMAGE_TAG, buildImageArchive } from '../docker/image.ts';

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

const dockerBaseCommand: CommandModule<object, { out: string }> = {
  command: 'docker-base',
  describe: 'Write the Docker lab base image (Node, iproute2, node_modules) as a tar for `docker import`',
  builder: (y: Argv) =>
    y.option('out', {
      type: 'string',
      demandOption: true,
      describe: 'Tar file to write',
    }) as Argv<{ out: string }>,
  handler: (a) => {
    const r = buildBaseRootfs(a.out);
    console.log(`${r.tarPath}: ${r.files} files, ${(r.bytes / 1e6).toFixed(1)} MB in ${r.ms} ms`);
    console.log(`next: docker import ${r.tarPath} ikeway-base:local`);
  },
};

const dockerImageCommand: CommandModule<object, { out: string }> = {
  command: 'docker-image',
  describe:
    'Write the Docker lab image ikeway-lab (local base + docker/Dockerfile) as a tar for `docker load`',
  builder: (y: Argv) =>
    y.option('out', {
      type: 'string',
      demandOption: true,
      describe: 'Tar file to write',
    }) as Argv<{ out: string }>,
  handler: (a) => {
    const r = buildImageArchive(a.out);
    console.log(
      `${r.path}: ${IMAGE_TAG} ${r.imageId.slice(0, 19)}, ${(r.bytes / 1e6).toFixed(1)} MB in ${r.ms} ms`,
    );
    console.log(`next: docker load -i ${r.path}`);
  },
};

export const labCommand: CommandModule = {
  command: 'lab <command>',
  describe: 'Network-namespace labs: a two-site tunnel proven by kernel counters',
  builder: (y: Argv) =>
    y
      .command(demoCommand)
      .command(composeCommand)
      .command(dockerBaseCommand)
      .command(dockerImageCommand)
      .demandCommand(1),
  handler: () => undefined,
};
