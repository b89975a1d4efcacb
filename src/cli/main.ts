// The `ikeway` entry point. The development tools (`ikeway lab`, `ikeway load`) are not part of the
// daemon: they live in the git checkout's lab/ folder and are loaded only when that folder is there.
// A production install has no lab/, and those two commands then say where to find them.
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { buildCli, type AddCommands } from './program.ts';

const DEV_CLI = resolve(import.meta.dirname, '..', '..', 'lab', 'cli', 'index.ts');
const ABSENT = '`ikeway lab`/`load` are development tools, available from a git checkout';

/** Hidden stand-ins for the development commands when lab/ is not installed. */
function absentDevCommands(y: Argv): Argv {
  for (const command of ['lab', 'load'])
    y.command({
      command,
      describe: false,
      builder: (b: Argv) => b.strict(false),
      handler: () => {
        console.error(ABSENT);
        process.exitCode = 1;
      },
    });
  return y;
}

async function devCommands(): Promise<AddCommands> {
  if (!existsSync(DEV_CLI)) return absentDevCommands;
  // A computed specifier: the daemon's sources never name lab/ statically.
  const mod = (await import(pathToFileURL(DEV_CLI).href)) as { addDevCommands: AddCommands };
  return mod.addDevCommands;
}

await buildCli(hideBin(process.argv), await devCommands()).parseAsync();
