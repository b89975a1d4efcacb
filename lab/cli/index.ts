// The development commands added to the `ikeway` program from a checkout: `ikeway lab` (namespace
// labs, the demo) and `ikeway load` (the load generator). src/cli/main.ts loads this file only when
// it exists, so the daemon never depends on lab/.
import type { Argv } from 'yargs';
import type { AddCommands } from '../../src/cli/program.ts';
import { labCommand } from './lab.ts';
import { loadCommand } from './load.ts';

export const addDevCommands: AddCommands = (y: Argv) => y.command(loadCommand).command(labCommand);
