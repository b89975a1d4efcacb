// Runs `ikeway load`'s runner (lab/load/runner.ts) once with options given as one JSON argument and
// prints its LoadReport as JSON: the benchmark's load generator, started inside the load-generator
// namespace by bench/lib/ike.ts and bench/lib/storm.ts. With `storm`, the lines IKW-STORM start and
// IKW-STORM end mark the storm (the benchmark reads the responder's CPU there). Not a user tool;
// `ikeway load` is.
import { runLoad, type LoadOptions } from '../lab/load/runner.ts';

const arg = process.argv[2];
if (arg === undefined) throw new Error('usage: load-driver.ts <LoadOptions as JSON>');
const opts = JSON.parse(arg) as LoadOptions;
const report = await runLoad({ ...opts, onStorm: (phase) => process.stdout.write(`IKW-STORM ${phase}\n`) });
process.stdout.write(`${JSON.stringify(report)}\n`);
