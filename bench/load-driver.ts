// Runs `ikeway load`'s runner (lab/load/runner.ts) once with options given as one JSON argument and
// prints its LoadReport as JSON: the benchmark's load generator, started inside the load-generator
// namespace by bench/lib/ike.ts. Not a user tool; `ikeway load` is.
import { runLoad, type LoadOptions } from '../lab/load/runner.ts';

const arg = process.argv[2];
if (arg === undefined) throw new Error('usage: load-driver.ts <LoadOptions as JSON>');
const opts = JSON.parse(arg) as LoadOptions;
const report = await runLoad(opts);
process.stdout.write(`${JSON.stringify(report)}\n`);
