// Guest-side (or ESP-capable host) runner for test/lab/labs.test.ts: runs each `KIND:FILE[:netem]`
// case in turn and prints one `IKW-LAB-RESULT <json>` line per case; never throws past a case.
import { runExample, type DriverKind } from '../../../lab/two-site/suite.ts';

const NETEM = { delayMs: 20, reorderPct: 10, lossPct: 0 };
for (const spec of process.argv.slice(2)) {
  const [kind, file, extra] = spec.split(':') as [DriverKind, string, string | undefined];
  const started = Date.now();
  try {
    const r = await runExample(file, {
      driver: kind,
      pings: 4,
      ...(extra === 'netem' && { netem: NETEM }),
      log: (l) => process.stderr.write(`[${spec}] ${l}\n`),
    });
    process.stdout.write(`IKW-LAB-RESULT ${JSON.stringify({ spec, error: null, report: r })}\n`);
  } catch (e) {
    const error = {
      code: (e as { code?: string }).code ?? 'ERROR',
      message: String((e as Error).message ?? e),
    };
    process.stdout.write(
      `IKW-LAB-RESULT ${JSON.stringify({ spec, error, report: null, ms: Date.now() - started })}\n`,
    );
  }
}
