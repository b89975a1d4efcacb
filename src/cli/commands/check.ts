// `ikeway check FILE`: validate a policy file without running anything. Exit 0 when valid
// (warnings are printed), 1 with every problem as file:line:col when not.
import type { Argv, CommandModule } from 'yargs';
import { ConfigErrors, formatProblem, loadConfig, type ConfigProblem } from '../../config/index.ts';
import { buildJsonSchema } from '../../config/json-schema.ts';

interface CheckArgs {
  file?: string;
  json: boolean;
  'print-schema': boolean;
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check [file]',
  describe: 'Validate a YAML policy file (syntax, values, secrets, certificates) without starting anything',
  builder: (y: Argv) =>
    y
      .positional('file', { type: 'string', describe: 'Policy file, e.g. /etc/ikeway/ikeway.yaml' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the result as JSON' })
      .option('print-schema', {
        type: 'boolean',
        default: false,
        describe: 'Print the JSON Schema of the policy format (for editors) and exit',
      })
      .check((a) => {
        if (a['print-schema'] !== true && a.file === undefined)
          throw new Error('Give the policy FILE to check.');
        return true;
      })
      .example('$0 check /etc/ikeway/ikeway.yaml', 'Validate a policy')
      .example('$0 check --print-schema > ikeway.schema.json', 'Export the JSON Schema') as Argv<CheckArgs>,
  handler: (args) => {
    if (args['print-schema']) {
      process.stdout.write(`${JSON.stringify(buildJsonSchema(), null, 2)}\n`);
      return;
    }
    process.exitCode = runCheck(args.file ?? '', args.json);
  },
};

const problemJson = (p: ConfigProblem) => ({ ...p, text: formatProblem(p) });

/** Returns the exit status. */
export function runCheck(file: string, json: boolean): number {
  try {
    const { config, warnings } = loadConfig(file);
    const names = config.connections.map((c) => c.name);
    if (json) {
      console.log(
        JSON.stringify({ ok: true, file, connections: names, problems: warnings.map(problemJson) }, null, 2),
      );
    } else {
      for (const w of warnings) console.error(formatProblem(w));
      console.log(`OK: ${names.length} connection${names.length === 1 ? '' : 's'} (${names.join(', ')})`);
    }
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigErrors)) throw e;
    if (json) {
      console.log(
        JSON.stringify({ ok: false, file, connections: [], problems: e.problems.map(problemJson) }, null, 2),
      );
    } else {
      for (const p of e.problems) console.error(formatProblem(p));
      const n = e.errors.length;
      console.error(`${file}: ${n} error${n === 1 ? '' : 's'}; nothing was started`);
    }
    return 1;
  }
}
