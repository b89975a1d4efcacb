// ikeway command line: one yargs program, one file per subcommand under ./commands.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { versionCommand } from './commands/version.ts';
import { decodeCommand } from './commands/decode.ts';
import { checkCommand } from './commands/check.ts';
import { loadCommand } from './commands/load.ts';
import { daemonCommand } from './commands/daemon.ts';
import { statusCommand } from './commands/status.ts';
import { upCommand } from './commands/up.ts';
import { downCommand } from './commands/down.ts';
import { reloadCommand } from './commands/reload.ts';
import { labCommand } from './commands/lab.ts';

export function buildCli(argv: string[]) {
  return yargs(argv)
    .scriptName('ikeway')
    .usage(
      '$0 <command> [options]\n\nIKEv2 daemon for Linux XFRM: site-to-site IPsec tunnels configured in YAML.',
    )
    .command(versionCommand)
    .command(decodeCommand)
    .command(checkCommand)
    .command(loadCommand)
    .command(daemonCommand)
    .command(statusCommand)
    .command(upCommand)
    .command(downCommand)
    .command(reloadCommand)
    .command(labCommand)
    .demandCommand(1, 'Give a command; see the list above.')
    .strict()
    .recommendCommands()
    .completion('completion', 'Print a shell completion script (bash/zsh)')
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 110));
}

await buildCli(hideBin(process.argv)).parseAsync();
