// ikeway command line: one yargs program, one file per subcommand under ./commands. The development
// tools (`ikeway lab`, `ikeway load`) live outside the daemon, in the checkout's lab/ folder; they are
// added by the caller (main.ts finds them at run time; lab/cli/main.ts links them in for lab bundles).
import yargs, { type Argv } from 'yargs';
import { versionCommand, versionLine } from './commands/version.ts';
import { decodeCommand } from './commands/decode.ts';
import { checkCommand } from './commands/check.ts';
import { daemonCommand } from './commands/daemon.ts';
import { statusCommand } from './commands/status.ts';
import { upCommand } from './commands/up.ts';
import { downCommand } from './commands/down.ts';
import { reloadCommand } from './commands/reload.ts';
import { planCommand } from './commands/plan.ts';
import { explainCommand } from './commands/explain.ts';
import { haCommand } from './commands/ha.ts';

/** Adds commands to the program (lab/cli/index.ts's `addDevCommands` has this shape). */
export type AddCommands = (y: Argv) => Argv;

export function buildCli(argv: string[], addCommands: AddCommands = (y) => y) {
  const y = yargs(argv)
    .scriptName('ikeway')
    .usage(
      '$0 <command> [options]\n\nIKEv2 daemon for Linux XFRM: site-to-site IPsec tunnels configured in YAML.',
    )
    .command(versionCommand)
    .command(decodeCommand)
    .command(checkCommand)
    .command(daemonCommand)
    .command(statusCommand)
    .command(upCommand)
    .command(downCommand)
    .command(reloadCommand)
    .command(planCommand)
    .command(explainCommand)
    .command(haCommand);
  return (
    addCommands(y)
      .demandCommand(1, 'Give a command; see the list above.')
      .strict()
      .recommendCommands()
      .completion('completion', 'Print a shell completion script (bash/zsh)')
      .help()
      .alias('h', 'help')
      // `ikeway --version` and `-v` print exactly what `ikeway version` prints.
      .version('version', 'Print the ikeway version and the Node.js runtime', versionLine())
      .alias('v', 'version')
      .wrap(Math.min(110, process.stdout.columns ?? 110))
  );
}
