// `ikeway daemon -c FILE`: run the IKE daemon in the foreground (systemd Type=notify, see sdnotify.ts).
import type { Argv, CommandModule } from 'yargs';
import { LOG_LEVELS, type LogFormat } from '../../daemon/log.ts';
import type { LogLevel } from '../../base/logger.ts';
import { packageVersion } from './version.ts';

interface DaemonArgs {
  config: string;
  kernel: 'xfrm' | 'memory';
  'log-level'?: LogLevel;
  'log-format'?: LogFormat;
  socket?: string;
}

export const daemonCommand: CommandModule<object, DaemonArgs> = {
  command: 'daemon',
  describe: 'Run the IKE daemon in the foreground (logs to stderr; SIGHUP reloads, SIGTERM stops cleanly)',
  builder: (y: Argv) =>
    y
      .option('config', {
        alias: 'c',
        type: 'string',
        demandOption: 'Give the policy file: ikeway daemon -c /etc/ikeway/ikeway.yaml',
        describe: 'Policy file (YAML)',
      })
      .option('kernel', {
        choices: ['xfrm', 'memory'] as const,
        default: 'xfrm' as const,
        describe:
          'xfrm: program the Linux kernel. memory: in-memory kernel, IKE only, NO traffic protection (testing)',
      })
      .option('log-level', { choices: LOG_LEVELS, describe: 'Override log.level of the config' })
      .option('log-format', {
        choices: ['text', 'json'] as const,
        describe: 'Override log.format of the config',
      })
      .option('socket', { alias: 's', type: 'string', describe: 'Override control-socket of the config' })
      .example('$0 daemon -c /etc/ikeway/ikeway.yaml', 'Run with the kernel IPsec stack')
      .example(
        '$0 daemon -c lab.yaml --kernel memory --log-format json',
        'IKE-only test run',
      ) as Argv<DaemonArgs>,
  handler: async (a) => {
    // Loaded on demand: the engine, crypto and kernel modules would slow every other command.
    const { runDaemon } = await import('../../daemon/main.ts');
    process.exitCode = await runDaemon({
      configFile: a.config,
      kernel: a.kernel,
      version: packageVersion(),
      ...(a['log-level'] ? { logLevel: a['log-level'] } : {}),
      ...(a['log-format'] ? { logFormat: a['log-format'] } : {}),
      ...(a.socket ? { socket: a.socket } : {}),
    });
    // Sockets and timers are closed; leave nothing pending (a hung handle must not keep us alive).
    process.exit(process.exitCode);
  },
};
