// npm run fuzz -- --seconds N [--target name] [--seed S]: the longer fuzz run. Splits N seconds over
// the chosen targets, prints inputs, inputs/s and findings per target, and saves each finding's input
// as hex in test/fuzz/findings/ (test/fuzz/regressions.test.ts replays them). Exit 1 on findings.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runTarget, saveFindings } from '../test/fuzz/lib/runner.ts';
import { TARGETS } from '../test/fuzz/lib/targets.ts';

const argv = await yargs(hideBin(process.argv))
  .option('seconds', { type: 'number', default: 60, describe: 'total run time, split over the targets' })
  .option('target', { type: 'string', array: true, choices: TARGETS.map((t) => t.name) })
  .option('seed', { type: 'number', default: Date.now() & 0x7fffffff })
  .option('max-inputs', { type: 'number', default: 50_000_000 })
  .strict()
  .parse();

const chosen = argv.target ? TARGETS.filter((t) => argv.target!.includes(t.name)) : TARGETS;
const perTargetMs = (argv.seconds * 1000) / chosen.length;
console.log(`fuzz: ${chosen.length} targets, ${(perTargetMs / 1000).toFixed(1)} s each, seed ${argv.seed}`);
let findings = 0;
let total = 0;
for (const t of chosen) {
  const r = await runTarget(t, {
    maxInputs: argv.maxInputs,
    maxMs: perTargetMs,
    seed: argv.seed,
    maxFindings: 20,
  });
  total += r.inputs;
  findings += r.findings.length;
  const saved = saveFindings(r.findings);
  console.log(
    `${t.name.padEnd(22)} ${String(r.inputs).padStart(9)} inputs ${Math.round(r.perSecond)
      .toString()
      .padStart(7)}/s  slowest ${r.slowestMs.toFixed(0)} ms  findings ${r.findings.length}`,
  );
  console.log(`  ${JSON.stringify(r.stats)}`);
  for (const f of r.findings) console.log(`  FINDING ${f.error.split('\n').slice(0, 4).join(' | ')}`);
  for (const s of saved) console.log(`  saved test/fuzz/findings/${s}`);
}
console.log(`fuzz: ${total} inputs, ${findings} findings`);
process.exit(findings > 0 ? 1 : 0);
