// `ikeway` with the development commands linked in statically: the entry point the labs bundle
// (guest/bundle.ts), since a bundle has no lab/ folder beside it for src/cli/main.ts to find.
import { hideBin } from 'yargs/helpers';
import { buildCli } from '../../src/cli/program.ts';
import { addDevCommands } from './index.ts';

await buildCli(hideBin(process.argv), addDevCommands).parseAsync();
