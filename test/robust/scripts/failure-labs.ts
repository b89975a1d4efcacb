// Guest-side (or ESP-capable host) runner for test/robust/failure.test.ts: runs each named
// scenario of lab/robust/scenarios.ts and prints one `IKW-ROBUST-RESULT <json>` line per
// scenario; never throws past a scenario. Progress goes to stderr.
import { crashScenario, lossScenario, peerScenario } from '../../../lab/robust/scenarios.ts';

const RUN: Record<string, () => Promise<unknown>> = {
  loss: () => lossScenario(),
  peer: () => peerScenario(),
  crash: () => crashScenario(),
};

async function one(name: string): Promise<void> {
  const started = Date.now();
  process.stderr.write(`[${name}] start\n`);
  try {
    const run = RUN[name];
    if (!run) throw new Error(`unknown scenario ${name}`);
    const facts = await run();
    const ms = Date.now() - started;
    process.stdout.write(`IKW-ROBUST-RESULT ${JSON.stringify({ name, error: null, facts, ms })}\n`);
  } catch (e) {
    const error = {
      code: (e as { code?: string }).code ?? 'ERROR',
      message: String((e as Error).message ?? e),
    };
    process.stdout.write(
      `IKW-ROBUST-RESULT ${JSON.stringify({ name, error, facts: null, ms: Date.now() - started })}\n`,
    );
  }
  process.stderr.write(`[${name}] done in ${Date.now() - started} ms\n`);
}

const names = process.argv.slice(2);
// IKW_ROBUST_PARALLEL=1: all scenarios at once (each has its own namespaces and lab directory).
if (process.env['IKW_ROBUST_PARALLEL'] === '1') await Promise.all(names.map(one));
else for (const n of names) await one(n);
